"""The model protocol: what fastgrad's consumers ask of a model.

:class:`fastgrad.MLP` implements all of it. A user's own model needs only
:class:`CostModel` for :func:`fastgrad.gradient_check` (the generic path) and
``cost`` + ``backward`` for :func:`fastgrad.optim.fit`.

=============================  =============================================
consumer                       methods and attributes it uses
=============================  =============================================
``gradient_check`` (MLP path)  ``spec``, ``check_params``, ``check_data``,
                               ``dropout_scales``, ``forward_cache``,
                               ``activations``, ``output_layer``, ``l2``,
                               ``batchnorm``, ``bn_epsilon``
``gradient_check`` (generic)   ``cost``
``diagnose``                   ``check_params``, ``check_data``,
                               ``forward_cache``, ``objective``, ``backprop``
``init.lsuv``                  ``layer_dims``, ``check_data``,
                               ``init_params``, ``forward_cache``
``fit``, ``gradient_descent``  ``cost``, ``backward`` (``cost_and_grads``,
                               ``check_params``, ``check_data`` when present)
=============================  =============================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

Params = Mapping[str, np.ndarray]


@runtime_checkable
class CostModel(Protocol):
    """Any model whose cost fastgrad can differentiate numerically."""

    def cost(self, params: Params, X: Any, Y: Any) -> float:
        """The scalar cost J of ``params`` on ``(X, Y)``; deterministic."""


@runtime_checkable
class Model(CostModel, Protocol):
    """A network fastgrad can check, diagnose, initialize and train."""

    layer_dims: tuple
    hidden: tuple
    output: str
    l2: float
    batchnorm: tuple

    @property
    def n_layers(self) -> int:
        """L, the number of weight layers."""

    @property
    def spec(self):
        """The :class:`~fastgrad.nn.spec.ParamSpec`: names, shapes, θ slices."""

    def check_params(
        self, params: Params, name: str = "params", *, prefix: str = "", warn_downcast: bool = False
    ) -> dict:
        """Validated float64 copies of a parameter (or gradient) dict."""

    def check_data(self, X: Any, Y: Any = ..., *, warn_downcast: bool = False):
        """Validated ``X`` (and ``Y``) in the course's layout."""

    def init_params(self, method: str = "he", *, seed=None, scale: float = 1.0) -> dict:
        """Fresh parameters."""

    def dropout_scales(self, m: int, seed, dropout: bool = True):
        """Frozen dropout factors ``{layer: mask / keep_prob}`` or None."""

    def forward_cache(self, params: Params, X: np.ndarray, *, scales=None, training: bool = True):
        """Every intermediate of one forward pass (``Z``, ``G``, ``A``, ...)."""

    def loss_per_example(self, ZL: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """The output loss of every example, from ``Z[L]``."""

    def regularization(self, params: Params, m: int) -> float:
        """The regularization term of the cost."""

    def objective(self, params: Params, cache, Y: np.ndarray) -> float:
        """The cost of a forward cache."""

    def backprop(self, params: Params, cache, Y: np.ndarray, scales=None):
        """``(grads, deltas)`` through a forward cache."""

    def backward(self, params: Params, X: Any, Y: Any, *, seed=None, dropout: bool = True) -> dict:
        """The gradients ``{"dW1": ..., ...}`` of the training cost."""

    def cost_and_grads(
        self,
        params: Params,
        X: Any,
        Y: Any,
        *,
        seed=None,
        dropout: bool = True,
        update_running: bool = False,
    ):
        """``(cost, grads)`` from one forward pass."""
