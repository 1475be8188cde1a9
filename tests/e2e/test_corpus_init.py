"""Bad-input corpus: fastgrad.init, fastgrad.datasets, fastgrad.diagnose and
the ``fastgrad`` command line.
"""
import fastgrad_tests_corpus as C  # tests/_corpus.py, registered by conftest.py

import numpy as np
import pandas as pd
import pytest

from fastgrad import MLP, datasets, diagnose, diagnose_layers, init
from fastgrad.diagnostics import deep_linear_example

# -- array initializers -----------------------------------------------------------------

STD = {
    "random": lambda fi, fo: 1.0, "he": lambda fi, fo: np.sqrt(2 / fi),
    "xavier": lambda fi, fo: np.sqrt(1 / fi), "lecun": lambda fi, fo: np.sqrt(1 / fi),
    "glorot": lambda fi, fo: np.sqrt(2 / (fi + fo)),
}


@pytest.mark.parametrize("name", list(STD))
@pytest.mark.parametrize("shape", [(5, 3), (1, 1), [7, 2], (np.int64(4), np.int32(6))],
                         ids=repr)
@pytest.mark.parametrize("gain", [1.0, 2, np.float32(0.5)], ids=repr)
def test_initializer_matches_the_formula(name, shape, gain):
    out = C.call_and_classify(getattr(init, name), shape, gain=gain, seed=3)
    fo, fi = int(shape[0]), int(shape[1])
    exp = np.random.default_rng(3).standard_normal((fo, fi)) * STD[name](fi, fo) * float(gain)
    C.expect_ok(out, lambda W: np.testing.assert_allclose(W, exp, rtol=1e-6))


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)])
def test_orthogonal_is_orthogonal(shape):
    W = C.expect_ok(C.call_and_classify(init.orthogonal, shape, gain=2.0, seed=0))
    assert W.shape == shape
    small = W @ W.T if shape[0] <= shape[1] else W.T @ W
    np.testing.assert_allclose(small, 4.0 * np.eye(min(shape)), atol=1e-12)


def test_zeros_is_zeros():
    W = C.expect_ok(C.call_and_classify(init.zeros, (3, 2)))
    np.testing.assert_array_equal(W, np.zeros((3, 2)))


BAD_SHAPES = [(3,), (0, 3), (3, -1), (3.0, 2), "32", None, (True, 2), (3, 2, 1), 5,
              (np.nan, 2), ("3", "2")]
INITS = ["zeros", "random", "he", "xavier", "lecun", "glorot", "orthogonal"]


@pytest.mark.parametrize("shape", BAD_SHAPES, ids=repr)
@pytest.mark.parametrize("name", INITS)
def test_initializer_bad_shape(name, shape):
    C.expect_error(C.call_and_classify(getattr(init, name), shape), "shape")


@pytest.mark.parametrize("gain", [0, -1.0, np.nan, np.inf, "2", True, None, 1j], ids=repr)
@pytest.mark.parametrize("name", [n for n in INITS if n != "zeros"])
def test_initializer_bad_gain(name, gain):
    C.expect_error(C.call_and_classify(getattr(init, name), (3, 2), gain=gain), "gain")


@pytest.mark.parametrize("seed", ["1", 1.5, True, -1, [1, "a"]], ids=repr)
@pytest.mark.parametrize("name", ["he", "orthogonal"])
def test_initializer_bad_seed(name, seed):
    C.expect_error(C.call_and_classify(getattr(init, name), (3, 2), seed=seed), "seed")


def test_initializer_impossible_shape_raises_before_allocating():
    out = C.run_limited("""
        from fastgrad import init
        W = init.he((2**40, 2**40), seed=0)
        RESULT = W.shape
        CHECK = False
    """, mem_bytes=1_200_000_000)
    C.expect_limited_ok_or_error(out, "shape")


@pytest.mark.parametrize("arg,value", [("scale", 0.0), ("scale", "1"), ("scale", True),
                                       ("mode", "fan_both"), ("mode", None),
                                       ("distribution", "cauchy"), ("distribution", 1),
                                       ("scale", np.nan)], ids=str)
def test_variance_scaling_bad_arguments(arg, value):
    kwargs = {"scale": 1.0, "mode": "fan_in", "distribution": "normal"}
    kwargs[arg] = value
    C.expect_error(C.call_and_classify(init.variance_scaling, (3, 2), **kwargs), arg)


@pytest.mark.parametrize("mode,n", [("fan_in", 40), ("fan_out", 30), ("fan_avg", 35)])
@pytest.mark.parametrize("dist", ["normal", "truncated_normal", "uniform"])
def test_variance_scaling_variance(mode, n, dist):
    W = C.expect_ok(C.call_and_classify(init.variance_scaling, (30, 40), 2.0, mode, dist,
                                        seed=1))
    var = float(np.var(W))
    assert abs(var - 2.0 / n) < 0.1 * 2.0 / n
    if dist == "uniform":
        assert np.abs(W).max() <= np.sqrt(3 * 2.0 / n)
    if dist == "truncated_normal":
        assert np.abs(W).max() <= 2 * np.sqrt(2.0 / n) / 0.87962566103423978 + 1e-12


@pytest.mark.parametrize("activation,param,expected", [
    ("linear", None, 1.0), ("sigmoid", None, 1.0), ("tanh", None, 5 / 3),
    ("relu", None, np.sqrt(2)), ("leaky_relu", None, np.sqrt(2 / (1 + 0.01 ** 2))),
    ("leaky_relu", 0.2, np.sqrt(2 / 1.04)), ("selu", None, 0.75),
    # PyTorch's names for its layers' linear maps (torch.nn.init.calculate_gain)
    ("conv1d", None, 1.0), ("conv2d", None, 1.0), ("conv3d", None, 1.0),
    ("conv_transpose1d", None, 1.0), ("conv_transpose2d", None, 1.0),
    ("conv_transpose3d", None, 1.0)])
def test_calculate_gain_values(activation, param, expected):
    g = C.expect_ok(C.call_and_classify(init.calculate_gain, activation, param))
    assert abs(g - expected) < 1e-15


@pytest.mark.parametrize("activation,param,name", [
    ("RELU", None, "activation"), (None, None, "activation"), (3, None, "activation"),
    ("relu", 0.1, "param"), ("leaky_relu", "0.1", "param"), ("leaky_relu", np.nan, "param"),
    ("leaky_relu", True, "param"), ("leaky_relu", [0.1], "param")], ids=str)
def test_calculate_gain_bad_arguments(activation, param, name):
    C.expect_error(C.call_and_classify(init.calculate_gain, activation, param), name)


# -- initialize_parameters / lsuv -----------------------------------------------------------

@pytest.mark.parametrize("method", ["zeros", "random", "he", "xavier", "lecun", "glorot"])
@pytest.mark.parametrize("dims", [[3, 4, 1], (2, 5), np.array([4, 3, 2, 1])], ids=repr)
def test_initialize_parameters_matches_the_formula(method, dims):
    out = C.call_and_classify(init.initialize_parameters, dims, method, seed=5, scale=2.0)
    d = [int(x) for x in dims]

    def check(params):
        rng = np.random.default_rng(5)
        assert list(params) == [k for l in range(1, len(d)) for k in (f"W{l}", f"b{l}")]
        for l in range(1, len(d)):
            if method == "zeros":
                exp = np.zeros((d[l], d[l - 1]))
            else:
                exp = rng.standard_normal((d[l], d[l - 1])) * STD[method](d[l - 1], d[l]) * 2.0
            np.testing.assert_allclose(params[f"W{l}"], exp, rtol=1e-12)
            np.testing.assert_array_equal(params[f"b{l}"], np.zeros((d[l], 1)))
    C.expect_ok(out, check)


@pytest.mark.parametrize("arg,value", [
    ("layer_dims", None), ("layer_dims", [3]), ("layer_dims", [3, 0, 1]),
    ("layer_dims", [3, True, 1]), ("layer_dims", "341"), ("layer_dims", [3, 2.0, 1]),
    ("layer_dims", [3, np.nan, 1]), ("method", "HE"), ("method", None), ("method", "lsuv"),
    ("method", 3), ("scale", 0), ("scale", "1"), ("scale", True), ("scale", np.inf),
    ("seed", "x"), ("seed", -5)], ids=str)
def test_initialize_parameters_bad_arguments(arg, value):
    kwargs = {"layer_dims": [3, 4, 1], "method": "he", "seed": 0, "scale": 1.0}
    kwargs[arg] = value
    C.expect_error(C.call_and_classify(init.initialize_parameters, **kwargs), arg)


def test_initialize_parameters_impossible_size_raises_before_allocating():
    out = C.run_limited("""
        from fastgrad import init
        p = init.initialize_parameters([3, 2**40, 1], "he", seed=0)
        RESULT = len(p)
        CHECK = False
    """, mem_bytes=1_200_000_000)
    C.expect_limited_ok_or_error(out, "layer_dims")


def _lsuv_data(m=64):
    return np.random.default_rng(0).standard_normal((4, m))


@pytest.mark.parametrize("layout", ["c", "fortran", "read_only", "dataframe", "float32"])
def test_lsuv_reaches_unit_variance(layout):
    X = _lsuv_data()
    Xin = {"c": X, "fortran": C.fortran(X), "read_only": C.read_only(X),
           "dataframe": pd.DataFrame(X), "float32": X.astype(np.float32)}[layout]
    model = MLP([4, 8, 6, 1], hidden="tanh")

    def check(params):
        A = np.asarray(Xin, dtype=float)
        for l in range(1, 4):
            Z = params[f"W{l}"] @ A + params[f"b{l}"]
            assert abs(np.var(Z) - 1.0) < 0.1, f"Var(Z{l}) = {np.var(Z)}"
            A = np.tanh(Z)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = C.call_and_classify(init.lsuv, model, Xin, seed=0)
    C.expect_ok(out, check)


@pytest.mark.parametrize("arg,value", [
    ("model", None), ("model", "MLP"), ("X", np.ones((3, 10))), ("X", np.ones((4, 1))),
    ("X", np.full((4, 10), np.nan)), ("X", np.zeros((4, 10))), ("tol", 0.0), ("tol", "0.1"),
    ("tol", True), ("max_iter", 0), ("max_iter", True), ("max_iter", 2.5), ("seed", "a")],
    ids=str)
def test_lsuv_bad_arguments(arg, value):
    kwargs = {"model": MLP([4, 8, 1], hidden="tanh"), "X": _lsuv_data(), "seed": 0,
              "tol": 0.1, "max_iter": 10}
    kwargs[arg] = value
    names = (arg, "batch") if arg == "X" else (arg,)
    C.expect_error(C.call_and_classify(init.lsuv, **kwargs), *names)


# -- datasets ------------------------------------------------------------------------------

MAKERS = ["make_circles", "make_moons", "make_flower", "make_elongated"]


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize("m", [2, 3, 101, np.int64(50)], ids=repr)
def test_datasets_shapes_labels_and_geometry(name, m):
    out = C.call_and_classify(getattr(datasets, name), m, noise=0.0, seed=1)

    def check(res):
        X, Y = res
        assert X.shape == (2, int(m)) and Y.shape == (1, int(m))
        assert X.dtype == np.float64 and Y.dtype == np.int64
        assert set(np.unique(Y)) <= {0, 1}
        if name != "make_elongated":
            assert np.sum(Y == 0) == int(m) // 2
        r = np.hypot(X[0], X[1])
        if name == "make_circles":
            np.testing.assert_allclose(r[Y[0] == 0], 1.0, rtol=1e-12)
            np.testing.assert_allclose(r[Y[0] == 1], 0.8, rtol=1e-12)
        if name == "make_moons":
            np.testing.assert_allclose(r[Y[0] == 0], 1.0, rtol=1e-12)
            np.testing.assert_allclose(np.hypot(X[0] - 1, X[1] - 0.5)[Y[0] == 1], 1.0,
                                       rtol=1e-12)
    C.expect_ok(out, check)


@pytest.mark.parametrize("value", [0, -1, 1.5, "10", True, None, np.nan], ids=repr)
@pytest.mark.parametrize("name", MAKERS)
def test_datasets_bad_m(name, value):
    C.expect_error(C.call_and_classify(getattr(datasets, name), value), "m")


@pytest.mark.parametrize("value", [-0.1, np.nan, np.inf, "0.1", True, None], ids=repr)
@pytest.mark.parametrize("name", MAKERS)
def test_datasets_bad_noise(name, value):
    C.expect_error(C.call_and_classify(getattr(datasets, name), 20, noise=value), "noise")


@pytest.mark.parametrize("name,arg,value", [
    ("make_circles", "factor", 0.0), ("make_circles", "factor", 1.0),
    ("make_circles", "factor", np.nan), ("make_circles", "factor", "0.5"),
    ("make_circles", "factor", True), ("make_flower", "petals", 0),
    ("make_flower", "petals", 1.5), ("make_flower", "petals", True),
    ("make_flower", "radius", -1.0), ("make_flower", "radius", "4"),
    ("make_moons", "seed", "x"), ("make_elongated", "seed", -3)], ids=str)
def test_datasets_other_bad_arguments(name, arg, value):
    C.expect_error(C.call_and_classify(getattr(datasets, name), 20, **{arg: value}), arg)


def test_datasets_impossible_m_raises_before_allocating():
    out = C.run_limited("""
        from fastgrad import datasets
        X, Y = datasets.make_moons(10**12, seed=0)
        RESULT = X.shape
        CHECK = False
    """, mem_bytes=1_200_000_000)
    C.expect_limited_ok_or_error(out, "m")


def _split_data():
    X = np.arange(20.0).reshape(2, 10)
    Y = (np.arange(10) % 2)[None, :]
    return X, Y


@pytest.mark.parametrize("layout", ["c", "fortran", "read_only", "list", "Y_1d", "dataframe"])
@pytest.mark.parametrize("test_size", [0.3, 3, np.int64(2)], ids=repr)
@pytest.mark.parametrize("shuffle", [True, False])
def test_train_test_split_partitions_the_columns(layout, test_size, shuffle):
    X, Y = _split_data()
    Xin = {"c": X, "fortran": C.fortran(X), "read_only": C.read_only(X), "list": X.tolist(),
           "Y_1d": X, "dataframe": pd.DataFrame(X)}[layout]
    Yin = Y.ravel() if layout == "Y_1d" else Y
    out = C.call_and_classify(datasets.train_test_split, Xin, Yin, test_size=test_size,
                              seed=0, shuffle=shuffle)

    def check(res):
        Xtr, Xte, Ytr, Yte = res
        n_test = 3 if test_size == 0.3 else int(test_size)
        assert Xte.shape == (2, n_test) and Xtr.shape == (2, 10 - n_test)
        cols = np.concatenate([Xtr, Xte], axis=1)
        idx = (cols[0] / 1).astype(int)
        assert sorted(idx.tolist()) == list(range(10))
        ys = np.concatenate([np.atleast_2d(Ytr), np.atleast_2d(Yte)], axis=1)
        np.testing.assert_array_equal(ys.ravel(), idx % 2)
        if not shuffle:
            assert idx.tolist() == list(range(10))
    C.expect_ok(out, check)


@pytest.mark.parametrize("arg,value", [
    ("test_size", True), ("test_size", "0.2"), ("test_size", 0), ("test_size", 1.0),
    ("test_size", 10), ("test_size", np.nan), ("test_size", -0.5), ("shuffle", "no"),
    ("shuffle", None), ("seed", "x"), ("X", np.ones(10)), ("Y", np.ones((1, 9))),
    ("X", None), ("Y", np.ones((1, 10, 2)))], ids=str)
def test_train_test_split_bad_arguments(arg, value):
    X, Y = _split_data()
    kwargs = {"X": X, "Y": Y, "test_size": 0.3, "seed": 0, "shuffle": True}
    kwargs[arg] = value
    C.expect_error(C.call_and_classify(datasets.train_test_split, **kwargs), arg)


# -- diagnose ------------------------------------------------------------------------------

def _diag_case():
    model = MLP([3, 5, 4, 1], hidden="tanh")
    params = C.small_problem((3, 5, 4, 1), m=8, seed=2, hidden="tanh")[0]
    rng = np.random.default_rng(2)
    X = rng.standard_normal((3, 8))
    Y = (rng.random((1, 8)) < 0.5).astype(float)
    return model, params, X, Y


@pytest.mark.parametrize("layout", ["c", "fortran", "read_only", "dataframe", "no_Y"])
def test_diagnose_layer_statistics_match_numpy(layout):
    model, params, X, Y = _diag_case()
    Xin = {"c": X, "fortran": C.fortran(X), "read_only": C.read_only(X),
           "dataframe": pd.DataFrame(X), "no_Y": X}[layout]
    args = (model, params, Xin) if layout == "no_Y" else (model, params, Xin, Y)

    def check(d):
        A = X
        x_rms = np.sqrt(np.mean(X ** 2))
        assert abs(d.input_rms - x_rms) < 1e-12
        for l in range(1, 4):
            Z = params[f"W{l}"] @ A + params[f"b{l}"]
            A = np.tanh(Z) if l < 3 else 1 / (1 + np.exp(-Z))
            rep = d.layers[l - 1]
            assert abs(rep.z_std - np.std(Z)) < 1e-12 and abs(rep.z_mean - np.mean(Z)) < 1e-12
            assert abs(rep.forward_scale - np.sqrt(np.mean(Z ** 2)) / x_rms) < 1e-12
        if layout != "no_Y":
            exp = float(C.ref_forward_cost(params, X, Y, ["tanh", "tanh"], "sigmoid"))
            assert abs(d.cost - exp) < 1e-12
    C.expect_ok(C.call_and_classify(diagnose, *args), check)


@pytest.mark.parametrize("arg,value", [
    ("model", None), ("model", "mlp"), ("threshold", 1.0), ("threshold", True),
    ("threshold", "100"), ("threshold", np.nan), ("saturation_tol", 0.5),
    ("saturation_tol", True), ("saturation_tol", "0.1"), ("X", np.zeros((3, 8))),
    ("X", np.full((3, 8), np.nan)), ("X", np.ones((8, 3))), ("Y", np.ones((2, 8))),
    ("Y", np.full((1, 8), np.inf)), ("params", None), ("X", None)], ids=str)
def test_diagnose_bad_arguments(arg, value):
    model, params, X, Y = _diag_case()
    kwargs = {"model": model, "params": params, "X": X, "Y": Y}
    kwargs[arg] = value
    C.expect_error(C.call_and_classify(diagnose, **kwargs), arg)


def _own_pass():
    """A user's own forward and backward pass (tanh, sigmoid output, BCE)."""
    model, params, X, Y = _diag_case()
    Z, A, a = [], [], X
    for l in range(1, 4):
        Z.append(params[f"W{l}"] @ a + params[f"b{l}"])
        a = np.tanh(Z[-1]) if l < 3 else 1 / (1 + np.exp(-Z[-1]))
        A.append(a)
    dZ = [None, None, (A[2] - Y) / X.shape[1]]
    for l in (2, 1):
        dZ[l - 1] = (params[f"W{l + 1}"].T @ dZ[l]) * (1 - A[l - 1] ** 2)
    return X, Z, A, dZ


@pytest.mark.parametrize("layout", ["c", "fortran", "read_only", "strided", "reversed_rows",
                                    "big_endian", "float32", "lists", "rows"])
def test_diagnose_layers_statistics_match_numpy(layout):
    X, Z, A, dZ = _own_pass()
    f = {"c": lambda a: a, "fortran": C.fortran, "read_only": C.read_only,
         "strided": C.strided, "reversed_rows": C.reversed_rows, "big_endian": C.big_endian,
         "float32": lambda a: a.astype(np.float32), "lists": lambda a: a.tolist(),
         "rows": lambda a: np.ascontiguousarray(a.T)}[layout]
    args = (f(X), [f(z) for z in Z], [f(a) for a in A], [f(g) for g in dZ])
    kw = {"activations": ["tanh", "tanh", "sigmoid"], "sample_axis": 0 if layout == "rows" else 1}
    tol = 1e-6 if layout == "float32" else 1e-12

    def check(d):
        x_rms = np.sqrt(np.mean(X ** 2))
        for l in range(1, 4):
            rep = d.layers[l - 1]
            assert abs(rep.z_std - np.std(Z[l - 1])) < tol
            assert abs(rep.forward_scale - np.sqrt(np.mean(Z[l - 1] ** 2)) / x_rms) < tol
            bwd = np.linalg.norm(dZ[l - 1]) / np.linalg.norm(dZ[2])
            assert abs(rep.backward_scale - bwd) < tol * bwd
    C.expect_ok(C.call_and_classify(diagnose_layers, *args, **kw), check)


@pytest.mark.parametrize("arg,value", [
    ("X", None), ("X", np.zeros((3, 8))), ("X", np.full((3, 8), np.nan)), ("X", np.ones(8)),
    ("Z", None), ("Z", "Z"), ("Z", []), ("Z", [np.ones((5, 7))]), ("A", None),
    ("A", [np.ones((5, 8))]), ("dZ", [np.ones((5, 8))] * 3), ("dZ", 3.0),
    ("activations", "tanh"), ("activations", ["tanh"]), ("activations", [1, 2, 3]),
    ("sample_axis", 2), ("sample_axis", True), ("threshold", 1.0), ("threshold", "100"),
    ("saturation_tol", 0.5), ("X", np.array([["a"] * 8] * 3))], ids=str)
def test_diagnose_layers_bad_arguments(arg, value):
    X, Z, A, dZ = _own_pass()
    kwargs = {"X": X, "Z": Z, "A": A, "dZ": dZ}
    kwargs[arg] = value
    C.expect_error(C.call_and_classify(diagnose_layers, **kwargs), arg)


@pytest.mark.parametrize("n_layers,weight,width", [(1, 1.5, 2), (5, 0.5, 3), (4, 2.0, 1)])
def test_deep_linear_example_is_weight_power(n_layers, weight, width):
    model, params = C.expect_ok(C.call_and_classify(deep_linear_example, n_layers, weight,
                                                    width=width))
    x = np.arange(1.0, width + 1)[:, None]
    A = x
    for l in range(1, n_layers + 1):
        A = params[f"W{l}"] @ A + params[f"b{l}"]
    np.testing.assert_allclose(A, weight ** (n_layers - 1) * x, rtol=1e-12)
    assert model.layer_dims == (width,) * (n_layers + 1)


@pytest.mark.parametrize("arg,value", [("n_layers", 0), ("n_layers", True), ("n_layers", 1.5),
                                       ("n_layers", "3"), ("weight", np.nan), ("weight", "1.5"),
                                       ("weight", True), ("width", 0), ("width", True),
                                       ("width", 2.0)], ids=str)
def test_deep_linear_example_bad_arguments(arg, value):
    kwargs = {"n_layers": 3, "weight": 1.5, "width": 2}
    kwargs[arg] = value
    C.expect_error(C.call_and_classify(deep_linear_example, **kwargs), arg)


# -- the command line ------------------------------------------------------------------------

def _cli(argv, capsys):
    from fastgrad import cli
    try:
        rc = cli.main(argv)
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("argv,flag", [
    (["check", "--seed", "x"], "--seed"), (["check", "--examples", "0"], "--examples"),
    (["check", "--layers", "3,0,1"], "--layers"), (["check", "--epsilon", "-1"], "--epsilon"),
    (["check", "--threads", "0"], "--threads"), (["check", "--keep-prob", "2"], "--keep-prob"),
    (["check", "--layers", "4,8,1", "--output", "softmax"], "--output"),
    (["check", "--l2", "nan"], "--l2"),
    (["check", "--bug", "transpose:W1"], "--bug"), (["check", "--fixed"], "--fixed"),
    (["check", "--course", "--layers", "3,4,1"], "--layers"),
    (["check", "-k", "0", "--mode", "sampled"], "-k"), (["check", "--hidden", "nope"], "--hidden"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_cli_bad_options_exit_2_naming_the_flag(argv, flag, capsys):
    rc, out, err = _cli(argv, capsys)
    assert rc == 2, f"exit status {rc} (2 means bad options); stderr: {err[-300:]}"
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert flag in lines[-1], f"the error does not name {flag}: {err[-300:]}"


def test_cli_impossible_layers_exit_2_with_one_line():
    out = C.run_limited("""
        import contextlib, io, sys
        from fastgrad import cli
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            try:
                rc = cli.main(["check", "--layers", "1,4000000000,1"])
            except SystemExit as exc:
                rc = exc.code
        text = err.getvalue().strip()
        RESULT = (rc, text)
        CHECK = bool(rc == 2 and "Traceback" not in text and len(text.splitlines()) == 1
                     and "--layers" in text)
    """, mem_bytes=1_500_000_000)
    assert out["kind"] == "ok" and out.get("check") is True, out


def test_cli_softmax_on_the_default_network_says_which_network_it_checks(capsys):
    # the default network has one output; with --output softmax (and no --layers) the CLI
    # checks a 3-class variant and prints which network that is, rather than failing
    rc, out, _ = _cli(["check", "--output", "softmax", "--threads", "1"], capsys)
    assert rc == 0
    assert "MLP([8, 32, 16, 3]" in out and "output='softmax'" in out
