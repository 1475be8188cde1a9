"""Bad arguments to fastgrad.datasets: a clear error naming the argument; the
arrays given to train_test_split are never written."""
import numpy as np
import pytest

from fastgrad import datasets

NAN = float("nan")
MAKERS = ["make_circles", "make_moons", "make_flower", "make_elongated"]


@pytest.mark.parametrize("m, exc, match", [
    (True, TypeError, r"m must be an int, got True \(bool\)"),
    (300.0, TypeError, r"m must be an int, got 300.0 \(float\)"),
    ("300", TypeError, r"m must be an int"),
    (None, TypeError, r"m must be an int"),
    (0, ValueError, r"m must be an int >= "),
    (-5, ValueError, r"m must be an int >= "),
])
@pytest.mark.parametrize("maker", MAKERS)
def test_bad_m(maker, m, exc, match):
    with pytest.raises(exc, match=match):
        getattr(datasets, maker)(m)


@pytest.mark.parametrize("noise, exc", [(NAN, ValueError), (-0.1, ValueError), (float("inf"), ValueError),
                                        (True, TypeError), ("0.1", TypeError), (None, TypeError)])
@pytest.mark.parametrize("maker", MAKERS)
def test_bad_noise(maker, noise, exc):
    with pytest.raises(exc, match="noise"):
        getattr(datasets, maker)(10, noise=noise)


@pytest.mark.parametrize("maker", MAKERS)
@pytest.mark.parametrize("seed, exc", [(-1, ValueError), (1.5, TypeError), (True, TypeError), ("0", TypeError)])
def test_bad_seed(maker, seed, exc):
    with pytest.raises(exc, match="seed"):
        getattr(datasets, maker)(10, seed=seed)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(factor=1.0), ValueError, r"factor must lie in \(0, 1\)"),
    (dict(factor=0.0), ValueError, r"factor"),
    (dict(factor=NAN), ValueError, r"factor"),
    (dict(factor="0.5"), TypeError, r"factor must be a real number"),
])
def test_circles_factor(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        datasets.make_circles(10, **kwargs)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(petals=0), ValueError, r"petals must be an int >= 1"),
    (dict(petals=2.5), TypeError, r"petals must be an int"),
    (dict(radius=-1.0), ValueError, r"radius must be a finite number >= 0"),
    (dict(radius=True), TypeError, r"radius must be a real number"),
])
def test_flower_args(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        datasets.make_flower(10, **kwargs)


@pytest.fixture
def xy():
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 10)), (rng.random((1, 10)) < 0.5).astype(np.int64)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(test_size=True), TypeError, r"test_size must be a float in \(0, 1\) or an int"),
    (dict(test_size="0.2"), TypeError, r"test_size"),
    (dict(test_size=None), TypeError, r"test_size"),
    (dict(test_size=NAN), ValueError, r"test_size must be a fraction in \(0, 1\) or an int"),
    (dict(test_size=1.0), ValueError, r"test_size"),
    (dict(test_size=0.0), ValueError, r"test_size"),
    (dict(test_size=0), ValueError, r"test_size gives 0 test examples"),
    (dict(test_size=10), ValueError, r"test_size gives 10 test examples out of m=10"),
    (dict(test_size=-2), ValueError, r"test_size"),
    (dict(shuffle="no"), TypeError, r"shuffle must be True or False"),
    (dict(shuffle=None), TypeError, r"shuffle must be True or False"),
    (dict(shuffle=False, seed=-1), ValueError, r"seed must be a non-negative int"),
    (dict(seed="1"), TypeError, r"seed"),
])
def test_train_test_split_bad(xy, kwargs, exc, match):
    X, Y = xy
    with pytest.raises(exc, match=match):
        datasets.train_test_split(X, Y, **kwargs)


def test_train_test_split_bad_data(xy):
    X, Y = xy
    with pytest.raises(TypeError, match=r"X is a numpy masked array"):
        datasets.train_test_split(np.ma.masked_array(X, mask=X > 1), Y)
    with pytest.raises(TypeError, match=r"Y is a numpy masked array"):
        datasets.train_test_split(X, np.ma.masked_array(Y))
    with pytest.raises(ValueError, match=r"X must have shape \(n_x, m\)"):
        datasets.train_test_split(X[0], Y)
    with pytest.raises(ValueError, match=r"Y must have shape \(n_y, m=10\)"):
        datasets.train_test_split(X, Y[:, :9])


def test_train_test_split_copies_and_does_not_write(xy):
    X, Y = xy
    Xr, Yr = X.copy(), Y.copy()
    Xr.flags.writeable = False
    Yr.flags.writeable = False
    X_train, X_test, Y_train, Y_test = datasets.train_test_split(Xr, Yr, test_size=3, seed=1)
    assert np.array_equal(Xr, X) and np.array_equal(Yr, Y)
    # the parts are a permutation of the columns, independent of the inputs' memory
    order = np.random.default_rng(1).permutation(10)
    assert np.array_equal(X_train, X[:, order[:7]]) and np.array_equal(X_test, X[:, order[7:]])
    assert np.array_equal(Y_test, Y[:, order[7:]])
    for part in (X_train, X_test, Y_train, Y_test):
        assert part.flags.writeable and not np.shares_memory(part, Xr) and not np.shares_memory(part, Yr)
