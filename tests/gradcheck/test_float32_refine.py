"""Float32 checks of functions that bend over less than 1: a block that is not
great at the first step (0.0039*max(1,|x|)) is differenced again at shorter
steps (fastgrad.gradcheck.lowprec.refine). References are float64 NumPy,
written out here."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fastgrad import check_grad, check_vjp, numerical_gradient

F32 = np.float32
H0 = float(np.cbrt(2.0**-24))  # the first float32 step, per unit of max(1, |x|)


def layernorm32(x, g, b, eps):
    x = np.asarray(x, F32)
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return np.asarray(g, F32) * (x - mu) / np.sqrt(var + F32(eps)) + np.asarray(b, F32)


def layernorm_vjp64(u, x, g, eps):
    """The exact VJP of layernorm32 in float64: (dx, dgamma, dbeta)."""
    x, u, g = (np.asarray(a, np.float64) for a in (x, u, g))
    mu = x.mean(-1, keepdims=True)
    s = np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps)
    xh = (x - mu) / s
    d = u * g
    dx = (d - d.mean(-1, keepdims=True) - xh * (d * xh).mean(-1, keepdims=True)) / s
    return dx, (u * xh).sum(0), u.sum(0)


def small_layernorm(scale, eps, seed=0):
    rng = np.random.default_rng(seed)
    x = (scale * rng.standard_normal((3, 5))).astype(F32)
    g = (1 + 0.1 * rng.standard_normal(5)).astype(F32)
    b = (0.1 * rng.standard_normal(5)).astype(F32)
    u = rng.standard_normal((3, 5)).astype(F32)
    f = lambda x, g, b: layernorm32(x, g, b, eps)  # noqa: E731
    dx, dg, db = layernorm_vjp64(u, x, g, eps)
    return f, (x, g, b), (dx, dg, db), u


CASES = [(1e-3, 1e-5), (1e-3, 1e-12), (1e-4, 1e-12)]


@pytest.mark.parametrize("scale, eps", CASES)
def test_check_vjp_layer_norm_of_small_inputs_is_great_and_a_wrong_dx_a_bug(scale, eps):
    # a step of 0.0039 on inputs ~1e-3 is a 400% move of a scale-invariant
    # function: the correct VJP scored "bug" with most of x taken for kinks
    f, inputs, (dx, dg, db), u = small_layernorm(scale, eps)
    grads = tuple(a.astype(F32) for a in (dx, dg, db))
    rep = check_vjp(f, inputs, grads, u)
    assert rep.verdict == "great" and rep.n_kinks == 0, str(rep)
    np.testing.assert_allclose(rep.numerical["x"], dx, rtol=0, atol=1e-3 * np.abs(dx).max())
    assert "at a shorter step" in rep.notes[0] and "/4, /16" in rep.notes[0]
    for wrong in (2.0, -1.0, 0.5):
        bad = check_vjp(f, inputs, ((wrong * dx).astype(F32), grads[1], grads[2]), u)
        assert bad.verdict == "bug", (wrong, str(bad))
        assert "look at the backprop of: x" in bad.hints


def test_check_vjp_dense_tanh_whose_weights_are_large_is_great():
    # |x| ~ 1 but z = W x moves 100x faster: x's length scale is ~1e-2, which
    # no rule read from x alone can see; the differences can
    rng = np.random.default_rng(3)
    W = (100 * rng.standard_normal((3, 4))).astype(F32)
    x = rng.standard_normal((4, 2)).astype(F32)
    x[:, 0] *= 1e-3  # keep some of tanh's arguments in its bend
    u = rng.standard_normal((3, 2)).astype(F32)

    def dense(W, x):
        return np.tanh(np.asarray(W, F32) @ np.asarray(x, F32))

    z = W.astype(np.float64) @ x.astype(np.float64)
    d = u * (1 - np.tanh(z) ** 2)
    dW, dx = d @ x.T.astype(np.float64), W.T.astype(np.float64) @ d
    rep = check_vjp(dense, (W, x), (dW.astype(F32), dx.astype(F32)), u)
    assert rep.verdict == "great", str(rep)
    bad = check_vjp(dense, (W, x), (dW.astype(F32), (2 * dx).astype(F32)), u)
    assert bad.verdict == "bug" and "look at the backprop of: x" in bad.hints


def test_a_block_great_at_the_first_step_keeps_it():
    # tanh of inputs ~1e-3 bends over a length of 1: nothing is taken again,
    # and the numerical VJP is the central difference at fl32(x ± 0.0039)
    rng = np.random.default_rng(1)
    x = (1e-3 * rng.standard_normal(6)).astype(F32)
    u = rng.standard_normal(6).astype(F32)
    rep = check_vjp(lambda x: np.tanh(np.asarray(x, F32)), x, (u / np.cosh(x) ** 2), u)
    assert rep.verdict == "great" and "at a shorter step" not in rep.notes[0]
    x64 = x.astype(np.float64)
    h = np.maximum(1e-7, H0 * np.maximum(1.0, np.abs(x64)))
    plus, minus = (x64 + h).astype(F32), (x64 - h).astype(F32)
    ref = (
        u * (np.tanh(plus).astype(np.float64) - np.tanh(minus).astype(np.float64))
    ) / (plus.astype(np.float64) - minus.astype(np.float64))
    np.testing.assert_allclose(rep.numerical["x"], ref, rtol=1e-12)


def test_a_kink_a_shorter_step_no_longer_straddles_is_no_kink():
    # relu at 1e-3: the first step (0.0039) straddles it; a block that is not
    # great (a wrong entry elsewhere) is taken again, and at 2.4e-4 the
    # difference is relu's slope itself, not a mix of 0 and 2
    theta = np.array([0.5, 1e-3, -0.3], F32)
    w = np.array([1.0, 2.0, -1.5], F32)

    def f(t):
        return np.sum(w * np.maximum(np.asarray(t, F32), 0))

    wrong = np.array([1.5, 2.0, 0.0], F32)  # d/dt0 is 1, not 1.5
    rep = check_grad(f, theta, wrong)
    assert rep.verdict == "bug" and rep.n_kinks == 0, str(rep)
    assert rep.numerical["theta"][1] == pytest.approx(2.0, rel=1e-3)


def test_the_kinks_of_a_block_not_refined_are_not_looked_at_twice():
    # A: correct, 40 of its coordinates 1e-3 below a relu kink; B: wrong, so
    # it is refined and the kinks are found anew. A's steps are unchanged:
    # its half-step looks must not be evaluated again (no point twice)
    rng = np.random.default_rng(0)
    A, B = rng.uniform(0.2, 0.8, 100), rng.uniform(0.2, 0.8, 10)
    c = A + np.where(np.arange(100) < 40, 1e-3, 1.0)
    points = []

    def f(p):
        a, b = np.asarray(p["A"]), np.asarray(p["B"])
        points.append(a.tobytes() + b.tobytes())
        return np.float32(np.sum(np.maximum(a - c, 0) + 0.5 * a * a) + np.sum(b ** 2))

    rep = check_grad(f, {"A": A, "B": B}, {"A": A.copy(), "B": 3 * B})
    assert rep.verdict == "bug" and rep.n_kinks >= 30, str(rep)
    theta = A.tobytes() + B.tobytes()
    again = [p for p in set(points) if p != theta and points.count(p) > 1]
    assert again == [], f"{len(again)} points evaluated more than once"
    assert rep.blocks[0].difference < 1e-3  # A stays great, its kinks left out


def test_check_vjp_looks_at_the_kinks_of_an_input_not_refined_once():
    # the same with check_vjp: x (relu, 40 entries 1e-3 below the kink,
    # exact VJP) and w (a wrong VJP, refined)
    rng = np.random.default_rng(1)
    x, w = rng.uniform(0.2, 0.8, 100), rng.uniform(0.2, 0.8, 10)
    c = x + np.where(np.arange(100) < 40, 1e-3, 1.0)
    points = []

    def f(x_, w_):
        x_, w_ = np.asarray(x_), np.asarray(w_)
        points.append(x_.tobytes() + w_.tobytes())
        return np.concatenate([np.maximum(x_ - c, 0) + x_, w_ ** 2]).astype(F32)

    up = np.ones(110)
    rep = check_vjp(f, (x, w), (np.ones(100), 3 * w), up)
    assert rep.verdict == "bug" and rep.n_kinks >= 30, str(rep)
    at = x.tobytes() + w.tobytes()
    again = [p for p in set(points) if p != at and points.count(p) > 1]
    assert again == [], f"{len(again)} points evaluated more than once"


def _ln_cost(scale, eps, seed=0):
    f, (x, g, b), (dx, _, _), u = small_layernorm(scale, eps, seed)

    def cost(x):
        return np.sum(u * f(x, g, b), dtype=F32)

    return cost, x, dx


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_check_grad_of_a_layer_norm_of_small_inputs(mode):
    cost, x, dx = _ln_cost(1e-3, 1e-12)
    kw = dict(mode=mode, k=3, seed=0) if mode == "directional" else {}
    rep = check_grad(cost, x, dx.astype(F32), **kw)
    assert rep.verdict == "great", str(rep)
    assert "at a shorter step" in rep.notes[0]
    assert check_grad(cost, x, (2 * dx).astype(F32), **kw).verdict == "bug"


def test_numerical_gradient_of_a_float32_layer_norm_of_small_inputs():
    cost, x, dx = _ln_cost(1e-3, 1e-12)
    g = numerical_gradient(cost, x.astype(np.float64))
    np.testing.assert_allclose(g, dx, rtol=0, atol=1e-3 * np.abs(dx).max())


def test_the_refined_steps_are_the_same_bits_with_workers():
    f, inputs, (dx, dg, db), u = small_layernorm(1e-3, 1e-12)
    grads = tuple(a.astype(F32) for a in ((2 * dx), dg, db))
    serial = check_vjp(f, inputs, grads, u)
    with ThreadPoolExecutor(2) as ex:
        par = check_vjp(f, inputs, grads, u, workers=ex)
    for k in serial.numerical:
        assert par.numerical[k].tobytes() == serial.numerical[k].tobytes()
    assert par.notes[0] == serial.notes[0] and par.verdict == serial.verdict == "bug"
    cost, x, dx = _ln_cost(1e-3, 1e-12)
    one = check_grad(cost, x, dx.astype(F32))
    with ThreadPoolExecutor(3) as ex:
        many = check_grad(cost, x, dx.astype(F32), workers=ex)
    assert many.numerical["theta"].tobytes() == one.numerical["theta"].tobytes()
    assert many.notes[0] == one.notes[0]
    kw = dict(mode="directional", k=3, seed=0)
    one = check_grad(cost, x, (2 * dx).astype(F32), **kw)
    with ThreadPoolExecutor(2) as ex:
        many = check_grad(cost, x, (2 * dx).astype(F32), workers=ex, **kw)
    assert one.verdict == many.verdict == "bug" and many.notes[0] == one.notes[0]
    for name in one.directions:
        for a, b in zip(one.directions[name], many.directions[name]):
            assert a.tobytes() == b.tobytes()
    assert many.numerical["theta"].tobytes() == one.numerical["theta"].tobytes()
