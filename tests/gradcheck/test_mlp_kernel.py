"""The typed kernel contract (csrc/gradcheck/_mlp_kernel.pyx, MLPNet): a
layout drift is a ValueError naming the array, never a read of the wrong
memory; and the kernel's numbers match an independent long-double finite
difference."""
import re

import numpy as np
import pytest

from fastgrad import MLP
from fastgrad.gradcheck import _mlp_kernel
from fastgrad.gradcheck.mlp import KernelInputs


def _inputs(hidden="tanh", output="sigmoid", batchnorm=()):
    model = MLP([3, 4, 2], hidden=hidden, output=output, batchnorm=batchnorm)
    rng = np.random.default_rng(0)
    params = model.init_params("xavier", seed=0)
    X = rng.standard_normal((3, 5))
    Y = (rng.random((2, 5)) < 0.5).astype(float)
    return model, params, X, Y


def _arrays(model, params, X, Y):
    c = model.forward_cache(params, X)
    flat = lambda a: np.ascontiguousarray(a).reshape(-1)  # noqa: E731
    return dict(
        weights=[flat(params["W1"]), flat(params["W2"])],
        dims=np.asarray(model.layer_dims, dtype=np.intp),
        codes=[a.code for a in model.activations] + [model.output_layer.code],
        Z=[flat(c.Z[1]), flat(c.Z[2])], A=[flat(c.A[0]), flat(c.A[1])], G=[flat(c.G[1])],
        slope=[flat(1 / np.cosh(c.Z[1]) ** 2)], scale=[None], bn_centered=[None],
        bn_normalized=[None], bn_std=[None], gamma=[None], out=flat(c.A[2]), y=flat(Y),
        ysum=flat(Y.sum(axis=0)))


def _net(a):
    a = dict(a)
    weights, dims, codes = a.pop("weights"), a.pop("dims"), a.pop("codes")
    return _mlp_kernel.MLPNet(weights, dims, codes, 0.01, 0.0, 1e-7, **a)


@pytest.mark.parametrize("name,bad", [
    ("weights[0]", lambda a: a["weights"][0][:-1]),
    ("weights[1]", lambda a: np.concatenate([a["weights"][1], [0.0]])),
    ("Z[1]", lambda a: a["Z"][1][:-1]),
    ("A[0]", lambda a: np.concatenate([a["A"][0], [0.0]])),
    ("slope[0]", lambda a: a["slope"][0][:3]),
    ("out", lambda a: a["out"][:-2]),
    ("ysum", lambda a: a["ysum"][:-1]),
])
def test_a_length_that_drifts_is_refused_by_name(name, bad):
    model, params, X, Y = _inputs()
    a = _arrays(model, params, X, Y)
    key = name.split("[")[0]
    if "[" in name:
        i = int(name[name.index("[") + 1])
        a[key] = list(a[key])
        a[key][i] = bad(a)
    else:
        a[key] = bad(a)
    if key == "ysum":  # m is read from ysum: every (n, m) array then disagrees
        name = "out"
    with pytest.raises(ValueError, match="MLPNet: " + re.escape(name) + " has"):
        _net(a)


def test_wrong_layer_counts_and_codes_are_refused():
    model, params, X, Y = _inputs()
    a = _arrays(model, params, X, Y)
    with pytest.raises(ValueError, match="Z has 1 layers"):
        _net({**a, "Z": a["Z"][:1]})
    with pytest.raises(ValueError, match="codes has 1 entries"):
        _net({**a, "codes": a["codes"][:1]})
    with pytest.raises(ValueError, match="not an activation code"):
        _net({**a, "codes": [99, a["codes"][1]]})
    with pytest.raises(ValueError, match="not an output code"):
        _net({**a, "codes": [a["codes"][0], 7]})


def test_coordinates_outside_theta_are_refused():
    model, params, X, Y = _inputs()
    net = _net(_arrays(model, params, X, Y))
    net.set_linear_maps([None, None], [None, None], np.zeros(2, dtype=np.intp))
    out = np.empty(1)
    with pytest.raises(ValueError, match="outside θ"):
        _mlp_kernel.mlp_numerical_gradient(net, np.array([26], dtype=np.intp), out,
                                           np.zeros(1, np.uint8), 1)
    with pytest.raises(ValueError, match="outside θ"):
        _mlp_kernel.mlp_numerical_gradient(net, None, np.empty(2), np.zeros(2, np.uint8), 1,
                                           start=25)


def test_the_kernel_matches_a_long_double_difference():
    model, params, X, Y = _inputs()
    net = KernelInputs(model, params, X, Y, 1e-6).net
    net.set_linear_maps([None, None], [None, None], np.zeros(2, dtype=np.intp))
    P = 26
    out = np.empty(P)
    _mlp_kernel.mlp_numerical_gradient(net, np.arange(P, dtype=np.intp), out,
                                       np.zeros(P, np.uint8), 2)
    names = list(model.param_shapes())
    L = {k: params[k].astype(np.longdouble) for k in names}

    def J(p):
        A1 = np.tanh(p["W1"] @ X + p["b1"])
        Z2 = p["W2"] @ A1 + p["b2"]
        return np.sum(np.logaddexp(0, Z2) - Y * Z2) / 5

    ref, i = np.empty(P), 0
    for k in names:
        for idx in np.ndindex(params[k].shape):
            up = {n: v.copy() for n, v in L.items()}
            dn = {n: v.copy() for n, v in L.items()}
            up[k][idx] += 1e-6
            dn[k][idx] -= 1e-6
            ref[i] = (J(up) - J(dn)) / 2e-6
            i += 1
    np.testing.assert_allclose(out, ref, rtol=1e-7, atol=1e-10)


def test_a_range_of_coordinates_is_the_index_array_to_the_bit():
    """``coords=None, start=s`` runs s, s+1, ... with no index array: the
    same bits and kinks as the array, and the flops add up over a split and
    do not depend on the threads (a per-thread integer sum)."""
    model, params, X, Y = _inputs()
    net = KernelInputs(model, params, X, Y, 1e-6).net
    net.set_linear_maps([None, None], [None, None], np.zeros(2, dtype=np.intp))
    P = 26
    run = _mlp_kernel.mlp_numerical_gradient
    by_index, kinks_i = np.empty(P - 3), np.full(P - 3, 7, np.uint8)
    flops_i = run(net, np.arange(3, P, dtype=np.intp), by_index, kinks_i, 1)
    by_range, kinks_r = np.empty(P - 3), np.full(P - 3, 7, np.uint8)
    flops_r = run(net, None, by_range, kinks_r, 2, start=3)
    assert by_index.tobytes() == by_range.tobytes()
    assert np.array_equal(kinks_i, kinks_r) and set(kinks_r.tolist()) <= {0, 1}
    head = run(net, None, np.empty(7), np.empty(7, np.uint8), 2, start=3)
    tail = run(net, None, np.empty(P - 10), np.empty(P - 10, np.uint8), 1, start=10)
    assert flops_i == flops_r == head + tail > 0


def test_a_scratch_pool_kept_across_pieces_gives_the_same_bits():
    """Pieces run with one ScratchPool (each thread's scratch reused, not
    cleared) give the bits of one call without a pool; a pool with fewer
    slots than threads is refused."""
    model, params, X, Y = _inputs()
    net = KernelInputs(model, params, X, Y, 1e-6).net
    net.set_linear_maps([None, None], [None, None], np.zeros(2, dtype=np.intp))
    P = 26
    run = _mlp_kernel.mlp_numerical_gradient
    whole = np.empty(P)
    run(net, None, whole, np.empty(P, np.uint8), 1)
    pool = _mlp_kernel.ScratchPool(2)
    pieces = np.empty(P)
    for s, e in ((0, 5), (5, 6), (6, P)):
        run(net, None, pieces[s:e], np.empty(e - s, np.uint8), 2, start=s, pool=pool)
    assert whole.tobytes() == pieces.tobytes()
    many = np.tile(np.arange(P, dtype=np.intp), 6)  # enough chunks for 2 threads
    with pytest.raises(ValueError, match="pool has 1 slots"):
        run(
            net,
            many,
            np.empty(many.size),
            np.empty(many.size, np.uint8),
            2,
            pool=_mlp_kernel.ScratchPool(1),
        )
    again = np.empty(many.size)
    run(net, many, again, np.empty(many.size, np.uint8), 2, pool=pool)
    assert again.tobytes() == np.tile(whole, 6).tobytes()


def test_a_scratch_pool_follows_another_network():
    """A pool's slots are sized by the network it last ran: a larger one
    (which would run past them) or a smaller one gets slots of its own
    sizes, and the bits of a fresh pool."""
    pool = _mlp_kernel.ScratchPool(1)
    nets = []
    for m in (2, 40, 3):
        model, params, _, _ = _inputs()
        rng = np.random.default_rng(m)
        X = rng.standard_normal((3, m))
        Y = (rng.random((2, m)) < 0.5).astype(float)
        net = KernelInputs(model, params, X, Y, 1e-6).net
        net.set_linear_maps([None, None], [None, None], np.zeros(2, dtype=np.intp))
        nets.append(net)
    run = _mlp_kernel.mlp_numerical_gradient
    sizes = []
    for net in nets:
        shared, fresh = np.empty(26), np.empty(26)
        run(net, None, shared, np.empty(26, np.uint8), 1, pool=pool)
        sizes.append(pool.nbytes)
        run(net, None, fresh, np.empty(26, np.uint8), 1)
        assert shared.tobytes() == fresh.tobytes()
    assert sizes[0] < sizes[1] and sizes[2] < sizes[1]
    assert sizes == [net.scratch_bytes() for net in nets]


def test_an_idle_pool_is_reused_by_the_next_run_and_bounded():
    """give_pool keeps a finished run's pool for take_pool (one with enough
    slots), only up to IDLE_POOL_BYTES; a pool with too few slots is not
    handed out."""
    _mlp_kernel._idle[0] = None  # (an earlier check's idle pool)
    pool = _mlp_kernel.take_pool(2)
    _mlp_kernel.give_pool(pool)
    assert _mlp_kernel.take_pool(2) is pool
    assert _mlp_kernel.take_pool(2) is not pool  # taken: no longer idle
    _mlp_kernel.give_pool(pool)
    assert _mlp_kernel.take_pool(3) is not pool  # too few slots
    model, params, X, Y = _inputs()
    net = KernelInputs(model, params, X, Y, 1e-6).net
    net.set_linear_maps([None, None], [None, None], np.zeros(2, dtype=np.intp))
    big = _mlp_kernel.ScratchPool(1)
    _mlp_kernel.mlp_numerical_gradient(net, None, np.empty(26), np.empty(26, np.uint8), 1,
                                       pool=big)
    assert big.nbytes == net.scratch_bytes() > 0
    old = _mlp_kernel.IDLE_POOL_BYTES
    try:
        _mlp_kernel.IDLE_POOL_BYTES = big.nbytes - 1
        _mlp_kernel.give_pool(big)
        assert _mlp_kernel.take_pool(1) is not big
        _mlp_kernel.IDLE_POOL_BYTES = big.nbytes
        _mlp_kernel.give_pool(big)
        assert _mlp_kernel.take_pool(1) is big
    finally:
        _mlp_kernel.IDLE_POOL_BYTES = old


def test_spare_arrays_are_reused_within_bounds():
    """A dropped net's jet arrays serve the next request of between n and 2n
    entries, the smallest first; nothing beyond IDLE_POOL_BYTES is kept."""
    import gc

    spare_empty, give = _mlp_kernel._spare_empty, _mlp_kernel._give_spares
    gc.collect()  # no earlier net freed mid-test gives its arrays back
    del _mlp_kernel._spares[:]
    a, b = np.empty(1000), np.empty(600)
    give([a, None, b[:500]])
    assert spare_empty(1001) is not a and spare_empty(250).base is not b  # too big / too small
    got = spare_empty(500)
    assert got.base is b and got.shape == (500,)
    assert spare_empty(700).base is a
    assert _mlp_kernel._spares == []
    old = _mlp_kernel.IDLE_POOL_BYTES
    try:
        _mlp_kernel.IDLE_POOL_BYTES = 1000 * 8
        give([np.empty(600), np.empty(600)])
        assert [x.size for x in _mlp_kernel._spares] == [600]
    finally:
        _mlp_kernel.IDLE_POOL_BYTES = old
        del _mlp_kernel._spares[:]


def test_jets_from_spare_arrays_give_the_same_bits():
    """Checks after checks (jets built in the arrays a dropped net left
    behind, scratch from the idle pool) give the bits of the first."""
    import fastgrad

    rng = np.random.default_rng(5)
    model = fastgrad.MLP([6, 9, 5, 1], hidden="tanh")
    params = model.init_params("xavier", seed=1)
    X = rng.standard_normal((6, 40))
    Y = (rng.random((1, 40)) < 0.5).astype(float)
    grads = model.backward(params, X, Y)
    del _mlp_kernel._spares[:]
    first = fastgrad.gradient_check(model, params, grads, X, Y, n_threads=2)
    assert _mlp_kernel._spares  # the first check's jets were given back
    for nt in (1, 2, 1):
        again = fastgrad.gradient_check(model, params, grads, X, Y, n_threads=nt)
        for k in first.numerical:
            assert first.numerical[k].tobytes() == again.numerical[k].tobytes()


def test_the_kernel_refuses_fewer_than_one_thread():
    """n_threads < 1 reaches the kernel only when called directly (gradient_check
    resolves it first); it is a ValueError, not a crash."""
    model, params, X, Y = _inputs()
    net = KernelInputs(model, params, X, Y, 1e-6).net
    net.set_linear_maps([None, None], [None, None], np.zeros(2, dtype=np.intp))
    for bad in (0, -1):
        with pytest.raises(ValueError, match="n_threads must be >= 1"):
            _mlp_kernel.mlp_numerical_gradient(net, None, np.empty(3), np.empty(3, np.uint8), bad)
