"""The one RNG helper: ``seed=`` (an int, None or a Generator) to a Generator."""

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
