"""Is this initialization healthy? Per-layer activation and gradient scales.

:func:`diagnose` runs one forward pass (and, given labels, one backward
pass) of a model on a batch and reports, for every layer ``l = 1..L``:

- mean and std of the pre-activations ``Z[l]`` and activations ``A[l]``;
- the **forward scale** ``rms(Z[l]) / rms(X)``, how much larger or smaller
  the signal is than the input (``rms(a) = sqrt(mean(a²))``);
- the fraction of **dead** units (ReLU layers: output 0 for every example
  in the batch) and of **saturated** units (tanh: ``|a| > 1 − tol``,
  sigmoid: ``a < tol`` or ``a > 1 − tol`` for every example; ``tol=0.01``);
- with ``Y``: ``‖dW[l]‖_F`` and ``‖db[l]‖`` from the reference backprop
  (``model.backward``), and the **backward scale**
  ``‖dZ[l]‖_F / ‖dZ[L]‖_F``, how much the error signal ``dZ = ∂J/∂Z`` has
  grown or shrunk on its way back from the output.

The two scales are the quantities a well-scaled layer preserves: with
``Var(W) = c/fan_in`` the per-unit variance of ``Z`` is kept going forward
(so the forward scale uses the rms per entry), while backprop through such a
layer keeps the *norm* of ``dZ`` (a layer of 100 units fed back from one
output unit gets 100 small entries, not 100 entries as large as the
output's), so the backward scale uses norms.

The verdict rule (``threshold`` T, default 100, i.e. two orders of
magnitude)::

    exploding  if  forward scale > T   or  backward scale > T
    vanishing  if  forward scale < 1/T or  backward scale < 1/T
    healthy    otherwise

(exploding is checked first: a tanh layer with huge weights has an
exploding ``Z`` and a vanishing gradient, and the cause is the former). A
backward scale is left out when ``dZ[L]`` is exactly zero (a perfect fit).

Why ``dZ`` and not ``‖dW‖`` for the backward verdict: in a homogeneous
network (ReLU or linear, every weight matrix scaled by the same c) the
forward growth ``c^(l-1)`` of ``A[l-1]`` and the backward growth
``c^(L-l)`` of ``dZ[l]`` cancel in ``dW[l] = dZ[l] A[l-1]ᵀ``, so the
``‖dW‖`` are flat across layers even when every one of them is ~c^L too
large. ``dZ`` shows the exponential the course describes.

Where it starts: the scales are running products, so one layer initialized
1000x too large makes every layer after it (forward) and before it
(backward) "exploding". Each layer's own factors, ``rms(Z[l]) / rms(A[l-1])``
and ``‖W[l]ᵀ dZ[l]‖ / ‖dZ[l]‖`` (``dA[l-1]`` before layer l-1's own
activation slope), are ``Diagnosis.steps``;
a few layers whose own factor is beyond T or below 1/T are
``Diagnosis.sources``, and the report names them and their weights. When
most layers are such, the initialization is off everywhere and no layer is
singled out.

Your own network: :func:`diagnose_layers` takes the arrays of your own
forward (and backward) pass, ``Z``, ``A`` and optionally ``dZ`` per layer,
examples as columns (``sample_axis=0`` for rows), and gives the same report.
"""

from fastgrad.diagnostics.layers import (
    DEFAULT_THRESHOLD,
    SATURATION_TOL,
    deep_linear_example,
    diagnose,
    diagnose_layers,
)
from fastgrad.diagnostics.report import Diagnosis, LayerReport

__all__ = [
    "diagnose",
    "diagnose_layers",
    "deep_linear_example",
    "Diagnosis",
    "LayerReport",
    "DEFAULT_THRESHOLD",
    "SATURATION_TOL",
]
