"""The kernel's Taylor jets (csrc/gradcheck/_jets.pxi) give THE two-sided
finite difference at the requested ε: compared with an independent naive
difference in long double, at ε = 1e-7, 1e-3 and 1e-2 (where the curvature
term is far above the tolerance, so the gradient dressed up as a difference
would fail), for tanh/sigmoid/mixed activations, depths 1–8, every output,
L2, dropout and batch norm; the same bits for 1 and 2 threads and for any
shard of the coordinates run with the same plan."""

import numpy as np
import pytest

from fastgrad import MLP, gradient_check
from fastgrad.gradcheck import _mlp_kernel, jets
from fastgrad.gradcheck.mlp import KernelInputs
from fastgrad.nn.activations import LEAKY_SLOPE

LD = np.longdouble


def _ld_act(name, Z):
    if name == "tanh":
        return np.tanh(Z)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-Z))
    if name == "relu":
        return np.maximum(Z, 0)
    if name == "leaky_relu":
        return np.where(Z > 0, Z, LEAKY_SLOPE * Z)
    if name == "linear":
        return Z
    raise AssertionError(name)


def _ld_cost(spec, p, X, Y, scales):
    """J in long double, written from the definitions (not the model's code)."""
    hidden, output, bn, l2, bn_eps = spec
    L = len(hidden) + 1
    m = X.shape[1]
    A = X
    for l in range(1, L + 1):
        U = p[f"W{l}"] @ A
        if l in bn:
            c = U - U.mean(axis=1, keepdims=True)
            Z = p[f"gamma{l}"] * c / np.sqrt((c * c).mean(axis=1, keepdims=True) + bn_eps)
            Z = Z + p[f"beta{l}"]
        else:
            Z = U + p[f"b{l}"]
        if l < L:
            A = _ld_act(hidden[l - 1], Z)
            if scales and l in scales:
                A = A * scales[l]
    if output == "sigmoid":
        loss = np.sum(np.logaddexp(LD(0), Z) - Y * Z)
    elif output == "softmax":
        top = Z.max(axis=0)
        lse = top + np.log(np.sum(np.exp(Z - top), axis=0))
        loss = np.sum(Y.sum(axis=0) * lse) - np.sum(Y * Z)
    else:
        loss = np.sum((Z - Y) ** 2) / 2
    reg = sum(np.sum(p[f"W{l}"] ** 2) for l in range(1, L + 1)) * LD(l2) / (2 * m)
    return loss / m + reg


def _ld_difference(spec, params, X, Y, scales, eps, coords):
    """Naive two-sided differences in long double at the coordinates."""
    names = list(params)
    p0 = {k: params[k].astype(LD) for k in names}
    Xl, Yl = X.astype(LD), Y.astype(LD)
    sl = {l: s.astype(LD) for l, s in scales.items()} if scales else None
    where = [(k, idx) for k in names for idx in np.ndindex(params[k].shape)]
    out = np.empty(len(coords))
    for c, q in enumerate(coords):
        k, idx = where[q]
        up = dict(p0, **{k: p0[k].copy()})
        dn = dict(p0, **{k: p0[k].copy()})
        up[k][idx] += LD(eps)
        dn[k][idx] -= LD(eps)
        out[c] = (_ld_cost(spec, up, Xl, Yl, sl) - _ld_cost(spec, dn, Xl, Yl, sl)) / (2 * LD(eps))
    return out


def _assert_long_double_difference(got, spec, params, X, Y, scales, eps):
    """``got`` is the long-double two-sided difference, to the reference's
    own rounding (~1e-19·|J|/ε in long double) and 1e-13 of its largest entry."""
    ref = _ld_difference(spec, params, X, Y, scales, eps, np.arange(got.size))
    lp = {k: v.astype(LD) for k, v in params.items()}
    J = abs(float(_ld_cost(spec, lp, X.astype(LD), Y.astype(LD), scales)))
    tol = 1e-18 * max(J, 1.0) / eps + 1e-13 * np.max(np.abs(ref))
    np.testing.assert_allclose(got, ref, rtol=0, atol=tol)
    return ref, tol


def _case(dims, hidden, output, *, l2=0.0, keep=1.0, bn=(), m=6, seed=0):
    model = MLP(dims, hidden=hidden, output=output, l2=l2, keep_prob=keep, batchnorm=list(bn))
    params = model.init_params("xavier", seed=seed)
    rng = np.random.default_rng(seed + 1)
    for k in params:  # nonzero biases/betas, gammas away from 1
        params[k] = params[k] + 0.3 * rng.standard_normal(params[k].shape)
    X = rng.standard_normal((dims[0], m))
    if output == "softmax":
        Y = np.eye(dims[-1])[:, rng.integers(0, dims[-1], m)]
    elif output == "linear":
        Y = rng.standard_normal((dims[-1], m))
    else:
        Y = (rng.random((dims[-1], m)) < 0.5).astype(float)
    scales = model.dropout_scales(m, 3, True)
    hid = [hidden] * (len(dims) - 2) if isinstance(hidden, str) else list(hidden)
    spec = (hid, output, set(bn), l2, model.bn_epsilon)
    return model, params, X, Y, scales, spec


def _kernel(model, params, X, Y, scales, eps, n_threads=1, order=None):
    """(numerical, jetted) of every coordinate, with jets forced on every
    layer that can have them (order ``order``, default the plan's)."""
    ki = KernelInputs(model, params, X, Y, eps, scales)
    P = sum(v.size for v in params.values())
    coords = np.arange(P, dtype=np.intp)
    plan = ki.plan(coords)
    layers = tuple(ki.jettable)
    orders = tuple(order or jets.jet_order(ki.steps[t]) or jets.MAX_ORDER for t in layers)
    plan = jets.Plan(maps=plan.maps, jets=layers, orders=orders)
    ki.run(coords[:1], n_threads, False, "", plan=plan)  # installs maps and jets
    out, jt = np.empty(P), np.zeros(P, np.uint8)
    _mlp_kernel.mlp_numerical_gradient(
        ki.net, coords, out, np.zeros(P, np.uint8), n_threads, jt
    )
    return out, jt, ki


CASES = [
    ([3, 4, 2], "tanh", "sigmoid", {}),
    ([3, 4, 3, 1], "tanh", "sigmoid", {}),
    ([3, 4, 3, 3], "sigmoid", "softmax", {}),
    ([2, 3, 4, 3, 2], ["tanh", "sigmoid", "tanh"], "linear", {}),
    ([3, 3, 3, 3, 3, 2], ["sigmoid", "tanh", "tanh", "sigmoid"], "softmax", {"l2": 0.3}),
    ([2] + [3] * 8 + [1], "tanh", "sigmoid", {}),
    ([3, 4, 3, 2], "tanh", "linear", {"keep": 0.6}),
    ([3, 4, 3, 1], ["relu", "tanh"], "sigmoid", {}),
    ([3, 4, 3, 2], ["linear", "tanh"], "softmax", {"keep": 0.8}),
    ([3, 4, 3, 2], "tanh", "softmax", {"bn": (1,)}),
    ([3, 4, 3, 3, 1], "sigmoid", "sigmoid", {"bn": (1, 3), "l2": 0.1}),
]


@pytest.mark.parametrize("eps", [1e-7, 1e-3, 1e-2])
@pytest.mark.parametrize("dims,hidden,output,kw", CASES)
def test_jets_are_the_long_double_difference(dims, hidden, output, kw, eps):
    model, params, X, Y, scales, spec = _case(dims, hidden, output, **kw)
    got, jt, ki = _kernel(model, params, X, Y, scales, eps)
    ref, tol = _assert_long_double_difference(got, spec, params, X, Y, scales, eps)
    if ki.jettable:
        assert jt.any(), "no coordinate went through the jets"
    if eps == 1e-2:
        # The curvature is visible: the analytic gradient misses by far more
        # than the tolerance (a gradient in disguise would fail above).
        g = model.backward(params, X, Y, seed=3)
        ana = np.concatenate([g["d" + k].ravel() for k in params])
        assert np.max(np.abs(ana - ref)) > 1e3 * tol


@pytest.mark.parametrize("eps", [1e-7, 1e-2])
def test_jets_give_the_same_bits_on_1_and_2_threads(eps):
    model, params, X, Y, scales, _ = _case([3, 6, 5, 4, 2], "tanh", "softmax", keep=0.7, m=40)
    one, jt1, _ = _kernel(model, params, X, Y, scales, eps, n_threads=1)
    two, jt2, _ = _kernel(model, params, X, Y, scales, eps, n_threads=2)
    assert jt1.any()
    assert np.array_equal(one.view(np.uint64), two.view(np.uint64))
    assert np.array_equal(jt1, jt2)


def test_a_shard_run_with_the_whole_plan_has_the_whole_bits():
    model, params, X, Y, scales, _ = _case([4, 6, 5, 1], "tanh", "sigmoid", m=20)
    ki = KernelInputs(model, params, X, Y, 1e-7, scales)
    coords = np.arange(sum(v.size for v in params.values()))
    plan = ki.plan(coords)
    assert plan.jets == (0, 1)
    whole = ki.run(coords, 2, False, "", plan=plan)[0]
    shard = coords[3::7]
    part = ki.run(shard, 1, False, "", plan=plan)[0]
    assert np.array_equal(whole[shard].view(np.uint64), part.view(np.uint64))


def test_a_sampled_check_does_not_pay_for_jets():
    model, params, X, Y, scales, _ = _case([4, 6, 5, 1], "tanh", "sigmoid", m=20)
    ki = KernelInputs(model, params, X, Y, 1e-7, scales)
    assert ki.plan(np.arange(0, 24, 4)).jets == ()  # one coordinate per unit
    assert ki.plan(np.arange(30)).jets == (0,)  # the whole first layer


@pytest.mark.parametrize("hidden", ["tanh", "sigmoid"])
def test_correct_backprop_scores_at_rounding_and_a_bug_is_found(hidden):
    model, params, X, Y, _, _ = _case([5, 8, 6, 1], hidden, "sigmoid", m=30)
    grads = model.backward(params, X, Y)
    report = gradient_check(model, params, grads, X, Y, n_threads=2)
    assert report.difference <= 1e-13
    bad = {k: v.copy() for k, v in grads.items()}
    bad["dW1"][2, 3] *= 1 + 1e-5
    assert gradient_check(model, params, bad, X, Y).difference > 1e-8


def test_plan_is_small_and_picklable():
    import pickle

    model, params, X, Y, scales, _ = _case([4, 6, 5, 1], "tanh", "sigmoid", m=20)
    ki = KernelInputs(model, params, X, Y, 1e-7, scales)
    plan = ki.plan(np.arange(60))
    assert pickle.loads(pickle.dumps(plan)) == plan


def test_set_jets_refuses_a_layer_without_a_smooth_downstream():
    model, params, X, Y, scales, _ = _case([3, 4, 3, 1], ["tanh", "relu"], "sigmoid")
    ki = KernelInputs(model, params, X, Y, 1e-7, scales)
    with pytest.raises(ValueError, match="layers"):
        ki.net.set_jets([0], [3], [1e-5], 1)
    with pytest.raises(ValueError, match="orders"):
        ki.net.set_jets([0], [], [], 1)


@pytest.mark.parametrize("order", [3, 7])
def test_steps_outside_the_radius_are_propagated_exactly(order):
    # ε = 1e-2 is far outside what order 3 (or 7) can carry to double
    # precision: those examples go through the exact propagation instead.
    model, params, X, Y, scales, spec = _case([3, 4, 3, 2], "tanh", "softmax", m=8)
    got, jt, _ = _kernel(model, params, X, Y, scales, 1e-2, order=order)
    assert (jt == 2).any()
    ref = _ld_difference(spec, params, X, Y, scales, 1e-2, np.arange(got.size))
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-14 * np.max(np.abs(ref)))


BN_TAIL = [
    ([3, 4, 5, 1], "relu", "sigmoid", {"bn": (1, 2)}),
    ([3, 4, 5, 2], ["tanh", "leaky_relu"], "softmax", {"bn": (2,), "keep": 0.7}),
    ([3, 4, 5, 2], ["sigmoid", "linear"], "linear", {"bn": (2,), "l2": 0.2}),
    ([2, 3, 4, 5, 1], ["tanh", "relu", "relu"], "sigmoid", {"bn": (1, 3)}),
]


@pytest.mark.parametrize("eps", [1e-7, 1e-3, 1e-2])
@pytest.mark.parametrize("dims,hidden,output,kw", BN_TAIL)
def test_a_batch_normalized_last_hidden_layer_is_the_long_double_difference(
    dims, hidden, output, kw, eps
):
    model, params, X, Y, scales, spec = _case(dims, hidden, output, m=7, **kw)
    got, path, ki = _kernel(model, params, X, Y, scales, eps)
    _assert_long_double_difference(got, spec, params, X, Y, scales, eps)
    if eps == 1e-7:  # every row before the tail takes it (no kink within reach)
        before = slice(ki.layer_start[len(dims) - 4], ki.layer_start[len(dims) - 3])
        assert (path[before] == 3).all()


def test_the_batch_normalized_tail_gives_the_same_bits_on_1_and_2_threads():
    model, params, X, Y, scales, _ = _case(
        [4, 6, 5, 2], "relu", "softmax", bn=(1, 2), m=40, keep=0.8
    )
    one, p1, _ = _kernel(model, params, X, Y, scales, 1e-7, n_threads=1)
    two, p2, _ = _kernel(model, params, X, Y, scales, 1e-7, n_threads=2)
    assert (p1 == 3).any()
    assert np.array_equal(one.view(np.uint64), two.view(np.uint64))


def test_a_kink_within_reach_of_the_tail_is_propagated_and_flagged():
    # A huge step: the tail's test fails and the exact propagation flags it.
    model, params, X, Y, scales, spec = _case([3, 4, 5, 1], "relu", "sigmoid", bn=(1, 2), m=7)
    got, path, ki = _kernel(model, params, X, Y, scales, 0.3)
    assert (path[: ki.layer_start[1]] == 0).any()
    kinks = ki.run(np.arange(got.size), 1, False, "")[1]
    assert kinks.any()


def test_the_last_hidden_layer_takes_z_jets_only_with_a_smooth_activation_of_its_own():
    for hidden, bn, expected in [
        ("tanh", (), [0, 1]),
        (["tanh", "relu"], (), []),  # relu last: the exact map W[L]
        (["relu", "sigmoid"], (), [0, 1]),  # A-jets below a relu unit
        ("tanh", (2,), []),  # batch norm on the last hidden layer
    ]:
        model, params, X, Y, scales, _ = _case([3, 4, 3, 2], hidden, "softmax", bn=bn)
        assert KernelInputs(model, params, X, Y, 1e-7, scales).jettable == expected, hidden


@pytest.mark.parametrize("depth", range(1, 9))
def test_every_depth_from_1_to_8_is_the_long_double_difference(depth):
    hidden = ["tanh", "sigmoid"] * 4
    output = ("sigmoid", "softmax", "linear")[depth % 3]
    dims = [3] + [4] * depth + [2]
    model, params, X, Y, scales, spec = _case(dims, hidden[:depth], output, m=5, keep=0.8)
    for eps in (1e-7, 1e-2):
        got, path, ki = _kernel(model, params, X, Y, scales, eps)
        ref = _ld_difference(spec, params, X, Y, scales, eps, np.arange(got.size))
        tol = 1e-18 * 10 / eps + 1e-13 * np.max(np.abs(ref))
        np.testing.assert_allclose(got, ref, rtol=0, atol=tol)
        assert (path == 1).any()


def test_a_second_run_with_the_same_plan_reuses_the_build_and_its_bits():
    model, params, X, Y, scales, _ = _case([4, 6, 5, 1], "tanh", "sigmoid", m=20)
    ki = KernelInputs(model, params, X, Y, 1e-7, scales)
    coords = np.arange(sum(v.size for v in params.values()))
    plan = ki.plan(coords)
    first = ki.run(coords[:40], 1, False, "", plan=plan)[0]
    built = ki.net.jet_arrays(0)
    second = ki.run(coords[40:], 2, False, "", plan=plan)[0]
    again = ki.net.jet_arrays(0)
    assert np.array_equal(built[0], again[0])
    whole = ki.run(coords, 1, False, "", plan=jets.Plan(maps=plan.maps))[0]  # rebuilt: no jets
    assert ki.net.jet_arrays(0) is None
    both = np.concatenate([first, second])
    np.testing.assert_allclose(both, whole, rtol=1e-13, atol=1e-17)
    assert np.array_equal(both, ki.run(coords, 2, False, "", plan=plan)[0])
