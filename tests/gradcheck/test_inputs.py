"""check_grad / numerical_gradient: what f sees, bad values from f, bad inputs.

References are plain NumPy loops written here; the caller's arrays are
byte-compared before and after every call.
"""
import numpy as np
import pytest

from fastgrad import check_grad, numerical_gradient

EPS = 1e-7


def f(t):
    return float(np.sum(np.sin(t) * t ** 2))


def df(t):
    return np.cos(t) * t ** 2 + 2 * t * np.sin(t)


def numpy_central(func, theta, eps):
    """Plain loop over fresh copies, dividing by the step actually taken."""
    theta = np.array(theta, dtype=float)
    flat = theta.reshape(-1)
    out = np.empty(flat.size)
    for i in range(flat.size):
        tp, tm = flat.copy(), flat.copy()
        tp[i] += eps
        tm[i] -= eps
        out[i] = (func(tp.reshape(theta.shape)) - func(tm.reshape(theta.shape))) / (tp[i] - tm[i])
    return out.reshape(theta.shape)


def _bits(a):
    return np.ascontiguousarray(a).view(np.uint8).tobytes()


# -- what f sees ---------------------------------------------------------------

def _theta_where_restoring_by_arithmetic_fails():
    """Values θ with (θ + ε) − ε != θ and (θ − ε) + ε != θ in float64, so a
    loop that 'restores' θ_i arithmetically instead of from saved bits
    leaves a wrong coordinate behind."""
    # |θ| well below ε: θ ± ε has a coarser spacing than θ, so the round trip
    # loses θ's low bits (for θ ~ 1 it would give θ back and prove nothing).
    cands = np.random.default_rng(3).uniform(1e-10, 5e-8, 400) * np.array([1, -1] * 200)
    bad = cands[((cands + EPS) - EPS != cands) & ((cands - EPS) + EPS != cands)]
    return bad[:6].reshape(2, 3)


C = np.arange(1.0, 7.0).reshape(2, 3)


def quad(t):
    """Σ c·t + ½Σt²: its central difference is exact up to rounding."""
    return float(np.sum(C * t) + 0.5 * np.sum(t * t))


def _watcher(original, at_theta=0):
    """f that asserts, at every call, that exactly one coordinate is moved,
    by exactly ±ε from its original bits, and every other one is untouched
    (``at_theta`` calls at θ itself allowed: check_grad's kink test)."""
    flat0 = original.ravel()
    calls = []
    unmoved = []

    def watch(t):
        flat = np.asarray(t).ravel()
        moved = np.flatnonzero(flat.view(np.uint64) != flat0.view(np.uint64))
        if moved.size == 0 and len(unmoved) < at_theta:
            unmoved.append(len(calls))
            return quad(t)
        assert moved.size == 1, f"call {len(calls)}: coordinates {moved} differ from theta"
        i = int(moved[0])
        assert flat[i] in (flat0[i] + EPS, flat0[i] - EPS)
        calls.append(i)
        return quad(t)

    return watch, calls


def test_f_sees_every_other_coordinate_with_its_original_bits():
    theta = _theta_where_restoring_by_arithmetic_fails()
    assert theta.size == 6  # the premise: such values exist
    before = _bits(theta)
    # f(θ) twice (is it deterministic?) and once more at the end (a closure
    # that stores its argument is left at θ)
    watch, calls = _watcher(theta, at_theta=3)
    g = numerical_gradient(watch, theta, epsilon=EPS)
    assert sorted(calls) == sorted(list(range(6)) * 2)
    np.testing.assert_allclose(g, numpy_central(quad, theta, EPS), rtol=0, atol=1e-9)
    np.testing.assert_allclose(g, C + theta, rtol=1e-8)
    watch, calls = _watcher(theta, at_theta=3)  # determinism and the kink test; the end
    report = check_grad(watch, theta, C + theta, epsilon=EPS)
    assert report.verdict == "great" and len(calls) == 12
    assert _bits(theta) == before


def test_f_gets_a_read_only_argument_and_cannot_corrupt_the_check():
    theta = np.array([0.3, -1.2, 2.0])
    before = _bits(theta)

    def scribbler(t):
        t[0] = 5.0  # a user function that reuses its argument as scratch
        return float(t.sum())

    for call in (lambda: numerical_gradient(scribbler, theta),
                 lambda: check_grad(scribbler, theta, np.ones(3))):
        with pytest.raises(ValueError, match="wrote into its argument"):
            call()
    assert _bits(theta) == before

    def inplace_ufunc(t):
        np.multiply(t, 2.0, out=t)
        return float(t.sum())

    with pytest.raises(ValueError, match="wrote into its argument"):
        numerical_gradient(inplace_ufunc, theta)
    assert _bits(theta) == before


def test_f_that_forces_its_argument_writable_is_caught_after_the_loop():
    theta = np.array([0.3, -1.2, 2.0])

    def sneaky(t):
        try:
            t.flags.writeable = True
        except ValueError:
            return float(t.sum())
        t[2] += 1.0
        return float(t.sum())

    try:
        numerical_gradient(sneaky, theta)
    except ValueError as e:
        assert "modified its argument" in str(e) or "wrote into" in str(e)
    else:  # numpy refused to make the view writable: nothing could be written
        pass
    assert np.array_equal(theta, [0.3, -1.2, 2.0])


# -- bad values from f ----------------------------------------------------------

@pytest.mark.parametrize("side", ["+", "-"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_f_names_the_coordinate_and_side(side, bad):
    theta = np.arange(12, dtype=float).reshape(3, 4) / 7
    target = theta[1, 2]

    def g(t):
        x = t[1, 2]
        if (side == "+" and x > target) or (side == "-" and x < target):
            return bad
        return float(np.sum(t ** 2))

    before = _bits(theta)
    for call in (lambda: check_grad(g, theta, 2 * theta), lambda: numerical_gradient(g, theta)):
        with pytest.raises(ValueError) as info:
            call()
        msg = str(info.value)
        assert f"theta[1, 2] {side} epsilon" in msg, msg
        assert "finite" in msg
    assert _bits(theta) == before


def test_f_non_finite_at_theta_itself_says_so():
    with np.errstate(divide="ignore"), pytest.raises(ValueError, match="at theta itself"):
        check_grad(lambda t: float(np.sum(np.log(t))), np.array([1.0, 0.0]), np.ones(2))


@pytest.mark.parametrize("value,exc,words", [
    (np.array([1.0, 2.0]), ValueError, "shape"),
    (np.zeros((2, 2)), ValueError, "shape"),
    (1 + 2j, TypeError, "real number"),
    (np.complex128(1.0), TypeError, "complex"),
    ("1.0", TypeError, "real number"),
    (None, TypeError, "real number"),
    (True, TypeError, "bool"),
    ([1.0], TypeError, "real number"),
])
def test_f_must_return_one_real_number(value, exc, words):
    def g(t):
        return value

    with pytest.raises(exc, match=words):
        check_grad(g, np.array([0.5, 1.5]), np.ones(2))


@pytest.mark.parametrize("wrap,eps,tol", [
    (np.float64, 1e-7, 1e-6), (lambda v: np.array(v), 1e-7, 1e-6),
    (lambda v: np.array([[v]]), 1e-7, 1e-6),
    (np.float32, 1e-2, 1e-3),  # float32 values: only a coarse step survives their rounding
])
def test_f_may_return_numpy_scalars_and_one_element_arrays(wrap, eps, tol):
    theta = np.array([0.4, -0.9, 1.3])
    g = numerical_gradient(lambda t: wrap(float(np.sum(t ** 3))), theta, epsilon=eps)
    # (f(θ+ε) − f(θ−ε)) / 2ε = 3θ² + ε² exactly for a cubic
    np.testing.assert_allclose(g, 3 * theta ** 2 + eps ** 2, rtol=tol)


def test_f_returning_ints_is_accepted():
    g = numerical_gradient(lambda t: np.int64(7), np.array([0.5, 1.5]))
    assert np.array_equal(g, [0.0, 0.0])


# -- theta ---------------------------------------------------------------------

def test_empty_theta_is_refused_by_check_grad():
    with pytest.raises(ValueError, match="theta is empty"):
        check_grad(lambda t: 0.0, np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="theta is empty"):
        check_grad(lambda t: 0.0, np.zeros((3, 0)), np.zeros((3, 0)))


def test_numerical_gradient_of_empty_theta_is_empty():
    g = numerical_gradient(lambda t: 0.0, np.zeros((0, 3)))
    assert g.shape == (0, 3) and g.dtype == np.float64


@pytest.mark.parametrize("big", [1e308, -1e308, 1e17])
def test_theta_where_the_step_vanishes_is_refused_with_the_coordinate(big):
    theta = np.array([[0.5, big]])
    with pytest.raises(ValueError, match=r"theta\[0, 1\].*rounds back to theta"):
        check_grad(lambda t: float(np.sum(t)), theta, np.ones((1, 2)))
    with pytest.raises(ValueError, match=r"theta\[0, 1\]"):
        numerical_gradient(lambda t: float(np.sum(t)), theta)


def test_theta_plus_epsilon_overflowing_is_refused_before_f_is_called():
    calls = []
    theta = np.array([0.0, 1.79e308])

    def g(t):
        calls.append(np.array_equal(t, theta))
        return float(np.sum(t))

    with pytest.raises(ValueError, match=r"theta\[1\].*overflows"):
        numerical_gradient(g, theta, epsilon=1e306)
    # at theta itself only (is f deterministic?; and once more on the way
    # out, so a closure is left there), never at theta ± eps
    assert calls == [True, True, True]


def test_large_but_steppable_theta_gives_the_correct_gradient():
    # |θ| ~ 1e8: θ ± 1e-7 is representable but coarse; dividing by the step
    # actually taken keeps the result exact for a linear f.
    # actually taken keeps the result exact for a linear f. (f is written
    # relative to θ₀ so that f itself has no cancellation error: t − θ₀ is
    # exact there.)
    theta = np.array([1.23456789e8, -3.3e7, 0.25])
    assert ((theta + EPS) - (theta - EPS) != 2 * EPS)[:2].all()  # the premise
    w = np.array([2.0, -0.5, 3.0])

    def lin(t):
        return float(w @ (t - theta))

    g = numerical_gradient(lin, theta)
    np.testing.assert_allclose(g, w, rtol=1e-12)
    np.testing.assert_allclose(g, numpy_central(lin, theta, EPS), rtol=1e-12)


@pytest.mark.parametrize("theta,exc", [
    (np.array([1.0, np.nan]), ValueError),
    (np.array([1.0, np.inf]), ValueError),
    (np.array([1 + 1j, 2.0]), TypeError),
    (np.array(["a", "b"]), TypeError),
    (np.array([object(), 1.0], dtype=object), TypeError),
    (np.ma.masked_array([1.0, 2.0], mask=[False, True]), TypeError),
])
def test_bad_theta(theta, exc):
    before = _bits(theta.data if isinstance(theta, np.ma.MaskedArray) else theta) \
        if theta.dtype != object else None
    with pytest.raises(exc, match="theta"):
        check_grad(f, theta, np.ones(2))
    with pytest.raises(exc, match="theta"):
        numerical_gradient(f, theta)
    if before is not None:
        assert _bits(theta.data if isinstance(theta, np.ma.MaskedArray) else theta) == before


def test_theta_layouts_and_dtypes_give_the_numpy_result():
    base = np.linspace(-1, 1, 24).reshape(4, 6)
    for theta in (base, np.asfortranarray(base), base[:, ::2], base.T,
                  base.astype(np.float16), (base * 10).astype(np.int64)):
        ref_theta = np.asarray(theta, dtype=np.float64)
        before = _bits(theta)
        with pytest.warns(UserWarning, match="float64") if theta.dtype == np.float16 \
                else _no_warning():
            g = numerical_gradient(f, theta)
        np.testing.assert_allclose(g, numpy_central(f, ref_theta, EPS), rtol=0, atol=1e-12)
        assert _bits(theta) == before


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_read_only_theta_is_fine():
    theta = np.array([0.2, 0.7])
    theta.flags.writeable = False
    report = check_grad(f, theta, df(theta))
    assert report.verdict == "great"


# -- grad ------------------------------------------------------------------------

def test_grad_shape_and_values_are_validated():
    theta = np.linspace(-1, 1, 6).reshape(2, 3)
    with pytest.raises(ValueError, match="transposed"):
        check_grad(f, theta, df(theta).T)
    with pytest.raises(ValueError, match=r"grad has shape \(6,\)"):
        check_grad(f, theta, df(theta).ravel())
    bad = df(theta)
    bad[1, 1] = np.nan
    before = _bits(bad)
    with pytest.raises(ValueError, match=r"grad contains NaN or inf \(first at index \(1, 1\)"):
        check_grad(f, theta, bad)
    assert _bits(bad) == before
    with pytest.raises(TypeError, match="grad must hold real numbers"):
        check_grad(f, theta, df(theta).astype(complex))
    with pytest.raises(ValueError, match="grad has shape"):
        check_grad(f, theta, lambda t: df(t).ravel())


def test_callable_grad_gets_a_copy_it_cannot_use_to_corrupt_theta():
    theta = np.array([0.3, 0.9])

    def grad(t):
        t_copy = np.array(t)
        return df(t_copy)

    assert check_grad(f, theta, grad).verdict == "great"
    assert np.array_equal(theta, [0.3, 0.9])


# -- loose arguments --------------------------------------------------------------

@pytest.mark.parametrize("epsilon,exc", [
    (True, TypeError), (False, TypeError), ("1e-7", TypeError), (None, TypeError),
    ([1e-7], TypeError), (np.nan, ValueError), (np.inf, ValueError), (0.0, ValueError),
    (-1e-7, ValueError), (1j, TypeError),
])
def test_epsilon_is_validated(epsilon, exc):
    with pytest.raises(exc, match="epsilon"):
        check_grad(f, np.ones(2), df(np.ones(2)), epsilon=epsilon)
    with pytest.raises(exc, match="epsilon"):
        numerical_gradient(f, np.ones(2), epsilon=epsilon)


@pytest.mark.parametrize("epsilon", [1e-6, np.float32(1e-4), 1e-5])
def test_epsilon_accepts_real_numbers(epsilon):
    theta = np.array([0.4, 1.1])
    g = numerical_gradient(f, theta, epsilon=epsilon)
    np.testing.assert_allclose(g, numpy_central(f, theta, float(epsilon)), rtol=0, atol=1e-12)


def test_f_must_be_callable():
    with pytest.raises(TypeError, match="f must be a callable"):
        check_grad(np.ones(2), np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="f must be a callable"):
        numerical_gradient("f", np.ones(2))


@pytest.mark.parametrize("progress", ["yes", 1, 0.0])
def test_progress_is_validated(progress):
    with pytest.raises(TypeError, match="progress"):
        check_grad(f, np.ones(2), df(np.ones(2)), progress=progress)


def test_thresholds_are_validated_in_check_grad():
    theta = np.ones(2)
    for bad, exc in [(("1e-6", "1e-3"), TypeError), ((True, True), TypeError),
                     (1e-6, TypeError), ((np.nan, 1e-3), ValueError),
                     ((1e-3, 1e-6), ValueError), ((0.0, 1e-3), ValueError),
                     ((1e-6, np.inf), ValueError), ((1e-6, 1e-3, 1.0), TypeError)]:
        with pytest.raises(exc, match="thresholds"):
            check_grad(f, theta, df(theta), thresholds=bad)
    report = check_grad(f, theta, df(theta), thresholds=np.array([1e-9, 1e-2]))
    assert report.thresholds == (1e-9, 1e-2)


def test_f_returning_a_huge_int_is_a_clear_error():
    with pytest.raises(ValueError, match="too large for a float64"):
        numerical_gradient(lambda t: 10 ** 400, np.array([0.5]))


