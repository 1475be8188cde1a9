"""The verdict bands and the hints of the report, end to end.

The relative difference is recomputed here in plain NumPy from a plain NumPy
central-difference loop, and the band it falls in is decided by the bands
the report documents (great < 1e-6 <= check < 1e-3 <= bug).
"""
import numpy as np
import pytest

from fastgrad import MLP, check_grad, gradient_check
from fastgrad.gradcheck.report import verdict_for


def f(t):
    return float(np.sum(np.sin(t) * t ** 2 + 0.3 * t))


def df(t):
    return np.cos(t) * t ** 2 + 2 * t * np.sin(t) + 0.3


def numpy_central(func, theta, eps=1e-7):
    flat = np.array(theta, dtype=float).ravel()
    out = np.empty(flat.size)
    for i in range(flat.size):
        tp, tm = flat.copy(), flat.copy()
        tp[i] += eps
        tm[i] -= eps
        out[i] = (func(tp.reshape(np.shape(theta))) - func(tm.reshape(np.shape(theta)))) \
            / (tp[i] - tm[i])
    return out.reshape(np.shape(theta))


def expected_band(d, great=1e-6, bug=1e-3):
    return "great" if d < great else ("check" if d < bug else "bug")


THETA = np.linspace(-2.0, 2.5, 12).reshape(3, 4)


@pytest.mark.parametrize("factor,band", [
    (1 + 1e-9, "great"),
    (1 + 1e-5, "check"),   # d ≈ 5e-6
    (1 + 2e-4, "check"),   # d ≈ 1e-4: the seeds' "look again"
    (1 + 1.5e-3, "check"),  # d ≈ 7.5e-4
    (1.01, "bug"),
    (1.5, "bug"),
])
def test_a_difference_lands_in_its_documented_band(factor, band):
    grad = factor * df(THETA)
    n = numpy_central(f, THETA)
    d = np.linalg.norm(grad - n) / (np.linalg.norm(grad) + np.linalg.norm(n))
    assert expected_band(d) == band  # the premise: d really is in that band
    report = check_grad(f, THETA, grad)
    assert report.difference == pytest.approx(d, rel=1e-6, abs=1e-12)
    assert report.verdict == band
    assert report.passed is (band == "great")
    assert f"->  {band.upper()}" in str(report)


def test_band_boundaries_and_custom_thresholds():
    assert [verdict_for(d) for d in (0.0, 9.99e-7, 1e-6, 5e-5, 9.99e-4, 1e-3, 0.5, np.nan,
                                     np.inf)] == \
        ["great", "great", "check", "check", "check", "bug", "bug", "bug", "bug"]
    grad = (1 + 2e-4) * df(THETA)
    assert check_grad(f, THETA, grad, thresholds=(1e-3, 1e-2)).verdict == "great"
    assert check_grad(f, THETA, grad, thresholds=(1e-6, 1e-5)).verdict == "bug"
    assert check_grad(f, THETA, grad, thresholds=(1e-6, 1e-3)).verdict == "check"


def test_check_band_from_the_mlp_kernel():
    model = MLP([3, 4, 2], hidden="tanh", output="sigmoid")
    rng = np.random.default_rng(2)
    params = {"W1": rng.standard_normal((4, 3)), "b1": rng.standard_normal((4, 1)),
              "W2": rng.standard_normal((2, 4)), "b2": rng.standard_normal((2, 1))}
    X = rng.standard_normal((3, 6))
    Y = (rng.random((2, 6)) < 0.5).astype(float)
    grads = model.backward(params, X, Y)
    grads["db2"] = grads["db2"] * (1 + 3e-4)
    report = gradient_check(model, params, grads, X, Y)
    a = np.concatenate([grads[k].ravel() for k in ("dW1", "db1", "dW2", "db2")])
    n = np.concatenate([report.numerical[k].ravel() for k in ("dW1", "db1", "dW2", "db2")])
    d = np.linalg.norm(a - n) / (np.linalg.norm(a) + np.linalg.norm(n))
    assert 1e-6 <= d < 1e-3
    assert report.verdict == "check"
    assert [b.name for b in report.blocks if verdict_for(b.difference) != "great"] == ["db2"]


@pytest.mark.parametrize("factor", [1.05, 0.95, 1.02, 2.0, 0.5])
def test_constant_factor_hint_names_the_factor(factor):
    report = check_grad(f, THETA, factor * df(THETA))
    assert report.verdict != "great"
    assert any(f"{factor:.2f}x the numerical gradient" in h for h in report.hints), report.hints


def test_wrong_sign_hint():
    report = check_grad(f, THETA, -df(THETA))
    assert any("wrong sign" in h for h in report.hints)


def test_constant_factor_hint_on_one_mlp_block():
    model = MLP([3, 5, 1], hidden="tanh", output="sigmoid")
    rng = np.random.default_rng(4)
    params = {"W1": rng.standard_normal((5, 3)), "b1": rng.standard_normal((5, 1)),
              "W2": rng.standard_normal((1, 5)), "b2": rng.standard_normal((1, 1))}
    X = rng.standard_normal((3, 8))
    Y = (rng.random((1, 8)) < 0.5).astype(float)
    grads = model.backward(params, X, Y)
    grads["dW1"] = 1.05 * grads["dW1"]
    report = gradient_check(model, params, grads, X, Y)
    assert report.verdict == "bug"
    assert any(h.startswith("dW1 is 1.05x the numerical gradient") for h in report.hints)


def test_no_constant_factor_hint_for_an_unrelated_error():
    rng = np.random.default_rng(0)
    grad = df(THETA) + 0.2 * rng.standard_normal(THETA.shape)
    report = check_grad(f, THETA, grad)
    assert report.verdict == "bug"
    assert not any("x the numerical gradient" in h for h in report.hints)
    assert any("largest error at theta" in h for h in report.hints)


def test_a_factor_that_prints_as_one_is_not_called_a_constant_factor():
    # a large epsilon's curvature gave "W is 1.00x the numerical gradient: a
    # constant factor (look for a wrong 1/m ...)"; 1.01x is still one
    from fastgrad import check_grad

    theta = np.linspace(0.5, 1.5, 5)
    f = lambda t: float(np.sum(np.exp(t)))  # noqa: E731
    # numerical exp(θ)·sinh(ε)/ε: 1.0017x the analytic one, in proportion
    rep = check_grad(f, theta, np.exp(theta), epsilon=0.1)
    assert rep.verdict != "great" and not any("constant factor" in h for h in rep.hints)
    bad = check_grad(f, theta, 1.01 * np.exp(theta))
    assert any("1.01x the numerical gradient: a constant factor" in h for h in bad.hints)


def _tanh_problem(l2, seed=7):
    model = MLP([3, 6, 4, 1], hidden="tanh", output="sigmoid", l2=l2)
    rng = np.random.default_rng(seed)
    params = {}
    for l, (n_in, n_out) in enumerate(zip((3, 6, 4), (6, 4, 1)), start=1):
        params[f"W{l}"] = rng.standard_normal((n_out, n_in))
        params[f"b{l}"] = rng.standard_normal((n_out, 1))
    X = rng.standard_normal((3, 10))
    Y = (rng.random((1, 10)) < 0.5).astype(float)
    return model, params, X, Y


@pytest.mark.parametrize("model_l2, grads_l2, words", [
    (0.0, 0.7, "holds an L2 term (lambda/m)*W{l} with lambda = 0.7 that the checked cost "
               "does not have (its l2 = 0)"),
    (0.3, 0.5, "holds an L2 term (lambda/m)*W{l} with lambda = 0.2"),
    (0.9, 0.5, "is (lambda/m)*W{l} short with lambda = 0.4"),
    (0.4, 0.0, "misses the L2 term (l2/m)*W{l}"),
    (0.4, 0.8, "has the L2 term (l2/m)*W{l} twice"),
])
def test_an_l2_term_the_cost_and_the_gradient_disagree_on_is_named_with_its_lambda(
        model_l2, grads_l2, words):
    # the gradient of a cost with grads_l2, checked against one with model_l2:
    # a − n = ((grads_l2 − model_l2)/m)·W in every dW block, the db blocks pass
    model, params, X, Y = _tanh_problem(model_l2)
    grads = MLP([3, 6, 4, 1], hidden="tanh", output="sigmoid", l2=grads_l2).backward(params, X, Y)
    report = gradient_check(model, params, grads, X, Y)
    assert report.verdict == "bug"
    for l in (1, 2, 3):
        assert any(h.startswith(f"dW{l} ") and words.format(l=l) in h for h in report.hints), \
            report.hints
    assert all(b.difference < 1e-6 for b in report.blocks if b.name.startswith("db"))


def test_no_l2_hint_for_an_error_that_is_not_a_multiple_of_w():
    model, params, X, Y = _tanh_problem(0.0)
    grads = model.backward(params, X, Y)
    grads["dW2"] = grads["dW2"] + 0.05 * np.abs(params["W2"])  # not a multiple of W2
    report = gradient_check(model, params, grads, X, Y)
    assert report.verdict == "bug"
    assert not any("L2" in h for h in report.hints), report.hints


def test_a_great_report_points_at_no_block_its_rounding_explains():
    from fastgrad.gradcheck.report import BlockResult, GradCheckReport

    def report(floor_small):
        blocks = [BlockResult("dbig", (100,), 1e-9, 1e-9, (3,), 1.0, 1.0, 100, 0, None),
                  BlockResult("dsmall", (2,), 5e-6, 1e-7, (1,), 0.02, 0.0200001, 2, 0, None)]
        return GradCheckReport(
            title="t", difference=1e-9, difference_all=1e-9, numerical={}, blocks=blocks,
            n_params=102, n_checked=102, n_kinks=0, mode="callable", epsilon=1e-7,
            n_threads=1, seconds=0.0, noise_floor=(1e-9, [1e-9, floor_small], "", True))

    within = report(1e-6)  # 5e-6 is within 10x of its own floor: rounding explains it
    assert within.verdict == "great" and within.hints == []
    beyond = report(1e-8)  # 500x its floor: it counts, and the report points at it
    assert beyond.verdict == "check"
    assert any("dsmall alone differs" in h for h in beyond.hints)
    assert any("largest error at dsmall[1]" in h for h in beyond.hints)



@pytest.mark.parametrize("cap, bands", [(False, (1e-6, 1e-5)), (True, (1e-7, 1e-5))])
def test_a_small_block_above_its_floor_is_not_contradicted_by_the_floor_note(cap, bands):
    # the whole difference sits at the rounding floor, a 2-entry block is 30%
    # off: the verdict escalates to "bug" and the note speaks of the whole
    # difference only, naming no verdict that the escalation made stale
    from fastgrad.gradcheck.report import BlockResult, GradCheckReport

    blocks = [BlockResult("dbig", (100,), 2e-6, 1e-6, (3,), 1.0, 1.0, 100, 0, None),
              BlockResult("dsmall", (2,), 0.3, 1e-2, (1,), 0.02, 0.03, 2, 0, None)]
    r = GradCheckReport(title="t", difference=2e-6, difference_all=2e-6, numerical={},
                        blocks=blocks, n_params=102, n_checked=102, n_kinks=0, mode="callable",
                        epsilon=1e-3, n_threads=1, seconds=0.0, thresholds=bands,
                        noise_floor=(1e-6, [1e-6, 1e-6], "", cap))
    assert r.verdict == "bug"
    note = [n for n in r.notes if "rounding floor" in n]
    assert note and note[0].startswith("the whole-theta difference is at")
    assert not any(v in note[0] for v in ("great", "check", "bug"))
    assert "look at the backprop of: dsmall" in r.hints
