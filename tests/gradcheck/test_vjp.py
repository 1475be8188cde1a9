"""check_vjp: a layer's backward pass against Σ upstream·Δf/step (issue 12)."""

import numpy as np
import pytest

import fastgrad
from fastgrad import check_vjp

# -- a NumPy convolution layer written as a user would ------------------------


def conv_forward(x, w, b):
    """x (N, C, H, W), w (F, C, kh, kw), b (F,) -> (N, F, H-kh+1, W-kw+1), valid, stride 1."""
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    out = np.zeros((N, F, H - kh + 1, W - kw + 1))
    for i in range(H - kh + 1):
        for j in range(W - kw + 1):
            patch = x[:, :, i : i + kh, j : j + kw]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return out + b[None, :, None, None]


def conv_backward(dout, x, w, *, flip=False):
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for i in range(H - kh + 1):
        for j in range(W - kw + 1):
            d = dout[:, :, i, j]  # (N, F)
            dx[:, :, i : i + kh, j : j + kw] += np.tensordot(d, w, axes=([1], [0]))
            dw += np.tensordot(d, x[:, :, i : i + kh, j : j + kw], axes=([0], [0]))
    if flip:  # the classic bug: the kernel gradient flipped (correlation vs convolution)
        dw = dw[:, :, ::-1, ::-1].copy()
    return dx, dw, dout.sum(axis=(0, 2, 3))


def conv_inputs():
    r = np.random.default_rng(0)
    return {
        "x": r.standard_normal((2, 2, 5, 5)),
        "w": r.standard_normal((3, 2, 3, 3)),
        "b": r.standard_normal(3),
    }


def ref_vjp(f, inputs, u, eps=1e-7):
    """Independent reference: copies, perturb, elementwise difference, dot."""
    out = {}
    for key, v in inputs.items():
        g = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            hi = {k: a.copy() for k, a in inputs.items()}
            lo = {k: a.copy() for k, a in inputs.items()}
            hi[key][idx] += eps
            lo[key][idx] -= eps
            g[idx] = np.sum(u * (f(**hi) - f(**lo))) / (hi[key][idx] - lo[key][idx])
        out[key] = g
    return out


def test_correct_conv_backward_is_great_and_matches_the_reference():
    inp = conv_inputs()
    before = {k: v.tobytes() for k, v in inp.items()}
    u = np.random.default_rng(1).standard_normal((2, 3, 3, 3))
    dx, dw, db = conv_backward(u, inp["x"], inp["w"])
    rep = check_vjp(conv_forward, inp, {"x": dx, "w": dw, "b": db}, u)
    assert rep.verdict == "great"
    assert [b.name for b in rep.blocks] == ["x", "w", "b"]
    ref = ref_vjp(conv_forward, inp, u)
    for k in inp:
        np.testing.assert_allclose(rep.numerical[k], ref[k], rtol=1e-6, atol=1e-8)
    assert {k: v.tobytes() for k, v in inp.items()} == before


def test_flipped_kernel_gradient_is_flagged_in_w_only():
    inp = conv_inputs()
    u = np.random.default_rng(1).standard_normal((2, 3, 3, 3))
    dx, dw, db = conv_backward(u, inp["x"], inp["w"], flip=True)
    rep = check_vjp(conv_forward, inp, {"x": dx, "w": dw, "b": db}, u)
    assert rep.verdict == "bug"
    assert [b.name for b in rep.blocks if b.difference >= 1e-6] == ["w"]
    assert "look at the backprop of: w" in rep.hints
    w = next(b for b in rep.blocks if b.name == "w")
    assert len(w.worst_index) == 4


def test_tuple_inputs_are_named_by_the_signature_and_upstream_defaults_to_seeded():
    inp = conv_inputs()
    args = (inp["x"], inp["w"], inp["b"])
    y = conv_forward(*args)
    u = np.random.default_rng(7).standard_normal(y.shape)  # what seed=7 draws
    grads = conv_backward(u, inp["x"], inp["w"])
    rep = check_vjp(conv_forward, args, grads, seed=7)
    assert rep.verdict == "great"
    assert [b.name for b in rep.blocks] == ["x", "w", "b"]
    np.testing.assert_array_equal(rep.upstream, u)


def test_lambda_with_varargs_names_positions():
    rep = check_vjp(
        lambda *a: a[0] * a[1],
        (np.arange(3.0), np.ones(3)),
        (np.ones(3), np.arange(3.0)),
        upstream=np.ones(3),
    )
    assert rep.verdict == "great"
    assert [b.name for b in rep.blocks] == ["inputs[0]", "inputs[1]"]


# -- a batch-norm layer -------------------------------------------------------


def bn_forward(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta


def bn_backward(dout, x, gamma, eps=1e-5, *, bug=False):
    N = x.shape[0]
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    inv = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * inv
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    if bug:  # forgets the mean's dependence on x
        dx = dxhat * inv - xhat * inv * (dxhat * xhat).mean(axis=0)
    else:
        dx = inv / N * (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, dgamma, dbeta


@pytest.mark.parametrize("bug", [False, True])
def test_batchnorm_layer(bug):
    r = np.random.default_rng(2)
    x, gamma, beta = r.standard_normal((6, 4)) * 2 + 1, r.standard_normal(4), r.standard_normal(4)
    u = r.standard_normal((6, 4))
    dx, dg, db = bn_backward(u, x, gamma, bug=bug)
    rep = check_vjp(bn_forward, (x, gamma, beta), (dx, dg, db), u)
    names = [b.name for b in rep.blocks]
    assert names == ["x", "gamma", "beta"]
    ref = ref_vjp(bn_forward, dict(zip(names, (x, gamma, beta))), u)
    for k in names:
        np.testing.assert_allclose(rep.numerical[k], ref[k], rtol=1e-5, atol=1e-7)
    if bug:
        assert [b.name for b in rep.blocks if b.difference >= 1e-6] == ["x"]
    else:
        assert rep.verdict == "great"


def test_single_array_input():
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    u = np.arange(6.0).reshape(2, 3)
    rep = check_vjp(np.tanh, x, u * (1 - np.tanh(x) ** 2), u)
    assert rep.verdict == "great" and rep.blocks[0].name == "x"
    assert fastgrad.check_vjp is check_vjp


def test_refusals_name_the_argument():
    x = np.ones(3)
    with pytest.raises(ValueError, match="upstream"):
        check_vjp(np.sin, x, np.cos(x), np.ones(4))
    with pytest.raises(ValueError, match="grads"):
        check_vjp(np.sin, x, np.ones(4))
    with pytest.raises(TypeError, match="f must be"):
        check_vjp(3, x, x)
    with pytest.raises(ValueError, match="workers"):
        check_vjp(np.sin, x, np.cos(x), workers=0)
    with pytest.raises(TypeError, match="epsilon"):
        check_vjp(np.sin, x, np.cos(x), epsilon="1e-7")
    with pytest.raises(TypeError, match="raise_on_failure"):
        check_vjp(np.sin, x, np.cos(x), raise_on_failure="no")
    with pytest.raises(ValueError, match="thresholds"):
        check_vjp(np.sin, x, np.cos(x), thresholds=(1, 0.1))
    with pytest.raises(TypeError, match="progress"):
        check_vjp(np.sin, x, np.cos(x), progress=1)
    with pytest.raises(ValueError, match="seed"):
        check_vjp(np.sin, x, np.cos(x), seed=-3)

    def writes(a):
        a[0] = 0
        return a

    with pytest.raises(ValueError, match="wrote into its argument"):
        check_vjp(writes, x, x)


def test_raise_on_failure():
    x = np.ones(3)
    with pytest.raises(fastgrad.GradientCheckError):
        check_vjp(np.sin, x, -np.cos(x), raise_on_failure=True, seed=0)


def test_f_returning_its_input_view_is_not_corrupted():
    x = np.array([0.5, -1.0, 2.0])
    rep = check_vjp(lambda a: a, x, np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(rep.numerical["x"], [1.0, 2.0, 3.0], rtol=1e-8)
    assert rep.verdict == "great"


def test_nan_output_is_refused_naming_the_coordinate():
    x = np.array([0.0, 1.0])
    with pytest.raises(ValueError, match=r"x\[0\] \+ epsilon"):
        check_vjp(lambda a: np.where(a[0] > 0, np.nan, 1.0) * a, x, x, np.ones(2))


@pytest.mark.parametrize("how", ["process_pool", "threads"])
def test_workers_equal_serial_to_the_bit(how):
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    inp = conv_inputs()
    u = np.random.default_rng(1).standard_normal((2, 3, 3, 3))
    dx, dw, db = conv_backward(u, inp["x"], inp["w"], flip=True)
    grads = {"x": dx, "w": dw, "b": db}
    serial = check_vjp(conv_forward, inp, grads, u)
    pool = ProcessPoolExecutor(2) if how == "process_pool" else ThreadPoolExecutor(2)
    with pool as ex:
        par = check_vjp(conv_forward, inp, grads, u, workers=ex)
    assert "workers: " in str(par) and "(2 workers)" in str(par)
    for k in inp:
        assert par.numerical[k].tobytes() == serial.numerical[k].tobytes()
    assert par.difference == serial.difference and par.hints == serial.hints


@pytest.mark.parametrize("fn", ["check_vjp", "check_grad"])
def test_progress_is_honoured(fn, capsys):
    from fastgrad import check_grad

    x = {"a": np.linspace(0, 1, 5), "b": np.ones((2, 2))}
    if fn == "check_vjp":
        run = lambda **kw: check_vjp(
            lambda a, b: a.sum() * b,
            x,
            {"a": np.full(5, 4.0), "b": np.full((2, 2), 2.5)},
            np.ones((2, 2)),
            **kw,
        )  # noqa: E731,E501
    else:
        run = lambda **kw: check_grad(
            lambda t: float(t["a"].sum() + t["b"].sum()),
            x,
            {"a": np.ones(5), "b": np.ones((2, 2))},
            **kw,
        )  # noqa: E731,E501
    assert run(progress=False).verdict == "great"
    assert capsys.readouterr().err == ""
    run(progress=True)
    assert "fastgrad" in capsys.readouterr().err


@pytest.mark.parametrize("flip", [False, True])
def test_float32_conv_layer(flip):
    import warnings

    inp = {k: v.astype(np.float32) for k, v in conv_inputs().items()}

    def conv32(x, w, b):
        return conv_forward(x, w, b).astype(np.float32)

    u = np.random.default_rng(1).standard_normal((2, 3, 3, 3)).astype(np.float32)
    dx, dw, db = (
        g.astype(np.float32)
        for g in conv_backward(u, inp["x"].astype(float), inp["w"].astype(float), flip=flip)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep = check_vjp(conv32, inp, {"x": dx, "w": dw, "b": db}, u)
    assert "float32 model" in str(rep) and rep.thresholds == (1e-3, 1e-2)
    if flip:
        assert rep.verdict == "bug"
        assert [b.name for b in rep.blocks if b.difference >= 1e-3] == ["w"]
    else:
        assert rep.verdict == "great", str(rep)


def test_relu_layer_kink_is_counted_and_a_correct_vjp_passes():
    x = np.array([[0.5, 0.3e-7, -0.2], [1.0, -2.0, 0.7]])
    u = np.array([[1.0, 2.0, -1.0], [0.5, 1.5, 3.0]])
    rep = check_vjp(lambda a: np.maximum(a, 0.0), x, u * (x > 0), u)
    assert rep.n_kinks == 1 and rep.verdict == "great"
    assert rep.difference_all > 1e-3  # the premise: the plain difference is off there
    assert any("kink of f" in h for h in rep.hints)
    bad = u * (x > 0)
    bad[0, 1] = 7.0  # not between the one-sided slopes 0 and 2
    rep = check_vjp(lambda a: np.maximum(a, 0.0), x, bad, u)
    assert rep.verdict == "bug" and any("not a subgradient" in h for h in rep.hints)


def test_smooth_layer_has_no_kinks():
    inp = conv_inputs()
    u = np.random.default_rng(1).standard_normal((2, 3, 3, 3))
    rep = check_vjp(conv_forward, inp, dict(zip("xwb", conv_backward(u, inp["x"], inp["w"]))), u)
    assert rep.n_kinks == 0


# -- outputs are not copied, yet stay valid (the serial loop's speed) ----------


class BufferLayer:
    """A layer that writes every output into one preallocated buffer and
    returns it (or a strided view of it): f(θ−εe) overwrites f(θ+εe)."""

    def __init__(self, strided):
        self.buf = np.empty((6, 4))
        self.strided = strided

    def __call__(self, x):
        np.multiply(np.tanh(x)[:, None], np.arange(1.0, 5.0), out=self.buf[:, :4])
        return self.buf[::2] if self.strided else self.buf


@pytest.mark.parametrize("strided", [False, True])
def test_f_reusing_its_output_buffer_gives_the_reference(strided):
    x = np.linspace(-1, 1, 6)
    f = BufferLayer(strided)
    u = np.random.default_rng(0).standard_normal(f(x).shape)
    ref = ref_vjp(lambda x: f(x).copy(), {"x": x}, u)["x"]
    sel = np.arange(6) % 2 == 0 if strided else np.ones(6, bool)
    analytic = (1 - np.tanh(x) ** 2) * np.where(sel, 1.0, 0.0)
    analytic[sel] *= (u * np.arange(1.0, 5.0)).sum(axis=1)
    rep = check_vjp(f, x, analytic, u)
    np.testing.assert_allclose(rep.numerical["x"], ref, rtol=1e-12, atol=1e-15)
    assert rep.verdict == "great"


def test_nan_where_the_upstream_is_zero_is_still_refused():
    x = np.array([0.5, 1.0])
    u = np.array([0.0, 1.0])  # 0 * NaN is NaN: the dot product shows it
    with pytest.raises(ValueError, match=r"x\[1\] - epsilon"):
        check_vjp(lambda a: np.array([np.nan if a[1] < 1.0 else 1.0, a[1]]), x, x, u)


def test_float32_and_list_outputs_are_converted():
    x = np.array([0.3, -0.7])
    rep = check_vjp(lambda a: [float(a[0] ** 2), float(a[1] ** 2)], x, 2 * x, np.ones(2))
    assert rep.verdict == "great"


def test_a_transposed_output_matches_the_reference():
    x = np.array([0.2, -0.4, 0.9])
    w = np.arange(1.0, 7.0).reshape(2, 3)
    u = np.random.default_rng(3).standard_normal((3, 2))

    def f(x):
        return (w * np.sin(x)).T  # a non-contiguous view of a fresh array

    ref = ref_vjp(f, {"x": x}, u)["x"]
    rep = check_vjp(f, x, np.cos(x) * (u.T * w).sum(axis=0), u)
    np.testing.assert_allclose(rep.numerical["x"], ref, rtol=1e-12)
    assert rep.verdict == "great"


def test_the_default_upstream_is_one_for_a_scalar_output():
    # as y.backward() in PyTorch; a random one made grads = 2x a "bug"
    x = np.array([0.3, -0.7, 1.1])
    rep = check_vjp(lambda a: np.sum(a**2), x, 2 * x)
    assert rep.verdict == "great" and rep.upstream.tolist() == 1.0


def test_a_random_upstream_needs_a_seed_or_a_callable_grads():
    x = np.array([0.3, -0.7, 1.1])
    with pytest.raises(ValueError, match=r"upstream is not given .* shape \(3,\).*seed="):
        check_vjp(lambda a: a**2, x, 2 * x)
    seen = []

    def vjp(u):
        seen.append(u.copy())
        return 2 * x * u

    rep = check_vjp(lambda a: a**2, x, vjp)
    assert rep.verdict == "great"
    np.testing.assert_array_equal(seen[0], rep.upstream)
    # with a seed, the documented draws
    u = np.random.default_rng(4).standard_normal(3)
    assert check_vjp(lambda a: a**2, x, 2 * x * u, seed=4).verdict == "great"


def test_outputs_numpy_cannot_stack_name_f():
    x = np.array([0.3, -0.7, 1.1])
    with pytest.raises(TypeError, match=r"f \(<lambda>\) must return one array, got a tuple"):
        check_vjp(lambda a: (a[:2] * 2, np.tanh(a)), x, x, np.ones(3))
