"""Type aliases of the public API."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any, Protocol, Union, runtime_checkable

import numpy as np

ArrayLike = Any  # anything np.asarray accepts (a DataFrame, a list, an ndarray)
Params = Mapping[str, Any]  # {"W1": array, "b1": array, ...}
Seed = Union[int, np.random.Generator, None]
Thresholds = tuple[float, float]
ScalarFunction = Callable[[np.ndarray], float]


@runtime_checkable
class DaskClient(Protocol):
    """What ``workers=`` uses of a ``dask.distributed.Client`` (dask is an
    optional extra, so it is matched by its methods)."""

    def scatter(self, data: Any, **kwargs: Any) -> Any: ...

    def submit(self, func: Callable, *args: Any, **kwargs: Any) -> Any: ...


# None (serial), an int >= 2 (fastgrad's own processes), a
# concurrent.futures.Executor or a dask.distributed.Client
Workers = Union[int, Executor, DaskClient, None]


class Optimizer(Protocol):
    """What the training loop asks of an optimizer (see :mod:`fastgrad.optim`)."""

    learning_rate: float

    def step(self, params: Params, grads: Params) -> dict: ...
