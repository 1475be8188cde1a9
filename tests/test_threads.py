import pytest

from fastgrad._openmp_helpers import max_threads, openmp_enabled
from fastgrad._threads import effective_n_threads, usable_cores


def test_effective_n_threads():
    n = max_threads()
    expected = min(n, usable_cores()) if openmp_enabled() else 1
    assert effective_n_threads(None) == expected
    assert effective_n_threads(-1) == (usable_cores() if openmp_enabled() else 1)
    assert effective_n_threads(1) == 1
    assert effective_n_threads(3) == (min(3, usable_cores()) if openmp_enabled() else 1)
    for bad in (0, -2):
        with pytest.raises(ValueError, match="n_threads"):
            effective_n_threads(bad)
    with pytest.raises(TypeError, match="n_threads"):
        effective_n_threads(1.5)
