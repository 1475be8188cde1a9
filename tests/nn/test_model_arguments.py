"""Bad arguments to MLP and its data checks: a clear TypeError/ValueError
naming the argument, never a raw error from deeper down; inputs never written.

Convention: the wrong kind of value (None, a string, a bool, a float where a
count belongs) is a TypeError; the right kind out of range is a ValueError.
An entry of ``layer_dims`` that is not a count is a ValueError (the argument
is a list, as asked; one value in it is wrong), as it always was.
"""
import warnings

import numpy as np
import pytest
import scipy.sparse

from fastgrad import MLP, gradient_check

NAN, INF = float("nan"), float("inf")


def snapshot(*arrays):
    return [(a.shape, a.dtype, a.strides, a.tobytes()) for a in arrays]


@pytest.mark.parametrize("dims, exc, match", [
    (None, TypeError, r"layer_dims must be a list of ints.*None \(NoneType\)"),
    (5, TypeError, r"layer_dims must be a list of ints.*5 \(int\)"),
    ("3,4,1", TypeError, r"layer_dims .*'3,4,1' \(str\)"),
    (b"341", TypeError, r"layer_dims"),
    ({3: 1, 4: 1}, TypeError, r"layer_dims .*\(dict\)"),
    ({3, 4}, TypeError, r"layer_dims .*\(set\)"),
    ([3, NAN, 1], ValueError, r"layer_dims\[1\] must be an int .*nan \(float\)"),
    ([3, INF, 1], ValueError, r"layer_dims\[1\] must be an int"),
    ([3, 0, 1], ValueError, r"layer_dims\[1\] must be a positive number of units, got 0"),
    ([3, -4, 1], ValueError, r"layer_dims\[1\] must be a positive"),
    ([3.5, 2], ValueError, r"layer_dims\[0\] must be an int .*3.5 \(float\)"),
    ([3.0, 2], ValueError, r"layer_dims\[0\] must be an int"),
    ([True, 2], ValueError, r"layer_dims\[0\] must be an int .*True \(bool\)"),
    ([3, "2"], ValueError, r"layer_dims\[1\] must be an int .*'2' \(str\)"),
    ([3, None], ValueError, r"layer_dims\[1\]"),
    ([3, 1 + 2j], ValueError, r"layer_dims\[1\]"),
    ([3], ValueError, r"layer_dims needs at least 2 entries"),
    ([], ValueError, r"layer_dims needs at least 2 entries"),
    (np.array([[3, 4, 1]]), ValueError, r"layer_dims must be a 1-D list.*\(1, 3\)"),
    (np.array([3.0, 4.0, 1.0]), ValueError, r"layer_dims\[0\] must be an int"),
])
def test_bad_layer_dims(dims, exc, match):
    with pytest.raises(exc, match=match):
        MLP(dims)


@pytest.mark.parametrize("dims", [[3, 4, 1], (3, 4, 1), np.array([3, 4, 1]), range(3, 0, -1),
                                  [np.int64(3), np.int32(4), np.uint8(1)]])
def test_good_layer_dims(dims):
    model = MLP(dims)
    assert model.layer_dims == tuple(int(d) for d in dims)
    assert all(type(d) is int for d in model.layer_dims)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(hidden=None), TypeError, r"hidden must be an activation name"),
    (dict(hidden=5), TypeError, r"hidden must be an activation name"),
    (dict(hidden=b"relu"), TypeError, r"hidden must be an activation name"),
    (dict(hidden=[["relu"]]), TypeError, r"hidden activation must be a name"),
    (dict(hidden=[None]), TypeError, r"hidden activation must be a name"),
    (dict(hidden="RELU"), ValueError, r"unknown hidden activation 'RELU'.*relu"),
    (dict(hidden="swish"), ValueError, r"unknown hidden activation 'swish'"),
    (dict(hidden=["relu", "tanh"]), ValueError, r"hidden has 2 activations .* 1 hidden"),
    (dict(hidden=[]), ValueError, r"hidden has 0 activations"),
    (dict(output=None), TypeError, r"output must be a name"),
    (dict(output=["sigmoid"]), TypeError, r"output must be a name"),
    (dict(output="tanh"), ValueError, r"unknown output 'tanh'"),
    (dict(output="softmax"), ValueError, r"softmax output needs at least 2 units.*\[3, 4, 1\]"),
    (dict(l2=True), TypeError, r"l2 must be a real number, got True \(bool\)"),
    (dict(l2="0.1"), TypeError, r"l2 must be a real number, got '0.1' \(str\)"),
    (dict(l2=None), TypeError, r"l2 must be a real number"),
    (dict(l2=[0.1]), TypeError, r"l2 must be a real number"),
    (dict(l2=1j), TypeError, r"l2 must be a real number"),
    (dict(l2=NAN), ValueError, r"l2 must be a finite number >= 0, got nan"),
    (dict(l2=INF), ValueError, r"l2 must be a finite number >= 0"),
    (dict(l2=-0.1), ValueError, r"l2 must be a finite number >= 0"),
    (dict(keep_prob=None), TypeError, r"keep_prob must be a number in \(0, 1\]"),
    (dict(keep_prob="0.5"), TypeError, r"keep_prob .*'0.5' \(str\)"),
    (dict(keep_prob=True), TypeError, r"keep_prob .*True \(bool\)"),
    (dict(keep_prob=[True]), TypeError, r"keep_prob must be a real number"),
    (dict(keep_prob=NAN), ValueError, r"keep_prob must be in \(0, 1\]"),
    (dict(keep_prob=0), ValueError, r"keep_prob must be in \(0, 1\]"),
    (dict(keep_prob=1.5), ValueError, r"keep_prob must be in \(0, 1\]"),
    (dict(keep_prob=-0.5), ValueError, r"keep_prob must be in \(0, 1\]"),
    (dict(keep_prob=[0.5, 0.5]), ValueError, r"keep_prob has 2 values .* 1 hidden"),
    (dict(batchnorm="1"), TypeError, r"batchnorm must be a list of hidden-layer numbers"),
    (dict(batchnorm=1.0), TypeError, r"batchnorm must be a list"),
    (dict(batchnorm={1: 2}), TypeError, r"batchnorm must be a list"),
    (dict(batchnorm=[True]), TypeError, r"batchnorm must list hidden-layer numbers .*bool"),
    (dict(batchnorm=[1.0]), TypeError, r"batchnorm must list hidden-layer numbers .*float"),
    (dict(batchnorm=[2]), ValueError, r"batchnorm lists hidden layers 1..1"),
    (dict(batchnorm=[0]), ValueError, r"batchnorm lists hidden layers 1..1"),
    (dict(batchnorm=[1, 1]), ValueError, r"batchnorm lists a layer twice"),
    (dict(batchnorm=[1], bn_momentum=True), TypeError, r"bn_momentum must be a real number"),
    (dict(batchnorm=[1], bn_momentum="0.9"), TypeError, r"bn_momentum must be a real number"),
    (dict(batchnorm=[1], bn_momentum=NAN), ValueError, r"bn_momentum must be a finite number in \[0, 1\)"),
    (dict(batchnorm=[1], bn_momentum=1.0), ValueError, r"bn_momentum"),
    (dict(batchnorm=[1], bn_epsilon=True), TypeError, r"bn_epsilon must be a real number"),
    (dict(batchnorm=[1], bn_epsilon=0.0), ValueError, r"bn_epsilon must be a finite number > 0"),
    (dict(batchnorm=[1], bn_epsilon=INF), ValueError, r"bn_epsilon"),
])
def test_bad_options(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        MLP([3, 4, 1], **kwargs)


def test_keep_prob_without_hidden_layer():
    with pytest.raises(ValueError, match="keep_prob < 1 needs a hidden layer"):
        MLP([3, 1], keep_prob=0.5)


@pytest.mark.parametrize("kwargs, attr, value", [
    (dict(l2=np.float64(0.1)), "l2", 0.1),
    (dict(l2=np.array(0.1)), "l2", 0.1),
    (dict(l2=1), "l2", 1.0),
    (dict(keep_prob=np.float32(0.5)), "keep_prob", (0.5,)),
    (dict(keep_prob=np.array(0.5)), "keep_prob", (0.5,)),
    (dict(keep_prob=[0.5]), "keep_prob", (0.5,)),
    (dict(batchnorm=np.int64(1)), "batchnorm", (1,)),
    (dict(batchnorm=[np.int64(1)]), "batchnorm", (1,)),
    (dict(batchnorm=True), "batchnorm", (1,)),
    (dict(batchnorm=None), "batchnorm", ()),
])
def test_numpy_scalars_accepted(kwargs, attr, value):
    model = MLP([3, 4, 1], **kwargs)
    assert getattr(model, attr) == value
    assert all(type(v) in (int, float) for v in np.atleast_1d(getattr(model, attr)).tolist())


# -- data ---------------------------------------------------------------------
@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    model = MLP([3, 4, 1])
    params = model.init_params(seed=0)
    X = rng.standard_normal((3, 6))
    Y = (rng.random((1, 6)) < 0.5).astype(float)
    return model, params, X, Y


def _bad_X(X):
    return {
        "masked": (np.ma.masked_array(X, mask=np.eye(3, 6, dtype=bool)), TypeError, "X is a numpy masked array"),
        "masked-no-mask": (np.ma.masked_array(X), TypeError, "masked array"),
        "sparse": (scipy.sparse.csr_matrix(X), TypeError, r"X is a scipy.sparse matrix.*toarray"),
        "complex": (X + 1j, TypeError, "X must hold real numbers"),
        "object": (X.astype(object), TypeError, "X must hold real numbers"),
        "strings": (X.astype(str), TypeError, "X must hold real numbers"),
        "nan": (np.where(np.eye(3, 6) > 0, np.nan, X), ValueError, r"X contains NaN or inf .*\(0, 0\)"),
        "inf": (np.where(np.eye(3, 6) > 0, np.inf, X), ValueError, "X contains NaN or inf"),
        "transposed": (X.T, ValueError, r"X must have shape \(n_x=3, m\)"),
        "1-D": (X[0], ValueError, r"X must have shape"),
        "3-D": (X[None], ValueError, r"X must have shape"),
        "empty": (X[:, :0], ValueError, r"X has no examples"),
        "None": (None, TypeError, "X must hold real numbers, got NoneType$"),
    }


@pytest.mark.parametrize("case", list(_bad_X(np.zeros((3, 6)))))
@pytest.mark.parametrize("method", ["cost", "backward", "forward"])
def test_bad_X(problem, case, method):
    model, params, X, Y = problem
    bad, exc, match = _bad_X(X)[case]
    before = snapshot(X, Y, *params.values())
    with pytest.raises(exc, match=match):
        if method == "forward":
            model.forward(params, bad)
        else:
            getattr(model, method)(params, bad, Y)
    assert snapshot(X, Y, *params.values()) == before


@pytest.mark.parametrize("bad, exc, match", [
    ("masked", TypeError, "Y is a numpy masked array"),
    ("nan", ValueError, "Y contains NaN"),
    ("shape", ValueError, r"Y must have shape \(n_L=1, m=6\)"),
    ("complex", TypeError, "Y must hold real numbers"),
])
def test_bad_Y(problem, bad, exc, match):
    model, params, X, Y = problem
    Ybad = {"masked": np.ma.masked_array(Y, mask=Y > 0), "nan": Y * np.nan,
            "shape": Y[:, :5], "complex": Y + 0j}[bad]
    with pytest.raises(exc, match=match):
        model.cost(params, X, Ybad)


def _fit_briefly(model, params, X, Y):
    from fastgrad.optim import Adam, fit

    return fit(model, params, X, Y, optimizer=Adam(0.05), num_epochs=2, seed=0)


TARGET_USES = {
    "cost": lambda model, params, X, Y: model.cost(params, X, Y),
    "backward": lambda model, params, X, Y: model.backward(params, X, Y),
    "gradient_check": lambda model, params, X, Y: gradient_check(
        model, params, model.backward(params, X, Y[:, :6] * 0), X, Y
    ),
    "fit": _fit_briefly,
}


@pytest.mark.parametrize("use", list(TARGET_USES))
@pytest.mark.parametrize("output, Y, match", [
    # labels {1, 2}: the binary cross-entropy has no minimum; training ran to -inf
    ("sigmoid", np.array([[1.0, 2, 1, 2, 2, 1]]), r"targets in \[0, 1\].*got values in \[1.0, 2.0\]"),
    ("sigmoid", np.array([[-1.0, 1, 1, -1, 1, 1]]), r"targets in \[0, 1\].*\[-1.0, 1.0\]"),
    ("sigmoid", np.array([[0.0, 1, 1 + 1e-9, 0, 1, 1]]), r"\[0.0, 1.000000001\]"),
    ("softmax", np.array([[1.0, 0, 1, 0, 1, 0], [0, 1, 0, 1, -0.5, 1]]), "non-negative targets"),
])
def test_targets_without_a_minimum_of_the_loss_are_refused(use, output, Y, match):
    rng = np.random.default_rng(0)
    model = MLP([3, 4, Y.shape[0]], output=output)
    params = model.init_params(seed=0)
    X = rng.standard_normal((3, 6))
    before = snapshot(X, Y, *params.values())
    with pytest.raises(ValueError, match=match):
        TARGET_USES[use](model, params, X, Y)
    assert snapshot(X, Y, *params.values()) == before


@pytest.mark.parametrize("output, Y", [
    ("sigmoid", np.array([[0.0, 1, 0.25, 0.5, 1, 0.9]])),  # soft labels
    ("sigmoid", np.array([[0.0, 1 + 2.2e-16, 0.25, 0.5, 1, -1e-17]])),  # rounded ones
    ("softmax", np.array([[0.9, 0.05, 1, 0, 2, 0], [0.1, 0.95, 0, 1, 0, 0]])),  # weights
    ("linear", np.array([[-3.0, 7, 0.5, 1e3, -1e3, 0]])),  # any real
])
def test_targets_the_loss_can_take_are_accepted(output, Y):
    rng = np.random.default_rng(1)
    model = MLP([3, 4, Y.shape[0]], output=output)
    params = model.init_params(seed=0)
    X = rng.standard_normal((3, 6))
    # the loss written out here, with NumPy, from its definition
    A = model.forward(params, X)
    if output == "sigmoid":
        expected = -np.mean(np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A), axis=0))
    elif output == "softmax":
        expected = -np.mean(np.sum(Y * np.log(A), axis=0))
    else:
        expected = 0.5 * np.mean(np.sum((A - Y) ** 2, axis=0))
    assert model.cost(params, X, Y) == pytest.approx(expected, rel=1e-12)
    assert gradient_check(model, params, model.backward(params, X, Y), X, Y).verdict == "great"


def test_masked_parameter_refused(problem):
    model, params, X, Y = problem
    params = dict(params, W1=np.ma.masked_array(params["W1"]))
    with pytest.raises(TypeError, match=r"params\['W1'\] is a numpy masked array"):
        model.cost(params, X, Y)


def _layouts(X):
    F = np.asfortranarray(X)
    wide = np.zeros((X.shape[0], 2 * X.shape[1]))
    wide[:, ::2] = X
    ro = X.copy()
    ro.flags.writeable = False
    rec = np.zeros(X.shape, dtype=[("a", "f8"), ("b", "i4")])
    rec["a"] = X
    return {"C": X.copy(), "F": F, "strided": wide[:, ::2], "read-only": ro,
            "record-field": rec["a"], "float32": X.astype(np.float32),
            "float16": X.astype(np.float16).astype(np.float16), "list": X.tolist()}


@pytest.mark.parametrize("layout", list(_layouts(np.zeros((3, 6)))))
def test_layouts_give_the_same_cost_and_are_not_written(problem, layout):
    model, params, X, Y = problem
    Xl = _layouts(X)[layout]
    Xref = np.array(Xl, dtype=np.float64)
    before = snapshot(np.asarray(Xl), Y, *params.values())
    read_only = {k: v.copy() for k, v in params.items()}
    for v in read_only.values():
        v.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # float16/float32 upcast notice
        cost = model.cost(read_only, Xl, Y)
        grads = model.backward(read_only, Xl, Y)
    # an independent plain-NumPy forward pass on float64 data
    A1 = np.maximum(params["W1"] @ Xref + params["b1"], 0)
    Z2 = params["W2"] @ A1 + params["b2"]
    ref = np.mean(np.logaddexp(0, Z2) - Y * Z2)
    assert cost == pytest.approx(ref, rel=1e-13)
    assert set(grads) == {"dW1", "db1", "dW2", "db2"}
    assert snapshot(np.asarray(Xl), Y, *params.values()) == before
