"""Habits new users bring from other checkers (a trial of CS231n, Keras and
JAX users): an ``f`` that ignores its argument (CS231n's checker perturbs
the array in place), a float32 point with an ``f`` that returns a Python
float (Keras' ``get_weights``/``set_weights``), ``f(W, b)`` checked at
``(W, b)`` and a ``(value, grads)`` pair (JAX), a list of array-likes that
are not ndarrays, and a closure that stores its argument. Every reference
below is plain NumPy."""

import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from fastgrad import check_grad, check_vjp, gradient_check, numerical_gradient

# -- plain NumPy models and references ----------------------------------------


def central(f, theta, eps=1e-6):
    """Independent reference: a plain loop of central differences on copies."""
    theta = np.asarray(theta, dtype=np.float64)
    g = np.zeros_like(theta)
    for idx in np.ndindex(theta.shape):
        hi, lo = theta.copy(), theta.copy()
        hi[idx] += eps
        lo[idx] -= eps
        g[idx] = (f(hi) - f(lo)) / (hi[idx] - lo[idx])
    return g


def rel(a, b):
    a, b = np.ravel(a), np.ravel(b)
    return np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))


class TwoLayerNet:
    """CS231n's TwoLayerNet, tanh hidden layer: ``loss(X, y)`` reads
    ``self.params`` and returns (loss, grads)."""

    def __init__(self, reg=0.1, seed=0):
        r = np.random.RandomState(seed)
        self.params = {
            "W1": 0.5 * r.randn(5, 10),
            "b1": 0.1 * r.randn(10),
            "W2": 0.5 * r.randn(10, 3),
            "b2": 0.1 * r.randn(3),
        }
        self.reg = reg

    def loss(self, X, y, params=None):
        p = self.params if params is None else params
        h = np.tanh(X @ p["W1"] + p["b1"])
        z = h @ p["W2"] + p["b2"]
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        N = X.shape[0]
        loss = -logp[np.arange(N), y].mean()
        loss += 0.5 * self.reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
        d = np.exp(logp)
        d[np.arange(N), y] -= 1
        d /= N
        dh = d @ p["W2"].T * (1 - h**2)
        grads = {
            "W1": X.T @ dh + self.reg * p["W1"],
            "b1": dh.sum(axis=0),
            "W2": h.T @ d + self.reg * p["W2"],
            "b2": d.sum(axis=0),
        }
        return float(loss), grads


rng = np.random.RandomState(1)
X = rng.randn(7, 5)
y = rng.randint(3, size=7)


class Sequential:
    """A Keras-like model: float32 weights, ``set_weights`` casts what it is
    given back to float32, the loss is float32; ``gradients`` in float64
    from the float32 weights (the exact gradient of the float32 point)."""

    def __init__(self, sizes=(6, 5, 3), seed=0, dtype=np.float32):
        r = np.random.default_rng(seed)
        self.w = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            self.w.append(r.uniform(-0.8, 0.8, (n_in, n_out)).astype(dtype))
            self.w.append(r.uniform(-0.2, 0.2, n_out).astype(dtype))

    def get_weights(self):
        return [w.copy() for w in self.w]

    def set_weights(self, ws):
        for dst, src in zip(self.w, ws):
            dst[...] = src

    def loss(self, X, y):
        W1, b1, W2, b2 = self.w
        h = np.tanh(X.astype(W1.dtype) @ W1 + b1)
        z = h @ W2 + b2
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return -logp[np.arange(len(y)), y].mean()

    def gradients(self, X, y):
        W1, b1, W2, b2 = (w.astype(np.float64) for w in self.w)
        h = np.tanh(X @ W1 + b1)
        z = h @ W2 + b2
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        d = p.copy()
        d[np.arange(len(y)), y] -= 1
        d /= len(y)
        dz = d @ W2.T * (1 - h**2)
        return [X.T @ dz, dz.sum(0), h.T @ d, d.sum(0)]


Xk = np.random.default_rng(2).standard_normal((8, 6))
yk = np.random.default_rng(3).integers(0, 3, 8)


def batchnorm(x, gamma, beta, eps=1e-5):
    mu, var = x.mean(axis=0), x.var(axis=0)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def batchnorm_backward(dout, x, gamma, eps=1e-5):
    N = x.shape[0]
    mu, var = x.mean(axis=0), x.var(axis=0)
    ivar = 1 / np.sqrt(var + eps)
    xhat = (x - mu) * ivar
    dxhat = dout * gamma
    dx = ivar / N * (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def no_pointer_at_the_backprop(hints):
    """No hint blames the backprop: no block's "should be zero (the cost does
    not depend on it)", no "look at the backprop of"."""
    return not any("does not depend on it" in h or "look at the backprop" in h for h in hints)


# -- 1. an f that ignores its argument (CS231n) --------------------------------


def test_an_f_that_ignores_theta_is_named_not_the_backprop():
    net = TwoLayerNet()
    loss, grads = net.loss(X, y)
    f = lambda W: net.loss(X, y)[0]  # noqa: E731  the CS231n habit
    # the reference: the cost never moves, so the differences are all 0
    ref = central(f, net.params["W1"])
    assert not np.any(ref)
    r = check_grad(f, net.params["W1"], grads["W1"])
    np.testing.assert_array_equal(r.numerical["theta"], ref)
    assert r.verdict == "bug"
    assert "did not see the steps" in r.hints[0] and "own copy of theta" in r.hints[0]
    assert "lambda W: loss_with(W)" in r.hints[0]
    assert no_pointer_at_the_backprop(r.hints), r.hints
    # the dict port, and the sampled and directional modes
    for mode in ("full", "sampled", "directional"):
        r = check_grad(lambda p: net.loss(X, y)[0], net.params, grads, mode=mode, seed=0)
        assert "did not see the steps" in r.hints[0], mode
        assert no_pointer_at_the_backprop(r.hints), (mode, r.hints)
    # computed from its argument, the same backprop is great and matches NumPy
    g = lambda W: net.loss(X, y, dict(net.params, W1=W))[0]  # noqa: E731
    r = check_grad(g, net.params["W1"], grads["W1"])
    assert r.verdict == "great"
    np.testing.assert_allclose(r.numerical["theta"], central(g, net.params["W1"]), atol=1e-8)


def test_a_block_f_does_not_read_is_named_by_check_vjp():
    r = np.random.default_rng(4)
    x, dout = r.standard_normal((4, 5)), r.standard_normal((4, 5))
    gamma, beta = r.standard_normal(5), r.standard_normal(5)
    dx, dgamma, dbeta = batchnorm_backward(dout, x, gamma)
    # the notebook's typo: fb = lambda b: batchnorm(x, gamma, beta) (beta, not b)
    rep = check_vjp(lambda b: batchnorm(x, gamma, beta), beta, dbeta, dout)
    assert not np.any(rep.numerical["x"])
    assert "did not see the steps" in rep.hints[0] and "own copy of inputs" in rep.hints[0]
    assert no_pointer_at_the_backprop(rep.hints), rep.hints

    # some inputs read, one not: the hint names that one, the others are great
    def bn(x, g, b):
        return batchnorm(x, gamma, b)  # ignores g

    rep = check_vjp(bn, (x, gamma, beta), (dx, dgamma, dbeta), dout)
    rows = {b.name: b for b in rep.blocks}
    assert rows["x"].difference < 1e-6 and rows["b"].difference < 1e-6
    ref = central(lambda v: float(np.sum(dout * batchnorm(x, gamma, v))), beta)
    np.testing.assert_allclose(rep.numerical["b"], ref, rtol=1e-6, atol=1e-8)
    assert not np.any(rep.numerical["g"])
    [hint] = [h for h in rep.hints if h.startswith("g:")]
    assert "does f read g?" in hint and "should be zero" in hint
    assert not any("look at the backprop" in h for h in rep.hints), rep.hints
    assert not any("did not see the steps" in h for h in rep.hints)


def test_numerical_gradient_warns_when_f_never_changes():
    net = TwoLayerNet()
    with pytest.warns(RuntimeWarning, match="same value at theta and at every theta"):
        g = numerical_gradient(lambda W: net.loss(X, y)[0], net.params["W1"])
    assert not np.any(g)
    # a function even about theta (f(θ+h) = f(θ−h) != f(θ)) is no such f
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = numerical_gradient(lambda t: float(np.sum(t**2)), np.zeros(3))
    np.testing.assert_array_equal(g, np.zeros(3))


def test_a_cost_method_that_ignores_params_is_named():
    net = TwoLayerNet()
    grads = net.loss(X, y)[1]

    class Model:
        def cost(self, params, X, Y):
            return net.loss(X, Y)[0]  # self's weights, not params

    r = gradient_check(Model(), net.params, {"d" + k: v for k, v in grads.items()}, X, y)
    assert "did not see the steps" in r.hints[0] and "the cost" in r.hints[0]
    assert no_pointer_at_the_backprop(r.hints), r.hints


# -- 2. a float32 point, an f that returns a Python float (Keras) ---------------


def test_a_float32_theta_is_a_float32_model():
    model = Sequential()
    weights = model.get_weights()
    grads = model.gradients(Xk, yk)

    def loss_fn(ws):
        model.set_weights(ws)
        return float(model.loss(Xk, yk))

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "upcast to float64" warning
        r = check_grad(loss_fn, weights, grads)
    assert r.verdict == "great", str(r)
    assert r.thresholds == (1e-3, 1e-2) and "float32 model" in str(r)
    num = np.concatenate([r.numerical[f"theta[{i}]"].ravel() for i in range(4)])
    assert rel(num, np.concatenate([g.ravel() for g in grads])) < 1e-3
    # check_vjp on float32 inputs
    r = check_vjp(lambda *ws: loss_fn(ws), tuple(weights), tuple(grads))
    assert r.verdict == "great" and "float32 model" in str(r)


def test_a_float32_theta_that_f_reads_in_float64_is_checked_in_float64():
    # float32 parameters, an f that computes in float64 from them: it sees a
    # 1e-7 step, so the check keeps float64's steps and bands, and a
    # gradient 0.05% off is not "great" (float32's bands would pass it)
    rng = np.random.default_rng(11)
    theta = rng.standard_normal(40).astype(np.float32)

    def f(t):
        t = np.asarray(t, dtype=np.float64)
        return float(np.sum(np.sin(t) * t))

    t64 = theta.astype(np.float64)
    right = np.cos(t64) * t64 + np.sin(t64)
    off = right.copy()
    off[::2] *= 1.0005
    for check in (lambda g: check_grad(f, theta, g), lambda g: check_vjp(f, theta, g)):
        with pytest.warns(UserWarning, match="float32; upcast"):
            good = check(right)
        with pytest.warns(UserWarning, match="float32; upcast"):
            bad = check(off)
        assert good.verdict == "great" and good.thresholds == (1e-6, 1e-3)
        assert bad.verdict != "great", str(bad)
        assert rel(np.ravel(bad.numerical["theta"] if "theta" in bad.numerical
                            else list(bad.numerical.values())[0]), right) < 1e-8


def test_a_half_upcast_theta_that_sees_no_step_says_float32():
    model = Sequential()
    model.w[1] += np.float32(2.5)  # |b1| in [2, 4): float32 spacing 2.4e-7 hides 1e-7 too
    weights = model.get_weights()
    weights[1] = weights[1].astype(np.float64)  # one float64 block: not a float32 point
    grads = model.gradients(Xk, yk)

    def loss_fn(ws):
        model.set_weights(ws)  # casts the 1e-7 step away
        # (a float32 loss of ~1e3, whose spacing 6e-5 no step of 1e-7 moves)
        return float(model.loss(Xk, yk) + np.float32(1024))

    with pytest.warns(UserWarning, match=r"theta\[0\] is float32; upcast"):
        r = check_grad(loss_fn, weights, grads)
    assert not any(np.any(v) for v in r.numerical.values())
    assert "did not see the steps" in r.hints[0]
    assert "theta[0] (float32), theta[2] (float32), theta[3] (float32) were upcast" in r.hints[0]
    assert no_pointer_at_the_backprop(r.hints), r.hints
    # numerical_gradient upcasts a float32 theta (no bands to follow a float32
    # step): its warning says so
    with pytest.warns(RuntimeWarning, match="theta was float32, upcast to float64"):
        g0 = numerical_gradient(lambda W: loss_fn([W] + weights[1:]), weights[0])
    assert not np.any(g0)


# -- 3. f(W, b) at (W, b); a (value, grads) pair (JAX) ---------------------------


W = np.random.default_rng(5).standard_normal((3, 2))
b = np.random.default_rng(6).standard_normal(2)
Xj = np.random.default_rng(7).standard_normal((5, 3))


def fj(W, b):
    return float(np.sum(np.tanh(Xj @ W + b) ** 2))


def grad_fj(W, b):
    h = np.tanh(Xj @ W + b)
    d = 2 * h * (1 - h**2)
    return Xj.T @ d, d.sum(0)


def test_f_of_several_arguments_is_told_how_to_unpack():
    with pytest.raises(
        TypeError,
        match=r"f \(fj\) takes 2 positional argument\(s\) \(W, b\), but check_grad calls "
        r"f\(theta\) with the tuple of 2 arrays theta as one argument.*"
        r"check_grad\(lambda p: f\(\*p\), theta, grad\), or check_vjp",
    ):
        check_grad(fj, (W, b), grad_fj(W, b))
    with pytest.raises(TypeError, match=r"lambda p: f\(\*\*p\)"):
        check_grad(fj, {"W": W, "b": b}, dict(zip("Wb", grad_fj(W, b))))
    with pytest.raises(TypeError, match=r"grad \(grad_fj\) takes 2.*grad=lambda p: grad\(\*p\)"):
        check_grad(lambda p: fj(*p), (W, b), grad_fj)
    with pytest.raises(TypeError, match=r"numerical_gradient calls f\(theta\) with the array"):
        numerical_gradient(fj, W)
    # what the message says to do works, and matches NumPy
    r = check_grad(lambda p: fj(*p), (W, b), grad_fj(W, b))
    assert r.verdict == "great"
    np.testing.assert_allclose(r.numerical["theta[0]"], central(lambda v: fj(v, b), W), atol=1e-7)
    # a TypeError raised inside a one-argument f is the user's own, unchanged
    with pytest.raises(TypeError, match="unsupported operand"):
        check_grad(lambda p: float(np.sum(p)) + None, W, W)


def test_a_value_and_grad_pair_is_named():
    pair = r"a pair that looks like \(value, gradient\)"
    with pytest.raises(TypeError, match="grad returned " + pair):
        check_grad(lambda p: fj(*p), (W, b), lambda p: (fj(*p), grad_fj(*p)))
    with pytest.raises(TypeError, match="grad is " + pair):
        check_grad(lambda p: fj(p["W"], p["b"]), {"W": W, "b": b}, (1.5, {"W": W, "b": b}))


# -- 4. a list of array-likes that are not ndarrays ------------------------------


class ArrayLike:
    """What jax.Array offers NumPy: __array__, shape, dtype; not an ndarray."""

    def __init__(self, a, dtype=np.float64):
        self._a = np.asarray(a, dtype=dtype)

    shape = property(lambda s: s._a.shape)
    dtype = property(lambda s: s._a.dtype)

    def __array__(self, dtype=None, copy=None):
        return self._a if dtype is None else self._a.astype(dtype)


W1 = np.random.default_rng(8).standard_normal((4, 4))
W2 = np.random.default_rng(9).standard_normal((3, 4))
x4 = np.random.default_rng(10).standard_normal(4)


def f2(p):
    return float(np.sum(np.tanh(np.asarray(p[1]) @ np.tanh(np.asarray(p[0]) @ x4))))


def g2(p):
    a, c = np.asarray(p[0]), np.asarray(p[1])
    h = np.tanh(a @ x4)
    o = np.tanh(c @ h)
    do = 1 - o**2
    return [np.outer(c.T @ do * (1 - h**2), x4), np.outer(do, h)]


def test_a_list_of_array_likes_is_a_list_of_blocks():
    for theta in ([ArrayLike(W1), ArrayLike(W2)], (ArrayLike(W1), W2)):
        bad = g2([W1, W2])
        bad[1] = 2 * bad[1]  # layer 2 doubled
        r = check_grad(f2, theta, bad)  # grad: a list of NumPy arrays
        assert [(b.name, b.shape) for b in r.blocks] == [("theta[0]", (4, 4)), ("theta[1]", (3, 4))]
        assert [b.name for b in r.blocks if b.difference > 1e-3] == ["theta[1]"]
        np.testing.assert_allclose(
            r.numerical["theta[1]"], central(lambda v: f2([W1, v]), W2), atol=1e-7
        )
        assert check_grad(f2, theta, [ArrayLike(g) for g in g2([W1, W2])]).verdict == "great"


@pytest.mark.parametrize("bias", [0.3, np.float64(0.3), np.array(0.3), ArrayLike(0.3)])
def test_a_scalar_block_beside_an_array_is_its_own_block(bias):
    Xs = np.random.default_rng(11).standard_normal((16, 3))
    w = np.random.default_rng(12).standard_normal(3)

    def f(t):
        return float(np.sum((Xs @ t[0] + t[1]) ** 2))

    def g(t):
        e = Xs @ t[0] + t[1]
        return (2 * Xs.T @ e, 2 * np.sum(e))

    r = check_grad(f, (w, bias), g)
    assert [(bl.name, bl.shape) for bl in r.blocks] == [("theta[0]", (3,)), ("theta[1]", ())]
    assert r.verdict == "great"
    ref = central(lambda v: f((w, float(v))), 0.3)
    np.testing.assert_allclose(r.numerical["theta[1]"], ref, rtol=1e-6)


def test_lists_of_numbers_stay_one_array():
    for theta in ([0.5, -1.0, 2.0], [[0.5, -1.0], [2.0, 1.5]], [np.float64(0.5), np.float64(2)]):
        a = np.asarray(theta, dtype=float)
        r = check_grad(lambda t: float(np.sum(np.asarray(t) ** 3)), theta, 3 * a**2)
        assert [(bl.name, bl.shape) for bl in r.blocks] == [("theta", a.shape)]
        assert r.verdict == "great"


def test_check_vjp_takes_array_likes_as_inputs():
    def layer(w, x):
        return np.tanh(np.asarray(w) @ np.asarray(x))

    up = np.random.default_rng(13).standard_normal(3)
    h = np.tanh(W2 @ x4)
    dz = up * (1 - h**2)
    r = check_vjp(layer, [ArrayLike(W2), ArrayLike(x4)], [np.outer(dz, x4), W2.T @ dz], up)
    assert [bl.name for bl in r.blocks] == ["w", "x"] and r.verdict == "great"


# -- 5. a closure that stores its argument is left at theta ---------------------


def stateful():
    """The Keras habit: the loss closure calls set_weights(ws)."""
    model = Sequential(dtype=np.float64)
    weights = model.get_weights()

    def loss_fn(ws):
        model.set_weights(ws)
        return float(model.loss(Xk, yk))

    return model, weights, loss_fn


def at_theta(model, weights):
    return all(a.tobytes() == w.tobytes() for a, w in zip(model.get_weights(), weights))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_model_is_left_at_theta(dtype):
    model, weights, loss_fn = stateful()
    model.w = [w.astype(dtype) for w in model.w]
    weights = model.get_weights()
    grads = model.gradients(Xk, yk)
    assert check_grad(loss_fn, weights, grads).verdict == "great"
    assert at_theta(model, weights)
    assert check_vjp(lambda *ws: loss_fn(ws), tuple(weights), tuple(grads)).verdict == "great"
    assert at_theta(model, weights)
    numerical_gradient(lambda W: loss_fn([W] + weights[1:]), weights[0])
    assert at_theta(model, weights)


def test_a_cost_method_that_stores_params_is_left_at_params():
    net = TwoLayerNet()
    grads = {"d" + k: v for k, v in net.loss(X, y)[1].items()}

    class Model:
        def cost(self, params, X, Y):
            self.seen = {k: np.array(v) for k, v in params.items()}
            return net.loss(X, Y, params)[0]

    model = Model()
    assert gradient_check(model, net.params, grads, X, y).verdict == "great"
    assert all(model.seen[k].tobytes() == v.tobytes() for k, v in net.params.items())


def test_the_model_is_left_at_theta_with_workers():
    """Workers difference their own copies of f (an Executor gets it by
    cloudpickle); the parent's f is called at θ ± ε/2 for a kink (the
    half-step look), then once more at θ."""
    seen = {}
    theta = np.array([0.5, 2e-8, -0.3, 1.2])  # theta[1] within epsilon of relu's kink
    c = np.array([1.0, 2.0, 3.0, 4.0])

    def f(t):
        seen["t"] = np.array(t)
        return float(np.sum(c * np.maximum(t, 0)))

    def layer(t):
        seen["t"] = np.array(t)
        return np.maximum(t, 0)

    with ProcessPoolExecutor(2) as pool:
        r = check_grad(f, theta, c * (theta > 0), workers=pool)
        assert "workers:" in str(r) and r.n_kinks == 1 and r.verdict == "great"
        assert seen["t"].tobytes() == theta.tobytes()
        seen.clear()
        r = check_vjp(layer, theta, (theta > 0) * 1.0, np.ones(4), workers=pool)
        assert "workers:" in str(r) and r.n_kinks == 1 and r.verdict == "great"
        assert seen["t"].tobytes() == theta.tobytes()


# -- 6. reports capped at "check" by the rounding floor -------------------------


@pytest.mark.parametrize("c,big", [(1e-2, 1e3), (1e-3, 1e3), (3e-3, 3e2)])
def test_a_capped_float32_report_points_at_no_block_its_rounding_explains(c, big):
    # y = big + c·x in float32: a step of 0.004 moves y by less than its
    # rounding, so the differences are 0 or a few ulps over the step
    x = np.random.default_rng(0).uniform(-0.5, 0.5, 6).astype(np.float32)

    def f(v):
        return np.float32(big) + np.float32(c) * np.asarray(v, np.float32)

    up = np.ones(6)
    r = check_vjp(f, x, (c * up).astype(np.float32), up)  # the exact VJP
    assert r.verdict == "check"
    assert any("rounding floor" in n for n in r.notes)
    assert r.hints == [], r.hints  # no "should be zero", "1.28x", "look at the backprop"


def test_user_bands_keep_their_verdict_at_the_rounding_floor_but_blame_no_backprop():
    # the same exact VJP with the bands given: the verdict is the user's
    # bands' ("check" at 1e-3..1e-2 becomes "bug" at 1e-4..1e-3), and the
    # report still says that the rounding explains it, pointing at nothing
    x = np.random.default_rng(0).uniform(-0.5, 0.5, 6).astype(np.float32)

    def f(v):
        return np.float32(1e3) + np.float32(1e-2) * np.asarray(v, np.float32)

    up = np.ones(6)
    r = check_vjp(f, x, (1e-2 * up).astype(np.float32), up, thresholds=(1e-6, 1e-5))
    assert r.verdict == "bug"
    assert any("rounding floor" in n and "thresholds you gave" in n for n in r.notes)
    assert r.hints == [], r.hints


def test_user_bands_still_point_at_a_block_far_above_its_rounding_floor():
    # float64, a 2x error: the rounding floor explains nothing, so the
    # user's bands get their pointers as before
    theta = np.linspace(0.5, 1.5, 5)
    r = check_grad(lambda t: float(np.sum(t ** 2)), theta, 4 * theta, thresholds=(1e-6, 1e-5))
    assert r.verdict == "bug" and not any("rounding floor" in n for n in r.notes)
    assert any("look at the backprop of: theta" in h for h in r.hints), r.hints


def test_scipy_argument_order_gets_the_right_order_in_the_error():
    from scipy.optimize import rosen, rosen_der

    x0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
    said = r"theta is a function \(rosen_der\).*check_grad\(func, x0, grad\)"
    with pytest.raises(TypeError, match=said):
        check_grad(rosen, rosen_der, x0)  # scipy.optimize.check_grad's order
    r = check_grad(rosen, x0, rosen_der)
    assert r.verdict == "great"


def test_inputs_in_the_wrong_order_are_named_inputs():
    def f(a, c):
        return a @ c

    a, c = np.ones((5, 6)), np.ones((6, 5))
    with pytest.raises(ValueError, match=r"expected \(5, 6\) like inputs \(it looks transposed\)"):
        check_vjp(f, (a, c), (c, a), np.ones((5, 5)))  # grads in the wrong order


def test_an_f_even_about_theta_saw_its_steps_and_the_backprop_is_blamed():
    # f = Σcos θ at θ = 0: f(θ+h) = f(θ−h) ≠ f(θ), every numerical entry is
    # exactly 0 and the true gradient is 0; a gradient of ones is the user's
    # bug, not an f that ignores its argument
    theta = np.zeros(4)
    for r in (check_grad(lambda t: float(np.sum(np.cos(t))), theta, np.ones(4)),
              check_vjp(lambda t: np.cos(t), theta, np.ones(4), np.ones(4))):
        assert r.verdict == "bug"
        assert not any("did not see" in h or "does f read" in h for h in r.hints), r.hints
        assert any("look at the backprop" in h for h in r.hints), r.hints


def test_a_directional_block_checked_in_full_keeps_its_hint_under_user_bands():
    # B (3 entries, 2x its true gradient) fails along its directions and is
    # checked in full; its floor along directions is unknown (infinite),
    # which must not count as "rounding explains it"
    rng = np.random.default_rng(0)
    A0, B = rng.uniform(0.5, 1.5, 300), rng.uniform(0.5, 1.5, 3)

    def f(p):
        a, b = np.asarray(p["A"]), np.asarray(p["B"])
        return float(1e4 * np.sum(a - A0) + 0.5 * np.sum(a - A0) ** 2 + np.sum(b ** 2))

    g = {"A": 1e4 + 0 * A0, "B": 2 * 2 * B}
    r = check_grad(f, {"A": A0.copy(), "B": B}, g, mode="directional", seed=0,
                   thresholds=(1e-3, 1e-2))
    assert any(h.startswith("B is 2.00x the numerical gradient") for h in r.hints), r.hints


def test_a_check_that_stops_on_an_error_of_f_leaves_f_at_theta():
    theta = np.array([1.0, 2.0, 3.0])
    seen = []

    def f(t):
        seen.append(np.array(t))
        if t[1] > 2.0:
            raise RuntimeError("solver did not converge")
        return float(np.sum(np.asarray(t) ** 2))

    for run in (lambda: check_grad(f, theta, 2 * theta),
                lambda: check_grad(lambda t: np.float32(f(t)), theta, 2 * theta),
                lambda: numerical_gradient(f, theta),
                lambda: check_vjp(f, theta, 2 * theta)):
        seen.clear()
        with pytest.raises(RuntimeError, match="did not converge"):
            run()
        np.testing.assert_array_equal(seen[-1], theta)


def test_zero_d_arrays_beside_numbers_stay_one_array_and_a_misshaped_pair_is_not_value_and_grad():
    f = lambda t: float(np.sum(np.asarray(t, dtype=float) ** 2))  # noqa: E731
    for theta in ([np.array(1.0), np.float64(2.0)], [1.0, np.array(2.0)]):
        r = check_grad(f, theta, np.array([2.0, 4.0]))  # one (2,) array, as NumPy reads it
        assert r.verdict == "great" and [b.name for b in r.blocks] == ["theta"]
    w = np.array([1.0, -2.0, 0.5])
    # theta (0.3, w) with a gradient whose second block has the wrong shape:
    # the shape error, not "a (value, gradient) pair"
    with pytest.raises(ValueError, match=r"grad block 'theta\[1\]' has shape \(4,\)"):
        check_grad(lambda p: float(p[0] ** 2 + np.sum(p[1] ** 2)), (0.3, w), (0.6, np.ones(4)))
