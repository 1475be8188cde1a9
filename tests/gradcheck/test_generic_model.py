"""gradient_check on any object with a cost(params, X, Y) method.

The model here is written in plain NumPy (its own backprop); the numerical
gradients are compared with a plain NumPy central-difference loop over
fresh copies. Every input is byte-compared before and after.
"""
import copy

import numpy as np
import pytest

from fastgrad import gradient_check

EPS = 1e-7


class TinyNet:
    """tanh hidden layer, linear output, J = 1/(2m)·Σ(a − y)²."""

    def cost(self, p, X, Y):
        A1 = np.tanh(p["W1"] @ X + p["b1"])
        A2 = p["W2"] @ A1 + p["b2"]
        return float(0.5 * np.sum((A2 - Y) ** 2) / X.shape[1])

    def grads(self, p, X, Y):
        m = X.shape[1]
        A1 = np.tanh(p["W1"] @ X + p["b1"])
        dZ2 = (p["W2"] @ A1 + p["b2"] - Y) / m
        dZ1 = (p["W2"].T @ dZ2) * (1 - A1 ** 2)
        return {"dW1": dZ1 @ X.T, "db1": dZ1.sum(axis=1, keepdims=True),
                "dW2": dZ2 @ A1.T, "db2": dZ2.sum(axis=1, keepdims=True)}


ORDER = ("W1", "b1", "W2", "b2")


def problem(seed=0):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.standard_normal((4, 3)), "b1": rng.standard_normal((4, 1)),
              "W2": rng.standard_normal((2, 4)), "b2": rng.standard_normal((2, 1))}
    X = rng.standard_normal((3, 7))
    Y = rng.standard_normal((2, 7))
    return TinyNet(), params, X, Y


def numpy_numerical(model, params, X, Y, eps=EPS):
    """Plain loop: perturb a fresh copy of one entry at a time."""
    out = {}
    for key in ORDER:
        g = np.empty_like(params[key])
        for idx in np.ndindex(params[key].shape):
            sides = []
            for sign in (1, -1):
                p = {k: v.copy() for k, v in params.items()}
                p[key][idx] += sign * eps
                sides.append((model.cost(p, X, Y), p[key][idx]))
            g[idx] = (sides[0][0] - sides[1][0]) / (sides[0][1] - sides[1][1])
        out["d" + key] = g
    return out


def snapshot(*objs):
    return [copy.deepcopy({k: np.array(v).tobytes() for k, v in o.items()})
            if isinstance(o, dict) else np.asarray(o).tobytes() for o in objs]


def test_full_mode_matches_a_numpy_loop_and_leaves_inputs_alone():
    model, params, X, Y = problem()
    grads = model.grads(params, X, Y)
    before = snapshot(params, grads, X, Y)
    report = gradient_check(model, params, grads, X, Y)
    assert report.verdict == "great" and report.n_checked == report.n_params == 26
    ref = numpy_numerical(model, params, X, Y)
    for key in ref:
        np.testing.assert_allclose(report.numerical[key], ref[key], rtol=0, atol=1e-10)
    assert snapshot(params, grads, X, Y) == before


# -- keys, shapes and values of grads ----------------------------------------------

def test_one_flat_gradient_with_the_right_total_size_is_refused():
    model, params, X, Y = problem()
    grads = model.grads(params, X, Y)
    flat = {"dW1": np.concatenate([grads["d" + k].ravel() for k in ORDER])}
    with pytest.raises(KeyError, match=r"missing \['db1', 'dW2', 'db2'\]"):
        gradient_check(model, params, flat, X, Y)


def test_unexpected_gradient_keys_are_refused():
    model, params, X, Y = problem()
    grads = model.grads(params, X, Y)
    with pytest.raises(KeyError, match=r"unexpected \['dZ1'\]"):
        gradient_check(model, params, {**grads, "dZ1": np.zeros((4, 7))}, X, Y)


@pytest.mark.parametrize("key,make,words", [
    ("dW1", lambda g: g.T, r"grads\['dW1'\] has shape \(3, 4\), expected \(4, 3\).*transposed"),
    ("dW2", lambda g: g.ravel(), r"grads\['dW2'\] has shape \(8,\), expected \(2, 4\)"),
    ("db1", lambda g: np.vstack([g, g]), r"grads\['db1'\] has shape \(8, 1\), expected \(4, 1\)"),
])
def test_gradient_shapes_must_match_their_parameter(key, make, words):
    model, params, X, Y = problem()
    grads = model.grads(params, X, Y)
    grads[key] = make(grads[key])
    with pytest.raises(ValueError, match=words):
        gradient_check(model, params, grads, X, Y)


def test_a_bias_gradient_may_be_one_dimensional():
    model, params, X, Y = problem()
    grads = model.grads(params, X, Y)
    grads["db1"] = grads["db1"].ravel()
    assert gradient_check(model, params, grads, X, Y).verdict == "great"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_gradients_are_refused_naming_the_block(bad):
    model, params, X, Y = problem()
    grads = model.grads(params, X, Y)
    grads["dW2"][1, 2] = bad
    before = snapshot(grads)
    with pytest.raises(ValueError, match=r"grads\['dW2'\] contains NaN or inf \(first at "
                                         r"index \(1, 2\)"):
        gradient_check(model, params, grads, X, Y)
    assert snapshot(grads) == before


def test_bad_params_are_refused():
    model, params, X, Y = problem()
    grads = model.grads(params, X, Y)
    bad = {**params, "W1": params["W1"].copy()}
    bad["W1"][0, 0] = np.nan
    with pytest.raises(ValueError, match=r"params\['W1'\] contains NaN"):
        gradient_check(model, bad, grads, X, Y)
    with pytest.raises(TypeError, match=r"grads\['dW1'\] must hold real numbers"):
        gradient_check(model, params, {**grads, "dW1": grads["dW1"].astype(complex)}, X, Y)
    with pytest.raises(ValueError, match="params is empty"):
        gradient_check(model, {}, {}, X, Y)
    with pytest.raises(ValueError, match=r"params\['b2'\] is empty"):
        gradient_check(model, {**params, "b2": np.zeros((0, 1))},
                       {**grads, "db2": np.zeros((0, 1))}, X, Y)
    with pytest.raises(TypeError, match="grads must be a dict"):
        gradient_check(model, params, [1, 2], X, Y)
    with pytest.raises(KeyError, match="params"):
        gradient_check(model, {"weights": np.ones(2)}, {"dweights": np.ones(2)}, X, Y)


# -- modes ---------------------------------------------------------------------------

def test_sampled_mode_checks_k_coordinates_of_every_block_reproducibly():
    model, params, X, Y = problem()
    grads = model.grads(params, X, Y)
    ref = numpy_numerical(model, params, X, Y)
    r1 = gradient_check(model, params, grads, X, Y, mode="sampled", k=2, seed=5)
    r2 = gradient_check(model, params, grads, X, Y, mode="sampled", k=2, seed=5)
    assert r1.mode == "sampled" and r1.verdict == "great"
    assert r1.n_checked == 2 * 4 and [b.n_checked for b in r1.blocks] == [2, 2, 2, 2]
    for key in ref:
        picked = ~np.isnan(r1.numerical[key])
        assert picked.sum() == 2
        np.testing.assert_allclose(r1.numerical[key][picked], ref[key][picked], rtol=0,
                                   atol=1e-10)
        np.testing.assert_array_equal(np.isnan(r2.numerical[key]), ~picked)
    seeds = {tuple(np.flatnonzero(~np.isnan(gradient_check(
        model, params, grads, X, Y, mode="sampled", k=2, seed=s).numerical["dW1"])))
        for s in range(8)}
    assert len(seeds) > 1  # the seed is used
    grads["db2"] = 3 * grads["db2"]
    bad = gradient_check(model, params, grads, X, Y, mode="sampled", k=1, seed=0)
    assert bad.verdict == "bug"
    assert [b.name for b in bad.blocks if b.difference > 1e-6] == ["db2"]


def test_directional_mode_compares_directional_derivatives():
    model, params, X, Y = problem()
    grads = model.grads(params, X, Y)
    good = gradient_check(model, params, grads, X, Y, mode="directional", k=3, seed=1)
    assert good.mode == "directional" and good.verdict == "great"
    assert set(good.directions) == {"dW1", "db1", "dW2", "db2"}
    assert good.n_checked == 12
    for num, ana, kinks in good.directions.values():
        assert num.shape == ana.shape == (3,) and not kinks.any()
        np.testing.assert_allclose(num, ana, rtol=1e-6, atol=1e-9)
    grads["dW2"] = 1.05 * grads["dW2"]
    bad = gradient_check(model, params, grads, X, Y, mode="directional", k=3, seed=1)
    assert bad.verdict == "bug"
    row = {b.name: b for b in bad.blocks}
    assert row["dW2"].n_checked == 8  # the failing block was checked in full
    assert any("dW2 failed along random directions" in h for h in bad.hints)
    ref = numpy_numerical(model, params, X, Y)
    np.testing.assert_allclose(bad.numerical["dW2"], ref["dW2"], rtol=0, atol=1e-10)
    assert np.isnan(bad.numerical["dW1"]).all()


def test_directional_derivative_is_independent_of_the_direction_draw():
    """Each direction's analytic value is g·v for a unit v inside the block:
    |g·v| <= ‖g‖, and k draws from a seed are reproducible."""
    model, params, X, Y = problem()
    grads = model.grads(params, X, Y)
    a = gradient_check(model, params, grads, X, Y, mode="directional", k=4, seed=7)
    b = gradient_check(model, params, grads, X, Y, mode="directional", k=4, seed=7)
    for key, (num, ana, _) in a.directions.items():
        assert np.all(np.abs(ana) <= np.linalg.norm(grads[key]) * (1 + 1e-12))
        np.testing.assert_array_equal(ana, b.directions[key][1])


# -- options -----------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,exc,words", [
    ({"mode": "fast"}, ValueError, "mode"),
    ({"mode": "sampled", "k": True}, TypeError, "k"),
    ({"mode": "sampled", "k": 0}, ValueError, "k"),
    ({"mode": "directional", "k": 2.0}, TypeError, "k"),
    ({"mode": "sampled", "seed": "1"}, TypeError, "seed"),
    ({"n_threads": True}, TypeError, "n_threads"),
    ({"n_threads": "2"}, TypeError, "n_threads"),
    ({"n_threads": 0}, ValueError, "n_threads"),
    ({"n_threads": 1.5}, TypeError, "n_threads"),
    ({"dropout": False}, ValueError, "freeze its own masks"),
    ({"dropout": "no"}, TypeError, "dropout"),
    ({"progress": "yes"}, TypeError, "progress"),
])
def test_options_are_honoured_or_refused(kwargs, exc, words):
    """``exc`` is what this path raises; the front door of gradient_check may
    refuse some values first, with either class, but naming the argument."""
    model, params, X, Y = problem()
    grads = model.grads(params, X, Y)
    with pytest.raises((TypeError, ValueError), match=words):
        gradient_check(model, params, grads, X, Y, **kwargs)


@pytest.mark.parametrize("n_threads", [None, 1, 2, -1])
def test_n_threads_does_not_apply_and_the_report_says_one_thread(n_threads):
    model, params, X, Y = problem()
    grads = model.grads(params, X, Y)
    report = gradient_check(model, params, grads, X, Y, n_threads=n_threads)
    assert report.n_threads == 1 and report.verdict == "great"
    assert "1 thread(s)" in str(report)


@pytest.mark.parametrize("mode", ["full", "sampled", "directional"])
@pytest.mark.parametrize("progress", [None, True, False])
def test_progress_is_passed_to_the_progress_bar(monkeypatch, mode, progress):
    """The bar's rendering belongs to fastgrad._progress.Progress; here only
    that the generic path hands it the caller's choice and reports progress."""
    import fastgrad._progress as progress_module

    made = []

    class Recorder:
        def __init__(self, total, progress, desc):
            made.append((total, progress))
            self.done = 0

        shown = False

        def update(self, done):
            self.done = done

        def close(self):
            made.append(("closed", self.done))

    monkeypatch.setattr(progress_module, "Progress", Recorder)
    model, params, X, Y = problem()
    grads = model.grads(params, X, Y)
    gradient_check(model, params, grads, X, Y, mode=mode, k=2, seed=0, progress=progress)
    assert made and all(p is progress for t, p in made if t != "closed")
    totals = [t for t, p in made if t != "closed"]
    finals = [p for t, p in made if t == "closed"]
    assert finals == totals  # every bar ran to its end


def test_a_cost_that_redraws_dropout_masks_is_refused():
    model, params, X, Y = problem()
    grads = model.grads(params, X, Y)
    rng = np.random.default_rng(0)

    class Dropping(TinyNet):
        def cost(self, p, X, Y):
            A1 = np.tanh(p["W1"] @ X + p["b1"]) * (rng.random((4, X.shape[1])) < 0.8) / 0.8
            return float(0.5 * np.sum((p["W2"] @ A1 + p["b2"] - Y) ** 2) / X.shape[1])

    with pytest.raises(ValueError, match="not deterministic"):
        gradient_check(Dropping(), params, grads, X, Y)


# -- what the cost sees ----------------------------------------------------------

def test_cost_sees_read_only_params_and_cannot_corrupt_the_check():
    model, params, X, Y = problem()
    grads = model.grads(params, X, Y)
    before = snapshot(params, X, Y)

    class Scribbler(TinyNet):
        def cost(self, p, X, Y):
            p["W1"] *= 1.0
            return super().cost(p, X, Y)

    with pytest.raises(ValueError, match="Scribbler.cost wrote into its argument"):
        gradient_check(Scribbler(), params, grads, X, Y)

    class XScribbler(TinyNet):
        def cost(self, p, X, Y):
            X[0, 0] = 0.0
            return super().cost(p, X, Y)

    with pytest.raises(ValueError, match="XScribbler.cost wrote into its argument"):
        gradient_check(XScribbler(), params, grads, X, Y)
    assert snapshot(params, X, Y) == before


def test_cost_sees_every_other_parameter_with_its_original_bits():
    model, params, X, Y = problem()
    # Entries much smaller than ε, where (θ + ε) − ε != θ.
    params["b2"] = np.array([[3.3e-9], [-1.7e-8]])
    assert ((params["b2"] + EPS) - EPS != params["b2"]).all()
    grads = model.grads(params, X, Y)
    flat0 = np.concatenate([params[k].ravel() for k in ORDER])
    seen = []

    class Watcher(TinyNet):
        def cost(self, p, X, Y):
            flat = np.concatenate([p[k].ravel() for k in ORDER])
            moved = np.flatnonzero(flat.view(np.uint64) != flat0.view(np.uint64))
            assert moved.size <= 1
            if moved.size:
                i = int(moved[0])
                assert flat[i] in (flat0[i] + EPS, flat0[i] - EPS)
                seen.append(i)
            return super().cost(p, X, Y)

    report = gradient_check(Watcher(), params, grads, X, Y)
    assert report.verdict == "great"
    assert sorted(seen) == sorted(list(range(26)) * 2)


def test_non_finite_cost_names_the_parameter_entry_and_side():
    model, params, X, Y = problem()
    grads = model.grads(params, X, Y)
    w0 = params["W2"][1, 3]

    class Cliff(TinyNet):
        def cost(self, p, X, Y):
            if p["W2"][1, 3] < w0:
                return float("nan")
            return super().cost(p, X, Y)

    with pytest.raises(ValueError, match=r"W2\[1, 3\] - epsilon"):
        gradient_check(Cliff(), params, grads, X, Y)

    class Broken(TinyNet):
        def cost(self, p, X, Y):
            return float("inf")

    with pytest.raises(ValueError, match="at params itself"):
        gradient_check(Broken(), params, grads, X, Y)


def test_cost_returning_an_array_is_refused():
    model, params, X, Y = problem()
    grads = model.grads(params, X, Y)

    class Vector(TinyNet):
        def cost(self, p, X, Y):
            return np.array([1.0, 2.0])

    with pytest.raises(ValueError, match=r"Vector.cost must return one number.*\(2,\)"):
        gradient_check(Vector(), params, grads, X, Y)


def test_huge_parameter_where_the_step_vanishes_is_named():
    model, params, X, Y = problem()
    params["b1"] = params["b1"].copy()
    params["b1"][2, 0] = 1e12
    grads = model.grads(params, X, Y)
    with pytest.raises(ValueError, match=r"b1\[2, 0\] = 1000000000000.0.*rounds back"):
        gradient_check(model, params, grads, X, Y)


@pytest.mark.parametrize("kwargs,exc", [
    ({"mode": "sampled", "k": True}, TypeError), ({"mode": "sampled", "k": 0}, ValueError),
    ({"n_threads": True}, TypeError), ({"n_threads": 0}, ValueError),
    ({"dropout": False}, ValueError), ({"progress": "yes"}, TypeError),
    ({"mode": "fast"}, ValueError),
])
def test_generic_path_error_classes(kwargs, exc):
    """The generic path itself, called as the front door calls it."""
    from fastgrad.gradcheck.cost_model import check_generic_model
    from fastgrad.gradcheck.report import DEFAULT_THRESHOLDS

    model, params, X, Y = problem()
    grads = model.grads(params, X, Y)
    options = dict(mode="full", k=None, seed=None, n_threads=None, dropout=True,
                   progress=None)
    options.update(kwargs)
    with pytest.raises(exc):
        check_generic_model(model, params, grads, X, Y, 1e-7, DEFAULT_THRESHOLDS, False,
                             **options)
