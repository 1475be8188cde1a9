"""fastgrad._rng.as_generator: the one seed rule (int, None or Generator)."""
import numpy as np
import pytest

from fastgrad._rng import as_generator


def test_a_generator_is_passed_through_and_advanced():
    rng = np.random.default_rng(5)
    assert as_generator(rng) is rng
    first = as_generator(rng).random()
    assert as_generator(rng).random() != first        # the same stream, moved on


@pytest.mark.parametrize("seed", [0, 7, 2**40, np.int64(7), np.uint8(3), np.array(7)])
def test_an_int_seed_is_numpys_default_rng_stream(seed):
    expected = np.random.Generator(np.random.PCG64(int(seed))).standard_normal(5)
    np.testing.assert_array_equal(as_generator(seed).standard_normal(5), expected)


def test_none_is_fresh_and_the_global_rng_is_never_used():
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    a, b = as_generator(None), as_generator(None)
    assert a is not b and isinstance(a, np.random.Generator)
    a.random(10)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("seed, exc, match", [
    (-1, ValueError, r"seed must be a non-negative int, got -1"),
    (1.5, TypeError, r"seed must be an int, None or a numpy.random.Generator, got 1.5 \(float\)"),
    (True, TypeError, r"seed must be an int.*True \(bool\)"),
    ("3", TypeError, r"seed must be an int"),
    (np.random.RandomState(0), TypeError, r"seed must be an int"),
])
def test_bad_seeds_name_the_argument(seed, exc, match):
    with pytest.raises(exc, match=match):
        as_generator(seed)
