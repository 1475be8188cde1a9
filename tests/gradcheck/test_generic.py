"""check_grad / numerical_gradient on plain Python functions."""
import math

import numpy as np
import pytest

from fastgrad import check_grad, numerical_gradient
from fastgrad.gradcheck._generic_kernel import relative_difference


def f(t):
    return float(np.sum(np.sin(t) * t ** 2))


def df(t):
    return np.cos(t) * t ** 2 + 2 * t * np.sin(t)


def numpy_central(f, theta, eps):
    theta = np.array(theta, dtype=float)
    out = np.empty(theta.size)
    flat = theta.reshape(-1)
    for i in range(flat.size):
        tp, tm = flat.copy(), flat.copy()
        tp[i] += eps
        tm[i] -= eps
        out[i] = (f(tp.reshape(theta.shape)) - f(tm.reshape(theta.shape))) / (tp[i] - tm[i])
    return out.reshape(theta.shape)


@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 2), ()])
def test_numerical_gradient_matches_numpy_loop_and_keeps_theta(shape):
    theta = np.random.default_rng(0).standard_normal(shape)
    before = theta.copy()
    seen = []

    def spy(t):
        seen.append(t.shape)
        return f(t)

    g = numerical_gradient(spy, theta, epsilon=1e-6)
    assert g.shape == theta.shape
    assert np.array_equal(theta, before)
    assert all(s == theta.shape for s in seen)
    np.testing.assert_allclose(g, numpy_central(f, theta, 1e-6), rtol=0, atol=1e-12)
    np.testing.assert_allclose(g, df(theta), rtol=1e-7, atol=1e-9)


def test_check_grad_verdicts_and_callable_grad():
    theta = np.linspace(-2, 2, 12).reshape(3, 4)
    good = check_grad(f, theta, df)
    assert good.verdict == "great" and good.mode == "callable"
    assert good.numerical["theta"].shape == (3, 4)
    bad = check_grad(f, theta, 1.5 * df(theta))
    assert bad.verdict == "bug"
    assert any("1.50x" in h for h in bad.hints)


def test_theta_is_restored_exactly_even_when_f_raises():
    theta = np.array([0.1, 0.2, 0.3])
    calls = []

    def boom(t):
        calls.append(t.copy())
        if len(calls) == 3:
            raise RuntimeError("boom")
        return float(t.sum())

    with pytest.raises(RuntimeError):
        numerical_gradient(boom, theta)
    assert np.array_equal(theta, [0.1, 0.2, 0.3])


def test_relative_difference_kernel_against_numpy():
    rng = np.random.default_rng(1)
    for scale in (1e-200, 1.0, 1e200):
        a = rng.standard_normal(50) * scale
        b = a + rng.standard_normal(50) * scale * 1e-3
        d, nd, na, nb = relative_difference(a, b)
        ref = np.linalg.norm(a / scale - b / scale) / (np.linalg.norm(a / scale) + np.linalg.norm(b / scale))
        assert d == pytest.approx(ref, rel=1e-12)
    assert relative_difference(np.zeros(3), np.zeros(3))[0] == 0.0
    assert relative_difference(np.zeros(0), np.zeros(0))[0] == 0.0


def _dnrm2(values):
    """LAPACK's dnrm2 recurrence in plain Python floats (IEEE doubles, the
    same operations in the same order): the bits the kernel must give."""
    scale, ssq = 0.0, 1.0
    for v in values:
        if v != 0.0:
            a = abs(v)
            if scale < a:
                ssq = 1.0 + ssq * (scale / a) * (scale / a)
                scale = a
            else:  # scale is 0 here only for a NaN entry (C: NaN / 0 = NaN)
                ssq += (a / scale) * (a / scale) if scale else math.nan
    return scale * math.sqrt(ssq)


def test_relative_difference_has_the_bits_of_three_dnrm2_passes():
    """The three norms are taken in one interleaved pass; each must still
    be the sequential recurrence, bit for bit (the golden reports rest on
    it), with zeros, huge and tiny entries and a growing scale."""
    rng = np.random.default_rng(7)
    for size in (1, 2, 5, 333, 4000):
        a = rng.standard_normal(size) * np.exp(rng.uniform(-300, 300, size) * (rng.random(size) < 0.2))
        n = a * (1 + 1e-7 * rng.standard_normal(size))
        n[rng.random(size) < 0.1] = 0.0
        a[rng.random(size) < 0.1] = 0.0
        d, nd, na, nn = relative_difference(a, n)
        al, nl = a.tolist(), n.tolist()
        ref = (_dnrm2([x + (-1.0) * y for x, y in zip(al, nl)]), _dnrm2(al), _dnrm2(nl))
        assert (nd.hex(), na.hex(), nn.hex()) == tuple(r.hex() for r in ref)
        assert d == (0.0 if ref[1] + ref[2] == 0 else ref[0] / (ref[1] + ref[2]))


def test_relative_difference_keeps_the_bits_around_its_vectorized_blocks():
    """The norms take blocks of entries that raise no scale in one
    vectorized step: the bits must stay the recurrence's when a block holds
    zeros, a new maximum, a NaN or an infinity, at every offset."""
    rng = np.random.default_rng(3)
    specials = [0.0, -0.0, math.nan, math.inf, -math.inf, 5e-324, 1e300, 1e-300]
    for size in (63, 64, 65, 200, 1000):
        for trial in range(12):
            a = rng.standard_normal(size)
            n = a + 1e-6 * rng.standard_normal(size)
            for arr in (a, n):
                where = rng.integers(0, size, 3)
                arr[where] = rng.choice(specials, 3)
            d, nd, na, nn = relative_difference(a, n)
            al, nl = a.tolist(), n.tolist()
            ref = (_dnrm2([x + (-1.0) * y for x, y in zip(al, nl)]), _dnrm2(al), _dnrm2(nl))
            assert (nd.hex(), na.hex(), nn.hex()) == tuple(r.hex() for r in ref), (size, trial)


def test_block_norms_are_each_blocks_and_the_whole_vectors_recurrence():
    """``block_norms``: every block's three norms over its used entries and
    the whole vector's (with and without the skipped entries), to the bits
    of the plain recurrence on the compacted, concatenated entries; the
    worst entry is ``np.argmax`` of ``|a − n|`` with skipped entries as −1;
    1 and 2 threads agree."""
    from fastgrad.gradcheck._generic_kernel import block_norms

    rng = np.random.default_rng(11)

    def norms(a, n):
        d, na, nn = _dnrm2([x + (-1.0) * y for x, y in zip(a, n)]), _dnrm2(a), _dnrm2(n)
        return [0.0 if na + nn == 0 else d / (na + nn), d, na, nn]

    def same(x, y):
        return all(p == q or (math.isnan(p) and math.isnan(q)) for p, q in zip(x, y))

    for trial in range(40):
        sizes = rng.integers(0, 150, rng.integers(1, 5))
        P = int(sizes.sum())
        a = rng.standard_normal(P) * (rng.random(P) < 0.9)
        n = a + 1e-6 * rng.standard_normal(P)
        if trial % 3 == 0 and P:
            a[rng.integers(P)] = rng.choice([math.nan, math.inf, 1e300])
        skip = rng.random(P) < 0.2 if trial % 2 else None
        use = np.ones(P, bool) if skip is None else ~skip
        edges = np.concatenate([[0], np.cumsum(sizes)])
        A = [a[s:e] for s, e in zip(edges[:-1], edges[1:])]
        N = [n[s:e] for s, e in zip(edges[:-1], edges[1:])]
        got = [
            block_norms(A, N, None if skip is None else skip.view(np.uint8), True, nt)
            for nt in (1, 2)
        ]
        for out in got:
            rows, worst, werr, whole_all, whole_use = out
            assert same(whole_all, norms(a.tolist(), n.tolist()))
            assert same(whole_use, norms(a[use].tolist(), n[use].tolist()))
            for b, (s, e) in enumerate(zip(edges[:-1], edges[1:])):
                u = use[s:e]
                assert same(rows[b], norms(a[s:e][u].tolist(), n[s:e][u].tolist()))
                err = np.where(u, np.abs(a[s:e] - n[s:e]), -1.0)
                assert worst[b] == (int(np.argmax(err)) if e > s else 0)
                assert e == s or same([werr[b]], [err[worst[b]]])
        assert all(x.tobytes() == y.tobytes() for x, y in zip(got[0], got[1]))


def test_block_norms_fill_every_row_when_openmp_gives_one_thread():
    """Asked for 2 threads, ``block_norms`` must still fill every block's row
    and the whole-θ norms when OpenMP starts fewer (OMP_THREAD_LIMIT=1, or
    OMP_DYNAMIC on a loaded machine): the two passes are parts of a loop,
    not jobs for thread ids. Checked in a child process, which reads the
    limit at start; the reference is relative_difference block by block."""
    import os
    import pathlib
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from fastgrad.gradcheck._generic_kernel import block_norms, relative_difference\n"
        "rng = np.random.default_rng(5)\n"
        "A = [rng.standard_normal(n) for n in (40, 7, 300)]\n"
        "N = [a * (1 + 1e-3 * rng.standard_normal(a.size)) for a in A]\n"
        "rows, worst, werr, whole, use = block_norms(A, N, None, True, 2)\n"
        "ok = all(rows[b, 0] == relative_difference(a, n)[0] > 0 for b, (a, n) in enumerate(zip(A, N)))\n"
        "ok &= all(worst[b] == np.argmax(np.abs(a - n)) for b, (a, n) in enumerate(zip(A, N)))\n"
        "ok &= whole[0] == relative_difference(np.concatenate(A), np.concatenate(N))[0] > 0\n"
        "print('OK' if ok else 'WRONG', rows[:, 0], worst)\n"
    )
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    here = pathlib.Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=here, timeout=60)
    assert out.stdout.startswith("OK"), out.stdout + out.stderr


@pytest.mark.parametrize("to_int", [int, np.int64, lambda v: np.asarray(v).astype(np.int32)])
def test_an_f_returning_whole_numbers_is_refused(to_int):
    # Its differences are 0 or ~1/epsilon, and every coordinate looked like
    # a kink, left out of the verdict: a gradient 1000x wrong passed.
    theta = np.array([1.0, 2.0])
    f = lambda t: to_int(np.sum(t * 1000))  # noqa: E731
    for call in (lambda: check_grad(f, theta, np.full(2, 1.0)),
                 lambda: numerical_gradient(f, theta)):
        with pytest.raises(ValueError, match=r"returns whole numbers only"):
            call()
    assert check_grad(lambda t: float(np.sum(t * 1000)), theta, np.full(2, 1000.0)).passed


def test_an_int_on_a_flat_side_is_fine():
    # max(0, x) is the int 0 where x < 0: a hinge with every margin met is
    # flat (gradient 0), and a relu at a point just above its kink
    w = np.array([0.5, 0.25])  # every margin met: y·(x·w) = 4 and 5
    X = np.array([[1.0, 2.0], [3.0, -1.0]])
    y = np.array([1.0, 1.0])

    def hinge(w):
        return sum(max(0, 1 - yi * float(xi @ w)) for xi, yi in zip(X * 4, y))

    assert check_grad(hinge, w, np.zeros(2)).verdict == "great"
    g = numerical_gradient(lambda x: max(0, float(x[0])), np.array([5e-8]))
    assert g[0] == pytest.approx(0.75, rel=1e-6)  # (5e-8 + 1e-7 - 0) / 2e-7


def test_a_vjp_f_returning_integers_is_refused():
    from fastgrad import check_vjp

    x = np.array([1.0, 2.0])
    with pytest.raises(TypeError, match=r"must return floating-point values, got dtype int64"):
        check_vjp(lambda x: (x * 1000).astype(np.int64), x, np.ones(2), np.ones(2))


def test_an_f_that_samples_is_refused_as_not_deterministic():
    # dropout redrawn at every call: every difference is noise, and the
    # hints sent users after a "constant factor"
    from fastgrad import check_vjp

    rng = np.random.default_rng(0)
    theta = np.array([0.5, 1.0, 1.5])

    def noisy(t):
        return float(np.sum(t**2) + 1e-3 * rng.random())

    for call in (lambda: check_grad(noisy, theta, 2 * theta),
                 lambda: numerical_gradient(noisy, theta)):
        with pytest.raises(ValueError, match=r"f \(noisy\) is not deterministic: two calls "
                                             r"with the same theta gave"):
            call()
    with pytest.raises(ValueError, match=r"not deterministic: .* at output index \(\d,\)"):
        check_vjp(lambda x: x * (rng.random(3) < 0.8), theta, np.ones(3), np.ones(3))


def test_a_float32_f_gets_float32_steps_in_numerical_gradient_too():
    # epsilon=1e-7 is below float32's resolution: the plain loop gave [0, 2.38, 2.38]
    theta = np.array([0.5, 1.0, 1.5])

    def f32(t):
        return np.float32(np.sum(t**2))

    g = numerical_gradient(f32, theta)
    np.testing.assert_allclose(g, 2 * theta, rtol=1e-3)
    rep = check_grad(f32, theta, 2 * theta)
    assert g.tobytes() == rep.numerical["theta"].tobytes()


def test_a_float16_f_is_refused():
    from fastgrad import check_vjp

    theta = np.array([0.5, 1.0, 1.5])
    for call in (lambda: check_grad(lambda t: np.float16(np.sum(t**2)), theta, 2 * theta),
                 lambda: numerical_gradient(lambda t: np.float16(np.sum(t**2)), theta)):
        with pytest.raises(TypeError, match="got float16: its ~3 digits"):
            call()
    with pytest.raises(TypeError, match="got float16"):
        check_vjp(lambda x: (x**2).astype(np.float16), theta, 2 * theta, np.ones(3))


def test_rounding_that_changes_from_call_to_call_is_not_sampling():
    # a reduction summed in another order at each call (threads, a GPU):
    # the last digits move, the function does not
    order = np.random.default_rng(1)
    A = 100 * np.random.default_rng(2).standard_normal((40, 3))
    b = A @ np.array([0.5, -1.0, 2.0]) + 1e-3

    def lsq(x):  # near its minimum: the residuals are small next to A @ x
        Ax = np.array([np.sum((a * x)[order.permutation(3)]) for a in A])
        return float(np.sum((Ax - b) ** 2))

    def f32sum(x):
        terms = (np.float32(10) * x.astype(np.float32) ** 2)[order.permutation(x.size)]
        return np.float32(np.sum(np.concatenate([terms, terms[:1] * 0])))

    x = np.array([0.5, -1.0, 2.0])
    assert check_grad(lsq, x, 2 * A.T @ (A @ x - b)).verdict == "great"
    t = np.linspace(0.5, 3.0, 40)
    assert check_grad(f32sum, t, 20 * t).verdict == "great"


def test_a_nan_at_theta_itself_is_fine_where_f_theta_is_not_used():
    # sin(x)/x at 0: NaN there, finite at ±epsilon
    with np.errstate(invalid="ignore"):
        g = numerical_gradient(lambda x: float(np.sin(x[0]) / x[0]), np.zeros(1))
    assert g[0] == 0.0


def test_the_epsilon_advice_stays_below_the_inputs_own_size():
    # f bends over ~1e-3 (sin(t/1e-3)) under a large constant: the difference
    # sits at the rounding floor. The advice assumed a length of 1 and said
    # "try epsilon=5e-04", a 50% move of every input (that check scores "bug")
    import re

    rng = np.random.default_rng(0)
    x = 1e-3 * rng.standard_normal(8)

    def f(t):
        return 1e6 + np.sum(1e-3 * np.sin(t / 1e-3))

    g = np.cos(x / 1e-3)
    rep = check_grad(f, x, g)
    note = next(n for n in rep.notes if "rounding floor" in n)
    best = float(re.search(r"try epsilon=([0-9.e+-]+) ", note).group(1))
    assert best <= 0.1 * np.sqrt(np.mean(x**2))
    assert check_grad(f, x, g, epsilon=best).difference < rep.difference


def test_small_biases_beside_large_weights_do_not_stop_the_epsilon_advice():
    # a cost of ~1e8 (its rounding hides 1e-7 steps) on weights of ~1 and
    # biases of ~1e-5: the advice is a larger epsilon, and it does help
    rng = np.random.default_rng(3)
    W, b = rng.uniform(0.5, 1.5, 20), rng.uniform(-1e-5, 1e-5, 5)

    def f(p):
        w, c = np.asarray(p["W"]), np.asarray(p["b"])
        return float(1e8 + np.sum(np.sin(w)) + np.sum(c ** 2 + c))

    g = {"W": np.cos(W), "b": 2 * b + 1}
    rep = check_grad(f, {"W": W, "b": b}, g)
    text = " ".join(rep.notes)
    assert "try epsilon=" in text and "does not help" not in text, text
    eps = float(text.split("try epsilon=")[1].split(" ")[0])
    assert check_grad(f, {"W": W, "b": b}, g, epsilon=eps).difference < rep.difference / 10
