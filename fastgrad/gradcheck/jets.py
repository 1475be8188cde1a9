"""Which layers of a check use the kernel's Taylor jets, and at what order.

A hidden unit whose downstream network is smooth (tanh, sigmoid or linear
hidden layers, no batch norm) gets, per example, the Taylor coefficients of
its loss change ψ(a) as a function of its activation change a (built once
per unit, ``csrc/gradcheck/_jets.pxi``); every coordinate of the unit then
costs O(m·K) instead of a propagation through the downstream layers.

The series is used for a coordinate only when every example's step is well
inside the radius the coefficients show (``q = 2·G·|a| ≤ qmax``, see
:func:`jet_qmax`); otherwise that coordinate is propagated exactly, as
before. So the result stays the two-sided finite difference at the
requested ε, to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad.nn._codes import Activation

# The growth G (≈ 1/radius) assumed when choosing K before the coefficients
# exist; the per-coordinate test uses the coefficients' own growth. Measured:
# median 0.5, largest 2.7 on Xavier-initialized tanh nets up to 9 deep.
ASSUMED_GROWTH = 2.0
MIN_ORDER = 3
MAX_ORDER = 16
# Truncation target: the neglected tail ≤ 2**-55 of an example's first term.
TAIL_BITS = 56
_SMOOTH = {int(Activation.ACT_TANH), int(Activation.ACT_SIGMOID), int(Activation.ACT_LINEAR)}
_OWN = {int(Activation.ACT_TANH), int(Activation.ACT_SIGMOID)}


@dataclass(frozen=True)
class Plan:
    """How a run propagates, decided from the whole coordinate set of a check.

    ``maps``: hidden layers (0-based t) with exact linear maps; ``jets``:
    hidden layers with Taylor jets, ``orders`` their orders K. Small and
    picklable: a shard run with the same plan gives the same bits as the
    whole.
    """

    maps: tuple = ()
    jets: tuple = ()
    orders: tuple = ()


def jet_layers(model):
    """Hidden layers t (0-based) that can have jets: t ≤ L − 3 whose later
    hidden layers are all smooth, not all piecewise linear (those have
    linear maps) and free of batch norm; and the last hidden layer t = L − 2
    when its own activation is tanh or sigmoid without batch norm (Z-jets:
    the output alone is downstream)."""
    L = model.n_layers
    out = []
    for t in range(L - 1):
        down = model.activations[t + 1 : L - 1]
        own = model.activations[t].code in _OWN and t + 1 not in model.batchnorm
        if t == L - 2:
            if own:
                out.append(t)
        elif (
            all(a.code in _SMOOTH for a in down)
            and not all(a.piecewise_linear for a in down)
            and not any(l > t + 1 for l in model.batchnorm)
        ):
            out.append(t)
    return out


def jet_qmax(order):
    """Largest accepted ``q = 2·G·max|a|`` for jets of ``order`` K.

    If the coefficients beyond K keep the growth seen up to K with a factor
    2 of margin, ``|c_n| ≤ |c_1|·(2G)^(n−1)``, an example's neglected tail is
    ``≤ |c_1 a|·q^K/(1 − q) ≤ 2·q^K·|c_1 a| ≤ 2**-55·|c_1 a|`` for q ≤ 1/2.
    """
    return min(0.5, 2.0 ** (-TAIL_BITS / order))


def jet_order(step):
    """The smallest K (≥ MIN_ORDER) at which a step ``step`` = max|a| passes
    the test with growth ASSUMED_GROWTH; 0 when even MAX_ORDER would not."""
    q = 2.0 * ASSUMED_GROWTH * step
    for K in range(MIN_ORDER, MAX_ORDER + 1):
        if q <= jet_qmax(K):
            return K
    return MAX_ORDER if q <= 0.25 else 0


def activation_step(cache, model, params, epsilon, scales, t):
    """A bound-like estimate of max|ΔA| of hidden layer t+1 for one ±ε: the
    largest |ΔZ| (ε·max|A[t]|, ε for a bias; scaled by γ/σ under batch
    norm) times the largest dropout scale (g' ≤ 1 for every activation)."""
    step = epsilon * ac.max_abs(cache.A[t], initial=1.0)
    l = t + 1
    if l in model.batchnorm:
        sd = np.sqrt(cache.var[l] + model.bn_epsilon).reshape(-1)
        step *= max(1.0, float(np.max(np.abs(params[f"gamma{l}"]).reshape(-1) / sd)))
    if scales and l in scales:
        step *= float(np.max(scales[l], initial=1.0))
    return step


def choose(candidates, counts, dims, steps):
    """(layers, orders): the jet layers among ``candidates`` worth building
    for coordinate ``counts`` per layer, and their orders. A unit's jets
    cost about K passes of one column per example and save two per
    coordinate of the unit: built when a layer has at least K coordinates
    per unit."""
    chosen, orders = [], []
    for t in candidates:
        k = jet_order(steps[t])
        if k and counts[t] >= k * dims[t + 1]:
            chosen.append(t)
            orders.append(k)
    return tuple(chosen), tuple(orders)
