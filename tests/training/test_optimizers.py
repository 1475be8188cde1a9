"""fastgrad.training.optimizers (public as fastgrad.optim): the optimizers and
mini-batches against plain NumPy."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastgrad import MLP
from fastgrad.optim import (
    Adam,
    ExponentialDecay,
    GradientDescent,
    InverseTimeDecay,
    Momentum,
    RMSprop,
    StepDecay,
    random_mini_batches,
)

RTOL = 1e-12  # float64 throughout; the references repeat the same operations


# -- independent references: the course's formulas, one block at a time -----

def ref_gd(params, grads_seq, lr):
    out, p = [], {k: v.copy() for k, v in params.items()}
    for grads in grads_seq:
        p = {k: p[k] - lr * grads["d" + k] for k in p}
        out.append(p)
    return out


def ref_momentum(params, grads_seq, lr, beta):
    out, p = [], {k: v.copy() for k, v in params.items()}
    v = {k: np.zeros_like(x) for k, x in params.items()}
    for grads in grads_seq:
        for k in p:
            v[k] = beta * v[k] + (1 - beta) * grads["d" + k]
            p = {**p, k: p[k] - lr * v[k]}
        out.append(p)
    return out


def ref_rmsprop(params, grads_seq, lr, beta2, eps):
    out, p = [], {k: v.copy() for k, v in params.items()}
    s = {k: np.zeros_like(x) for k, x in params.items()}
    for grads in grads_seq:
        for k in p:
            g = grads["d" + k]
            s[k] = beta2 * s[k] + (1 - beta2) * g ** 2
            p = {**p, k: p[k] - lr * g / (np.sqrt(s[k]) + eps)}
        out.append(p)
    return out


def ref_adam(params, grads_seq, lr, beta1, beta2, eps):
    out, p = [], {k: v.copy() for k, v in params.items()}
    v = {k: np.zeros_like(x) for k, x in params.items()}
    s = {k: np.zeros_like(x) for k, x in params.items()}
    for t, grads in enumerate(grads_seq, start=1):
        for k in p:
            g = grads["d" + k]
            v[k] = beta1 * v[k] + (1 - beta1) * g
            s[k] = beta2 * s[k] + (1 - beta2) * g ** 2
            v_hat = v[k] / (1 - beta1 ** t)
            s_hat = s[k] / (1 - beta2 ** t)
            p = {**p, k: p[k] - lr * v_hat / (np.sqrt(s_hat) + eps)}
        out.append(p)
    return out


def random_blocks(rng, dims=(3, 4, 2), batchnorm=True):
    """A params dict with W/b blocks (and batch-norm gamma/beta ones)."""
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1]))
        params[f"b{l}"] = rng.standard_normal((dims[l], 1))
        if batchnorm and l < len(dims) - 1:
            params[f"gamma{l}"] = 1 + 0.1 * rng.standard_normal((dims[l], 1))
            params[f"beta{l}"] = 0.1 * rng.standard_normal((dims[l], 1))
    return params


def random_grads(rng, params, n_steps):
    # Scales spread over decades so Adam's and RMSprop's per-entry scaling matters.
    return [{"d" + k: rng.standard_normal(v.shape) * 10.0 ** rng.integers(-3, 2, v.shape)
             for k, v in params.items()} for _ in range(n_steps)]


CASES = [
    ("gd", lambda: GradientDescent(0.05), lambda p, g: ref_gd(p, g, 0.05)),
    ("momentum", lambda: Momentum(0.05), lambda p, g: ref_momentum(p, g, 0.05, 0.9)),
    ("momentum-beta", lambda: Momentum(0.1, beta=0.5),
     lambda p, g: ref_momentum(p, g, 0.1, 0.5)),
    ("rmsprop", lambda: RMSprop(0.01), lambda p, g: ref_rmsprop(p, g, 0.01, 0.999, 1e-8)),
    ("rmsprop-args", lambda: RMSprop(0.02, beta2=0.9, epsilon=1e-4),
     lambda p, g: ref_rmsprop(p, g, 0.02, 0.9, 1e-4)),
    ("adam", lambda: Adam(0.01), lambda p, g: ref_adam(p, g, 0.01, 0.9, 0.999, 1e-8)),
    ("adam-args", lambda: Adam(0.003, beta1=0.5, beta2=0.8, epsilon=1e-3),
     lambda p, g: ref_adam(p, g, 0.003, 0.5, 0.8, 1e-3)),
]


@pytest.mark.parametrize("name, make, reference", CASES, ids=[c[0] for c in CASES])
def test_steps_match_reference(name, make, reference):
    rng = np.random.default_rng(0)
    params = random_blocks(rng)
    grads_seq = random_grads(rng, params, n_steps=6)
    expected = reference(params, grads_seq)
    opt = make()
    p = params
    for t, (grads, want) in enumerate(zip(grads_seq, expected), start=1):
        p = opt.step(p, grads)
        assert opt.t == t
        assert list(p) == list(params)
        for k in params:
            np.testing.assert_allclose(p[k], want[k], rtol=RTOL, atol=0, err_msg=f"{k} step {t}")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 5), k=st.integers(1, 5),
       beta1=st.floats(0.0, 0.99), beta2=st.floats(0.0, 0.9999),
       steps=st.integers(1, 8))
def test_adam_matches_reference_on_random_shapes(seed, n, k, beta1, beta2, steps):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.standard_normal((n, k)), "b1": rng.standard_normal((n, 1))}
    grads_seq = random_grads(rng, params, steps)
    want = ref_adam(params, grads_seq, 0.01, beta1, beta2, 1e-8)[-1]
    opt, p = Adam(0.01, beta1=beta1, beta2=beta2), params
    for grads in grads_seq:
        p = opt.step(p, grads)
    for key in params:
        np.testing.assert_allclose(p[key], want[key], rtol=1e-10, atol=1e-15)


def test_adam_first_step_is_bias_corrected():
    # At t = 1 the corrections undo the zero start: v̂ = dW and ŝ = dW², so the
    # step is lr·dW/(|dW| + ε), i.e. about lr in every coordinate, whatever
    # the gradient's scale (without correction it would be ≈ lr·0.1/√0.001).
    rng = np.random.default_rng(1)
    lr, eps = 0.01, 1e-8
    params = {"W1": rng.standard_normal((3, 2)), "b1": np.zeros((3, 1))}
    grads = {"dW1": rng.standard_normal((3, 2)) * 1e-3, "db1": rng.standard_normal((3, 1)) * 1e3}
    new = Adam(lr, epsilon=eps).step(params, grads)
    for k in params:
        g = grads["d" + k]
        np.testing.assert_allclose(params[k] - new[k], lr * g / (np.abs(g) + eps), rtol=1e-12)


def test_momentum_with_beta_zero_is_gradient_descent():
    rng = np.random.default_rng(2)
    params = random_blocks(rng)
    grads_seq = random_grads(rng, params, 3)
    a, b, pa, pb = Momentum(0.1, beta=0.0), GradientDescent(0.1), params, params
    for grads in grads_seq:
        pa, pb = a.step(pa, grads), b.step(pb, grads)
    for k in params:
        np.testing.assert_array_equal(pa[k], pb[k])


@pytest.mark.parametrize("make", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_step_does_not_modify_or_alias_inputs(make):
    rng = np.random.default_rng(3)
    params = random_blocks(rng)
    params["running_mean1"] = rng.standard_normal((4, 1))  # a buffer without gradient
    grads = random_grads(rng, {k: v for k, v in params.items() if k != "running_mean1"}, 1)[0]
    before_p = {k: v.copy() for k, v in params.items()}
    before_g = {k: v.copy() for k, v in grads.items()}
    opt = make()
    new = opt.step(params, grads)
    new = opt.step(new, grads)
    for k in params:
        np.testing.assert_array_equal(params[k], before_p[k])
        assert not np.shares_memory(new[k], params[k])
    for k in grads:
        np.testing.assert_array_equal(grads[k], before_g[k])
    np.testing.assert_array_equal(new["running_mean1"], params["running_mean1"])
    for slots in (opt.state or {}).values():
        for arr in slots.values():
            assert not any(np.shares_memory(arr, g) for g in grads.values())


def test_state_is_lazy_and_checked():
    rng = np.random.default_rng(4)
    opt = Adam(0.01)
    assert opt.state is None and opt.t == 0
    params = random_blocks(rng, batchnorm=False)
    grads = random_grads(rng, params, 1)[0]
    opt.step(params, grads)
    assert set(opt.state) == set(params)
    assert all(opt.state[k]["v"].shape == params[k].shape for k in params)
    other = random_blocks(rng, dims=(3, 5, 2), batchnorm=False)
    with pytest.raises(ValueError, match="reset"):
        opt.step(other, random_grads(rng, other, 1)[0])
    opt.reset()
    assert opt.state is None and opt.t == 0
    opt.step(other, random_grads(rng, other, 1)[0])
    assert opt.t == 1


def test_step_refuses_mismatched_gradients():
    rng = np.random.default_rng(5)
    params = random_blocks(rng, batchnorm=False)
    grads = random_grads(rng, params, 1)[0]
    with pytest.raises(KeyError, match="dW2"):
        Adam(0.1).step(params, {k: v for k, v in grads.items() if k != "dW2"})
    with pytest.raises(KeyError, match="dW9"):
        Adam(0.1).step(params, {**grads, "dW9": np.zeros((1, 1))})
    with pytest.raises(ValueError, match=r"grads\['dW1'\] has shape"):
        Adam(0.1).step(params, {**grads, "dW1": grads["dW1"].T})
    with pytest.raises(TypeError, match="params must be a dict"):
        Adam(0.1).step([1, 2], grads)


@pytest.mark.parametrize("make", [c[1] for c in CASES], ids=[c[0] for c in CASES])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_gradient_raises_and_keeps_state(make, bad):
    rng = np.random.default_rng(6)
    params = random_blocks(rng, batchnorm=False)
    good, grads = random_grads(rng, params, 2)
    opt = make()
    p1 = opt.step(params, good)
    state = {k: {s: a.copy() for s, a in slots.items()} for k, slots in (opt.state or {}).items()}
    grads["db2"] = grads["db2"].copy()
    grads["db2"][0, 0] = bad
    with pytest.raises(FloatingPointError, match="db2"):
        opt.step(p1, grads)
    assert opt.t == 1
    for k, slots in state.items():
        for s, a in slots.items():
            np.testing.assert_array_equal(opt.state[k][s], a)


def test_overflowing_step_raises():
    params = {"W1": np.full((2, 2), 1e300), "b1": np.zeros((2, 1))}
    grads = {"dW1": np.full((2, 2), -1e300), "db1": np.zeros((2, 1))}
    with pytest.raises(FloatingPointError, match=r"params\['W1'\].*learning_rate"):
        GradientDescent(1e10).step(params, grads)


@pytest.mark.parametrize("make, arg", [
    (lambda: GradientDescent(0.0), "learning_rate"),
    (lambda: GradientDescent(-1e-3), "learning_rate"),
    (lambda: GradientDescent(np.nan), "learning_rate"),
    (lambda: Momentum(0.1, beta=1.0), "beta"),
    (lambda: Momentum(0.1, beta=-0.1), "beta"),
    (lambda: RMSprop(0.1, beta2=1.0), "beta2"),
    (lambda: RMSprop(0.1, epsilon=0.0), "epsilon"),
    (lambda: Adam(0.1, beta1=1.0), "beta1"),
    (lambda: Adam(0.1, beta1=1.5), "beta1"),
    (lambda: Adam(0.1, beta2=-0.5), "beta2"),
    (lambda: Adam(0.1, epsilon=-1e-8), "epsilon"),
    (lambda: Adam(0.1, epsilon=np.inf), "epsilon"),
    (lambda: Adam(-0.1), "learning_rate"),
])
def test_bad_hyper_parameters_are_refused(make, arg):
    with pytest.raises(ValueError, match=arg):
        make()


def test_hyper_parameter_types_and_learning_rate_attribute():
    with pytest.raises(TypeError, match="learning_rate"):
        Adam("0.1")
    with pytest.raises(TypeError, match="beta"):
        Momentum(0.1, beta=True)
    opt = Momentum(0.1)
    opt.learning_rate = 0.01
    assert opt.learning_rate == 0.01
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = 0.0
    assert opt.learning_rate == 0.01
    assert "Momentum(learning_rate=0.01, beta=0.9)" == repr(opt)


def test_learning_rate_change_takes_effect_on_the_next_step():
    rng = np.random.default_rng(7)
    params = random_blocks(rng, batchnorm=False)
    g1, g2 = random_grads(rng, params, 2)
    opt = GradientDescent(0.1)
    p = opt.step(params, g1)
    opt.learning_rate = 0.02
    p = opt.step(p, g2)
    for k in params:
        np.testing.assert_allclose(p[k], params[k] - 0.1 * g1["d" + k] - 0.02 * g2["d" + k],
                                   rtol=RTOL)


# -- schedules --------------------------------------------------------------

EPOCHS = range(0, 3001, 7)


def test_inverse_time_decay():
    sched = InverseTimeDecay(0.5, decay_rate=0.3)
    for e in EPOCHS:
        assert sched(e) == pytest.approx(0.5 / (1 + 0.3 * e), rel=1e-15)
    assert sched(0) == 0.5


def test_step_decay():
    sched = StepDecay(0.1, decay_rate=1.0, time_interval=1000)
    for e in EPOCHS:
        assert sched(e) == pytest.approx(0.1 / (1 + 1.0 * math.floor(e / 1000)), rel=1e-15)
    # constant inside an interval, dropping at its end
    assert sched(0) == sched(999) == 0.1
    assert sched(1000) < sched(999)
    assert StepDecay(0.1, 0.5).time_interval == 1000


def test_exponential_decay():
    sched = ExponentialDecay(0.2, rate=0.95)
    for e in EPOCHS:
        assert sched(e) == pytest.approx(0.2 * 0.95 ** e, rel=1e-12)
    assert ExponentialDecay(0.2, rate=1.0)(500) == 0.2


@pytest.mark.parametrize("make, arg", [
    (lambda: InverseTimeDecay(0.0, 1.0), "learning_rate0"),
    (lambda: InverseTimeDecay(0.1, -1.0), "decay_rate"),
    (lambda: StepDecay(0.1, 1.0, time_interval=0), "time_interval"),
    (lambda: StepDecay(0.1, np.nan), "decay_rate"),
    (lambda: ExponentialDecay(0.1, rate=0.0), "rate"),
    (lambda: ExponentialDecay(0.1, rate=1.5), "rate"),
])
def test_bad_schedule_arguments(make, arg):
    with pytest.raises(ValueError, match=arg):
        make()


def test_schedule_epoch_must_be_a_non_negative_int():
    with pytest.raises(ValueError, match="epoch"):
        InverseTimeDecay(0.1, 1.0)(-1)
    with pytest.raises(TypeError, match="epoch"):
        InverseTimeDecay(0.1, 1.0)(1.5)


# -- mini-batches -----------------------------------------------------------

def labelled_data(n_x, m, n_y=1):
    """Column j of X holds j in its first row, so a batch tells which examples it has."""
    rng = np.random.default_rng(m)
    X = rng.standard_normal((n_x, m))
    X[0] = np.arange(m)
    Y = np.vstack([np.arange(m)[None, :] * 10.0 + r for r in range(n_y)])
    return X, Y


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 300), batch_size=st.integers(1, 400), n_y=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_mini_batches_partition_the_examples(m, batch_size, n_y, seed):
    X, Y = labelled_data(3, m, n_y)
    batches = random_mini_batches(X, Y, batch_size, seed=seed)
    assert len(batches) == math.ceil(m / batch_size)
    sizes = [xb.shape[1] for xb, _ in batches]
    assert all(s == min(batch_size, m) for s in sizes[:-1])
    assert sizes[-1] == (m % batch_size or min(batch_size, m))
    order = np.concatenate([xb[0] for xb, _ in batches]).astype(int)
    np.testing.assert_array_equal(np.sort(order), np.arange(m))  # each example exactly once
    for xb, yb in batches:
        assert xb.shape[0] == 3 and yb.shape == (n_y, xb.shape[1])
        np.testing.assert_array_equal(xb, X[:, xb[0].astype(int)])  # whole columns
        np.testing.assert_array_equal(yb, Y[:, xb[0].astype(int)])  # labels follow


def test_mini_batches_are_reproducible_and_shuffled():
    X, Y = labelled_data(2, 300)
    a = random_mini_batches(X, Y, 64, seed=11)
    b = random_mini_batches(X, Y, 64, seed=11)
    c = random_mini_batches(X, Y, 64, seed=12)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    order = lambda batches: np.concatenate([x[0] for x, _ in batches])  # noqa: E731
    assert not np.array_equal(order(a), order(c))
    assert not np.array_equal(order(a), np.arange(300))
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    np.testing.assert_array_equal(order(random_mini_batches(X, Y, 64, seed=g1)),
                                  order(random_mini_batches(X, Y, 64, seed=g2)))


def test_mini_batches_batch_and_stochastic_extremes():
    X, Y = labelled_data(2, 50)
    (full,) = random_mini_batches(X, Y, batch_size=50, seed=0)
    assert full[0].shape == X.shape
    assert len(random_mini_batches(X, Y, batch_size=None, seed=0)) == 1
    sgd = random_mini_batches(X, Y, batch_size=1, seed=0)
    assert len(sgd) == 50 and all(xb.shape == (2, 1) for xb, _ in sgd)


def test_mini_batches_leave_inputs_and_global_rng_alone():
    X, Y = labelled_data(2, 40)
    X0, Y0 = X.copy(), Y.copy()
    state = np.random.get_state()[1].copy()
    batches = random_mini_batches(X, Y, 16, seed=None)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    for xb, yb in batches:
        xb[...] = -1
        yb[...] = -1
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)


def test_mini_batches_accept_1d_labels():
    X, Y = labelled_data(2, 10)
    batches = random_mini_batches(X, Y[0], 4, seed=0)
    assert [yb.shape for _, yb in batches] == [(1, 4), (1, 4), (1, 2)]


@pytest.mark.parametrize("X_shape, Y_shape, batch_size, error, match", [
    ((2, 10), (1, 9), 4, ValueError, "Y must have shape"),
    ((2, 10), (10, 1), 4, ValueError, "Y must have shape"),
    ((10,), (1, 10), 4, ValueError, "X must have shape"),
    ((2, 0), (1, 0), 4, ValueError, "no examples"),
    ((2, 10), (1, 10), 0, ValueError, "batch_size"),
    ((2, 10), (1, 10), -3, ValueError, "batch_size"),
    ((2, 10), (1, 10), 2.5, TypeError, "batch_size"),
])
def test_mini_batches_bad_input(X_shape, Y_shape, batch_size, error, match):
    with pytest.raises(error, match=match):
        random_mini_batches(np.zeros(X_shape), np.zeros(Y_shape), batch_size, seed=0)


def test_model_layout_is_the_one_batches_use():
    # A batch is directly usable by the model (columns are examples).
    X, Y = labelled_data(2, 30)
    Y = (Y[:1] % 20 > 9).astype(float)
    model = MLP([2, 3, 1])
    params = model.init_params(seed=0)
    for xb, yb in random_mini_batches(X, Y, 8, seed=0):
        assert np.isfinite(model.cost(params, xb, yb))
