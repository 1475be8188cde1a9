"""gradient_check on an object with a cost method: workers and float32
(issue 12's follow-up; the other options are in test_options.py)."""

import time
import warnings

import numpy as np
import pytest

from fastgrad import check_grad, gradient_check

r = np.random.default_rng(3)
X = r.standard_normal((3, 8))
Y = r.standard_normal((1, 8))


class Net:
    """tanh hidden layer, linear output, J = Σ(a − y)²/2m; its own key names."""

    def __init__(self, delay=0.0, dtype=np.float64):
        self.delay, self.dtype = delay, dtype

    def cost(self, p, X, Y):
        if self.delay:
            time.sleep(self.delay)
        p = {k: np.asarray(v, self.dtype) for k, v in p.items()}
        X, Y = X.astype(self.dtype), Y.astype(self.dtype)
        h = np.tanh(p["hidden_w"] @ X + p["hidden_b"])
        out = p["out_w"] @ h
        return np.sum((out - Y) ** 2) / self.dtype(2 * X.shape[1])

    def grads(self, p, bug=None):
        h = np.tanh(p["hidden_w"] @ X + p["hidden_b"])
        d = (p["out_w"] @ h - Y) / X.shape[1]
        dz = (p["out_w"].T @ d) * (1 - h**2)
        g = {"dhidden_w": dz @ X.T, "dhidden_b": dz.sum(1, keepdims=True), "dout_w": d @ h.T}
        if bug:
            g[bug] = -g[bug]
        return g


def params(dtype=np.float64):
    q = np.random.default_rng(5)
    p = {"hidden_w": q.standard_normal((4, 3)), "hidden_b": q.standard_normal((4, 1)),
         "out_w": q.standard_normal((1, 4))}
    return {k: v.astype(dtype) for k, v in p.items()}


def numpy_reference(model, p):
    """Plain central differences over fresh copies, ε = 1e-7."""
    out = {}
    for k, v in p.items():
        g = np.empty_like(v)
        for idx in np.ndindex(v.shape):
            hi = {n: a.copy() for n, a in p.items()}
            lo = {n: a.copy() for n, a in p.items()}
            hi[k][idx] += 1e-7
            lo[k][idx] -= 1e-7
            g[idx] = (model.cost(hi, X, Y) - model.cost(lo, X, Y)) / (hi[k][idx] - lo[k][idx])
        out["d" + k] = g
    return out


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_workers_2_processes_equal_serial_to_the_bit(mode):
    # slow enough for the check to go parallel (6 directions: 0.24 s serial)
    model, p = Net(delay=0.008 if mode == "full" else 0.02), params()
    g = model.grads(p, bug="dout_w")
    serial = gradient_check(model, p, g, X, Y, mode=mode, k=2, seed=0)
    par = gradient_check(model, p, g, X, Y, mode=mode, k=2, seed=0, workers=2)
    assert "workers: 2 processes" in str(par)
    for k in serial.numerical:
        assert par.numerical[k].tobytes() == serial.numerical[k].tobytes()
    assert par.difference == serial.difference and par.hints == serial.hints
    assert [b.name for b in par.blocks if b.difference >= 1e-3] == ["dout_w"]
    if mode == "full":
        ref = numpy_reference(Net(), p)
        for k in ref:
            np.testing.assert_allclose(par.numerical[k], ref[k], rtol=1e-6, atol=1e-9)


def test_float32_model_is_great_when_right_and_flags_a_bug():
    model, p = Net(dtype=np.float32), params(np.float32)
    g = {k: v.astype(np.float32) for k, v in model.grads(params()).items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a float32 model is checked as one, not upcast
        rep = gradient_check(model, p, g, X, Y)
    assert rep.verdict == "great" and rep.thresholds == (1e-3, 1e-2)
    assert "float32 model" in str(rep) and "noise floor" in str(rep)
    # the same float32 model at ε = 1e-7 (check_grad on a float64 copy of it)
    # is hopeless: that is what the float32 step is for
    g64 = {k[1:]: v.astype(np.float64) for k, v in g.items()}
    p64 = {k: v.astype(np.float64) for k, v in p.items()}
    flat = check_grad(lambda t: float(model.cost(t, X, Y)), p64, g64)
    assert flat.difference > 1e-2
    # and the float32 point itself is checked as a float32 model, though f
    # returns a Python float (the Keras habit)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep = check_grad(lambda t: float(model.cost(t, X, Y)), p, g64)
    assert rep.verdict == "great" and "float32 model" in str(rep)
    bad = dict(g, dhidden_w=-g["dhidden_w"])
    rep = gradient_check(model, p, bad, X, Y)
    assert rep.verdict == "bug"
    assert [b.name for b in rep.blocks if b.difference >= 1e-2] == ["dhidden_w"]
    rep = gradient_check(model, p, g, X, Y, thresholds=(1e-9, 1e-8))
    assert rep.thresholds == (1e-9, 1e-8) and rep.verdict == "bug"  # given bands are kept
    # bands equal to the float64 default, given explicitly, are the caller's choice too
    rep = gradient_check(model, p, g, X, Y, thresholds=(1e-6, 1e-3))
    assert rep.thresholds == (1e-6, 1e-3)


def test_float64_model_with_float32_params_still_warns():
    model, p = Net(), params(np.float32)
    g = model.grads(params())
    with pytest.warns(UserWarning, match=r"params\['hidden_w'\] is float32"):
        rep = gradient_check(model, p, g, X, Y)
    assert rep.thresholds == (1e-6, 1e-3)


def test_float32_cost_model_directional():
    model, p = Net(dtype=np.float32), params(np.float32)
    g = {k: v.astype(np.float32) for k, v in model.grads(params()).items()}
    rep = gradient_check(model, p, g, X, Y, mode="directional", k=3, seed=2)
    assert rep.verdict == "great" and "directions of length" in str(rep)


def test_float32_params_a_cost_casts_are_a_float32_model_as_in_check_grad():
    # every param float32, the cost casts them to float32 (a float64 step is
    # lost) and returns a Python float: the same verdict as check_grad's
    class Model:
        def cost(self, params, X, Y):
            W = np.asarray(params["W"], np.float32)
            return float(np.sum((X @ W.astype(np.float64) - Y) ** 2))

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    W = (10 + rng.standard_normal((3, 2))).astype(np.float32)
    grads = {"dW": 2 * X.T @ (X @ W.astype(np.float64) - Y)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no upcast warning: it is a float32 model
        rep = gradient_check(Model(), {"W": W}, grads, X, Y)
    assert rep.verdict == "great" and rep.thresholds == (1e-3, 1e-2)
    mirror = check_grad(lambda p: Model().cost(p, X, Y), {"W": W}, {"W": grads["dW"]})
    assert mirror.verdict == "great"
