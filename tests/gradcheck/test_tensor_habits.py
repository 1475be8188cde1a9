"""Habits of PyTorch users, without torch installed: a tensor-like class
that behaves as torch's does where fastgrad meets it (a dtype that is not
NumPy's but is named ``torch.float32``, ``__array__``, a tensor that
requires grad refusing ``__array__`` with RuntimeError), and an ``f`` that
rebinds the entries of the dict it is given. Found by a trial that ported
torch.autograd.gradcheck's tests: a float32 tensor was checked with float64
steps (a correct layer scored "bug"), a tensor theta crashed, and
``for k in q: q[k] = torch.tensor(q[k])`` froze the point for every later
call (a correct gradient scored "bug")."""


import numpy as np
import pytest

from fastgrad import check_grad, check_vjp, numerical_gradient


class DType:
    def __init__(self, name):
        self.name = name

    def __str__(self):
        return f"torch.{self.name}"

    def __eq__(self, other):  # torch.float32 == np.float32 is False
        return isinstance(other, DType) and other.name == self.name

    __hash__ = object.__hash__


class Tensor:
    def __init__(self, data, dtype="float64", requires_grad=False):
        self._data = np.array(data, dtype=dtype)
        self.dtype = DType(dtype)
        self.requires_grad = requires_grad

    def __array__(self, dtype=None, copy=None):
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy()"
            )
        return self._data if dtype is None else self._data.astype(dtype)

    def item(self):
        return self._data.item()


def linear32():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 4)).astype(np.float32)
    x = rng.standard_normal((5, 4))
    up = rng.standard_normal((5, 3))
    return W, x, up, (up.astype(np.float32) @ W)


def test_float32_tensors_are_a_float32_model():
    W, x, up, grad32 = linear32()

    def f(v):  # the layer in float32, as a default-dtype torch module
        return Tensor(np.asarray(v, dtype=np.float32) @ W.T, "float32")

    r = check_vjp(f, x, Tensor(grad32, "float32"), up)
    assert r.verdict == "great" and r.thresholds == (1e-3, 1e-2)
    assert "float32 model" in str(r)
    # the same numbers as NumPy arrays: the same verdict and difference
    same = check_vjp(lambda v: np.asarray(v, dtype=np.float32) @ W.T, x, grad32, up)
    assert same.difference == r.difference
    # and a float32 tensor gradient alone selects the float32 check for check_grad
    w = np.random.default_rng(1).standard_normal(4)

    def cost(v):
        return float(np.sum(np.asarray(v, dtype=np.float32) ** 3))

    r = check_grad(cost, w, Tensor(3 * w.astype(np.float32) ** 2, "float32"))
    assert r.verdict == "great" and "float32 model" in str(r)


def test_tensor_theta_and_scalar_outputs():
    def f(t):
        return Tensor(np.sum(np.asarray(t) ** 2))  # a 0-d tensor, not a float

    theta = Tensor([1.0, 2.0, -0.5])
    expect = 2 * np.array([1.0, 2.0, -0.5])
    np.testing.assert_allclose(numerical_gradient(f, theta), expect, rtol=1e-8)
    assert check_grad(f, theta, expect).verdict == "great"
    assert check_vjp(f, theta, expect).verdict == "great"
    # a float32 tensor theta with an f that computes in float64 (it sees a
    # float64 step): upcast, checked in float64
    with pytest.warns(UserWarning, match="float32; upcast"):
        r = check_grad(f, Tensor([1.0, 2.0], "float32"), np.array([2.0, 4.0]))
    assert r.passed and r.thresholds == (1e-6, 1e-3)
    with pytest.warns(UserWarning, match="float16; upcast"):
        assert check_grad(f, Tensor([1.0, 2.0], "float16"), np.array([2.0, 4.0])).passed


def test_tensors_that_require_grad_get_a_clear_error():
    x = np.array([1.0, 2.0])
    with pytest.raises(TypeError, match=r"f \(<lambda>\) returned a Tensor.*\.item\(\)"):
        check_grad(lambda t: Tensor(np.sum(t**2), requires_grad=True), x, 2 * x)
    with pytest.raises(TypeError, match=r"f \(<lambda>\) returned a Tensor.*detach"):
        check_vjp(lambda t: Tensor(2 * t, requires_grad=True), x, 2 * np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="theta must be an array.*requires grad"):
        check_grad(lambda t: float(np.sum(t**2)), Tensor(x, requires_grad=True), 2 * x)


def test_an_f_that_rebinds_its_dict_sees_the_point_every_time():
    p = {"w": np.array([0.5, -1.0, 2.0]), "b": np.array([1.5, 0.3])}
    grads = {"w": 2 * p["w"], "b": 3 * p["b"] ** 2}

    def convert(q):
        for k in q:
            q[k] = Tensor(np.asarray(q[k]))  # the torch habit
        return float(np.sum(np.asarray(q["w"]) ** 2) + np.sum(np.asarray(q["b"]) ** 3))

    def pop(q):
        w = q.pop("w")
        return float(np.sum(w**2) + np.sum(q["b"] ** 3))

    for f in (convert, pop):
        r = check_grad(f, p, grads)
        assert r.verdict == "great", f.__name__
        np.testing.assert_allclose(r.numerical["w"], grads["w"], rtol=1e-7)
    # a list theta too
    lst = [p["w"], p["b"]]

    def relist(q):
        q[0] = np.asarray(q[0]) * 1.0
        return float(np.sum(q[0] ** 2) + np.sum(q[1] ** 3))

    assert check_grad(relist, lst, [grads["w"], grads["b"]]).verdict == "great"
    # the caller's dict and arrays are untouched
    assert list(p) == ["w", "b"] and p["w"].tolist() == [0.5, -1.0, 2.0]


def test_writes_through_a_fresh_dict_are_still_refused():
    p = {"w": np.array([0.5, -1.0])}

    def writes(q):
        q["w"][0] = 0.0
        return float(np.sum(q["w"] ** 2))

    with pytest.raises(ValueError, match="wrote into its argument"):
        check_grad(writes, p, {"w": 2 * p["w"]})
    assert p["w"].tolist() == [0.5, -1.0]


def test_a_list_of_float32_tensor_gradients_is_a_float32_model():
    W0 = np.random.default_rng(0).standard_normal((3, 4))
    X = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)

    def f(p):
        W = np.asarray(p[0], dtype=np.float32)
        return float(np.sum(np.tanh(X @ W.T) ** 2, dtype=np.float32))

    W32 = W0.astype(np.float32)
    T = np.tanh(X @ W32.T)
    grad = ((2 * T * (1 - T**2)).T @ X).astype(np.float32)
    for theta, g in (([W0], [Tensor(grad, "float32")]), ((W0,), (Tensor(grad, "float32"),))):
        r = check_grad(f, theta, g)
        assert r.verdict == "great" and "float32 model" in str(r)


@pytest.mark.skipif(not hasattr(BaseException, "add_note"), reason="exception notes: 3.11+")
def test_an_error_inside_f_says_where_the_check_was():
    def f(t):
        if t[1] > 2.0:
            raise RuntimeError("boom")
        return float(np.sum(t**2))

    with pytest.raises(RuntimeError, match="boom") as info:
        check_grad(f, np.array([1.0, 2.0, -2.0]), np.zeros(3))
    assert info.value.__notes__ == [
        "fastgrad: raised while evaluating f (f) at theta index 1 + epsilon "
        "(f (f) was fine at theta itself)"
    ]

    def g(t):
        t = np.asarray(t, np.float32)
        if t[0] > 1.001:
            raise KeyError("k")
        return np.float32(np.sum(t**2))

    with pytest.raises(KeyError) as info:
        check_grad(g, np.array([1.0, 2.0], np.float32), np.array([2.0, 4.0], np.float32))
    assert "at theta[0] + step" in info.value.__notes__[0]
