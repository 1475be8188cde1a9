"""Initializers: each formula checked on large matrices against an
independent NumPy statement of it; seeding; the global RNG; errors."""
import math

import numpy as np
import pytest
from scipy import stats

from fastgrad import init
from fastgrad.nn.model import MLP


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # QR of a 2000 x 600 matrix takes 0.3 s on one thread and 20 s when
    # BLAS threads spin on a loaded machine; the tests check math, not speed.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield

# Large enough that the sample std is within ~0.1% of the true one
# (relative standard error 1/sqrt(2N) with N = 1.2e6).
WIDE = (500, 1600)   # (fan_out, fan_in): more inputs than outputs
TALL = (1600, 500)

# Independent statements of each rule: std as a function of (fan_out, fan_in).
EXPECTED_STD = {
    "random": lambda fo, fi: 1.0,
    "he": lambda fo, fi: math.sqrt(2.0 / fi),
    "xavier": lambda fo, fi: math.sqrt(1.0 / fi),
    "lecun": lambda fo, fi: math.sqrt(1.0 / fi),
    "glorot": lambda fo, fi: math.sqrt(2.0 / (fi + fo)),
    "orthogonal": lambda fo, fi: math.sqrt(1.0 / max(fi, fo)),
}


def assert_moments(W, std, *, rel=0.01):
    assert abs(W.std() / std - 1.0) < rel, (W.std(), std)
    assert abs(W.mean()) < 0.01 * std


@pytest.mark.parametrize("shape", [WIDE, TALL])
@pytest.mark.parametrize("name", sorted(EXPECTED_STD))
@pytest.mark.parametrize("gain", [1.0, 3.0])
def test_named_initializer_std_matches_formula(name, shape, gain):
    W = init.ARRAY_INITIALIZERS[name](shape, gain=gain, seed=0)
    assert W.shape == shape and W.dtype == np.float64
    assert_moments(W, gain * EXPECTED_STD[name](*shape))


def test_zeros():
    W = init.zeros((3, 4))
    assert W.shape == (3, 4) and not W.any()


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
@pytest.mark.parametrize("distribution", ["normal", "truncated_normal", "uniform"])
@pytest.mark.parametrize("scale", [2.0, 0.3])
def test_variance_scaling_std_matches_formula(mode, distribution, scale):
    fan_out, fan_in = WIDE
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    std = math.sqrt(scale / n)
    W = init.variance_scaling(WIDE, scale, mode, distribution, seed=1)
    assert W.shape == WIDE
    assert_moments(W, std)
    if distribution == "uniform":
        limit = math.sqrt(3 * scale / n)
        assert np.all(np.abs(W) <= limit)
        assert np.abs(W).max() > 0.999 * limit
    if distribution == "truncated_normal":
        sigma = std / stats.truncnorm(-2, 2).std()   # scipy: the untruncated sigma
        assert np.all(np.abs(W) <= 2 * sigma)
        assert np.abs(W).max() > 0.999 * 2 * sigma
        # Shape of a truncated normal: heavier "shoulders" than a normal of
        # the same variance; its kurtosis is scipy's, not 3.
        expected_kurt = stats.truncnorm(-2, 2).stats(moments="k")
        assert abs(stats.kurtosis(W.ravel()) - float(expected_kurt)) < 0.02


def test_truncation_constant_is_the_std_of_a_truncated_normal():
    assert init.TRUNCATED_NORMAL_STD == pytest.approx(stats.truncnorm(-2, 2).std(), rel=1e-15)


@pytest.mark.parametrize("name, scale, mode", [
    ("he", 2.0, "fan_in"), ("xavier", 1.0, "fan_in"), ("lecun", 1.0, "fan_in"), ("glorot", 1.0, "fan_avg"),
])
def test_named_are_special_cases_of_variance_scaling(name, scale, mode):
    a = init.ARRAY_INITIALIZERS[name]((7, 5), seed=3)
    b = init.variance_scaling((7, 5), scale, mode, "normal", seed=3)
    np.testing.assert_allclose(a, b, rtol=1e-14)


@pytest.mark.parametrize("shape", [(30, 80), (80, 30), (40, 40)])
def test_orthogonal_is_orthogonal(shape):
    W = init.orthogonal(shape, gain=2.5, seed=0)
    fo, fi = shape
    G = W @ W.T if fo <= fi else W.T @ W
    np.testing.assert_allclose(G, 2.5 ** 2 * np.eye(min(shape)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.svd(W, compute_uv=False), 2.5, rtol=1e-12)


def test_orthogonal_is_haar_not_biased():
    # Without the sign fix QR's Q has a positive diagonal-ish bias; with it
    # the mean of the diagonal of many 2x2 draws is ~0.
    rng = np.random.default_rng(0)
    diag = np.array([np.diag(init.orthogonal((2, 2), seed=rng)) for _ in range(4000)])
    assert abs(diag.mean()) < 0.03


def test_calculate_gain_matches_pytorch_table():
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("selu") == pytest.approx(0.75)
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ValueError, match="activation"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="param"):
        init.calculate_gain("relu", 0.1)


# -- seeding and the global RNG ---------------------------------------------
ALL_DRAWS = [
    lambda seed: init.random((20, 30), seed=seed),
    lambda seed: init.he((20, 30), seed=seed),
    lambda seed: init.glorot((20, 30), seed=seed),
    lambda seed: init.orthogonal((20, 30), seed=seed),
    lambda seed: init.variance_scaling((20, 30), 2.0, "fan_avg", "truncated_normal", seed=seed),
    lambda seed: init.variance_scaling((20, 30), 2.0, "fan_out", "uniform", seed=seed),
    lambda seed: init.initialize_parameters([4, 6, 1], "he", seed=seed)["W2"],
]


@pytest.mark.parametrize("draw", ALL_DRAWS)
def test_seed_reproducible(draw):
    np.testing.assert_array_equal(draw(7), draw(7))
    np.testing.assert_array_equal(draw(np.random.default_rng(7)), draw(np.random.default_rng(7)))
    assert not np.array_equal(draw(7), draw(8))


def test_generator_is_advanced_not_reset():
    rng = np.random.default_rng(0)
    a, b = init.he((5, 5), seed=rng), init.he((5, 5), seed=rng)
    assert not np.array_equal(a, b)


def test_global_rng_untouched():
    np.random.seed(12345)
    before = np.random.get_state()
    for draw in ALL_DRAWS:
        draw(None)
        draw(3)
    # Wide and centred so that no random draw leaves every relu unit dead.
    init.lsuv(MLP([3, 32, 1]), np.arange(24.0).reshape(3, 8) - 11.5, seed=None)
    after = np.random.get_state()
    assert before[0] == after[0]
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]


@pytest.mark.parametrize("seed", [1.5, "1", True, object()])
def test_bad_seed(seed):
    with pytest.raises(TypeError, match="seed"):
        init.he((2, 2), seed=seed)


# -- initialize_parameters ---------------------------------------------------
@pytest.mark.parametrize("method", ["random", "he", "xavier", "lecun", "glorot", "orthogonal"])
@pytest.mark.parametrize("scale", [1.0, 0.1])
def test_initialize_parameters_layers(method, scale):
    dims = [1000, 600, 400, 1]
    params = init.initialize_parameters(dims, method, seed=0, scale=scale)
    assert list(params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for l in range(1, len(dims)):
        W, b = params[f"W{l}"], params[f"b{l}"]
        assert W.shape == (dims[l], dims[l - 1]) and b.shape == (dims[l], 1)
        assert not b.any()
        if dims[l] * dims[l - 1] > 10 ** 5:
            assert_moments(W, scale * EXPECTED_STD[method](dims[l], dims[l - 1]))


def test_initialize_parameters_is_the_course_formula():
    """The course: W[l] = np.random.randn(n_l, n_{l-1}) * sqrt(2 / n_{l-1}),
    here with a Generator stream drawn layer after layer."""
    dims = [5, 4, 3]
    rng = np.random.default_rng(42)
    expected_W1 = rng.standard_normal((4, 5)) * np.sqrt(2 / 5) * 0.7
    expected_W2 = rng.standard_normal((3, 4)) * np.sqrt(2 / 4) * 0.7
    params = init.initialize_parameters(dims, "he", seed=42, scale=0.7)
    np.testing.assert_allclose(params["W1"], expected_W1, rtol=1e-15)
    np.testing.assert_allclose(params["W2"], expected_W2, rtol=1e-15)
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(init.initialize_parameters(dims, "random", seed=3, scale=10)["W1"],
                                  rng.standard_normal((4, 5)) * 10.0)


def test_mlp_init_params_uses_it():
    model = MLP([3, 5, 2, 1])
    a = model.init_params("glorot", seed=5, scale=2.0)
    b = init.initialize_parameters([3, 5, 2, 1], "glorot", seed=5, scale=2.0)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_zeros_method():
    params = init.initialize_parameters([3, 4, 1], "zeros")
    assert all(not v.any() for v in params.values())


def test_unknown_method_lists_valid_ones():
    with pytest.raises(ValueError) as info:
        init.initialize_parameters([2, 3, 1], "kaiming")
    for name in ("zeros", "random", "he", "xavier", "glorot", "orthogonal"):
        assert name in str(info.value)
    with pytest.raises(ValueError, match="lsuv"):
        init.initialize_parameters([2, 3, 1], "lsuv")


@pytest.mark.parametrize("dims, exc", [
    ([3], ValueError), ([], ValueError), ([3, 0, 1], ValueError), ([3, -2, 1], ValueError),
    ([3, 2.5, 1], ValueError), ([3, True, 1], ValueError), ("321", TypeError), (5, TypeError),
])
def test_bad_layer_dims(dims, exc):
    with pytest.raises(exc, match="layer_dims"):
        init.initialize_parameters(dims)


@pytest.mark.parametrize("scale, exc", [(0.0, ValueError), (-1.0, ValueError), (float("nan"), ValueError),
                                        (float("inf"), ValueError), ("1", TypeError), (True, TypeError)])
def test_bad_scale(scale, exc):
    with pytest.raises(exc, match="scale"):
        init.initialize_parameters([2, 3, 1], scale=scale)


@pytest.mark.parametrize("shape", [(3,), (0, 2), (2, -1), (2.0, 3), (1, 2, 3)])
def test_bad_shape(shape):
    with pytest.raises(ValueError, match="shape"):
        init.he(shape)


def test_bad_variance_scaling_options():
    with pytest.raises(ValueError, match="mode"):
        init.variance_scaling((2, 2), 1.0, "fan_sum")
    with pytest.raises(ValueError, match="distribution"):
        init.variance_scaling((2, 2), 1.0, "fan_in", "cauchy")
    with pytest.raises(ValueError, match="scale"):
        init.variance_scaling((2, 2), -1.0)
    with pytest.raises(ValueError, match="gain"):
        init.he((2, 2), gain=0)


def _course_init(layers_dims, method):
    """The course's initialize_parameters_random / _he, written out: it seeds
    NumPy's global RNG with 3 and calls randn (here a RandomState(3), the
    same stream, so the test leaves the global RNG alone)."""
    rs = np.random.RandomState(3)
    params = {}
    for l in range(1, len(layers_dims)):
        W = rs.randn(layers_dims[l], layers_dims[l - 1])
        params["W" + str(l)] = W * 10 if method == "random" else W * np.sqrt(2.0 / layers_dims[l - 1])
        params["b" + str(l)] = np.zeros((layers_dims[l], 1))
    return params


@pytest.mark.parametrize("method, scale", [("he", 1.0), ("random", 10.0)])
@pytest.mark.parametrize("dims", [[2, 4, 1], [3, 2, 1], [2, 10, 5, 1]])
def test_a_randomstate_gives_the_course_s_exact_numbers(method, scale, dims):
    before = np.random.get_state()[1].copy()
    ours = init.initialize_parameters(dims, method, seed=np.random.RandomState(3), scale=scale)
    ref = _course_init(dims, method)
    assert ours.keys() == ref.keys()
    for k in ref:
        assert ours[k].tobytes() == ref[k].tobytes(), k
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # global RNG untouched


def test_every_initializer_draws_from_a_randomstate_as_from_a_generator():
    for name, fn in init.ARRAY_INITIALIZERS.items():
        a = fn((5, 4), seed=np.random.RandomState(0))
        assert a.shape == (5, 4) and np.isfinite(a).all(), name
    W = init.variance_scaling((300, 200), 2.0, distribution="uniform", seed=np.random.RandomState(1))
    assert abs(W.var() - 2.0 / 200) < 0.05 * 2.0 / 200
