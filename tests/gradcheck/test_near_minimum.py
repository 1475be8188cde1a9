"""check_grad where the gradient is small next to the curvature (near a
minimum) or next to the cost's rounding (a large constant in f), and a
wrong small block next to large correct ones. Found by a trial that ported
torch.autograd.gradcheck's habits: every coordinate of a smooth f near its
minimum was taken for a kink, so 2x and sign-flipped gradients passed as
"great" with difference 0. References: exact gradients written here."""

import re

import numpy as np
import pytest

from fastgrad import GradientCheckError, check_grad


def least_squares(seed):
    rng = np.random.default_rng(seed)
    A, b = rng.standard_normal((30, 4)), rng.standard_normal(30)
    x = np.linalg.lstsq(A, b, rcond=None)[0] + 1e-8 * rng.standard_normal(4)

    def f(t):
        return float(0.5 * np.sum((A @ t - b) ** 2) / 30)

    return f, x, A.T @ (A @ x - b) / 30


@pytest.mark.parametrize("seed", range(6))
def test_wrong_gradients_near_a_minimum_are_bugs(seed):
    f, x, g = least_squares(seed)
    for wrong, expect in ((2 * g, 1 / 3), (-g, 1.0), (1.5 * g, 0.2)):
        r = check_grad(f, x, wrong)
        assert r.verdict == "bug", (seed, expect, r.difference)
        assert r.n_kinks == 0
        assert abs(r.difference - expect) < 0.15


@pytest.mark.parametrize("seed", range(6))
def test_a_right_gradient_near_a_minimum_is_not_called_a_bug(seed):
    f, x, g = least_squares(seed)
    r = check_grad(f, x, g)
    assert r.n_kinks == 0
    assert r.verdict in ("great", "check")
    if r.verdict == "check":  # the cost's rounding, and the report says so
        assert any("rounding floor" in n for n in r.notes)
        assert "away from a minimum" in str(r)


def test_a_tiny_quadratic_is_not_a_kink():
    xs = 1e-4 * np.random.default_rng(3).standard_normal(4)

    def f(t):
        return float(np.sum(t**2))

    r = check_grad(f, xs, 2 * xs * (1 + 5e-5))
    assert r.n_kinks == 0 and r.verdict == "check"
    assert abs(r.difference - 2.5e-5) < 1e-6
    assert check_grad(f, xs, 2 * xs).verdict == "great"


@pytest.mark.parametrize("offset", [0.0, 1 / 3, 0.25, 0.45, -0.3, 0.7, 0.95])
def test_kinks_inside_the_step_are_still_kinks(offset):
    # A kink at offset*epsilon from theta_i: a third of the step makes the
    # jumps at h and h/2 scale like curvature's (2:1), which a ratio test
    # would miss; the four slopes do not.
    eps = 1e-7
    t = np.array([offset * eps, 0.5, -0.7])

    def f(v):
        return float(np.sum(np.abs(v)) + 0.25 * np.sum(v**2))

    grad = np.sign(t) + 0.5 * t
    r = check_grad(f, t, grad)
    inside = abs(offset) < 1
    assert r.n_kinks == int(inside)
    assert r.verdict == "great"
    if inside:  # a gradient outside the one-sided slopes stays a bug
        bad = grad.copy()
        bad[0] = 3.0
        assert check_grad(f, t, bad).verdict == "bug"


def test_relu_kinks_with_curvature():
    t = np.array([0.0, 1e-9, -3e-8, 0.5, -0.7, 2e-8])

    def f(v):
        return float(np.sum(np.maximum(v, 0)) + 0.5 * np.sum(v**2))

    g = (t > 0) + t
    r = check_grad(f, t, g)
    assert r.verdict == "great" and r.n_kinks == 4
    assert check_grad(f, t, 2 * g).verdict == "bug"


@pytest.mark.parametrize("C", [1e4, 1e6, 1e8])
def test_a_large_constant_in_f_is_named_and_the_suggested_epsilon_works(C):
    x = np.random.default_rng(0).standard_normal(5)

    def f(t):
        return C + float(np.sum(np.sin(t)))

    r = check_grad(f, x, np.cos(x))
    assert r.verdict == "check"  # the rounding floor, not a bug
    note = " ".join(r.notes)
    assert "rounding floor" in note and "constant part" in note
    eps = float(re.search(r"epsilon=([0-9.e+-]+)", note).group(1))
    better = check_grad(f, x, np.cos(x), epsilon=eps)
    assert better.difference < r.difference / 30
    # 1e8 leaves float64 ~8 digits for sin: ~5e-6 at best, still "check"
    assert better.verdict == ("great" if C < 1e7 else "check")
    # a real error far above the floor is still a bug
    assert check_grad(f, x, 1.5 * np.cos(x), epsilon=eps).verdict == "bug"


def test_bands_given_by_the_user_are_kept_at_the_floor():
    x = np.random.default_rng(0).standard_normal(5)

    def f(t):
        return 1e8 + float(np.sum(np.sin(t)))

    r = check_grad(f, x, np.cos(x), thresholds=(1e-6, 1e-3))
    assert r.verdict == "bug"


def small_and_large():
    rng = np.random.default_rng(16)
    W, b = rng.standard_normal((20, 20)), rng.standard_normal(3)

    def f(p):
        return float(1e3 * np.sum(np.sin(p["W"])) + 1e-3 * np.sum(p["b"] ** 2))

    return f, {"W": W, "b": b}


def test_a_wrong_small_block_is_not_hidden_by_a_large_one():
    f, theta = small_and_large()
    grads = {"W": 1e3 * np.cos(theta["W"]), "b": 4e-3 * theta["b"]}  # b's is 2x
    r = check_grad(f, theta, grads)
    assert r.difference < 1e-6  # the course's number alone says "great"
    assert r.verdict == "bug" and not r.passed
    assert any("b alone differs" in h for h in r.hints)
    with pytest.raises(GradientCheckError):
        check_grad(f, theta, grads, raise_on_failure=True)


def test_a_right_small_block_at_its_rounding_floor_stays_great():
    f, theta = small_and_large()
    r = check_grad(f, theta, {"W": 1e3 * np.cos(theta["W"]), "b": 2e-3 * theta["b"]})
    assert r.verdict == "great"


def test_float32_near_a_minimum():
    A = np.random.default_rng(5).standard_normal((8, 3))
    x = np.linalg.lstsq(A, np.ones(8), rcond=None)[0] + 1e-4

    def f(t):
        t32 = np.asarray(t, dtype=np.float32)
        return np.float32(0.5) * np.sum((A.astype(np.float32) @ t32 - 1) ** 2)

    g = A.T @ (A @ x - 1)
    assert check_grad(f, x, 3 * g).verdict == "bug"
    assert check_grad(f, x, g).verdict in ("great", "check")


@pytest.mark.parametrize("scale", [1e-9, 1e-6])
def test_check_vjp_near_zero_slope(scale):
    # y = x**2 at x ~ scale: the slope 2x is small next to the curvature
    # times the step; every coordinate used to be flagged as a kink.
    from fastgrad import check_vjp

    x = scale * np.random.default_rng(0).standard_normal(6)
    u = np.random.default_rng(1).standard_normal(6)

    def f(t):
        return t**2

    right = check_vjp(f, x, 2 * x * u, u)
    assert right.n_kinks == 0 and right.verdict in ("great", "check")
    for wrong in (4 * x * u, -2 * x * u):
        r = check_vjp(f, x, wrong, u)
        assert r.verdict == "bug" and r.n_kinks == 0


def test_check_vjp_kinks_are_still_kinks():
    from fastgrad import check_vjp

    t = np.array([0.0, 2e-8, -0.5, 0.3])
    u = np.ones(4)

    def f(v):
        return np.abs(v) + v**2

    assert check_vjp(f, t, np.sign(t) + 2 * t, u).n_kinks == 2
    assert check_vjp(f, t, np.sign(t) + 2 * t, u).verdict == "great"
    bad = np.sign(t) + 2 * t
    bad[0] = 2.5
    assert check_vjp(f, t, bad, u).verdict == "bug"


# -- from a review of the above ----------------------------------------------

def test_a_real_kink_of_a_large_cost_stays_a_kink():
    # |f| ~ 1e7: the half-step test's noise allowance must not swallow a
    # relu's unit jump (it did with a worst-case bound 4x larger).
    def f(x):
        return 1e7 + np.sum(np.maximum(x, 0)) + 0.5 * np.sum(x**2)

    x = np.array([0.0, 1.0, -1.0, 2.0])
    r = check_grad(f, x, (x > 0) + x)  # relu'(0) = 0: a subgradient
    assert r.n_kinks == 1 and r.verdict == "check"


def test_a_block_whose_gradient_is_zero_does_not_escalate_on_rounding():
    # f is invariant to c, df/dc = 0 exactly; its numerical value is a few
    # roundings of a 500-term sum, "100% off" a zero gradient.
    W = 1 + np.random.default_rng(0).normal(size=500)

    def f(p):
        z = p["W"] + p["c"][0]
        return float(np.sum(z**2) - np.sum(z) ** 2 / z.size)

    r = check_grad(f, {"W": W, "c": np.array([0.3])}, {"W": 2 * (W - W.mean()), "c": np.zeros(1)})
    assert r.verdict == "great"
    bad = check_grad(f, {"W": W, "c": np.array([0.3])}, {"W": 2 * (W - W.mean()), "c": np.ones(1)})
    assert bad.verdict == "bug"


def test_half_a_step_that_cannot_be_taken_is_said():
    c = 6e8
    x = np.array([c + np.spacing(c)])  # epsilon = 1e-7 is below one ulp here

    def f(t):
        return float((t[0] - c) ** 2)

    r = check_grad(f, x, 1.5 * 2 * (x - c))
    assert any("could not be looked at with half the step" in h for h in r.hints)


def test_the_floor_holds_in_every_mode():
    x = np.random.default_rng(0).standard_normal(5)

    def f(t):
        return 1e8 + float(np.sum(np.sin(t)))

    for mode in ("full", "sampled", "directional"):
        assert check_grad(f, x, np.cos(x), mode=mode, seed=0).verdict == "check", mode
        assert check_grad(f, x, 1.5 * np.cos(x), mode=mode, seed=0).verdict == "bug", mode


def test_the_half_step_look_runs_on_workers_too():
    f, x, g = least_squares(1)
    r = check_grad(f, x, 2 * g, workers=2)
    assert r.verdict == "bug" and r.n_kinks == 0
    serial = check_grad(f, x, 2 * g)
    assert r.difference == serial.difference


def test_check_vjp_says_when_half_a_step_cannot_be_taken():
    from fastgrad import check_vjp

    c = 6e8
    x = np.array([c + np.spacing(c)])
    r = check_vjp(lambda t: (t - c) ** 2, x, 3 * (x - c), np.ones(1))
    assert any("could not be looked at with half the step" in h for h in r.hints)


# -- from a property-based fuzz of check_grad ---------------------------------

def test_a_large_block_does_not_hide_a_small_blocks_kink():
    # G, the slopes' scale in the kink test, was the RMS over all of theta:
    # a block of slopes 1e7 hid a relu kink in a block of slopes ~1.
    theta = {"big": np.array([0.0]), "small": np.array([5e-8])}

    def f(p):
        return 1e7 * p["big"][0] + max(p["small"][0], 0.0)

    r = check_grad(f, theta, {"big": np.array([1e7]), "small": np.array([1.0])})
    assert r.verdict == "great" and r.n_kinks == 1
    bad = check_grad(f, theta, {"big": np.array([1e7]), "small": np.array([3.0])})
    assert bad.verdict == "bug"


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_curvature_next_to_a_kink_widens_the_subgradient_test(sign):
    # relu plus a strong quadratic: the derivative at theta lies f''h/2
    # outside the one-sided slopes over [theta - h, theta] and [theta, theta + h].
    x = np.array([-5e-8])

    def f(t):
        return max(t[0], 0.0) + sign * 1e3 * t[0] ** 2

    r = check_grad(f, x, np.array([2 * sign * 1e3 * x[0]]))  # f'(x) exactly
    assert r.verdict == "great" and r.n_kinks == 1
    assert check_grad(f, x, np.array([2.0])).verdict == "bug"


def test_a_2x_error_in_a_small_block_resolvable_at_2_percent_noise():
    # numerical db is 3.053e-8 for 3e-8 (1.8% rounding): a 2x error is a bug
    def f(p):
        return 1 + 0.1 * p["w"][0] + 3e-8 * p["b"][0]

    theta = {"w": np.zeros(1), "b": np.zeros(1)}
    assert check_grad(f, theta, {"w": np.array([0.1]), "b": np.array([3e-8])}).verdict != "bug"
    r = check_grad(f, theta, {"w": np.array([0.1]), "b": np.array([6e-8])})
    assert r.verdict == "bug" and any("b alone differs" in h for h in r.hints)


def test_a_float32_kink_of_a_quarter_of_the_slope_is_found():
    # float32 steps are ~0.004: the kink test's allowance for curvature was
    # 25 steps (a 25% kink went unseen and scored "bug"); the half-step
    # look now tells curvature apart, so the allowance is 2.5 steps.
    def f(t):
        t32 = np.float32(t[0])
        return t32 + np.float32(0.25) * np.maximum(t32 - np.float32(0.502), np.float32(0))

    r = check_grad(f, np.array([0.5], np.float32), np.array([1.0], np.float32))
    assert r.n_kinks == 1 and r.verdict == "great"
    assert check_grad(f, np.array([0.5], np.float32), np.array([2.0], np.float32)).verdict == "bug"


def test_check_vjp_a_blocks_floor_is_its_own():
    # float32 A @ B with A ~ 1e-6: A's steps move the output ~1e6x more than
    # B's, and a floor scaled by the largest change anywhere let a 2x and a
    # sign-flipped dB pass as "great" (a central difference resolves dB to 2e-5).
    from fastgrad import check_vjp

    rng = np.random.default_rng(0)
    A = (1e-6 * rng.standard_normal((3, 3))).astype(np.float32)
    B = rng.standard_normal((3, 3)).astype(np.float32)
    U = rng.standard_normal((3, 3)).astype(np.float32)

    def matmul(a, b):
        return np.asarray(a, np.float32) @ np.asarray(b, np.float32)

    dA, dB = U @ B.T, A.T @ U
    assert check_vjp(matmul, (A, B), (dA, dB), U).verdict == "great"
    for wrong in (2.0, -1.0):
        r = check_vjp(matmul, (A, B), (dA, wrong * dB), U)
        assert r.verdict == "bug", wrong
