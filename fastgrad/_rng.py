"""The RNG helpers: ``seed=`` (an int, None or a Generator) to a Generator, and the
initializers' stream, which also takes a legacy RandomState."""

import numpy as np

from fastgrad import _argcheck as ac


def as_generator(seed):
    """An int, None or a Generator -> a ``numpy.random.Generator``.

    A Generator is returned as is (draws advance it); an int or None builds
    a fresh ``np.random.default_rng(seed)``. The global RNG is never used.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if ac.is_int(seed):
        if int(seed) < 0:
            raise ValueError(f"seed must be a non-negative int, got {int(seed)}")
        return np.random.default_rng(int(seed))
    raise TypeError(f"seed must be an int, None or a numpy.random.Generator, got {ac.got(seed)}")


def as_draws(seed):
    """The stream the initializers draw from: :func:`as_generator`'s, or a
    legacy ``numpy.random.RandomState`` as it is (draws advance it). The
    course seeds NumPy's global RNG and calls ``np.random.randn``: a
    ``RandomState(3)`` gives its exact numbers without touching the global
    RNG. (Only the initializers take one: they draw with ``standard_normal``
    and ``uniform``, which both streams have.)"""
    if isinstance(seed, np.random.RandomState):
        return seed
    try:
        return as_generator(seed)
    except TypeError:
        raise TypeError(
            "seed must be an int, None, a numpy.random.Generator or a "
            f"numpy.random.RandomState, got {ac.got(seed)}"
        ) from None
