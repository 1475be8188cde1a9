"""Bad-input corpus: fastgrad.MLP (constructor, forward, cost, backward,
cost_and_grads, predict, init_params) and fastgrad.course.
"""
import fastgrad_tests_corpus as C  # tests/_corpus.py, registered by conftest.py

import functools
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from fastgrad import MLP, course

# -- the constructor ------------------------------------------------------------------

BAD_CTOR = [
    ("layer_dims", None), ("layer_dims", 3), ("layer_dims", "341"), ("layer_dims", []),
    ("layer_dims", [3]), ("layer_dims", [3, 0, 1]), ("layer_dims", [3, -2, 1]),
    ("layer_dims", [3, np.nan, 1]), ("layer_dims", [3, np.inf, 1]), ("layer_dims", [3, 2.5, 1]),
    ("layer_dims", [3, "4", 1]), ("layer_dims", [3, True, 1]), ("layer_dims", [3, None, 1]),
    ("layer_dims", [[3, 4], 1]), ("layer_dims", {"a": 3}), ("layer_dims", [3, 1j, 1]),
    ("hidden", "RELU"), ("hidden", "softmax"), ("hidden", None), ("hidden", 3),
    ("hidden", ["relu", "relu"]), ("hidden", [None]), ("hidden", ""),
    ("output", "tanh"), ("output", None), ("output", 1), ("output", "Sigmoid"),
    ("l2", -1.0), ("l2", np.nan), ("l2", np.inf), ("l2", "0.1"), ("l2", True), ("l2", None),
    ("l2", 1j), ("keep_prob", 0.0), ("keep_prob", 1.5), ("keep_prob", np.nan),
    ("keep_prob", "0.5"), ("keep_prob", True), ("keep_prob", [0.5, 0.5]), ("keep_prob", None),
    ("batchnorm", [0]), ("batchnorm", [5]), ("batchnorm", "1"), ("batchnorm", [1, 1]),
    ("batchnorm", 1.5), ("batchnorm", [True]),
    ("bn_momentum", 1.0), ("bn_momentum", -0.1), ("bn_momentum", np.nan),
    ("bn_momentum", "0.9"), ("bn_momentum", True), ("bn_epsilon", 0.0), ("bn_epsilon", -1e-5),
    ("bn_epsilon", np.nan), ("bn_epsilon", np.inf), ("bn_epsilon", "1e-5"), ("bn_epsilon", True),
]


@pytest.mark.parametrize("arg,value", BAD_CTOR, ids=[f"{a}={v!r}" for a, v in BAD_CTOR])
def test_constructor_refuses_bad_arguments_naming_them(arg, value):
    kwargs = {"layer_dims": [3, 4, 1]}
    kwargs[arg] = value
    C.expect_error(C.call_and_classify(lambda: MLP(**kwargs)), arg)


@pytest.mark.parametrize("dims", [(3, 4, 1), np.array([3, 4, 1]), [np.int64(3), 4, 1],
                                  range(3, 5)], ids=repr)
def test_constructor_accepts_int_sequences(dims):
    m = C.expect_ok(C.call_and_classify(MLP, dims))
    assert m.layer_dims == tuple(int(d) for d in dims)
    assert m.n_params == sum(int(a) * int(b) + int(b) for a, b in zip(list(dims)[:-1],
                                                                      list(dims)[1:]))


def test_init_params_for_an_impossible_width_raises_with_an_estimate():
    out = C.run_limited("""
        from fastgrad import MLP
        model = MLP([3, 4000000000, 1])
        params = model.init_params("he", seed=0)
        RESULT = len(params)
        CHECK = False
    """, mem_bytes=1_500_000_000, timeout=60)
    C.expect_limited_ok_or_error(out, "layer_dims")


# -- forward / cost / backward / cost_and_grads ------------------------------------------

DIMS = (3, 4, 2)


@functools.lru_cache(maxsize=None)
def _base():
    return C.small_problem(DIMS, m=6, seed=1, output="sigmoid", hidden="tanh")


def _fresh():
    params, X, Y = _base()
    return {k: v.copy() for k, v in params.items()}, X.copy(), Y.copy()


def _model():
    return MLP(list(DIMS), hidden="tanh", output="sigmoid")


def _ref_forward(params, X):
    A = np.tanh(params["W1"] @ X + params["b1"].reshape(-1, 1))
    Z = params["W2"] @ A + params["b2"].reshape(-1, 1)
    return 1 / (1 + np.exp(-Z))


def _check_method(method, params, X, Y):
    p = {k: np.asarray(v, dtype=float) for k, v in params.items()}
    Xf, Yf = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)

    def check(res):
        if method == "forward":
            np.testing.assert_allclose(res, _ref_forward(p, Xf), rtol=1e-12)
        elif method == "cost":
            assert isinstance(res, float)
            assert abs(res - float(C.ref_forward_cost(p, Xf, Yf, ["tanh"], "sigmoid"))) < 1e-12
        else:
            grads = res[1] if method == "cost_and_grads" else res
            ref = C.ref_backprop(p, Xf, Yf, ["tanh"], "sigmoid")
            assert set(grads) == set(ref)
            for k, v in ref.items():
                np.testing.assert_allclose(grads[k], v, rtol=1e-10, atol=1e-14)
    return check


METHODS = ["forward", "cost", "backward", "cost_and_grads"]


def _invoke(method, params, X, Y, **kw):
    model = _model()
    fn = getattr(model, method)
    args = (params, X) if method == "forward" else (params, X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return C.call_and_classify(fn, *args, **kw)


LAYOUTS = {
    "fortran": C.fortran, "strided": C.strided, "read_only": C.read_only,
    "big_endian": C.big_endian, "list": lambda a: a.tolist(), "dataframe": pd.DataFrame,
    "float32": lambda a: a.astype(np.float32), "negative_strides": C.reversed_rows,
}


@pytest.mark.parametrize("how", list(LAYOUTS))
@pytest.mark.parametrize("where", ["X", "W1", "Y"])
@pytest.mark.parametrize("method", METHODS)
def test_methods_accept_any_layout_with_the_reference_result(method, where, how):
    params, X, Y = _fresh()
    conv = LAYOUTS[how]
    if where == "X":
        X = conv(X)
    elif where == "Y":
        if method == "forward":
            return
        Y = conv(Y)
    else:
        params["W1"] = conv(params["W1"])
    C.expect_ok(_invoke(method, params, X, Y), _check_method(method, params, X, Y))


def _bad(shape):
    rows, cols = shape
    nan = np.ones(shape)
    nan[0, 0] = np.nan
    return {
        "nan": nan, "inf": np.full(shape, np.inf), "wrong_shape": np.ones((rows + 1, cols)),
        "transposed": np.ones((cols, rows)) if rows != cols else np.ones((rows, cols + 2)),
        "complex": np.ones(shape, complex), "str": np.full(shape, "a"), "none": None,
        "three_d": np.ones(shape + (1,)), "sparse": sp.csr_matrix(np.ones(shape)),
        "masked": np.ma.masked_array(np.ones(shape), mask=np.eye(rows, cols, dtype=bool)),
        "empty": np.ones((rows, 0)),
    }


@pytest.mark.parametrize("bad", list(_bad((3, 6))))
@pytest.mark.parametrize("method", METHODS)
def test_bad_X_is_refused_naming_X(method, bad):
    params, X, Y = _fresh()
    C.expect_error(_invoke(method, params, _bad(X.shape)[bad], Y), "X")


@pytest.mark.parametrize("bad", [b for b in _bad((2, 6)) if b != "none"] + ["missing"])
@pytest.mark.parametrize("method", ["cost", "backward", "cost_and_grads"])
def test_bad_Y_is_refused_naming_Y(method, bad):
    params, X, Y = _fresh()
    Y = None if bad == "missing" else _bad(Y.shape)[bad]
    C.expect_error(_invoke(method, params, X, Y), "Y")


@pytest.mark.parametrize("bad", ["nan", "wrong_shape", "transposed", "complex", "str", "none",
                                 "sparse", "masked"])
@pytest.mark.parametrize("key", ["W1", "b2"])
@pytest.mark.parametrize("method", METHODS)
def test_bad_parameter_block_is_refused_naming_it(method, key, bad):
    params, X, Y = _fresh()
    params[key] = _bad(params[key].shape)[bad]
    C.expect_error(_invoke(method, params, X, Y), key)


@pytest.mark.parametrize("value", [None, [], "params", np.zeros(22)], ids=repr)
@pytest.mark.parametrize("method", METHODS)
def test_params_not_a_dict_is_refused(method, value):
    _, X, Y = _fresh()
    C.expect_error(_invoke(method, value, X, Y), "params")


@pytest.mark.parametrize("arg,value", [("seed", "1"), ("seed", 1.5), ("seed", -1),
                                       ("dropout", "no"), ("dropout", None),
                                       ("training", "yes"), ("update_running", "yes")], ids=str)
def test_keyword_flags_are_validated(arg, value):
    params, X, Y = _fresh()
    model = MLP(list(DIMS), hidden="tanh", keep_prob=0.5)
    method = "cost_and_grads" if arg == "update_running" else (
        "cost" if arg == "training" else "backward")
    out = C.call_and_classify(getattr(model, method), params, X, Y, **{arg: value})
    C.expect_error(out, arg)


@pytest.mark.parametrize("value", ["yes", 2, None], ids=repr)
def test_forward_flags_are_validated(value):
    params, X, _ = _fresh()
    C.expect_error(C.call_and_classify(_model().forward, params, X, training=value), "training")


@pytest.mark.parametrize("labels,ok", [([0, 2, 1, 1, 0, 2], True), ([0, 3, 1, 1, 0, 2], False),
                                       ([0, -1, 1, 1, 0, 2], False),
                                       ([0.0, 2.0, 1.0, 1.0, 0.0, 2.0], False),
                                       ([True, False, True, False, True, True], False)],
                         ids=["ints", "too_big", "negative", "float_labels", "bools"])
def test_softmax_class_labels(labels, ok):
    dims = (3, 4, 3)
    params, X, _ = C.small_problem(dims, m=6, seed=2, output="softmax", hidden="tanh")
    model = MLP(list(dims), hidden="tanh", output="softmax")
    y = np.asarray(labels)
    out = C.call_and_classify(model.cost, params, X, y)
    if ok:
        Y = np.eye(3)[:, y]
        exp = float(C.ref_forward_cost(params, X, Y, ["tanh"], "softmax"))
        C.expect_ok(out, lambda c: abs(c - exp) < 1e-12 or (_ for _ in ()).throw(
            AssertionError(f"{c} vs {exp}")))
    else:
        C.expect_error(out, "Y")


# -- fastgrad.course ------------------------------------------------------------------------

def _course():
    X, Y, params = course.gradient_check_n_test_case()
    cost, cache = course.forward_propagation_n(X, Y, params)
    return X, Y, params, cache


def _course_ref_difference(params, grads, X, Y):
    num = C.ref_numerical(params, X, Y, ["relu", "relu"], "sigmoid")
    return C.ref_relative_difference(C.ref_flatten(grads, "d"), C.ref_flatten(num, "d"))


@pytest.mark.parametrize("bugs", [True, False])
@pytest.mark.parametrize("layout", ["c", "fortran", "read_only", "int_Y"])
def test_gradient_check_n_matches_the_reference(bugs, layout):
    X, Y, params, cache = _course()
    grads = course.backward_propagation_n(X, Y, cache, bugs=bugs)
    Xin = {"c": X, "fortran": C.fortran(X), "read_only": C.read_only(X), "int_Y": X}[layout]
    Yin = Y.astype(np.int64) if layout == "int_Y" else Y.astype(float)
    exp = _course_ref_difference(params, grads, X, Y.astype(float))
    out = C.call_and_classify(course.gradient_check_n, params, grads, Xin, Yin)

    def check(diff):
        assert abs(diff - exp) <= 1e-7 * max(exp, 1e-9) + 1e-9, f"{diff} vs {exp}"
        assert (diff > 2e-7) == bugs
    C.expect_ok(out, check)


@pytest.mark.parametrize("arg,value", [("epsilon", "1e-7"), ("epsilon", True),
                                       ("epsilon", 0.0), ("epsilon", None),
                                       ("print_msg", "yes"), ("X", np.full((4, 3), np.nan)),
                                       ("X", np.ones((3, 4))), ("Y", np.ones((2, 3))),
                                       ("parameters", None), ("gradients", None),
                                       ("parameters", [1, 2])], ids=str)
def test_gradient_check_n_bad_arguments(arg, value):
    X, Y, params, cache = _course()
    grads = course.backward_propagation_n(X, Y, cache)
    kwargs = {"parameters": params, "gradients": grads, "X": X, "Y": Y}
    kwargs[arg] = value
    C.expect_error(C.call_and_classify(course.gradient_check_n, **kwargs), arg)


@pytest.mark.parametrize("value,name", [({}, "parameters"), (None, "parameters"),
                                        ([1, 2], "parameters"), ({"W1": np.zeros(3)}, "W1"),
                                        ({"W2": np.zeros((2, 2))}, "W1"),
                                        ({"W1": "abc"}, "W1"), ({"W1": np.zeros((2, 3)),
                                                                "W2": np.zeros((1, 5))}, "W2")],
                         ids=["empty", "none", "list", "W1_1d", "no_W1", "W1_str",
                              "W2_inconsistent"])
def test_model_for_bad_parameters(value, name):
    out = C.call_and_classify(course.model_for, value)
    C.expect_error(out, name, "parameters", types=(TypeError, ValueError, KeyError))


@pytest.mark.parametrize("extra", [{}, {"dZ1": 1, "dA1": 2}])
def test_vector_helpers_round_trip(extra):
    _, _, params, _ = _course()
    theta, names = C.expect_ok(C.call_and_classify(course.dictionary_to_vector,
                                                   dict(params, **extra)))
    np.testing.assert_array_equal(theta.ravel(), C.ref_flatten(params))
    assert theta.shape == (47, 1) and len(names) == 47 and names[0] == "W1"
    back = C.expect_ok(C.call_and_classify(course.vector_to_dictionary, theta))
    for k, v in params.items():
        np.testing.assert_array_equal(back[k], v)
    g = {"d" + k: v for k, v in params.items()}
    g.update({k: np.ones(3) for k in extra})
    gv = C.expect_ok(C.call_and_classify(course.gradients_to_vector, g))
    np.testing.assert_array_equal(gv.ravel(), C.ref_flatten(params))


@pytest.mark.parametrize("fn,args,name", [
    (course.dictionary_to_vector, (None,), "parameters"),
    (course.dictionary_to_vector, ([1, 2],), "parameters"),
    (course.dictionary_to_vector, ({"W1": "x"},), "W1"),
    (course.vector_to_dictionary, (np.ones(46),), "theta"),
    (course.vector_to_dictionary, (np.ones(5), {"W1": (2, 2)}), "theta"),
    (course.vector_to_dictionary, (np.ones(4), [1]), "like"),
    (course.vector_to_dictionary, (None,), "theta"),
    (course.gradients_to_vector, (None,), "gradients"),
    (course.gradients_to_vector, ({"dW1": "x"},), "dW1"),
], ids=lambda v: v.__name__ if callable(v) else (repr(v)[:30] if not isinstance(v, str) else v))
def test_course_vector_helpers_bad_input(fn, args, name):
    C.expect_error(C.call_and_classify(fn, *args), name)


# -- softmax with soft targets, predict, init_params, dropout_masks ----------------------------

@pytest.mark.parametrize("targets", ["one_hot", "soft_unnormalized", "label_smoothing"])
@pytest.mark.parametrize("method", ["cost", "backward", "cost_and_grads"])
def test_softmax_cost_and_backward_with_any_targets(targets, method):
    dims = (3, 4, 3)
    params, X, Y = C.small_problem(dims, m=6, seed=4, output="softmax", hidden="tanh")
    if targets == "soft_unnormalized":
        Y = np.random.default_rng(4).random((3, 6)) * 2  # columns do not sum to 1
    elif targets == "label_smoothing":
        Y = Y * 0.9 + 0.1 / 3
    model = MLP(list(dims), hidden="tanh", output="softmax")
    out = C.call_and_classify(getattr(model, method), params, X, Y)

    def check(res):
        cost = float(C.ref_forward_cost(params, X, Y, ["tanh"], "softmax"))
        grads = C.ref_backprop(params, X, Y, ["tanh"], "softmax")
        if method in ("cost", "cost_and_grads"):
            got = res if method == "cost" else res[0]
            assert abs(got - cost) < 1e-12
        if method != "cost":
            got = res if method == "backward" else res[1]
            for k, v in grads.items():
                np.testing.assert_allclose(got[k], v, rtol=1e-10, atol=1e-14)
    C.expect_ok(out, check)


@pytest.mark.parametrize("output", ["sigmoid", "softmax", "linear"])
def test_predict_matches_numpy(output):
    dims = (3, 4, 3)
    params, X, _ = C.small_problem(dims, m=7, seed=6, output=output, hidden="relu")
    model = MLP(list(dims), output=output)

    def check(pred):
        Z = params["W2"] @ np.maximum(params["W1"] @ X + params["b1"], 0) + params["b2"]
        if output == "sigmoid":
            np.testing.assert_array_equal(pred, (Z > 0).astype(int))
        elif output == "softmax":
            np.testing.assert_array_equal(pred, np.argmax(Z, axis=0))
        else:
            np.testing.assert_allclose(pred, Z, rtol=1e-12)
    C.expect_ok(C.call_and_classify(model.predict, params, C.fortran(X)), check)


@pytest.mark.parametrize("arg,value", [("method", "HE"), ("method", None), ("method", 3),
                                       ("seed", "1"), ("seed", 1.5), ("seed", -1),
                                       ("scale", 0), ("scale", "1"), ("scale", True),
                                       ("scale", np.nan)], ids=str)
def test_init_params_bad_arguments(arg, value):
    kwargs = {"method": "he", "seed": 0, "scale": 1.0}
    kwargs[arg] = value
    C.expect_error(C.call_and_classify(MLP([3, 4, 1], batchnorm=[1]).init_params, **kwargs), arg)


def test_dropout_masks_follow_the_documented_recipe():
    model = MLP([3, 5, 4, 1], keep_prob=[0.5, 0.8])
    masks = C.expect_ok(C.call_and_classify(model.dropout_masks, 9, 7))
    rng = np.random.default_rng(7)
    exp = {1: rng.random((5, 9)) < 0.5, 2: rng.random((4, 9)) < 0.8}
    assert sorted(masks) == [1, 2]
    for l in exp:
        np.testing.assert_array_equal(masks[l], exp[l])


@pytest.mark.parametrize("arg,value", [("m", 0), ("m", -1), ("m", 2.5), ("m", True),
                                       ("m", "9"), ("seed", "x"), ("seed", -2)], ids=str)
def test_dropout_masks_bad_arguments(arg, value):
    kwargs = {"m": 9, "seed": 7}
    kwargs[arg] = value
    C.expect_error(C.call_and_classify(MLP([3, 5, 1], keep_prob=0.5).dropout_masks, **kwargs),
                   arg)


def test_course_forward_and_backward_match_the_reference():
    X, Y, params = course.gradient_check_n_test_case()
    cost, cache = C.expect_ok(C.call_and_classify(course.forward_propagation_n, X, Y, params))
    exp = float(C.ref_forward_cost(params, X, Y, ["relu", "relu"], "sigmoid"))
    assert abs(cost - exp) < 1e-12
    grads = C.expect_ok(C.call_and_classify(course.backward_propagation_n, X, Y, cache,
                                            bugs=False))
    ref = C.ref_backprop(params, X, Y.astype(float), ["relu", "relu"], "sigmoid")
    for k, v in ref.items():
        np.testing.assert_allclose(grads[k], v, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("bad,name", [("missing_W3", "W3"), ("X_transposed", "X"),
                                      ("params_none", "parameters")])
def test_course_forward_bad_input(bad, name):
    X, Y, params = course.gradient_check_n_test_case()
    if bad == "missing_W3":
        del params["W3"]
    elif bad == "X_transposed":
        X = X.T.copy()
    else:
        params = None
    out = C.call_and_classify(course.forward_propagation_n, X, Y, params)
    C.expect_error(out, name, types=(TypeError, ValueError, KeyError))
