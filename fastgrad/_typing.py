"""Type aliases of the public API."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, Union

import numpy as np

ArrayLike = Any  # anything np.asarray accepts (a DataFrame, a list, an ndarray)
Params = Mapping[str, Any]  # {"W1": array, "b1": array, ...}
Seed = Union[int, np.random.Generator, None]
Thresholds = tuple[float, float]
ScalarFunction = Callable[[np.ndarray], float]


class Optimizer(Protocol):
    """What the training loop asks of an optimizer (see :mod:`fastgrad.optim`)."""

    learning_rate: float

    def step(self, params: Params, grads: Params) -> dict: ...
