"""Datasets: layout, the geometry of each set (noise-free versions checked
against their formulas), seeding, the global RNG and the split helper."""
import numpy as np
import pytest

from fastgrad import datasets

GENERATORS = [datasets.make_circles, datasets.make_moons, datasets.make_flower, datasets.make_elongated]


@pytest.mark.parametrize("make", GENERATORS)
@pytest.mark.parametrize("m", [2, 7, 300])
def test_layout_and_balance(make, m):
    X, Y = make(m, seed=0)
    assert X.shape == (2, m) and X.dtype == np.float64
    assert Y.shape == (1, m) and Y.dtype == np.int64
    assert set(np.unique(Y)) <= {0, 1}
    assert np.all(np.isfinite(X))
    if make is not datasets.make_elongated:   # elongated's labels come from a rule
        assert abs(int(Y.sum()) - m / 2) <= 0.5


@pytest.mark.parametrize("make", GENERATORS)
def test_seeded_and_global_rng_untouched(make):
    np.random.seed(0)
    before = np.random.get_state()
    a, b = make(50, seed=3), make(50, seed=3)
    c = make(50, seed=4)
    make(50)
    after = np.random.get_state()
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]


def _sorted_columns(X):
    return X[:, np.lexsort(X[::-1])]


def test_circles_geometry():
    X, Y = datasets.make_circles(200, noise=0.0, factor=0.6, seed=1)
    r = np.hypot(X[0], X[1])
    np.testing.assert_allclose(r[Y[0] == 0], 1.0, rtol=1e-12)
    np.testing.assert_allclose(r[Y[0] == 1], 0.6, rtol=1e-12)
    # Evenly spaced angles, as scikit-learn draws them.
    t = np.linspace(0, 2 * np.pi, 100, endpoint=False)
    np.testing.assert_allclose(_sorted_columns(X[:, Y[0] == 0]),
                               _sorted_columns(np.vstack([np.cos(t), np.sin(t)])), atol=1e-12)
    Xn, Yn = datasets.make_circles(2000, noise=0.05, seed=1)
    resid = np.hypot(Xn[0], Xn[1]) - np.where(Yn[0] == 0, 1.0, 0.8)
    assert np.std(resid) == pytest.approx(0.05, rel=0.1)


def test_moons_geometry():
    X, Y = datasets.make_moons(100, noise=0.0, seed=2)
    a, b = X[:, Y[0] == 0], X[:, Y[0] == 1]
    np.testing.assert_allclose(np.hypot(a[0], a[1]), 1.0, rtol=1e-12)
    assert np.all(a[1] >= -1e-12)
    np.testing.assert_allclose(np.hypot(b[0] - 1.0, b[1] - 0.5), 1.0, rtol=1e-12)
    assert np.all(b[1] <= 0.5 + 1e-12)


def test_flower_is_the_course_formula():
    m, a = 400, 4.0
    X, Y = datasets.make_flower(m, noise=0.0, seed=0)
    # The course's load_planar_dataset without its noise terms.
    expected = []
    for j in range(2):
        t = np.linspace(j * 3.12, (j + 1) * 3.12, m // 2)
        r = a * np.sin(4 * t)
        expected.append(np.vstack([r * np.sin(t), r * np.cos(t)]))
    for j in range(2):
        np.testing.assert_allclose(_sorted_columns(X[:, Y[0] == j]), _sorted_columns(expected[j]), atol=1e-12)


def test_elongated_scales_and_rule():
    X, Y = datasets.make_elongated(5000, noise=0.0, seed=0)
    assert 1.0 <= X[0].min() and X[0].max() <= 1000.0 and X[0].max() > 990
    assert 0.0 <= X[1].min() and X[1].max() <= 1.0 and X[1].max() > 0.99
    assert X[0].std() / X[1].std() > 500   # the point: scales ~1000x apart
    expected = ((X[0] - 500.5) / 999.0 + (X[1] - 0.5) > 0).astype(np.int64)
    np.testing.assert_array_equal(Y[0], expected)
    assert 0.4 < Y.mean() < 0.6


@pytest.mark.parametrize("make, kwargs, exc", [
    (datasets.make_circles, {"m": 0}, ValueError),
    (datasets.make_circles, {"m": 2.5}, TypeError),
    (datasets.make_circles, {"noise": -1.0}, ValueError),
    (datasets.make_circles, {"factor": 1.0}, ValueError),
    (datasets.make_moons, {"noise": float("nan")}, ValueError),
    (datasets.make_flower, {"m": 1}, ValueError),
    (datasets.make_elongated, {"seed": 1.5}, TypeError),
])
def test_bad_arguments(make, kwargs, exc):
    with pytest.raises(exc, match="|".join(kwargs)):
        make(**kwargs)


def test_train_test_split_partition():
    X, Y = datasets.make_moons(101, seed=0)
    X0, Y0 = X.copy(), Y.copy()
    Xtr, Xte, Ytr, Yte = datasets.train_test_split(X, Y, test_size=0.2, seed=5)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)
    assert Xtr.shape == (2, 80) and Xte.shape == (2, 21) and Ytr.shape == (1, 80) and Yte.shape == (1, 21)
    # Together the parts are exactly the original columns, each once.
    joined = np.hstack([np.vstack([Xtr, Ytr]), np.vstack([Xte, Yte])])
    np.testing.assert_array_equal(_sorted_columns(joined), _sorted_columns(np.vstack([X, Y])))
    again = datasets.train_test_split(X, Y, test_size=0.2, seed=5)
    np.testing.assert_array_equal(again[1], Xte)
    Xtr[0, 0] = 1e9
    assert X[0, 0] != 1e9   # copies


def test_train_test_split_options():
    X = np.arange(20.0).reshape(2, 10)
    y = np.arange(10)
    Xtr, Xte, ytr, yte = datasets.train_test_split(X, y, test_size=3, shuffle=False)
    np.testing.assert_array_equal(Xte, X[:, 7:])
    np.testing.assert_array_equal(yte, [7, 8, 9])
    for bad, exc in [(0, ValueError), (10, ValueError), (1.0, ValueError), ("0.2", TypeError), (True, TypeError)]:
        with pytest.raises(exc, match="test_size"):
            datasets.train_test_split(X, y, test_size=bad)
    with pytest.raises(ValueError, match="Y"):
        datasets.train_test_split(X, np.arange(9))
    with pytest.raises(ValueError, match="X"):
        datasets.train_test_split(np.arange(10.0), y)
