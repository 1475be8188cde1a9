"""The optimizers: ``step(params, grads) -> new params``.

Everything follows the course's layout and formulas: ``X`` is ``(n_x, m)``
with examples as columns, parameters live in ``{"W1", "b1", ...}`` and
gradients in ``{"dW1", "db1", ...}``. On step ``t`` (one mini-batch) with
gradient ``dW``:

==================  ===========================================================
GradientDescent     ``W -= α·dW``
Momentum            ``v = β·v + (1−β)·dW``;  ``W -= α·v``
RMSprop             ``s = β₂·s + (1−β₂)·dW²``;  ``W -= α·dW / (√s + ε)``
Adam                ``v = β₁·v + (1−β₁)·dW``;  ``s = β₂·s + (1−β₂)·dW²``;
                    ``v̂ = v/(1−β₁ᵗ)``;  ``ŝ = s/(1−β₂ᵗ)``;  ``W -= α·v̂ / (√ŝ + ε)``
==================  ===========================================================

Every parameter block ``K`` that has a gradient ``dK`` is updated the same
way, so batch-norm ``gamma``/``beta`` blocks need nothing special. ``step``
returns new arrays and never writes into the caller's dicts; an optimizer's
state (``v``, ``s``, the step counter ``t``) is shaped lazily from the first
parameters it sees.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad.nn.spec import is_course_name

__all__ = ["Optimizer", "GradientDescent", "Momentum", "RMSprop", "Adam"]


@functools.lru_cache(maxsize=64)
def _check_keys(param_keys, grad_keys):
    """Names only (cached: a training run sees the same keys every step).

    Keys that are not gradients of parameters at all (the course's cache
    entries ``dZ1``, ``dA1``, ...) are ignored, as ``gradient_check_n`` does;
    a parameter gradient with no parameter (``dW9``) is still an error.
    """
    orphans = [
        g
        for g in grad_keys
        if isinstance(g, str)
        and g.startswith("d")
        and is_course_name(g[1:])
        and g[1:] not in param_keys
    ]
    if orphans:
        raise KeyError(
            f"grads has {orphans} with no matching parameter in params "
            f"(gradient names are 'd' + the parameter name, e.g. 'dW1')"
        )
    missing = [k for k in param_keys if is_course_name(k) and "d" + k not in grad_keys]
    if missing:
        raise KeyError(
            f"grads has no gradient for {missing}; expected {['d' + k for k in missing]}"
        )


def _pair_up(params, grads):
    """``[(key, param, grad), ...]`` for every block with a gradient.

    Every parameter-like ``dK`` in ``grads`` (W, b, gamma, beta + layer) must
    name a block ``K`` of ``params`` with the same shape, and every
    trainable-looking block must have its gradient. Other ``grads`` entries
    (the course's ``dZ1``, ``dA1``, ... cache) are ignored; other ``params``
    entries (buffers such as running statistics) are carried over unchanged.
    """
    ac.mapping(params, "params")
    ac.mapping(grads, "grads", "d")
    _check_keys(tuple(params), tuple(grads))
    pairs = []
    for key in params:
        if "d" + key not in grads:
            continue
        p = np.asarray(params[key])
        g = np.asarray(grads["d" + key])
        if p.dtype != np.float64 or g.dtype != np.float64:
            for arr, name in ((p, f"params[{key!r}]"), (g, f"grads['d{key}']")):
                if arr.dtype.kind not in "fiub":
                    raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        if g.shape != p.shape:
            raise ValueError(
                f"grads['d{key}'] has shape {g.shape} but params[{key!r}] has shape {p.shape}"
            )
        pairs.append((key, p.astype(np.float64, copy=False), g.astype(np.float64, copy=False)))
    return pairs


class Optimizer:
    """Base class: ``step(params, grads) -> new params``.

    Subclasses name their state arrays in ``_slots`` and implement
    ``_direction(g, state, t) -> (d, new_state)`` so that the update is
    ``K ← K − learning_rate · d``. The state is committed only when every
    updated block is finite, so a failed step leaves the optimizer as it was.
    """

    _slots = ()

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate
        self.reset()

    @property
    def learning_rate(self):
        """α, the step size; schedules assign it (it must stay finite and > 0)."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = ac.real(value, "learning_rate", low=0.0, low_open=True)

    def reset(self):
        """Forget the state (velocities, step counter); the next step starts afresh."""
        self.t = 0
        self._flat = None  # {slot: (P,) array}, every block concatenated in θ's layout
        self._layout = None  # ((key, shape), ...) the state was built for

    @property
    def state(self):
        """``{key: {slot: array}}`` (read-only views), or None before the first step."""
        if self._flat is None:
            return None
        out, start = {}, 0
        for key, shape in self._layout:
            size = math.prod(shape)
            out[key] = {}
            for slot, flat in self._flat.items():
                view = flat[start : start + size].reshape(shape)
                view.flags.writeable = False
                out[key][slot] = view
            start += size
        return out

    def _hyper(self):
        return {}

    def __repr__(self):
        args = ", ".join(
            f"{k}={v!r}" for k, v in {"learning_rate": self.learning_rate, **self._hyper()}.items()
        )
        return f"{type(self).__name__}({args})"

    def _direction(self, g, state, t):  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self, params, grads):
        """One update of every block ``K`` that has a gradient ``dK``.

        Parameters
        ----------
        params : dict of str -> ndarray
            ``{"W1": ..., "b1": ..., ...}`` (any ``gamma``/``beta`` blocks too).
        grads : dict of str -> ndarray
            ``{"dW1": ..., "db1": ..., ...}`` with the same shapes. Entries
            that are not parameter gradients (the course's ``dZ1``,
            ``dA1``, ... from ``backward_propagation``) are ignored.

        Returns
        -------
        dict of str -> ndarray
            New float64 arrays in ``params``' key order; blocks without a
            gradient are copied unchanged. The inputs are not modified.

        Raises
        ------
        FloatingPointError
            If a gradient or an updated block holds NaN or inf (the
            optimizer's state is then left unchanged).
        """
        pairs = _pair_up(params, grads)
        layout = tuple((key, p.shape) for key, p, _ in pairs)
        if self._flat is not None and layout != self._layout and dict(layout) == dict(self._layout):
            # the same blocks in another key order: the state is by name
            where = {key: i for i, (key, _) in enumerate(self._layout)}
            pairs.sort(key=lambda pair: where[pair[0]])
            layout = self._layout
        if self._flat is None:
            size = sum(p.size for _, p, _ in pairs)
            state = {slot: np.zeros(size) for slot in self._slots}
        elif layout != self._layout:
            raise ValueError(
                f"{type(self).__name__} was set up for blocks {dict(self._layout)} but got "
                f"{dict(layout)}; use a fresh optimizer (or call reset()) for a new model"
            )
        else:
            state = self._flat
        # One flat θ and dθ: a handful of NumPy calls per step whatever the
        # number of blocks (small networks are dominated by per-call overhead).
        theta = np.concatenate([p.ravel() for _, p, _ in pairs]) if pairs else np.zeros(0)
        dtheta = np.concatenate([g.ravel() for _, _, g in pairs]) if pairs else np.zeros(0)
        t = self.t + 1
        lr = self.learning_rate
        with np.errstate(over="ignore", invalid="ignore"):
            d, new_state = self._direction(dtheta, state, t)
            new = theta - lr * d
        # NaN/inf anywhere makes the sum non-finite: one reduction, no mask.
        if not math.isfinite(new.sum()) and not np.isfinite(new).all():
            raise self._non_finite(pairs, new, t, lr)
        self._flat, self._layout, self.t = new_state, layout, t
        updated, start = {}, 0
        for key, p, _ in pairs:
            updated[key] = new[start : start + p.size].reshape(p.shape)
            start += p.size
        return {
            key: updated[key] if key in updated else np.array(value, copy=True)
            for key, value in params.items()
        }

    def _non_finite(self, pairs, new, t, lr):
        start = 0
        for key, p, g in pairs:
            block = new[start : start + p.size]
            start += p.size
            if np.isfinite(block).all():
                continue
            if not np.isfinite(g).all():
                return FloatingPointError(f"grads['d{key}'] contains NaN or inf")
            return FloatingPointError(
                f"{type(self).__name__} step {t} made params[{key!r}] NaN or inf "
                f"(learning_rate={lr:g}, max |d{key}| = {np.max(np.abs(g)):.3g})"
            )
        return FloatingPointError("a parameter became NaN or inf")  # pragma: no cover


class GradientDescent(Optimizer):
    """Plain (mini-batch) gradient descent: ``W -= α·dW``.

    Parameters
    ----------
    learning_rate : float > 0
    """

    def _direction(self, g, state, t):
        return g, {}


class Momentum(Optimizer):
    """Gradient descent with momentum (course formula, no bias correction).

    ``v = β·v + (1−β)·dW``;  ``W -= α·v``, with ``v`` starting at zero.

    Parameters
    ----------
    learning_rate : float > 0
    beta : float in [0, 1), default 0.9
        Averages over roughly the last ``1/(1−β)`` gradients; 0 is plain GD.
    """

    _slots = ("v",)

    def __init__(self, learning_rate, beta=0.9):
        self.beta = ac.real(beta, "beta", low=0.0, high=1.0, high_open=True)
        super().__init__(learning_rate)

    def _hyper(self):
        return {"beta": self.beta}

    def _direction(self, g, state, t):
        v = self.beta * state["v"] + (1.0 - self.beta) * g
        return v, {"v": v}


class RMSprop(Optimizer):
    """Root-mean-square prop: ``s = β₂·s + (1−β₂)·dW²``;  ``W -= α·dW/(√s + ε)``.

    Parameters
    ----------
    learning_rate : float > 0
    beta2 : float in [0, 1), default 0.999
    epsilon : float > 0, default 1e-8
        Keeps the division safe where ``s`` is (near) zero.
    """

    _slots = ("s",)

    def __init__(self, learning_rate, beta2=0.999, epsilon=1e-8):
        self.beta2 = ac.real(beta2, "beta2", low=0.0, high=1.0, high_open=True)
        self.epsilon = ac.real(epsilon, "epsilon", low=0.0, low_open=True)
        super().__init__(learning_rate)

    def _hyper(self):
        return {"beta2": self.beta2, "epsilon": self.epsilon}

    def _direction(self, g, state, t):
        s = self.beta2 * state["s"] + (1.0 - self.beta2) * (g * g)
        return g / (np.sqrt(s) + self.epsilon), {"s": s}


class Adam(Optimizer):
    """Adaptive moment estimation: momentum and RMSprop with bias correction.

    On step ``t`` (counted per mini-batch from 1)::

        v = β₁·v + (1−β₁)·dW          v̂ = v / (1 − β₁ᵗ)
        s = β₂·s + (1−β₂)·dW²         ŝ = s / (1 − β₂ᵗ)
        W -= α · v̂ / (√ŝ + ε)

    Parameters
    ----------
    learning_rate : float > 0
    beta1 : float in [0, 1), default 0.9
    beta2 : float in [0, 1), default 0.999
    epsilon : float > 0, default 1e-8
    """

    _slots = ("v", "s")

    def __init__(self, learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.beta1 = ac.real(beta1, "beta1", low=0.0, high=1.0, high_open=True)
        self.beta2 = ac.real(beta2, "beta2", low=0.0, high=1.0, high_open=True)
        self.epsilon = ac.real(epsilon, "epsilon", low=0.0, low_open=True)
        super().__init__(learning_rate)

    def _hyper(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "epsilon": self.epsilon}

    def _direction(self, g, state, t):
        v = self.beta1 * state["v"] + (1.0 - self.beta1) * g
        s = self.beta2 * state["s"] + (1.0 - self.beta2) * (g * g)
        v_hat = v / (1.0 - self.beta1**t)
        s_hat = s / (1.0 - self.beta2**t)
        return v_hat / (np.sqrt(s_hat) + self.epsilon), {"v": v, "s": s}


# -- learning-rate schedules ----------------------------------------------
