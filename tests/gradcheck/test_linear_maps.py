"""The compiled build of the exact linear maps (csrc/gradcheck/_maps.pxi)
is the NumPy reference (fastgrad/gradcheck/linear_maps.py) to rounding, with
the same bits on any thread count; and the batch-normalized tail's constants."""

import numpy as np
import pytest

from fastgrad import MLP
from fastgrad.gradcheck.linear_maps import bn_tail, linear_maps
from fastgrad.gradcheck.mlp import KernelInputs

NETS = [
    ([3, 4, 3, 2], "relu", 1.0, 5),
    ([5, 6, 7, 5, 3], "leaky_relu", 0.7, 9),
    ([4] + [6] * 6 + [1], "relu", 1.0, 20),  # one output: NumPy's GEMV dispatch
    ([8, 9, 7, 6, 2], ["relu", "linear", "leaky_relu"], 0.8, 33),
    ([3, 4, 1, 3, 1], "relu", 1.0, 6),  # a one-unit hidden layer: dot and K = 1
    ([3, 2, 100, 1], "relu", 1.0, 3),  # a narrow layer before a wide one
]


@pytest.mark.parametrize("dims,hidden,keep,m", NETS)
def test_compiled_maps_are_the_numpy_reference(dims, hidden, keep, m):
    model = MLP(dims, hidden=hidden, keep_prob=keep)
    params = model.init_params("he", seed=1)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((dims[0], m))
    Y = (rng.random((dims[-1], m)) < 0.5).astype(float)
    scales = model.dropout_scales(m, 3, True)
    ki = KernelInputs(model, params, X, Y, 1e-7, scales)
    ref = linear_maps(model, params, ki.cache.Z, scales, ki.mappable)
    assert any(s is not None for s in ref[0])
    one = linear_maps(model, params, ki.cache.Z, scales, ki.mappable, 1, ki.net)
    two = linear_maps(model, params, ki.cache.Z, scales, ki.mappable, 2, ki.net)
    assert np.array_equal(ref[2], one[2])
    for a, b, c in zip(ref[0] + ref[1], one[0] + one[1], two[0] + two[1]):
        assert (a is None) == (b is None)
        if a is not None:
            # The same arithmetic; NumPy's and SciPy's BLAS builds may round a
            # GEMM differently, so the reference is met to rounding. Threads
            # never change a bit.
            np.testing.assert_allclose(b, a, rtol=1e-14, atol=1e-300)
            assert np.array_equal(b.view(np.uint64), c.view(np.uint64))


def test_build_maps_refuses_a_smooth_downstream_by_name():
    model = MLP([3, 4, 3, 2, 1], hidden=["relu", "tanh", "relu"])
    params = model.init_params("he", seed=1)
    X, Y = np.ones((3, 4)), np.ones((1, 4))
    net = KernelInputs(model, params, X, Y, 1e-7).net
    with pytest.raises(ValueError, match="layers"):
        net.build_maps([0], [None] * 4, [None] * 4, 1)


def test_the_bn_tail_exists_only_for_a_piecewise_linear_normalized_last_hidden_layer():
    X = np.random.default_rng(0).standard_normal((3, 6))
    for hidden, bn, expected in [("relu", [2], True), ("tanh", [2], False), ("relu", [1], False)]:
        model = MLP([3, 4, 5, 1], hidden=hidden, batchnorm=bn)
        params = model.init_params("he", seed=0)
        tail = bn_tail(model, model.forward_cache(params, X))
        assert (tail is not None) == expected
    # The constants, from their definitions.
    model = MLP([3, 4, 5, 1], hidden="leaky_relu", batchnorm=[2])
    c = model.forward_cache(model.init_params("he", seed=0), X)
    s, sc, zinv, cz = bn_tail(model, c)
    Z = c.Z[2]
    slope = np.where(Z > 0, 1.0, 0.01)
    np.testing.assert_array_equal(s, slope.ravel())
    np.testing.assert_array_equal(sc, (slope * c.centered[2]).ravel())
    np.testing.assert_array_equal(zinv, 1 / np.abs(Z).min(axis=1))
    np.testing.assert_array_equal(cz, (np.abs(c.centered[2]) / np.abs(Z)).max(axis=1))
