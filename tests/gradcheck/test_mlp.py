"""The compiled gradient check against an independent extended-precision
finite difference, on every activation and output type."""
import json

import numpy as np
import pytest

import fastgrad
from fastgrad import MLP, gradient_check

HIDDEN = ["relu", "leaky_relu", "tanh", "sigmoid", "linear"]
OUTPUTS = ["sigmoid", "softmax", "linear"]


def shapes_of(params):
    L = sum(1 for k in params if k.startswith("W"))
    out = []
    for l in range(1, L + 1):
        out += [(f"W{l}", params[f"W{l}"].shape), (f"b{l}", params[f"b{l}"].shape)]
    return out


def tol(ref):
    # The reference's own noise: ~1e-19/ε in extended precision, ~1e-16/ε in float64.
    return 1e-9 if ref.extended else 2e-6


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("l2", [0.0, 0.7])
def test_kernel_matches_reference(ref, hidden, output, l2):
    dims = [5, 7, 6, 3] if output == "softmax" else [5, 7, 6, 2]
    params, X, Y = ref.problem(dims, 9, hidden, output, seed=len(hidden) + len(output))
    model = MLP(dims, hidden=hidden, output=output, l2=l2)
    grads = model.backward(params, X, Y)
    report = gradient_check(model, params, grads, X, Y, n_threads=2)
    num = ref.flatten(report.numerical, "d")
    expected = ref.numerical(ref.flatten(params), shapes_of(params), [hidden] * 2, output, l2, X, Y)
    assert ref.rel(num, expected) < tol(ref)
    # The reference backprop is right, so the check must call it great.
    assert ref.rel(ref.flatten(grads, "d"), expected) < 1e-7
    assert report.verdict == "great" and report.passed


def test_per_layer_activations_and_deeper_network(ref):
    hidden = ["tanh", "relu", "sigmoid", "leaky_relu"]
    dims = [3, 6, 5, 5, 4, 2]
    params, X, Y = ref.problem(dims, 11, seed=3)
    model = MLP(dims, hidden=hidden, output="sigmoid", l2=0.1)
    report = gradient_check(model, params, model.backward(params, X, Y), X, Y)
    expected = ref.numerical(ref.flatten(params), shapes_of(params), hidden, "sigmoid", 0.1, X, Y)
    assert ref.rel(ref.flatten(report.numerical, "d"), expected) < tol(ref)


@pytest.mark.parametrize("hidden", ["relu", "leaky_relu"])
def test_kinks_are_exact_flagged_and_kept_out_of_the_verdict(ref, hidden):
    dims = [4, 6, 5, 1]
    params, X, Y = ref.problem(dims, 7, seed=11)
    # Put pre-activations of unit 2 (layer 1) and unit 1 (layer 2) at ~1e-9
    # from 0 on one example: perturbations of size 1e-7 cross the kink.
    params["b1"][2, 0] -= (params["W1"] @ X + params["b1"])[2, 0] - 3e-9
    A1 = np.maximum(params["W1"] @ X + params["b1"], 0)
    params["b2"][1, 0] -= (params["W2"] @ A1 + params["b2"])[1, 4] + 2e-9
    model = MLP(dims, hidden=hidden)
    grads = model.backward(params, X, Y)
    report = gradient_check(model, params, grads, X, Y)
    assert report.n_kinks > 0
    assert any(b.n_kinks for b in report.blocks)
    assert "*" in str(report)
    # Even at kinks the kernel computes the finite difference exactly.
    expected = ref.numerical(ref.flatten(params), shapes_of(params), [hidden] * 2, "sigmoid", 0.0, X, Y)
    assert ref.rel(ref.flatten(report.numerical, "d"), expected) < tol(ref)
    # ... which is not the derivative there: with kinks included it looks wrong,
    # without them the correct backprop is great.
    assert report.difference_all > 1e-6
    assert report.verdict == "great"


def test_course_worked_example_finds_both_bugs(ref):
    from fastgrad import course

    X, Y, params = course.gradient_check_n_test_case()
    _, cache = course.forward_propagation_n(X, Y, params)
    buggy = course.backward_propagation_n(X, Y, cache)
    fixed = course.backward_propagation_n(X, Y, cache, bugs=False)
    model = course.model_for(params)
    pick = lambda g: {k: g[k] for k in ("dW1", "db1", "dW2", "db2", "dW3", "db3")}
    report = gradient_check(model, params, pick(buggy), X, Y)
    expected = ref.numerical(ref.flatten(params), shapes_of(params), ["relu"] * 2, "sigmoid", 0.0, X, Y)
    assert ref.rel(ref.flatten(report.numerical, "d"), expected) < tol(ref)
    assert report.verdict == "bug" and not report.passed
    assert report.difference == pytest.approx(ref.rel(ref.flatten(buggy, "d"), expected), rel=1e-9)
    flagged = {b.name for b in report.blocks if b.difference > 1e-6}
    assert flagged == {"dW2", "db1"}
    text = str(report)
    assert "dW2 is 2.00x" in text and "db1 is 4.00x" in text
    good = gradient_check(model, params, pick(fixed), X, Y)
    assert good.verdict == "great"
    # The drop-in course helper agrees and accepts the course's extra keys.
    assert course.gradient_check_n(params, buggy, X, Y) == pytest.approx(report.difference)
    assert course.gradient_check_n(params, fixed, X, Y) < 1e-7


BUGS = {
    "scale": (lambda g, p: 3.0 * g, "3.00x"),
    "sign": (lambda g, p: -g, "wrong sign"),
    "zero": (lambda g, p: np.zeros_like(g), "all zeros"),
}


@pytest.mark.parametrize("kind", sorted(BUGS))
@pytest.mark.parametrize("block", ["dW1", "db1", "dW2", "db2", "dW3", "db3"])
def test_injected_bug_is_localised(ref, kind, block):
    dims = [4, 6, 5, 2]
    params, X, Y = ref.problem(dims, 10, seed=5)
    model = MLP(dims, hidden="tanh")
    grads = model.backward(params, X, Y)
    func, words = BUGS[kind]
    grads[block] = func(grads[block], params)
    report = gradient_check(model, params, grads, X, Y)
    assert report.verdict == "bug"
    flagged = [b.name for b in report.blocks if b.difference >= 1e-6]
    assert flagged == [block]
    assert any(block in h and words in h for h in report.hints)


def test_transposed_block_and_missing_l2_hints(ref):
    dims = [5, 5, 5, 1]
    params, X, Y = ref.problem(dims, 8, seed=2)
    model = MLP(dims, hidden="tanh", l2=0.8)
    grads = model.backward(params, X, Y)
    grads["dW2"] = grads["dW2"].T.copy()
    grads["dW1"] = grads["dW1"] - 0.8 / 8 * params["W1"]
    report = gradient_check(model, params, grads, X, Y)
    assert any("dW2 looks transposed" in h for h in report.hints)
    assert any("dW1 misses the L2 term" in h for h in report.hints)


def test_thread_counts_give_identical_bits(ref):
    dims = [12, 20, 15, 3]
    params, X, Y = ref.problem(dims, 120, output="softmax", seed=8)  # big enough for 2+ threads
    model = MLP(dims, hidden=["relu", "tanh"], output="softmax", l2=0.3)
    grads = model.backward(params, X, Y)
    grads["dW2"] = grads["dW2"] * 1.001
    r1 = gradient_check(model, params, grads, X, Y, n_threads=1)
    r2 = gradient_check(model, params, grads, X, Y, n_threads=2)
    r3 = gradient_check(model, params, grads, X, Y, n_threads=3)
    for key in r1.numerical:
        assert r1.numerical[key].tobytes() == r2.numerical[key].tobytes()
        assert r1.numerical[key].tobytes() == r3.numerical[key].tobytes()
    d1, d2 = r1.to_dict(), r2.to_dict()
    for d in (d1, d2):
        d.pop("seconds"), d.pop("n_threads")
    assert d1 == d2


def test_inputs_are_not_modified(ref):
    dims = [4, 5, 1]
    params, X, Y = ref.problem(dims, 6, seed=1)
    model = MLP(dims)
    grads = model.backward(params, X, Y)
    snap = [{k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in grads.items()},
            X.copy(), Y.copy()]
    for mode in ("full", "sampled", "directional"):
        gradient_check(model, params, grads, X, Y, mode=mode, seed=0)
    for before, after in zip(snap[:2], (params, grads)):
        for k in before:
            assert np.array_equal(before[k], after[k])
    assert np.array_equal(snap[2], X) and np.array_equal(snap[3], Y)


def test_non_contiguous_inputs_give_the_same_report(ref):
    dims = [4, 6, 2]
    params, X, Y = ref.problem(dims, 8, seed=4)
    model = MLP(dims, hidden="tanh")
    grads = model.backward(params, X, Y)
    base = gradient_check(model, params, grads, X, Y)
    big = np.zeros((X.shape[0] * 2, X.shape[1] * 3))
    big[::2, ::3] = X
    fparams = {k: np.asfortranarray(v) for k, v in params.items()}
    other = gradient_check(model, fparams, grads, big[::2, ::3], np.asfortranarray(Y))
    for key in base.numerical:
        assert np.array_equal(base.numerical[key], other.numerical[key])


def test_report_serialises_and_prints(ref):
    dims = [3, 4, 1]
    params, X, Y = ref.problem(dims, 5, seed=9)
    model = MLP(dims)
    report = gradient_check(model, params, model.backward(params, X, Y), X, Y)
    data = json.loads(report.to_json())
    assert data["verdict"] == "great" and len(data["blocks"]) == 4
    assert np.allclose(np.array(data["numerical"]["dW1"]), report.numerical["dW1"])
    text = str(report)
    for name in ("dW1", "db1", "dW2", "db2", "GREAT"):
        assert name in text
    assert bool(report) is True
    assert report.raise_if_failed() is report


def test_raise_on_failure(ref):
    dims = [3, 4, 1]
    params, X, Y = ref.problem(dims, 5, seed=9)
    model = MLP(dims)
    grads = model.backward(params, X, Y)
    grads["db2"] = grads["db2"] + 1.0
    with pytest.raises(fastgrad.GradientCheckError, match="db2"):
        gradient_check(model, params, grads, X, Y, raise_on_failure=True)


def test_all_zero_gradients_give_zero_difference():
    model = MLP([2, 3, 1], output="linear")
    params = {"W1": np.zeros((3, 2)), "b1": np.zeros((3, 1)), "W2": np.zeros((1, 3)),
              "b2": np.zeros((1, 1))}
    X = np.ones((2, 4))
    Y = np.zeros((1, 4))
    report = gradient_check(model, params, model.backward(params, X, Y), X, Y)
    assert report.difference == 0.0 and report.verdict == "great"


def test_generic_model_with_cost_method(ref):
    dims = [3, 4, 1]
    params, X, Y = ref.problem(dims, 6, seed=2)
    inner = MLP(dims, hidden="tanh")

    class Wrapped:
        def cost(self, p, X, Y):
            return inner.cost(p, X, Y)

    grads = inner.backward(params, X, Y)
    report = gradient_check(Wrapped(), params, grads, X, Y)
    assert report.mode == "callable" and report.verdict == "great"
    grads["dW2"] = -grads["dW2"]
    bad = gradient_check(Wrapped(), params, grads, X, Y)
    assert [b.name for b in bad.blocks if b.difference > 1e-6] == ["dW2"]


def test_coordinates_per_layer_of_a_range_match_its_index_array():
    """A range's per-layer counts (plain arithmetic, for the full check) are
    those of the same coordinates as a sorted index array (bisection)."""
    from fastgrad.gradcheck.mlp import KernelInputs

    rng = np.random.default_rng(0)
    model = MLP([5, 4, 3, 2], hidden="tanh")
    params = model.init_params("xavier", seed=0)
    X, Y = rng.standard_normal((5, 6)), (rng.random((2, 6)) < 0.5).astype(float)
    net = KernelInputs(model, params, X, Y, 1e-7)
    P = sum(v.size for v in params.values())
    starts = net.layer_start.tolist()
    edges = sorted({0, 1, P - 1, P} | set(starts) | {s + 1 for s in starts} | {s - 1 for s in starts[1:]})
    for lo in edges:
        for hi in edges:
            if lo < hi:
                by_range = [int(c) for c in net._counts(range(lo, hi))]
                by_index = net._counts(np.arange(lo, hi, dtype=np.intp)).tolist()
                assert by_range == by_index, (lo, hi)
                assert sum(by_range) == hi - lo
