"""fastgrad._argcheck: the shared argument rules — the right kind of value
passes (converted), the wrong kind is a TypeError, out of range a
ValueError, and every message names the argument and what it got."""
import math

import numpy as np
import pytest

from fastgrad import _argcheck as ac


@pytest.mark.parametrize("value, expected", [
    (1, 1.0), (2.5, 2.5), (np.float32(0.5), 0.5), (np.int64(3), 3.0), (np.array(0.25), 0.25),
])
def test_real_accepts_numbers_and_returns_a_float(value, expected):
    out = ac.real(value, "lr")
    assert out == expected and type(out) is float


@pytest.mark.parametrize("value", [True, np.bool_(False), "0.1", None, [1.0], np.array([1.0])])
def test_real_refuses_what_is_not_a_number(value):
    with pytest.raises(TypeError, match=r"^lr must be a real number, got "):
        ac.real(value, "lr")


@pytest.mark.parametrize("kwargs, value, ok", [
    (dict(low=0), 0.0, True),
    (dict(low=0, low_open=True), 0.0, False),
    (dict(high=1), 1.0, True),
    (dict(high=1, high_open=True), 1.0, False),
    (dict(low=0, high=1), 0.5, True),
    (dict(low=0, high=1), 1.5, False),
    ({}, math.inf, False),
    (dict(finite=False), math.inf, True),
    ({}, math.nan, False),
    (dict(finite=False), math.nan, False),
])
def test_real_ranges(kwargs, value, ok):
    if ok:
        assert ac.real(value, "x", **kwargs) == value
    else:
        with pytest.raises(ValueError, match=r"^x must be a"):
            ac.real(value, "x", **kwargs)


def test_real_messages_spell_the_range():
    with pytest.raises(ValueError, match=r"^l2 must be a finite number >= 0, got -1$"):
        ac.real(-1, "l2", low=0)
    with pytest.raises(ValueError, match=r"^p must be a finite number in \(0, 1\], got 0$"):
        ac.real(0, "p", low=0, high=1, low_open=True)
    with pytest.raises(ValueError, match=r"^t must be a number < 2, got 3$"):
        ac.real(3, "t", high=2, high_open=True, finite=False)
    with pytest.raises(ValueError, match=r"^t must be positive, got 0$"):
        ac.real(0, "t", low=0, low_open=True, what="positive")


def test_integer():
    assert ac.integer(np.int32(4), "n") == 4 and type(ac.integer(np.int32(4), "n")) is int
    for bad in (True, 4.0, "4", np.float64(4)):
        with pytest.raises(TypeError, match=r"^n must be an int, got "):
            ac.integer(bad, "n")
    with pytest.raises(ValueError, match=r"^n must be an int >= 1, got 0$"):
        ac.integer(0, "n", minimum=1)
    with pytest.raises(ValueError, match=r"^n must be a positive size, got 0$"):
        ac.integer(0, "n", minimum=1, what="a positive size")


def test_choice_and_registry_name():
    assert ac.choice("a", ("a", "b"), "mode") == "a"
    with pytest.raises(ValueError, match=r"^mode must be one of 'a', 'b', got 'c'$"):
        ac.choice("c", ("a", "b"), "mode")
    with pytest.raises(TypeError, match=r"^mode must be a string, one of 'a', 'b'; got 1 \(int\)$"):
        ac.choice(1, ("a", "b"), "mode")
    with pytest.raises(ValueError, match=r"^unknown activation 'gelu'; choose one of relu, tanh$"):
        ac.registry_name("gelu", ("relu", "tanh"), "activation")
    with pytest.raises(TypeError, match=r"^activation must be a name"):
        ac.registry_name(None, ("relu",), "activation")


def test_mapping_boolean_and_key_mismatch():
    d = {"W1": 1}
    assert ac.mapping(d, "params") is d
    with pytest.raises(TypeError, match=r"^grads must be a dict like \{'dW1': ..., 'db1': ...\}"):
        ac.mapping([1], "grads", "d")
    assert ac.boolean(np.bool_(True), "flag") is True
    with pytest.raises(TypeError, match=r"^flag must be True or False, got 1 \(int\)$"):
        ac.boolean(1, "flag")
    assert ac.key_mismatch(["a", "b"], ["b", "c"]) == ["missing ['a']", "unexpected ['c']"]
    assert ac.key_mismatch(["a"], ["a"]) == []


def test_not_masked_refuses_masked_and_sparse_but_not_dense():
    X = np.ones((2, 3))
    assert ac.not_masked(X, "X") is X
    with pytest.raises(TypeError, match=r"^X is a numpy masked array"):
        ac.not_masked(np.ma.masked_array(X), "X")
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match=r"^X is a scipy.sparse matrix.*X.toarray\(\)"):
        ac.not_masked(sparse.csr_matrix(X), "X")


def test_sizes():
    assert ac.sizes(np.array([3, 2, 1])) == [3, 2, 1]
    assert ac.sizes(range(1, 4)) == [1, 2, 3]
    with pytest.raises(TypeError, match=r"^layer_dims must be a list of ints"):
        ac.sizes("321")
    with pytest.raises(ValueError, match=r"^layer_dims must be a 1-D list"):
        ac.sizes(np.ones((2, 2), dtype=int))
    with pytest.raises(ValueError, match=r"^layer_dims needs at least 2 entries"):
        ac.sizes([3])
    with pytest.raises(ValueError, match=r"^layer_dims\[1\] must be an int .*2.0 \(float\)"):
        ac.sizes([3, 2.0])
    with pytest.raises(ValueError, match=r"^layer_dims\[0\] must be a positive number of units, got 0"):
        ac.sizes([0, 2])


def test_got_shortens_long_values():
    text = ac.got("x" * 100)
    assert text.endswith("... (str)") and len(text) == 60 + len(" (str)")


def test_fmt_bytes_and_gib():
    assert ac.fmt_bytes(512) == "512 B"
    assert ac.fmt_bytes(1536) == "1.5 KB"
    assert ac.fmt_bytes(3 * 2**30) == "3.0 GB"
    assert ac.gib(2**31) == "2.0 GiB"


def test_check_allocation(monkeypatch):
    monkeypatch.setattr(ac, "available_memory", lambda: 2**30)
    ac.check_allocation(2**29, "X", "a copy")                     # fits: no error
    with pytest.raises(MemoryError, match=r"^X: a copy needs 2.0 GiB \(2,147,483,648 bytes\); "
                                          r"this machine has 1.0 GiB available$"):
        ac.check_allocation(2**31, "X", "a copy")
    monkeypatch.setattr(ac, "available_memory", lambda: None)
    ac.check_allocation(2**40, "X", "a copy")                     # unknown: nothing refused


def test_available_memory_is_positive_or_unknown():
    mem = ac.available_memory()
    assert mem is None or (isinstance(mem, int) and mem > 0)


def _layouts(a):
    """``a`` as C order, Fortran order, strided and reversed views."""
    yield a
    yield np.asfortranarray(a)
    if a.ndim == 2 and a.shape[1] > 1:
        yield a[:, ::2]
    yield a[::-1]


@pytest.mark.parametrize("n", [0, 1, 7, 1023, 1024, 1025, 3000])
def test_all_finite_matches_numpy_wherever_the_bad_entry_is(n):
    """The one-pass compiled scan (and the fallback for other layouts) agrees
    with np.isfinite(a).all() for NaN, ±inf at every block edge, and for the
    extreme finite values."""
    rng = np.random.default_rng(n)
    base = rng.standard_normal((n, 3))
    extremes = [np.finfo(float).max, -np.finfo(float).max, 5e-324, -0.0, np.finfo(float).tiny]
    for i, v in enumerate(extremes):
        if n:
            base[(i * 997) % n, i % 3] = v
    cases = [base]
    for bad in (np.nan, np.inf, -np.inf, -np.nan):
        for at in {0, 1022, 1023, 1024, 1025, n - 1} & set(range(n)):
            a = base.copy()
            a[at, 2] = bad
            cases.append(a)
    for a in cases:
        for view in _layouts(a):
            assert ac.all_finite(view) == bool(np.isfinite(view).all())
        with np.errstate(over="ignore"):
            a32 = a.astype(np.float32)  # (the largest doubles become inf)
        assert ac.all_finite(a32) == bool(np.isfinite(a32).all())


def test_all_finite_of_integers_and_max_abs():
    assert ac.all_finite(np.arange(5)) and ac.all_finite(np.array([True]))
    a = np.array([[3.0, -7.5], [2.0, 0.0]])
    assert ac.max_abs(a) == 7.5 == float(np.max(np.abs(a)))
    assert ac.max_abs(a, initial=10.0) == 10.0 and ac.max_abs(np.empty(0), 2.0) == 2.0
