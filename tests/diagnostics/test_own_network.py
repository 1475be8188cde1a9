"""diagnose_layers: the diagnosis of a network the user wrote, from the
arrays of their own forward and backward pass, against statistics computed
here in plain NumPy."""

import numpy as np
import pytest
from scipy.special import expit

from fastgrad import diagnose_layers


def course_network(scales, seed=0, m=200, hidden="relu"):
    """The course's forward and backward pass, written out: ReLU (or tanh)
    hidden layers, a sigmoid output, cross-entropy; W[l] = N(0,1)·scales[l-1]."""
    rng = np.random.default_rng(seed)
    dims = [10] + [40] * (len(scales) - 1) + [1]
    X = rng.standard_normal((dims[0], m))
    Y = (rng.random((1, m)) < 0.5).astype(float)
    W = [None] + [rng.standard_normal((dims[l], dims[l - 1])) * scales[l - 1]
                  for l in range(1, len(dims))]
    g = {"relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
         "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2)}[hidden]
    L = len(dims) - 1
    Z, A = [None], [X]
    for l in range(1, L + 1):
        Z.append(W[l] @ A[-1])
        A.append(expit(Z[-1]) if l == L else g[0](Z[-1]))
    dZ = [None] * (L + 1)
    dZ[L] = (A[L] - Y) / m
    for l in range(L - 1, 0, -1):
        dZ[l] = (W[l + 1].T @ dZ[l + 1]) * g[1](Z[l])
    return X, Z[1:], A[1:], dZ[1:]


def rms(a):
    return float(np.sqrt(np.mean(a ** 2)))


def test_statistics_are_those_of_the_arrays():
    X, Z, A, dZ = course_network([np.sqrt(2 / 10)] + [np.sqrt(2 / 40)] * 4)
    d = diagnose_layers(X, Z, A, dZ, activations=["relu"] * 4 + ["sigmoid"])
    L = len(Z)
    np.testing.assert_allclose(d.forward_scales, [rms(z) / rms(X) for z in Z], rtol=1e-12)
    np.testing.assert_allclose(
        d.backward_scales, [np.linalg.norm(g) / np.linalg.norm(dZ[-1]) for g in dZ], rtol=1e-12
    )
    As = [X] + A
    for l, r in enumerate(d.layers, start=1):
        assert r.units == Z[l - 1].shape[0]
        assert r.z_std == pytest.approx(np.std(Z[l - 1]), rel=1e-12)
        assert r.a_mean == pytest.approx(np.mean(A[l - 1]), rel=1e-12)
        assert r.grad_W_norm == pytest.approx(np.linalg.norm(dZ[l - 1] @ As[l - 1].T), rel=1e-12)
        assert r.grad_b_norm == pytest.approx(np.linalg.norm(dZ[l - 1].sum(axis=1)), rel=1e-12)
    assert d.layers[0].dead == pytest.approx(np.mean(np.all(A[0] == 0, axis=1)))
    assert d.healthy and len(d.layers) == L
    assert str(d).startswith("diagnosis of your network (5 layers)")


def test_one_layer_too_large_is_named():
    he = [np.sqrt(2 / 10)] + [np.sqrt(2 / 40)] * 4
    X, Z, A, dZ = course_network([s * (1000 if l == 2 else 1) for l, s in enumerate(he)])
    d = diagnose_layers(X, Z, A, dZ)
    assert not d.healthy and d.sources == [3]
    assert str(d).splitlines()[-1].endswith("look at the initialization of W3")


def test_rows_as_examples_give_the_same_report():
    X, Z, A, dZ = course_network([1.0] * 3, hidden="tanh")
    cols = diagnose_layers(X, Z, A, dZ, activations=["tanh", "tanh", "sigmoid"])
    rows = diagnose_layers(X.T, [z.T for z in Z], [a.T for a in A], [g.T for g in dZ],
                           activations=["tanh", "tanh", "sigmoid"], sample_axis=0)
    assert cols.to_dict() == rows.to_dict()

    class Tracked:  # a tensor that autograd tracks: np.asarray of it fails
        def __init__(self, a):
            self.a = a

        def detach(self):
            return self.a

        def __array__(self, *args, **kwargs):
            raise RuntimeError("Can't call numpy() on Tensor that requires grad")

    tracked = diagnose_layers(Tracked(X), [Tracked(z) for z in Z], [Tracked(a) for a in A],
                              [Tracked(g) for g in dZ], activations=["tanh", "tanh", "sigmoid"])
    assert tracked.to_dict() == cols.to_dict()


def test_torch_tensors_give_the_same_report():
    torch = pytest.importorskip("torch")  # the bench extra's, not the test extra's
    X, Z, A, dZ = course_network([1.0] * 3, hidden="tanh")
    cols = diagnose_layers(X, Z, A, dZ, activations=["tanh", "tanh", "sigmoid"])
    t = [torch.tensor(a.T, requires_grad=True) for a in A]
    tens = diagnose_layers(torch.tensor(X.T), [torch.tensor(z.T) for z in Z], t,
                           activations=["tanh", "tanh", "sigmoid"], sample_axis=0)
    assert tens.forward_scales.tolist() == cols.forward_scales.tolist()


def test_without_dz_there_are_no_backward_scales_and_the_inputs_are_untouched():
    X, Z, A, dZ = course_network([1.0] * 3)
    before = [a.copy() for a in [X] + Z + A]
    d = diagnose_layers(X, Z, A)
    assert np.isnan(d.backward_scales).all() and d.layers[0].grad_W_norm is None
    for a, b in zip([X] + Z + A, before):
        assert a.tobytes() == b.tobytes()
    assert d.layers[0].dead is None  # no activation names: no dead column


@pytest.mark.parametrize("call, exc, match", [
    (lambda X, Z, A: diagnose_layers(X, Z[0], A), TypeError, r"^Z\[0\] must be 2-D|^Z must"),
    (lambda X, Z, A: diagnose_layers(X, Z, A[:-1]), ValueError, r"^A must hold 3 arrays"),
    (lambda X, Z, A: diagnose_layers(X, Z, [a[:, :5] for a in A]), ValueError,
     r"^A\[0\] has 5 examples but X has 200"),
    (lambda X, Z, A: diagnose_layers(X, Z, [A[2], A[1], A[2]]), ValueError,
     r"^A\[0\] has shape .* but Z\[0\] has"),
    (lambda X, Z, A: diagnose_layers(X, Z, A, activations=["relu"]), ValueError,
     r"^activations must name the 3 layers"),
    (lambda X, Z, A: diagnose_layers(X, Z, A, sample_axis=2), ValueError, r"^sample_axis"),
    (lambda X, Z, A: diagnose_layers(X * np.nan, Z, A), ValueError, r"^X contains NaN"),
    (lambda X, Z, A: diagnose_layers(X * 0, Z, A), ValueError, r"^X is all zeros"),
    (lambda X, Z, A: diagnose_layers(X[:, :0], [z[:, :0] for z in Z], [a[:, :0] for a in A]),
     ValueError, r"^X is empty"),
    (lambda X, Z, A: diagnose_layers(X, "Z", A), TypeError, r"^Z must be a list"),
    (lambda X, Z, A: diagnose_layers(X, [], A), ValueError, r"^Z must hold at least one"),
])
def test_bad_arrays_are_named(call, exc, match):
    X, Z, A, _ = course_network([1.0] * 3)
    with pytest.raises(exc, match=match):
        call(X, Z, A)
