"""Bad-input corpus: check_grad, numerical_gradient, the generic
``gradient_check(obj_with_cost, ...)`` path, params_to_vector /
vector_to_params, fastgrad.optim and the report's verdict bands.
"""
import fastgrad_tests_corpus as C  # tests/_corpus.py, registered by conftest.py

import warnings

import numpy as np
import pandas as pd
import pytest

from fastgrad import (check_grad, gradient_check, numerical_gradient, optim,
                      params_to_vector, vector_to_params)

THETA = np.array([[0.1, -1 / 3, 0.7], [2.5, -0.05, 1 / 7]])


def f_smooth(t):
    t = np.asarray(t, dtype=float)
    return float(np.sum(np.sin(t) * t) + 0.5 * np.sum(t ** 2))


def g_smooth(t):
    t = np.asarray(t, dtype=float)
    return np.cos(t) * t + np.sin(t) + t


def ref_central(f, theta, eps=1e-7):
    theta = np.asarray(theta, dtype=float)
    out = np.empty(theta.size)
    flat = theta.ravel()
    for i in range(flat.size):
        tp, tm = flat.astype(np.longdouble), flat.astype(np.longdouble)
        tp[i] += np.longdouble(eps)
        tm[i] -= np.longdouble(eps)
        fp = np.sum(np.sin(tp) * tp) + np.sum(tp ** 2) / 2
        fm = np.sum(np.sin(tm) * tm) + np.sum(tm ** 2) / 2
        out[i] = float((fp - fm) / (2 * np.longdouble(eps)))
    return out.reshape(theta.shape)


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return C.call_and_classify(fn, *args, **kw)


# -- check_grad / numerical_gradient: valid theta in any container ------------------

def _theta_variant(how):
    return {
        "c": lambda: THETA.copy(), "fortran": lambda: C.fortran(THETA),
        "strided": lambda: C.strided(THETA), "read_only": lambda: C.read_only(THETA),
        "list": lambda: THETA.tolist(), "big_endian": lambda: C.big_endian(THETA),
        "one_d": lambda: THETA.ravel().copy(), "column": lambda: THETA.reshape(-1, 1).copy(),
        "scalar_0d": lambda: np.array(0.3), "dataframe": lambda: pd.DataFrame(THETA),
        "int": lambda: np.array([[1, -2, 3]]), "float32": lambda: THETA.astype(np.float32),
        "float16": lambda: THETA.astype(np.float16),
    }[how]()


THETA_OK = ["c", "fortran", "strided", "read_only", "list", "big_endian", "one_d", "column",
            "scalar_0d", "dataframe", "int", "float32", "float16"]


@pytest.mark.parametrize("how", THETA_OK)
def test_numerical_gradient_matches_the_reference(how):
    theta = _theta_variant(how)
    ref_theta = np.asarray(theta, dtype=float)
    out = _quiet(numerical_gradient, f_smooth, theta)

    def check(res):
        assert np.shape(res) == ref_theta.shape
        np.testing.assert_allclose(res, ref_central(f_smooth, ref_theta), rtol=1e-7, atol=1e-8)
    C.expect_ok(out, check)


@pytest.mark.parametrize("how", THETA_OK)
@pytest.mark.parametrize("grad_kind", ["array", "callable"])
def test_check_grad_matches_the_reference(how, grad_kind):
    theta = _theta_variant(how)
    ref_theta = np.asarray(theta, dtype=float)
    g = g_smooth(ref_theta) if grad_kind == "array" else g_smooth
    out = _quiet(check_grad, f_smooth, theta, g)

    def check(rep):
        num = ref_central(f_smooth, ref_theta)
        np.testing.assert_allclose(np.asarray(rep.numerical["theta"]).reshape(num.shape), num,
                                   rtol=1e-7, atol=1e-8)
        exp = C.ref_relative_difference(g_smooth(ref_theta), num)
        assert abs(rep.difference - exp) < 1e-8
        assert rep.verdict == "great"
    C.expect_ok(out, check)


def test_check_grad_restores_the_saved_bits_of_every_other_coordinate():
    # Small coordinates: for them (θ+ε)−ε is not θ, so a loop that restores
    # θᵢ by arithmetic instead of its saved bits is seen by f.
    theta = np.array([0.1, 1.257302210933933e-10, 5.0203248567617453e-08,
                      -1.2237367957331898e-06, 1 / 3])
    assert (((theta + 1e-7) - 1e-7) != theta).any()
    seen = []

    def f(t):
        t = np.asarray(t)
        seen.append(t.ravel().copy())
        return f_smooth(t)
    C.expect_ok(C.call_and_classify(check_grad, f, theta, g_smooth(theta)))
    for row in seen:
        differ = np.flatnonzero(row.view(np.uint64) != theta.view(np.uint64))
        assert differ.size <= 1, f"f saw coordinates {differ.tolist()} away from their bits"


def test_check_grad_f_that_writes_its_argument_does_not_corrupt_the_check():
    theta = THETA.ravel().copy()

    def f(t):
        value = f_smooth(t)
        try:
            t[...] = 0.0  # a careless user function
        except ValueError:
            raise ValueError("assignment destination is read-only") from None
        return value
    out = C.call_and_classify(check_grad, f, theta, g_smooth(theta))
    if out.ok:
        np.testing.assert_allclose(out.value.numerical["theta"], ref_central(f_smooth, theta),
                                   rtol=1e-7, atol=1e-8)
        assert out.value.verdict == "great"
    else:
        C.assert_clear_error(out.exc, "read-only", "f")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("fn", [check_grad, numerical_gradient])
def test_nonfinite_f_names_the_coordinate(fn, bad):
    theta = np.array([0.5, 1.5, 2.5, 3.5])

    def f(t):
        return bad if t[2] > 2.5 else float(np.sum(t ** 2))
    args = (f, theta, 2 * theta) if fn is check_grad else (f, theta)
    out = C.call_and_classify(fn, *args)
    C.expect_error(out, "2", extra=r"nan|inf|finite")


@pytest.mark.parametrize("value", [np.ones(2), "1.0", None, [1.0, 2.0], 1j], ids=repr)
@pytest.mark.parametrize("fn", [check_grad, numerical_gradient])
def test_f_returning_a_non_scalar_is_refused_naming_f(fn, value):
    theta = np.array([0.5, 1.5])
    args = (lambda t: value, theta, 2 * theta) if fn is check_grad else (lambda t: value, theta)
    C.expect_error(C.call_and_classify(fn, *args), "f")


@pytest.mark.parametrize("value", [None, 3, "f", np.ones(3)], ids=repr)
@pytest.mark.parametrize("fn", [check_grad, numerical_gradient])
def test_f_not_callable_is_refused_naming_f(fn, value):
    theta = np.array([0.5, 1.5, 2.5])
    args = (value, theta, theta) if fn is check_grad else (value, theta)
    C.expect_error(C.call_and_classify(fn, *args), "f")


BAD_THETA = {
    "empty": np.zeros(0), "empty_2d": np.zeros((3, 0)), "nan": np.array([1.0, np.nan]),
    "inf": np.array([np.inf, 1.0]), "complex": np.array([1 + 1j, 2]),
    "str": np.array(["1", "2"]), "object": np.array([1.0, "a"], dtype=object),
    "none": None, "dict": {"a": 1.0}, "ragged": [[1.0, 2.0], [3.0]],
    "masked": np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False]),
    "sparse": __import__("scipy.sparse").sparse.csr_matrix(np.ones((2, 3))),
    "bool_scalar": True,
}


@pytest.mark.parametrize("bad", list(BAD_THETA))
@pytest.mark.parametrize("fn", [check_grad, numerical_gradient])
def test_bad_theta_is_refused_naming_theta(fn, bad):
    theta = BAD_THETA[bad]
    args = (f_smooth, theta, g_smooth) if fn is check_grad else (f_smooth, theta)
    if fn is check_grad and bad == "dict":
        # a dict theta is a structure of named blocks for check_grad (issue 12):
        # {"a": 1.0} is valid there; tests/gradcheck/test_structured.py covers it
        return
    if fn is numerical_gradient and bad.startswith("empty"):
        # the gradient of a function of no variables is the empty array (np.gradient-like);
        # check_grad, which would report "great" on nothing, refuses it
        def check(g):
            assert g.shape == theta.shape and g.dtype == np.float64
        C.expect_ok(_quiet(fn, *args), check)
        return
    C.expect_error(_quiet(fn, *args), "theta")


def test_theta_near_the_float_limit_never_gives_nan():
    theta = np.array([1e308, -1e308, 1.0])

    def f(t):
        return float(np.sum(np.asarray(t) / 1e300))
    out = C.call_and_classify(check_grad, f, theta, np.full(3, 1e-300))
    if out.ok:
        assert np.isfinite(out.value.difference), out.value
        assert np.all(np.isfinite(out.value.numerical["theta"]))
    else:
        C.assert_clear_error(out.exc, "theta", "epsilon", "f")


def test_f_overflowing_at_theta_is_a_clear_error():
    theta = np.array([1e308, 1.0])
    out = C.call_and_classify(check_grad, lambda t: float(np.sum(np.asarray(t) ** 2)), theta,
                              np.array([1.0, 2.0]))
    C.expect_error(out, "f", "0")


BAD_GRAD = {
    "wrong_shape": np.ones(5), "transposed": np.ones((3, 2)), "nan": np.full((2, 3), np.nan),
    "inf": np.full((2, 3), np.inf), "str": np.full((2, 3), "1"), "none": None,
    "complex": np.ones((2, 3), complex), "callable_wrong_shape": lambda t: np.ones(4),
    "callable_nan": lambda t: np.full((2, 3), np.nan), "empty": np.zeros((0,)),
}


@pytest.mark.parametrize("bad", list(BAD_GRAD))
def test_bad_grad_is_refused_naming_grad(bad):
    C.expect_error(C.call_and_classify(check_grad, f_smooth, THETA.copy(), BAD_GRAD[bad]),
                   "grad")


@pytest.mark.parametrize("value", ["1e-7", True, False, 0, -1.0, np.nan, np.inf, None, [1e-7],
                                   1j], ids=repr)
@pytest.mark.parametrize("fn", [check_grad, numerical_gradient])
def test_bad_epsilon_is_refused_naming_it(fn, value):
    args = (f_smooth, THETA.copy(), g_smooth) if fn is check_grad else (f_smooth, THETA.copy())
    C.expect_error(C.call_and_classify(fn, *args, epsilon=value), "epsilon")


@pytest.mark.parametrize("value", [(1e-3, 1e-6), "ab", (np.nan, 1.0), (0, 1), (1e-6,),
                                   (True, 1.0), ("1e-6", "1e-3")], ids=repr)
def test_check_grad_bad_thresholds(value):
    C.expect_error(C.call_and_classify(check_grad, f_smooth, THETA.copy(), g_smooth,
                                       thresholds=value), "thresholds")


@pytest.mark.parametrize("value", ["no", 2, None], ids=repr)
def test_check_grad_bad_raise_on_failure(value):
    C.expect_error(C.call_and_classify(check_grad, f_smooth, THETA.copy(), g_smooth,
                                       raise_on_failure=value), "raise_on_failure")


@pytest.mark.parametrize("scale,verdict", [(1 + 1e-9, "great"), (1 + 2e-5, "check"),
                                           (1 + 2e-4, "check"), (1.01, "bug"), (-1.0, "bug")])
def test_verdict_bands(scale, verdict):
    theta = THETA.ravel().copy()
    g = g_smooth(theta) * scale
    rep = C.expect_ok(C.call_and_classify(check_grad, f_smooth, theta, g))
    exp = C.ref_relative_difference(g, ref_central(f_smooth, theta))
    assert abs(rep.difference - exp) <= 1e-9 + 1e-6 * exp
    assert rep.verdict == verdict, f"difference {rep.difference:.2e} -> {rep.verdict}"


# -- the generic path: gradient_check(obj_with_cost, ...) ------------------------------

class CostOnly:
    """A user's model: only ``cost(params, X, Y)``; tanh layer, squared error."""

    def cost(self, params, X, Y):
        A = np.tanh(params["W1"] @ X + params["b1"])
        return float(0.5 * np.sum((A - Y) ** 2) / X.shape[1])

    def grads(self, params, X, Y):
        Z = params["W1"] @ X + params["b1"]
        A = np.tanh(Z)
        dZ = (A - Y) * (1 - A ** 2) / X.shape[1]
        return {"dW1": dZ @ X.T, "db1": dZ.sum(axis=1, keepdims=True)}

    def __repr__(self):
        return "CostOnly()"


def _generic():
    rng = np.random.default_rng(4)
    params = {"W1": rng.standard_normal((2, 3)), "b1": rng.standard_normal((2, 1))}
    X, Y = rng.standard_normal((3, 6)), rng.standard_normal((2, 6))
    return params, CostOnly().grads(params, X, Y), X, Y


def _ref_generic(params, X, Y, eps=1e-7):
    out = {}
    for key in ("W1", "b1"):
        g = np.empty(params[key].shape)
        for idx in np.ndindex(g.shape):
            vals = []
            for s in (1, -1):
                p = {k: v.astype(np.longdouble) for k, v in params.items()}
                p[key][idx] += s * np.longdouble(eps)
                A = np.tanh(p["W1"] @ X + p["b1"])
                vals.append(0.5 * np.sum((A - Y) ** 2) / X.shape[1])
            g[idx] = float((vals[0] - vals[1]) / (2 * np.longdouble(eps)))
        out["d" + key] = g
    return out


def test_generic_model_gives_the_reference_result():
    params, grads, X, Y = _generic()
    ref = _ref_generic(params, X, Y)

    def check(rep):
        for k, v in ref.items():
            np.testing.assert_allclose(rep.numerical[k], v, rtol=1e-6, atol=1e-9)
        assert rep.verdict == "great"
    C.expect_ok(C.call_and_classify(gradient_check, CostOnly(), params, grads, X, Y), check)


@pytest.mark.parametrize("bad", ["flat_dW1", "nan_grad", "inf_grad", "transposed", "missing",
                                 "extra", "str"])
def test_generic_model_validates_grads_like_the_mlp_path(bad):
    params, grads, X, Y = _generic()
    name = "dW1"
    if bad == "flat_dW1":
        grads = {"dW1": np.concatenate([grads["dW1"].ravel(), grads["db1"].ravel()]),
                 "db1": np.zeros((0, 1))}
    elif bad == "nan_grad":
        grads["dW1"] = np.where(np.eye(2, 3) > 0, np.nan, grads["dW1"])
    elif bad == "inf_grad":
        grads["dW1"] = np.where(np.eye(2, 3) > 0, np.inf, grads["dW1"])
    elif bad == "transposed":
        grads["dW1"] = grads["dW1"].T.copy()
    elif bad == "missing":
        del grads["db1"]
        name = "db1"
    elif bad == "extra":
        grads["dW2"] = np.ones((1, 1))
        name = "dW2"
    else:
        grads["dW1"] = np.full((2, 3), "x")
    C.expect_error(C.call_and_classify(gradient_check, CostOnly(), params, grads, X, Y), name,
                   "grads", types=(TypeError, ValueError, KeyError))


@pytest.mark.parametrize("option,value", [
    ("mode", "sampled"), ("mode", "directional"), ("mode", "bogus"), ("k", 2), ("k", True),
    ("n_threads", 2), ("n_threads", "2"), ("n_threads", True), ("seed", 3), ("seed", "x"),
    ("dropout", False), ("dropout", "no"), ("progress", False), ("progress", "yes"),
    ("epsilon", "1e-7"), ("epsilon", True),
])
def test_generic_model_honours_or_refuses_every_option(option, value):
    params, grads, X, Y = _generic()
    out = C.call_and_classify(gradient_check, CostOnly(), params, grads, X, Y,
                              **({"mode": "sampled"} if option == "k" else {}),
                              **{option: value})
    valid = {("mode", "sampled"), ("mode", "directional"), ("k", 2), ("n_threads", 2),
             ("seed", 3), ("dropout", False), ("progress", False)}
    if (option, value) not in valid or not out.ok:
        C.expect_error(out, option)
        return
    rep = out.value
    ref = _ref_generic(params, X, Y)
    if option == "mode":
        assert rep.mode == value, f"mode={value!r} was ignored (report says {rep.mode!r})"
    if option == "k":
        assert rep.n_checked <= 2 * 2, f"k=2 was ignored: {rep.n_checked} coordinates checked"
    for k, v in ref.items():
        got = np.asarray(rep.numerical[k], dtype=float)
        done = ~np.isnan(got)
        np.testing.assert_allclose(got[done], v[done], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("value", [None, [], "params", np.zeros(8)], ids=repr)
def test_generic_model_params_not_a_dict(value):
    _, grads, X, Y = _generic()
    C.expect_error(C.call_and_classify(gradient_check, CostOnly(), value, grads, X, Y), "params")


# -- params_to_vector / vector_to_params ------------------------------------------------

def _params():
    rng = np.random.default_rng(2)
    return {"W1": rng.standard_normal((3, 2)), "b1": rng.standard_normal((3, 1)),
            "W2": rng.standard_normal((1, 3)), "b2": rng.standard_normal((1, 1))}


@pytest.mark.parametrize("how", ["c", "fortran", "strided", "read_only", "int", "float32",
                                 "list", "bool", "big_endian", "shuffled_keys"])
def test_params_to_vector_matches_the_course_order(how):
    p = _params()
    if how == "shuffled_keys":
        p = {k: p[k] for k in ("b2", "W1", "W2", "b1")}
    elif how == "int":
        p = {k: np.round(v * 10).astype(int) for k, v in p.items()}
    elif how == "bool":
        p = {k: v > 0 for k, v in p.items()}
    else:
        conv = {"c": np.array, "fortran": C.fortran, "strided": C.strided,
                "read_only": C.read_only, "float32": lambda a: a.astype(np.float32),
                "list": lambda a: a.tolist(), "big_endian": C.big_endian}[how]
        p = {k: conv(v) for k, v in p.items()}
    exp = C.ref_flatten(p)

    def check(theta):
        assert theta.dtype == np.float64 and theta.shape == exp.shape
        np.testing.assert_array_equal(theta, exp)
        for v in p.values():
            if isinstance(v, np.ndarray):
                assert not np.shares_memory(theta, v)
    C.expect_ok(C.call_and_classify(params_to_vector, p), check)


@pytest.mark.parametrize("bad", ["list", "none", "tuple", "bad_key", "str_block", "complex",
                                 "object", "int_key"])
def test_params_to_vector_bad_input(bad):
    p = _params()
    value, name = {
        "list": (list(p.values()), "params"), "none": (None, "params"),
        "tuple": (tuple(p.items()), "params"),
        "bad_key": (dict(p, foo=np.ones(2)), "foo"),
        "str_block": (dict(p, W1=np.full((3, 2), "a")), "W1"),
        "complex": (dict(p, b1=np.ones((3, 1), complex)), "b1"),
        "object": (dict(p, W2=np.array([[1, "a", None]], dtype=object)), "W2"),
        "int_key": ({1: np.ones(2)}, "1"),
    }[bad]
    C.expect_error(C.call_and_classify(params_to_vector, value), name)


@pytest.mark.parametrize("how", ["c", "column", "list", "read_only", "strided", "int"])
def test_vector_to_params_splits_in_course_order(how):
    p = _params()
    theta = C.ref_flatten(p)
    t = {"c": theta.copy(), "column": theta.reshape(-1, 1).copy(), "list": theta.tolist(),
         "read_only": C.read_only(theta), "strided": np.repeat(theta, 2)[::2],
         "int": np.arange(theta.size)}[how]
    ref = np.asarray(t, dtype=float).ravel()

    def check(out):
        start = 0
        for k in ("W1", "b1", "W2", "b2"):
            size = p[k].size
            np.testing.assert_array_equal(out[k], ref[start:start + size].reshape(p[k].shape))
            start += size
    C.expect_ok(C.call_and_classify(vector_to_params, t, p), check)


@pytest.mark.parametrize("bad", ["short", "long", "two_columns", "str", "none", "like_list",
                                 "like_none", "complex", "like_bad_key"])
def test_vector_to_params_bad_input(bad):
    p = _params()
    theta = C.ref_flatten(p)
    args, name = {
        "short": ((theta[:-1], p), "theta"), "long": ((np.append(theta, 1.0), p), "theta"),
        "two_columns": ((np.column_stack([theta, theta]), p), "theta"),
        "str": ((np.array(["a"] * theta.size), p), "theta"),
        "none": ((None, p), "theta"), "like_list": ((theta, list(p.values())), "like"),
        "like_none": ((theta, None), "like"), "complex": ((theta + 1j, p), "theta"),
        "like_bad_key": ((theta, dict(p, zz=np.ones(1))), "zz"),
    }[bad]
    C.expect_error(C.call_and_classify(vector_to_params, *args), name)


# -- fastgrad.optim -------------------------------------------------------------------

def _course_grads(p):
    rng = np.random.default_rng(9)
    g = {"d" + k: rng.standard_normal(v.shape) for k, v in p.items()}
    g.update(dZ1=np.ones((3, 5)), dA1=np.ones((3, 5)), dZ2=np.ones((1, 5)))
    return g


OPTIMIZERS = {
    "GradientDescent": lambda: optim.GradientDescent(0.1),
    "Momentum": lambda: optim.Momentum(0.1, beta=0.9),
    "RMSprop": lambda: optim.RMSprop(0.1),
    "Adam": lambda: optim.Adam(0.1),
}


def _ref_step(name, p, g, lr=0.1):
    if name in ("GradientDescent",):
        return {k: p[k] - lr * g["d" + k] for k in p}
    if name == "Momentum":
        return {k: p[k] - lr * (0.1 * g["d" + k]) for k in p}
    if name == "RMSprop":
        return {k: p[k] - lr * g["d" + k] / (np.sqrt(0.001 * g["d" + k] ** 2) + 1e-8) for k in p}
    out = {}
    for k in p:
        mh = (0.1 * g["d" + k]) / (1 - 0.9)
        vh = (0.001 * g["d" + k] ** 2) / (1 - 0.999)
        out[k] = p[k] - lr * mh / (np.sqrt(vh) + 1e-8)
    return out


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("grads_kind", ["plain", "course_with_cache_entries", "read_only"])
def test_optimizer_step_matches_the_reference(name, grads_kind):
    p = _params()
    g = _course_grads(p)
    if grads_kind == "plain":
        g = {k: v for k, v in g.items() if k[1:] in p}
    elif grads_kind == "read_only":
        g = {k: C.read_only(v) for k, v in g.items() if k[1:] in p}
        p = {k: C.read_only(v) for k, v in p.items()}
    exp = _ref_step(name, p, g)

    def check(new):
        assert list(new) == list(p)
        for k in p:
            np.testing.assert_allclose(new[k], exp[k], rtol=1e-12, atol=1e-15)
    C.expect_ok(C.call_and_classify(OPTIMIZERS[name]().step, p, g), check)


@pytest.mark.parametrize("bad", ["transposed", "str", "nan", "missing", "params_list",
                                 "grads_none", "complex"])
def test_optimizer_step_bad_input(bad):
    p = _params()
    g = {"d" + k: np.ones(v.shape) for k, v in p.items()}
    name, types = "dW1", (TypeError, ValueError)
    if bad == "transposed":
        g["dW1"] = g["dW1"].T.copy()
    elif bad == "str":
        g["dW1"] = np.full((3, 2), "x")
    elif bad == "nan":
        g["dW1"] = np.full((3, 2), np.nan)
        types = (TypeError, ValueError, FloatingPointError)
    elif bad == "missing":
        del g["db1"]
        name, types = "db1", (KeyError, ValueError)
    elif bad == "params_list":
        p, name = list(p.values()), "params"
    elif bad == "grads_none":
        g, name = None, "grads"
    else:
        g["dW1"] = g["dW1"] + 1j
    C.expect_error(C.call_and_classify(optim.Adam(0.01).step, p, g), name, types=types)


@pytest.mark.parametrize("cls,arg,value", [
    (optim.GradientDescent, "learning_rate", "0.1"), (optim.GradientDescent, "learning_rate", True),
    (optim.GradientDescent, "learning_rate", 0.0), (optim.GradientDescent, "learning_rate", np.nan),
    (optim.GradientDescent, "learning_rate", -1.0), (optim.GradientDescent, "learning_rate", None),
    (optim.Momentum, "beta", 1.0), (optim.Momentum, "beta", "0.9"), (optim.Momentum, "beta", True),
    (optim.RMSprop, "beta2", -0.1), (optim.RMSprop, "epsilon", 0.0),
    (optim.RMSprop, "epsilon", "1e-8"), (optim.Adam, "beta1", 1.5), (optim.Adam, "beta1", np.nan),
    (optim.Adam, "beta2", None), (optim.Adam, "epsilon", True), (optim.Adam, "epsilon", -1e-8),
])
def test_optimizer_hyperparameters_are_validated(cls, arg, value):
    kwargs = {"learning_rate": 0.1, arg: value}
    C.expect_error(C.call_and_classify(lambda: cls(**kwargs)), arg)


@pytest.mark.parametrize("cls,kwargs,arg", [
    (optim.InverseTimeDecay, {"learning_rate0": "0.1", "decay_rate": 1.0}, "learning_rate0"),
    (optim.InverseTimeDecay, {"learning_rate0": 0.1, "decay_rate": -1.0}, "decay_rate"),
    (optim.InverseTimeDecay, {"learning_rate0": True, "decay_rate": 1.0}, "learning_rate0"),
    (optim.StepDecay, {"learning_rate0": 0.1, "decay_rate": 1.0, "time_interval": 0},
     "time_interval"),
    (optim.StepDecay, {"learning_rate0": 0.1, "decay_rate": 1.0, "time_interval": 2.5},
     "time_interval"),
    (optim.StepDecay, {"learning_rate0": 0.1, "decay_rate": 1.0, "time_interval": True},
     "time_interval"),
    (optim.ExponentialDecay, {"learning_rate0": 0.1, "rate": 0.0}, "rate"),
    (optim.ExponentialDecay, {"learning_rate0": 0.1, "rate": np.inf}, "rate"),
])
def test_schedules_are_validated(cls, kwargs, arg):
    C.expect_error(C.call_and_classify(lambda: cls(**kwargs)), arg)


@pytest.mark.parametrize("epoch", [-1, 1.5, "3", True, None], ids=repr)
def test_schedule_epoch_is_validated(epoch):
    C.expect_error(C.call_and_classify(optim.InverseTimeDecay(0.1, 1.0), epoch), "epoch")


def _xy(m=7):
    rng = np.random.default_rng(1)
    return rng.standard_normal((2, m)), rng.integers(0, 2, (1, m)).astype(float)


@pytest.mark.parametrize("batch_size", [1, 3, 7, 100, None, np.int64(2)], ids=repr)
@pytest.mark.parametrize("layout", ["c", "fortran", "read_only", "list", "Y_1d"])
def test_random_mini_batches_partition_the_examples(batch_size, layout):
    X, Y = _xy()
    Xin = {"c": X, "fortran": C.fortran(X), "read_only": C.read_only(X), "list": X.tolist(),
           "Y_1d": X}[layout]
    Yin = Y.ravel() if layout == "Y_1d" else Y

    def check(batches):
        bs = 7 if batch_size is None else min(int(batch_size), 7)
        assert len(batches) == -(-7 // bs)
        cols = np.concatenate([b[0] for b in batches], axis=1)
        ys = np.concatenate([b[1] for b in batches], axis=1)
        order = [int(np.flatnonzero((X == cols[:, [j]]).all(axis=0))[0]) for j in range(7)]
        assert sorted(order) == list(range(7))
        np.testing.assert_array_equal(ys, Y[:, order])
    C.expect_ok(C.call_and_classify(optim.random_mini_batches, Xin, Yin,
                                    batch_size=batch_size, seed=0), check)


@pytest.mark.parametrize("arg,value", [("batch_size", 0), ("batch_size", True),
                                       ("batch_size", 1.5), ("batch_size", "2"),
                                       ("seed", "x"), ("seed", 1.5), ("X", np.ones(7)),
                                       ("X", np.ones((2, 7, 1))), ("Y", np.ones((1, 6))),
                                       ("X", np.ones((2, 0))), ("X", None)], ids=str)
def test_random_mini_batches_bad_input(arg, value):
    X, Y = _xy()
    kwargs = {"X": X, "Y": Y, "batch_size": 2, "seed": 0}
    kwargs[arg] = value
    if arg == "X" and value is not None and np.ndim(value) == 2:
        kwargs["Y"] = np.ones((1, 0))
    C.expect_error(C.call_and_classify(optim.random_mini_batches, **kwargs), arg)


def test_fit_one_full_batch_epoch_is_one_gradient_step():
    from fastgrad import MLP
    X, Y = _xy(8)
    model = MLP([2, 3, 1], hidden="tanh")
    p = {k: v for k, v in C.small_problem((2, 3, 1), m=8, seed=3)[0].items()}
    g = C.ref_backprop(p, X, Y, ["tanh"], "sigmoid")
    exp = {k: p[k] - 0.5 * g["d" + k] for k in p}

    def check(res):
        for k in p:
            np.testing.assert_allclose(res.params[k], exp[k], rtol=1e-12, atol=1e-14)
    C.expect_ok(C.call_and_classify(optim.fit, model, p, X, Y,
                                    optimizer=optim.GradientDescent(0.5), num_epochs=1,
                                    batch_size=None, progress=False), check)


@pytest.mark.parametrize("arg,value", [
    ("num_epochs", -1), ("num_epochs", True), ("num_epochs", "3"), ("num_epochs", 1.5),
    ("batch_size", 0), ("batch_size", True), ("optimizer", None), ("optimizer", "adam"),
    ("progress", "yes"), ("check_options", "x"), ("schedule", 3), ("callback", 3),
    ("print_every", 0), ("check_gradients", "all"), ("seed", "x"),
    ("X", np.full((2, 8), np.nan)), ("Y", np.ones((1, 5))), ("params", None),
], ids=str)
def test_fit_bad_arguments(arg, value):
    from fastgrad import MLP
    X, Y = _xy(8)
    model = MLP([2, 3, 1], hidden="tanh")
    p = C.small_problem((2, 3, 1), m=8, seed=3)[0]
    kwargs = dict(optimizer=optim.GradientDescent(0.5), num_epochs=1, batch_size=4,
                  progress=False)
    pos = {"params": p, "X": X, "Y": Y}
    if arg in pos:
        pos[arg] = value
    else:
        kwargs[arg] = value
    out = C.call_and_classify(optim.fit, model, pos["params"], pos["X"], pos["Y"], **kwargs)
    C.expect_error(out, arg)


@pytest.mark.parametrize("prefix", [3, None, ["d"], b"d"], ids=repr)
def test_params_to_vector_bad_prefix(prefix):
    C.expect_error(C.call_and_classify(params_to_vector, _params(), prefix=prefix), "prefix")


@pytest.mark.parametrize("prefix", [3, ["d"]], ids=repr)
def test_vector_to_params_bad_prefix(prefix):
    p = _params()
    C.expect_error(C.call_and_classify(vector_to_params, C.ref_flatten(p), p, prefix=prefix),
                   "prefix")


# -- fastgrad.train.gradient_descent ----------------------------------------------------------

def _gd_case():
    from fastgrad import MLP
    X, Y = _xy(8)
    p = C.small_problem((2, 3, 1), m=8, seed=3)[0]
    return MLP([2, 3, 1], hidden="tanh"), p, X, Y


@pytest.mark.parametrize("layout", ["c", "fortran", "read_only", "dataframe"])
def test_gradient_descent_matches_two_reference_steps(layout):
    from fastgrad.training import gradient_descent
    model, p, X, Y = _gd_case()
    Xin = {"c": X, "fortran": C.fortran(X), "read_only": C.read_only(X),
           "dataframe": pd.DataFrame(X)}[layout]
    exp = {k: v.copy() for k, v in p.items()}
    costs = []
    for _ in range(2):
        costs.append(float(C.ref_forward_cost(exp, X, Y, ["tanh"], "sigmoid")))
        g = C.ref_backprop(exp, X, Y, ["tanh"], "sigmoid")
        exp = {k: exp[k] - 0.3 * g["d" + k] for k in exp}

    def check(res):
        for k in p:
            np.testing.assert_allclose(res.params[k], exp[k], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(res.costs, costs[:1], rtol=1e-12)
    C.expect_ok(C.call_and_classify(gradient_descent, model, p, Xin, Y, learning_rate=0.3,
                                    num_iterations=2), check)


@pytest.mark.parametrize("arg,value", [
    ("learning_rate", "0.1"), ("learning_rate", True), ("learning_rate", 0.0),
    ("learning_rate", np.inf), ("num_iterations", -1), ("num_iterations", 2.5),
    ("num_iterations", True), ("record_every", 0), ("record_every", "1"), ("callback", 3),
    ("model", None), ("X", np.full((2, 8), np.nan)), ("Y", np.ones((1, 3))),
    ("params", None)], ids=str)
def test_gradient_descent_bad_arguments(arg, value):
    from fastgrad.training import gradient_descent
    model, p, X, Y = _gd_case()
    pos = {"model": model, "params": p, "X": X, "Y": Y}
    kw = {"learning_rate": 0.3, "num_iterations": 2, "record_every": 1, "callback": None}
    (pos if arg in pos else kw)[arg] = value
    C.expect_error(C.call_and_classify(gradient_descent, pos["model"], pos["params"], pos["X"],
                                       pos["Y"], **kw), arg)


def test_a_failed_optimizer_step_leaves_its_state_unchanged():
    p = _params()
    g = {"d" + k: np.ones(v.shape) for k, v in p.items()}
    opt = optim.Adam(0.01)
    opt.step(p, g)
    state = {k: {s: a.tobytes() for s, a in v.items()} for k, v in opt.state.items()}
    bad = dict(g, dW2=np.full((1, 3), np.inf))
    out = C.call_and_classify(opt.step, p, bad)
    C.expect_error(out, "dW2", types=(TypeError, ValueError, FloatingPointError))
    assert opt.t == 1
    assert {k: {s: a.tobytes() for s, a in v.items()} for k, v in opt.state.items()} == state


# -- the harness itself: a write to any input is caught -----------------------------------------

def _writes(kind):
    import scipy.sparse as sp
    if kind == "ndarray":
        a = np.ones((3, 2))
        return a, lambda x: x.__setitem__((0, 0), 2.0)
    if kind == "record_neighbour":
        rec, col = C.record_field_column(np.arange(4.0))
        return col, lambda x: rec.__setitem__("b", 0)
    if kind == "dataframe":
        df = pd.DataFrame(np.ones((3, 2)))
        return df, lambda x: x.iloc.__setitem__((0, 0), 5.0)
    if kind == "sparse_data":
        s = sp.csr_matrix(np.eye(3))
        return s, lambda x: x.data.__setitem__(0, 7.0)
    if kind == "sparse_indices":
        s = sp.csr_matrix(np.eye(3))
        return s, lambda x: x.indices.__setitem__(0, 2)
    if kind == "masked_mask":
        m = np.ma.masked_array(np.ones(3), mask=[False, True, False])
        return m, lambda x: x.mask.__setitem__(0, True)
    if kind == "dict_member":
        d = {"W1": np.ones(2)}
        return d, lambda x: x["W1"].__setitem__(0, 3.0)
    if kind == "dict_key":
        d = {"W1": np.ones(2)}
        return d, lambda x: x.__setitem__("W2", 1)
    if kind == "frame_view":
        v = C.FrameLikeView(np.ones((2, 2)))
        return v, lambda x: np.asarray(x).__setitem__((1, 1), 0.0)
    if kind == "nan_bits":
        a = np.array([np.nan, 1.0])
        return a, lambda x: x.__setitem__(0, -np.nan)
    raise KeyError(kind)


@pytest.mark.parametrize("kind", ["ndarray", "record_neighbour", "dataframe", "sparse_data",
                                  "sparse_indices", "masked_mask", "dict_member", "dict_key",
                                  "frame_view", "nan_bits"])
def test_harness_sees_every_write_to_an_input(kind):
    obj, write = _writes(kind)
    with pytest.raises(AssertionError, match="was modified"):
        C.call_and_classify(write, obj)


def test_harness_classifies_raw_errors_as_unclear():
    out = C.call_and_classify(lambda x: np.ones(3) + np.ones(4), 1)
    with pytest.raises(AssertionError):
        C.expect_error(out, "x")
    out = C.call_and_classify(lambda x: int(2**31 * 2**40).to_bytes(2, "little"), 1)
    with pytest.raises(AssertionError):
        C.expect_error(out, "x")
    with pytest.raises(AssertionError, match="NaN"):
        C.expect_ok(C.call_and_classify(lambda: np.array([1.0, np.nan])))
