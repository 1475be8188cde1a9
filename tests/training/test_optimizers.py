"""fastgrad.training.optimizers (public as fastgrad.optim): every optimizer's
steps against the course's formulas written out in plain NumPy."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastgrad.optim import Adam, GradientDescent, Momentum, RMSprop

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
