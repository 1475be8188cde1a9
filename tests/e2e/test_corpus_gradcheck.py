"""Bad-input corpus: fastgrad.gradient_check on an MLP (the compiled path).

Valid but unusual inputs must give the finite differences of an independent
extended-precision NumPy forward pass; bad ones a clear error naming the
argument. Every input is byte-compared before and after the call.
"""
import fastgrad_tests_corpus as C  # tests/_corpus.py, registered by conftest.py

import functools
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from fastgrad import MLP, gradient_check

DIMS = (3, 4, 2)
HIDDEN = "tanh"
OUTPUT = "sigmoid"


@functools.lru_cache(maxsize=None)
def _problem():
    params, X, Y = C.small_problem(DIMS, m=5, seed=0, output=OUTPUT, hidden=HIDDEN)
    grads = C.ref_backprop(params, X, Y, [HIDDEN], OUTPUT)
    return params, grads, X, Y


@functools.lru_cache(maxsize=None)
def _ref_numerical(key=None):
    params, _, X, Y = _problem()
    return C.ref_numerical(params, X, Y, [HIDDEN], OUTPUT)


def _fresh():
    params, grads, X, Y = _problem()
    return ({k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in grads.items()},
            X.copy(), Y.copy())


def _model():
    return MLP(list(DIMS), hidden=HIDDEN, output=OUTPUT)


def _check_report(report, ref_num=None, grads=None, verdict="great", atol=1e-8):
    ref_num = ref_num if ref_num is not None else _ref_numerical()
    grads = grads if grads is not None else _problem()[1]
    for key, val in ref_num.items():
        got = np.asarray(report.numerical[key], dtype=float)
        np.testing.assert_allclose(got.reshape(val.shape), val, rtol=1e-6, atol=atol,
                                   err_msg=f"numerical {key}")
    expected = C.ref_relative_difference(C.ref_flatten(grads, "d"), C.ref_flatten(ref_num, "d"))
    assert np.isfinite(report.difference)
    assert abs(report.difference - expected) <= 1e-7 + 1e-3 * expected, \
        f"difference {report.difference:.3e}, reference {expected:.3e}"
    if verdict is not None:
        assert report.verdict == verdict, f"verdict {report.verdict!r}, expected {verdict!r}"


def _call(params, grads, X, Y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return C.call_and_classify(gradient_check, _model(), params, grads, X, Y, **kw)


# -- valid inputs in unusual containers and layouts -------------------------------

def _variant(where, how):
    params, grads, X, Y = _fresh()
    target = {"X": None, "Y": None, "W1": params, "dW1": grads}
    if where in ("X", "Y"):
        arr = X if where == "X" else Y
    else:
        arr = target[where][where]
    new = {
        "fortran": lambda a: C.fortran(a),
        "strided": lambda a: C.strided(a),
        "read_only": lambda a: C.read_only(a),
        "big_endian": lambda a: C.big_endian(a),
        "list": lambda a: a.tolist(),
        "dataframe": lambda a: pd.DataFrame(a),
        "negative_strides": lambda a: C.reversed_rows(a),
    }[how](arr)
    if where == "X":
        X = new
    elif where == "Y":
        Y = new
    else:
        target[where][where] = new
    return params, grads, X, Y


LAYOUTS = ["fortran", "strided", "read_only", "big_endian", "list", "dataframe",
           "negative_strides"]


@pytest.mark.parametrize("how", LAYOUTS)
@pytest.mark.parametrize("where", ["X", "Y", "W1", "dW1"])
def test_layouts_give_the_reference_result(where, how):
    out = _call(*_variant(where, how))
    C.expect_ok(out, _check_report)


def test_one_dimensional_bias_and_Y_for_one_output():
    model = MLP([3, 4, 1], hidden=HIDDEN, output=OUTPUT)
    params, X, Y = C.small_problem((3, 4, 1), m=5, seed=1, output=OUTPUT, hidden=HIDDEN)
    grads = C.ref_backprop(params, X, Y, [HIDDEN], OUTPUT)
    ref = C.ref_numerical(params, X, Y, [HIDDEN], OUTPUT)
    p = dict(params, b1=params["b1"].ravel())
    out = C.call_and_classify(gradient_check, model, p, grads, X, Y.ravel())
    C.expect_ok(out, lambda r: _check_report(r, ref, grads))


@pytest.mark.parametrize("dtype", ["float32", "float16", "int64", "bool"])
@pytest.mark.parametrize("where", ["X", "Y"])
def test_other_dtypes_are_upcast_and_give_the_reference_result(where, dtype):
    params, grads, X, Y = _fresh()
    if where == "X":
        X = (X * 3).round() if dtype in ("int64", "bool") else X
        X = X.astype(dtype)
        Xr = X.astype(float)
        Yr = Y
    else:
        Y = Y.astype(dtype)
        Xr, Yr = X, Y.astype(float)
    grads = C.ref_backprop(params, Xr, Yr, [HIDDEN], OUTPUT)
    ref = C.ref_numerical(params, Xr, Yr, [HIDDEN], OUTPUT)
    out = _call(params, grads, X, Y)
    C.expect_ok(out, lambda r: _check_report(r, ref, grads))


# -- bad values for every argument --------------------------------------------------

def _bad_arrays(shape):
    rows, cols = shape
    nan = np.ones(shape)
    nan[0, -1] = np.nan
    inf = np.ones(shape)
    inf[-1, 0] = np.inf
    obj = np.ones(shape, dtype=object)
    obj[0, 0] = "a"
    return {
        "nan": nan, "inf": inf, "neg_inf": -inf,
        "transposed": np.ones(shape[::-1]) if rows != cols else np.ones((rows, cols + 1)),
        "wrong_shape": np.ones((rows + 1, cols)),
        "one_d_wrong": np.ones(rows * cols + 1),
        "three_d": np.ones(shape + (2,)),
        "empty": np.ones((rows, 0)),
        "complex": np.ones(shape, dtype=complex),
        "str": np.full(shape, "1.0"),
        "object_str": obj,
        "none": None,
        "scalar_str": "abc",
        "dict": {"a": 1},
    }


@pytest.mark.parametrize("bad", list(_bad_arrays((4, 3))))
@pytest.mark.parametrize("key", ["W1", "b1", "W2", "b2"])
def test_bad_parameter_block_is_refused_naming_it(key, bad):
    params, grads, X, Y = _fresh()
    params[key] = _bad_arrays(params[key].shape)[bad]
    C.expect_error(_call(params, grads, X, Y), key, "params")


@pytest.mark.parametrize("bad", list(_bad_arrays((4, 3))))
@pytest.mark.parametrize("key", ["dW1", "db2"])
def test_bad_gradient_block_is_refused_naming_it(key, bad):
    params, grads, X, Y = _fresh()
    grads[key] = _bad_arrays(grads[key].shape)[bad]
    C.expect_error(_call(params, grads, X, Y), key, "grads")


@pytest.mark.parametrize("bad", list(_bad_arrays((3, 5))) + ["sparse", "masked", "y_instead"])
def test_bad_X_is_refused_naming_X(bad):
    params, grads, X, Y = _fresh()
    if bad == "sparse":
        X = sp.csr_matrix(X)
    elif bad == "masked":
        X = np.ma.masked_array(X, mask=np.eye(3, 5, dtype=bool))
    elif bad == "y_instead":
        X = Y
    else:
        X = _bad_arrays(X.shape)[bad]
    C.expect_error(_call(params, grads, X, Y), "X")


@pytest.mark.parametrize("bad", list(_bad_arrays((2, 5))) + ["masked", "missing"])
def test_bad_Y_is_refused_naming_Y(bad):
    params, grads, X, Y = _fresh()
    if bad == "masked":
        Y = np.ma.masked_array(Y, mask=np.eye(2, 5, dtype=bool))
    elif bad == "missing":
        Y = None
    else:
        Y = _bad_arrays(Y.shape)[bad]
        if bad == "none":
            return  # covered by "missing"
    C.expect_error(_call(params, grads, X, Y), "Y")


@pytest.mark.parametrize("value", [None, [], ("W1",), "params", np.zeros(26)], ids=repr)
def test_params_not_a_dict_is_refused(value):
    _, grads, X, Y = _fresh()
    C.expect_error(_call(value, grads, X, Y), "params")


@pytest.mark.parametrize("value", [None, [], "grads", np.zeros(26)], ids=repr)
def test_grads_not_a_dict_is_refused(value):
    params, _, X, Y = _fresh()
    C.expect_error(_call(params, value, X, Y), "grads")


@pytest.mark.parametrize("change", ["missing_W1", "extra_W3", "missing_db2", "extra_dZ1",
                                    "renamed_w1", "int_key"])
def test_key_mismatch_is_a_keyerror_or_valueerror_naming_the_key(change):
    params, grads, X, Y = _fresh()
    name = {"missing_W1": "W1", "extra_W3": "W3", "missing_db2": "db2", "extra_dZ1": "dZ1",
            "renamed_w1": "w1", "int_key": "1"}[change]
    if change == "missing_W1":
        del params["W1"]
    elif change == "extra_W3":
        params["W3"] = np.ones((1, 2))
    elif change == "missing_db2":
        del grads["db2"]
    elif change == "extra_dZ1":
        grads["dZ1"] = np.ones((4, 5))
    elif change == "renamed_w1":
        params["w1"] = params.pop("W1")
    else:
        params[1] = params.pop("W1")
    out = _call(params, grads, X, Y)
    if change == "extra_dZ1" and out.ok:  # the course's cache entries may be ignored
        C.expect_ok(out, _check_report)
        return
    C.expect_error(out, name, types=(KeyError, ValueError, TypeError))


@pytest.mark.parametrize("value", [None, "MLP", {}, 3, MLP], ids=repr)
def test_model_that_is_not_a_model_is_refused(value):
    params, grads, X, Y = _fresh()
    C.expect_error(C.call_and_classify(gradient_check, value, params, grads, X, Y), "model")


@pytest.mark.parametrize("value", ["1e-7", True, False, 0, 0.0, -1e-7, np.nan, np.inf, None,
                                   [1e-7], 1e-7j, "abc", np.array([1e-7, 1e-7])], ids=repr)
def test_bad_epsilon_is_refused_naming_it(value):
    C.expect_error(_call(*_fresh(), epsilon=value), "epsilon")


@pytest.mark.parametrize("value", [1e-6, np.float32(1e-6), np.float64(1e-7), 1e-5], ids=repr)
def test_valid_epsilon_gives_the_reference_result(value):
    params, grads, X, Y = _fresh()
    ref = C.ref_numerical(params, X, Y, [HIDDEN], OUTPUT, eps=float(value))
    C.expect_ok(_call(params, grads, X, Y, epsilon=value),
                lambda r: _check_report(r, ref, grads, verdict=None, atol=1e-7))


@pytest.mark.parametrize("value", [True, False, "2", 1.5, 0, -3, [2], np.float64(2.0)],
                         ids=repr)
def test_bad_n_threads_is_refused_naming_it(value):
    C.expect_error(_call(*_fresh(), n_threads=value), "n_threads")


@pytest.mark.parametrize("value", [2**31, 2**63 - 1, 10**30, np.int32(1), np.int64(2), -1, None],
                         ids=repr)
def test_large_n_threads_is_capped_and_gives_the_reference_result(value):
    C.expect_ok(_call(*_fresh(), n_threads=value), _check_report)


@pytest.mark.parametrize("value", ["FULL", "", None, 1, "sample", ["full"]], ids=repr)
def test_bad_mode_is_refused_naming_it(value):
    C.expect_error(_call(*_fresh(), mode=value), "mode")


@pytest.mark.parametrize("value", [True, False, 0, -1, 1.5, "3", [3], np.float64(3.0)], ids=repr)
@pytest.mark.parametrize("mode", ["sampled", "directional"])
def test_bad_k_is_refused_naming_it(mode, value):
    C.expect_error(_call(*_fresh(), mode=mode, k=value), "k")


@pytest.mark.parametrize("value", ["1", 1.5, True, [1], -1], ids=repr)
def test_bad_seed_is_refused_naming_it(value):
    C.expect_error(_call(*_fresh(), mode="sampled", seed=value), "seed")


@pytest.mark.parametrize("k", [1, 3, np.int64(2), 10**12], ids=repr)
def test_sampled_mode_matches_the_reference_on_the_checked_coordinates(k):
    def check(report):
        ref = _ref_numerical()
        n_checked = 0
        for key, val in ref.items():
            got = np.asarray(report.numerical[key], dtype=float).reshape(val.shape)
            done = ~np.isnan(got)
            assert done.sum() == min(int(min(k, 10**6)), val.size), f"{key}: {done.sum()} checked"
            np.testing.assert_allclose(got[done], val[done], rtol=1e-6, atol=1e-8)
            n_checked += int(done.sum())
        assert report.n_checked == n_checked
        assert report.verdict == "great"
    C.expect_ok(_call(*_fresh(), mode="sampled", k=k, seed=0), check)


@pytest.mark.parametrize("value", ["no", 2, None, "False"], ids=repr)
def test_bad_dropout_flag_is_refused_naming_it(value):
    C.expect_error(_call(*_fresh(), dropout=value), "dropout")


@pytest.mark.parametrize("value", [(1e-3, 1e-6), "a", (np.nan, 1.0), (0.0, 1.0), (1e-6,),
                                   (1e-6, 1e-3, 1.0), ("1e-6", "1e-3"), (True, 1.0)], ids=repr)
def test_bad_thresholds_are_refused_naming_them(value):
    C.expect_error(_call(*_fresh(), thresholds=value), "thresholds")


@pytest.mark.parametrize("value", ["yes", 2, "False"], ids=repr)
def test_bad_progress_is_refused_naming_it(value):
    C.expect_error(_call(*_fresh(), progress=value), "progress")


@pytest.mark.parametrize("value", ["no", 2, None], ids=repr)
def test_bad_raise_on_failure_is_refused_naming_it(value):
    C.expect_error(_call(*_fresh(), raise_on_failure=value), "raise_on_failure")


# -- what the report says -------------------------------------------------------------

def test_a_difference_between_1e_6_and_1e_3_is_check():
    params, grads, X, Y = _fresh()
    grads = {k: v * (1 + 2e-4) for k, v in grads.items()}
    C.expect_ok(_call(params, grads, X, Y), lambda r: _check_report(r, grads=grads,
                                                                     verdict="check"))


def test_a_difference_above_1e_3_is_bug_and_names_the_block():
    params, grads, X, Y = _fresh()
    grads["dW2"] = grads["dW2"] * 2.0

    def check(r):
        _check_report(r, grads=grads, verdict="bug")
        assert any("dW2" in h for h in r.hints)
    C.expect_ok(_call(params, grads, X, Y), check)


@pytest.mark.parametrize("factor", [1.05, 0.95, 2.0, 0.25])
def test_a_constant_factor_is_named_in_the_hints(factor):
    params, grads, X, Y = _fresh()
    grads["dW1"] = grads["dW1"] * factor

    def check(r):
        assert any("dW1" in h and f"{factor:.2f}x" in h for h in r.hints), r.hints
    C.expect_ok(_call(params, grads, X, Y), check)


def test_softmax_targets_whose_columns_do_not_sum_to_one():
    dims = (3, 4, 3)
    params, X, _ = C.small_problem(dims, m=6, seed=5, output="softmax", hidden="tanh")
    Y = np.random.default_rng(5).random((3, 6)) * 2  # soft labels, column sums != 1
    model = MLP(list(dims), hidden="tanh", output="softmax")
    grads = C.ref_backprop(params, X, Y, ["tanh"], "softmax")
    ref = C.ref_numerical(params, X, Y, ["tanh"], "softmax")
    out = C.call_and_classify(gradient_check, model, params, grads, X, Y)
    C.expect_ok(out, lambda r: _check_report(r, ref, grads))


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_timestamp_feature_never_gives_nan(output):
    # logistic regression on a raw timestamp: eps * x ~ 1.7e5, far past exp's range
    n_out = 1 if output == "sigmoid" else 2
    X = (1.7e12 + np.arange(4) * 3.6e6)[None, :]
    params = {"W1": np.full((n_out, 1), 1e-12) * (np.arange(n_out)[:, None] + 1),
              "b1": np.zeros((n_out, 1))}
    Y = np.array([[0.0, 1.0, 1.0, 0.0]]) if n_out == 1 else np.array([[0.0, 1, 1, 0],
                                                                        [1, 0, 0, 1]])
    model = MLP([1, n_out], output=output)
    grads = C.ref_backprop(params, X, Y, [], output)
    ref = C.ref_numerical(params, X, Y, [], output)

    def check(r):
        assert np.isfinite(r.difference), f"difference={r.difference} for a finite cost"
        for key, val in ref.items():
            np.testing.assert_allclose(np.asarray(r.numerical[key]).reshape(val.shape), val,
                                       rtol=1e-6)
    C.expect_ok(C.call_and_classify(gradient_check, model, params, grads, X, Y), check)


@pytest.mark.parametrize("dims,m", [((1, 31, 33, 38, 21), 29), ((5, 128, 128, 3), 257)])
def test_one_and_two_threads_give_identical_bits(dims, m):
    # The second network is big enough for a threaded BLAS to split the
    # set-up matmuls differently when the check itself runs on one thread.
    params, X, Y = C.small_problem(dims, m=m, seed=0, output="softmax", hidden="relu")
    model = MLP(list(dims), "relu", "softmax")
    grads = C.ref_backprop(params, X, Y, ["relu"] * (len(dims) - 2), "softmax")
    r1 = C.expect_ok(C.call_and_classify(gradient_check, model, params, grads, X, Y,
                                         n_threads=1))
    r2 = C.expect_ok(C.call_and_classify(gradient_check, model, params, grads, X, Y,
                                         n_threads=2))
    for key in r1.numerical:
        a, b = np.asarray(r1.numerical[key]), np.asarray(r2.numerical[key])
        assert a.tobytes() == b.tobytes(), \
            f"{key}: {int(np.sum(a != b))} coordinates differ between 1 and 2 threads"
    assert r1.difference == r2.difference


# -- sizes that must not allocate what the check does not need --------------------

def test_wide_network_scratch_is_sized_for_what_it_uses():
    out = C.run_limited("""
        import numpy as np
        from fastgrad import MLP, gradient_check
        model = MLP([1, 100000, 1], hidden="tanh")
        params = model.init_params("xavier", seed=0)
        rng = np.random.default_rng(0)
        X, Y = rng.standard_normal((1, 2)), np.array([[0.0, 1.0]])
        grads = model.backward(params, X, Y)
        r = gradient_check(model, params, grads, X, Y, n_threads=1)
        RESULT = r.difference
        CHECK = bool(r.verdict == "great" and r.n_checked == 300001)
    """, mem_bytes=1_500_000_000, timeout=90)
    C.expect_limited_ok_or_error(out, "layer_dims", "n_threads")


def test_sampled_mode_memory_scales_with_the_coordinates_checked():
    out = C.run_limited("""
        import numpy as np
        from fastgrad import MLP, gradient_check
        model = MLP([100, 500, 500], output="softmax")
        params = model.init_params("he", seed=0)
        rng = np.random.default_rng(0)
        X = rng.standard_normal((100, 500))
        Y = np.eye(500)[:, rng.integers(0, 500, 500)]
        grads = model.backward(params, X, Y)
        r = gradient_check(model, params, grads, X, Y, mode="sampled", k=5, seed=0,
                           n_threads=1)
        RESULT = r.difference
        CHECK = bool(r.verdict == "great" and r.n_checked == 20)
    """, mem_bytes=1_200_000_000, timeout=90)
    C.expect_limited_ok_or_error(out, "mode")


# -- cheap modes and dropout ------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["sampled", "directional"])
def test_cheap_modes_with_soft_softmax_targets(mode):
    dims = (3, 4, 3)
    params, X, _ = C.small_problem(dims, m=6, seed=8, output="softmax", hidden="tanh")
    Y = np.random.default_rng(8).random((3, 6)) * 3  # column sums far from 1
    model = MLP(list(dims), hidden="tanh", output="softmax")
    grads = C.ref_backprop(params, X, Y, ["tanh"], "softmax")
    ref = C.ref_numerical(params, X, Y, ["tanh"], "softmax")

    def check(r):
        assert r.verdict == "great", f"{r.verdict}: {r.difference:.2e}"
        for key, val in ref.items():
            got = np.asarray(r.numerical[key], dtype=float).reshape(val.shape)
            done = ~np.isnan(got)
            np.testing.assert_allclose(got[done], val[done], rtol=1e-6, atol=1e-9)
    C.expect_ok(C.call_and_classify(gradient_check, model, params, grads, X, Y, mode=mode, k=2,
                                    seed=1), check)


def test_directional_mode_rechecks_a_failing_block_in_full():
    params, grads, X, Y = _fresh()
    grads["db1"] = grads["db1"] * 4.0

    def check(r):
        assert r.verdict == "bug"
        ref = _ref_numerical()["db1"]
        np.testing.assert_allclose(np.asarray(r.numerical["db1"]).reshape(ref.shape), ref,
                                   rtol=1e-6, atol=1e-9)
        assert any("db1" in h for h in r.hints)
    C.expect_ok(_call(params, grads, X, Y, mode="directional", k=3, seed=0), check)


def test_directional_mode_on_batch_norm_is_refused_naming_mode():
    model = MLP([3, 4, 1], hidden="tanh", batchnorm=[1])
    params = model.init_params("xavier", seed=0)
    X = np.random.default_rng(0).standard_normal((3, 6))
    Y = (np.arange(6) % 2)[None, :].astype(float)
    grads = model.backward(params, X, Y)
    out = C.call_and_classify(gradient_check, model, params, grads, X, Y, mode="directional")
    C.expect_error(out, "mode")


def _dropout_ref(params, X, Y, keep, seed, eps=1e-7):
    """Central differences with the documented masks (rng.random((n, m)) < keep)."""
    mask = np.random.default_rng(seed).random((params["W1"].shape[0], X.shape[1])) < keep
    scale = mask / keep
    LD = np.longdouble

    def cost(p):
        A = np.tanh(p["W1"] @ X.astype(LD) + p["b1"]) * scale
        Z = p["W2"] @ A + p["b2"]
        return np.sum(np.logaddexp(LD(0), Z) - Y * Z) / X.shape[1]
    out = {}
    for key in ("W1", "b1", "W2", "b2"):
        g = np.empty(params[key].shape)
        for idx in np.ndindex(g.shape):
            vals = []
            for s in (1, -1):
                p = {k: v.astype(LD) for k, v in params.items()}
                p[key][idx] += s * LD(eps)
                vals.append(cost(p))
            g[idx] = float((vals[0] - vals[1]) / (2 * LD(eps)))
        out["d" + key] = g
    return out


def test_dropout_with_the_same_seed_matches_a_reference_with_the_documented_masks():
    params, X, Y = C.small_problem((3, 4, 1), m=8, seed=2, hidden="tanh")
    model = MLP([3, 4, 1], hidden="tanh", keep_prob=0.7)
    grads = model.backward(params, X, Y, seed=11)
    ref = _dropout_ref(params, X, Y, 0.7, 11)

    def check(r):
        for key, val in ref.items():
            np.testing.assert_allclose(np.asarray(r.numerical[key]).reshape(val.shape), val,
                                       rtol=1e-6, atol=1e-9)
        assert r.verdict == "great"
    C.expect_ok(C.call_and_classify(gradient_check, model, params, grads, X, Y, seed=11), check)


@pytest.mark.parametrize("seed", [None, 1.5, "11", np.random.default_rng(11)], ids=repr)
def test_dropout_without_an_int_seed_is_refused_naming_seed(seed):
    params, X, Y = C.small_problem((3, 4, 1), m=8, seed=2, hidden="tanh")
    model = MLP([3, 4, 1], hidden="tanh", keep_prob=0.7)
    grads = model.backward(params, X, Y, seed=11)
    C.expect_error(C.call_and_classify(gradient_check, model, params, grads, X, Y, seed=seed),
                   "seed")


def test_concurrent_checks_restore_the_blas_thread_count():
    # Two checks from two Python threads, the second starting while the
    # first runs: their BLAS limits are entered and exited out of order.
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import threading
    import time

    def blas_threads():
        return sorted((d["internal_api"], d["num_threads"])
                      for d in threadpoolctl.threadpool_info() if d["user_api"] == "blas")
    before = blas_threads()
    params, X, Y = C.small_problem((4, 64, 64, 2), m=512, seed=0, hidden="relu")
    model = MLP([4, 64, 64, 2])
    grads = C.ref_backprop(params, X, Y, ["relu", "relu"], "sigmoid")
    verdicts, errors = [], []

    def work(delay):
        try:
            time.sleep(delay)
            verdicts.append(gradient_check(model, params, grads, X, Y, n_threads=2).verdict)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
    delays = (0.001, 0.002, 0.005, 0.01, 0.02, 0.03)
    try:
        for delay in delays:
            threads = [threading.Thread(target=work, args=(d,)) for d in (0.0, delay)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        after = blas_threads()
    finally:  # never leave the rest of the session pinned
        threadpoolctl.threadpool_limits(limits=max(n for _, n in before), user_api="blas")
    assert not errors, errors
    assert after == before, f"BLAS threads were {before}, now {after}"
    assert verdicts == ["great"] * (2 * len(delays))
