"""Optimizers, learning-rate schedules, mini-batches and the training loop.

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

Learning-rate decay (course, week 2) is a callable ``schedule(epoch) -> α``
that :func:`fit` calls at the start of every epoch (epoch 0 first, so the
first epoch uses ``α₀``):

====================  ====================================================
InverseTimeDecay      ``α₀ / (1 + decay_rate·epoch)``
StepDecay             ``α₀ / (1 + decay_rate·⌊epoch / time_interval⌋)``
ExponentialDecay      ``α₀ · rate^epoch``
====================  ====================================================
"""
import functools
import math
import numbers
import operator
import warnings

import numpy as np

from fastgrad._rng import as_generator
from fastgrad.nn.spec import _split_key

__all__ = [
    "random_mini_batches",
    "Optimizer",
    "GradientDescent",
    "Momentum",
    "RMSprop",
    "Adam",
    "InverseTimeDecay",
    "StepDecay",
    "ExponentialDecay",
    "FitResult",
    "fit",
]


# -- validation helpers ----------------------------------------------------

def _real(value, name, *, low=None, high=None, low_open=False, high_open=False):
    """``value`` as a finite float inside the stated interval, or ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    interval = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    bad = not math.isfinite(value)
    if low is not None:
        bad = bad or value < low or (low_open and value == low)
    if high is not None:
        bad = bad or value > high or (high_open and value == high)
    if bad:
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
    return value


def _int(value, name, *, low):
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got bool {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}") from None
    if value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value}")
    return value


# -- mini-batches ----------------------------------------------------------

def _check_xy(X, Y):
    X = np.asarray(X)
    Y = np.asarray(Y)
    if X.ndim != 2:
        raise ValueError(f"X must have shape (n_x, m) with examples as columns, got {X.shape}")
    m = X.shape[1]
    if Y.ndim == 1 and Y.shape[0] == m:
        Y = Y.reshape(1, m)
    if Y.ndim != 2 or Y.shape[1] != m:
        raise ValueError(f"Y must have shape (n_y, m={m}) to match X {X.shape} (examples are "
                         f"columns in both), got {Y.shape}")
    if m == 0:
        raise ValueError("X has no examples (m = 0)")
    return X, Y


def _batches(X, Y, batch_size, rng):
    """Shuffle the columns with ``rng`` and cut them into batches (no checks)."""
    m = X.shape[1]
    perm = rng.permutation(m)
    return [(X[:, idx], Y[:, idx]) for idx in
            (perm[start:start + batch_size] for start in range(0, m, batch_size))]


def random_mini_batches(X, Y, batch_size=64, seed=None):
    """Shuffle the examples and split them into mini-batches (course layout).

    Parameters
    ----------
    X : array_like of shape (n_x, m)
        Inputs, one example per column.
    Y : array_like of shape (n_y, m) or (m,)
        Labels, one example per column (a 1-D ``Y`` is read as one row).
    batch_size : int or None, default 64
        Examples per batch. ``m`` (or None) gives one batch (batch gradient
        descent), 1 gives stochastic gradient descent. The last batch holds
        the ``m mod batch_size`` remaining examples when that is not zero.
    seed : int, None or numpy.random.Generator
        The permutation is drawn from ``as_generator(seed)``; the global NumPy
        RNG is not used.

    Returns
    -------
    list of (X_batch, Y_batch)
        ``ceil(m / batch_size)`` pairs of new arrays, shapes ``(n_x, m_b)``
        and ``(n_y, m_b)``; together they hold every example exactly once.
    """
    X, Y = _check_xy(X, Y)
    m = X.shape[1]
    batch_size = m if batch_size is None else _int(batch_size, "batch_size", low=1)
    return _batches(X, Y, batch_size, as_generator(seed))


# -- optimizers ------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def _check_keys(param_keys, grad_keys):
    """Names only (cached: a training run sees the same keys every step).

    Keys that are not gradients of parameters at all (the course's cache
    entries ``dZ1``, ``dA1``, ...) are ignored, as ``gradient_check_n`` does;
    a parameter gradient with no parameter (``dW9``) is still an error.
    """
    orphans = [g for g in grad_keys if isinstance(g, str) and g.startswith("d")
               and _split_key(g[1:]) is not None and g[1:] not in param_keys]
    if orphans:
        raise KeyError(f"grads has {orphans} with no matching parameter in params "
                       f"(gradient names are 'd' + the parameter name, e.g. 'dW1')")
    missing = [k for k in param_keys if _split_key(k) is not None and "d" + k not in grad_keys]
    if missing:
        raise KeyError(f"grads has no gradient for {missing}; expected "
                       f"{['d' + k for k in missing]}")


def _pair_up(params, grads):
    """``[(key, param, grad), ...]`` for every block with a gradient.

    Every parameter-like ``dK`` in ``grads`` (W, b, gamma, beta + layer) must
    name a block ``K`` of ``params`` with the same shape, and every
    trainable-looking block must have its gradient. Other ``grads`` entries
    (the course's ``dZ1``, ``dA1``, ... cache) are ignored; other ``params``
    entries (buffers such as running statistics) are carried over unchanged.
    """
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict like {{'W1': ..., 'b1': ...}}, "
                        f"got {type(params).__name__}")
    if not isinstance(grads, dict):
        raise TypeError(f"grads must be a dict like {{'dW1': ..., 'db1': ...}}, "
                        f"got {type(grads).__name__}")
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
            raise ValueError(f"grads['d{key}'] has shape {g.shape} but params[{key!r}] has "
                             f"shape {p.shape}")
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
        self._learning_rate = _real(value, "learning_rate", low=0.0, low_open=True)

    def reset(self):
        """Forget the state (velocities, step counter); the next step starts afresh."""
        self.t = 0
        self._flat = None    # {slot: (P,) array}, every block concatenated in θ's layout
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
                view = flat[start:start + size].reshape(shape)
                view.flags.writeable = False
                out[key][slot] = view
            start += size
        return out

    def _hyper(self):
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in
                         {"learning_rate": self.learning_rate, **self._hyper()}.items())
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
        if self._flat is None:
            size = sum(p.size for _, p, _ in pairs)
            state = {slot: np.zeros(size) for slot in self._slots}
        elif layout != self._layout:
            raise ValueError(
                f"{type(self).__name__} was set up for blocks {dict(self._layout)} but got "
                f"{dict(layout)}; use a fresh optimizer (or call reset()) for a new model")
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
            updated[key] = new[start:start + p.size].reshape(p.shape)
            start += p.size
        return {key: updated[key] if key in updated else np.array(value, copy=True)
                for key, value in params.items()}

    def _non_finite(self, pairs, new, t, lr):
        start = 0
        for key, p, g in pairs:
            block = new[start:start + p.size]
            start += p.size
            if np.isfinite(block).all():
                continue
            if not np.isfinite(g).all():
                return FloatingPointError(f"grads['d{key}'] contains NaN or inf")
            return FloatingPointError(
                f"{type(self).__name__} step {t} made params[{key!r}] NaN or inf "
                f"(learning_rate={lr:g}, max |d{key}| = {np.max(np.abs(g)):.3g})")
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
        self.beta = _real(beta, "beta", low=0.0, high=1.0, high_open=True)
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
        self.beta2 = _real(beta2, "beta2", low=0.0, high=1.0, high_open=True)
        self.epsilon = _real(epsilon, "epsilon", low=0.0, low_open=True)
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
        self.beta1 = _real(beta1, "beta1", low=0.0, high=1.0, high_open=True)
        self.beta2 = _real(beta2, "beta2", low=0.0, high=1.0, high_open=True)
        self.epsilon = _real(epsilon, "epsilon", low=0.0, low_open=True)
        super().__init__(learning_rate)

    def _hyper(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "epsilon": self.epsilon}

    def _direction(self, g, state, t):
        v = self.beta1 * state["v"] + (1.0 - self.beta1) * g
        s = self.beta2 * state["s"] + (1.0 - self.beta2) * (g * g)
        v_hat = v / (1.0 - self.beta1 ** t)
        s_hat = s / (1.0 - self.beta2 ** t)
        return v_hat / (np.sqrt(s_hat) + self.epsilon), {"v": v, "s": s}


# -- learning-rate schedules ----------------------------------------------

class _Schedule:
    def __call__(self, epoch):
        epoch = _int(epoch, "epoch", low=0)
        return self._rate(epoch)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class InverseTimeDecay(_Schedule):
    """``α(epoch) = α₀ / (1 + decay_rate·epoch)`` (the course's ``update_lr``).

    Parameters
    ----------
    learning_rate0 : float > 0
    decay_rate : float >= 0
    """

    def __init__(self, learning_rate0, decay_rate):
        self.learning_rate0 = _real(learning_rate0, "learning_rate0", low=0.0, low_open=True)
        self.decay_rate = _real(decay_rate, "decay_rate", low=0.0)

    def _rate(self, epoch):
        return self.learning_rate0 / (1.0 + self.decay_rate * epoch)


class StepDecay(_Schedule):
    """``α(epoch) = α₀ / (1 + decay_rate·⌊epoch / time_interval⌋)``.

    The course's ``schedule_lr_decay``: the rate drops only every
    ``time_interval`` epochs, so it does not fall to ~0 on a long run.

    Parameters
    ----------
    learning_rate0 : float > 0
    decay_rate : float >= 0
    time_interval : int >= 1, default 1000
    """

    def __init__(self, learning_rate0, decay_rate, time_interval=1000):
        self.learning_rate0 = _real(learning_rate0, "learning_rate0", low=0.0, low_open=True)
        self.decay_rate = _real(decay_rate, "decay_rate", low=0.0)
        self.time_interval = _int(time_interval, "time_interval", low=1)

    def _rate(self, epoch):
        return self.learning_rate0 / (1.0 + self.decay_rate * (epoch // self.time_interval))


class ExponentialDecay(_Schedule):
    """``α(epoch) = α₀ · rate^epoch``.

    Parameters
    ----------
    learning_rate0 : float > 0
    rate : float in (0, 1]
        The factor per epoch (the course's example is 0.95).
    """

    def __init__(self, learning_rate0, rate):
        self.learning_rate0 = _real(learning_rate0, "learning_rate0", low=0.0, low_open=True)
        self.rate = _real(rate, "rate", low=0.0, high=1.0, low_open=True)

    def _rate(self, epoch):
        return self.learning_rate0 * self.rate ** epoch


# -- the training loop -----------------------------------------------------

class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    params : dict of str -> ndarray
        The trained parameters (new arrays).
    costs : ndarray of shape (n_epochs,)
        Per epoch, the mean over its mini-batches of the cost on each batch
        (computed before that batch's update), weighted by batch size: with
        the course's mean cost per batch this is the mean loss over all ``m``
        examples.
    learning_rates : ndarray of shape (n_epochs,)
        The learning rate used in each epoch.
    gradient_checks : dict of int -> report
        ``{epoch: report}`` from ``fastgrad.gradient_check``; epoch ``e``
        means "after ``e`` epochs of training" (0 = at initialization).
    n_epochs : int
        Epochs actually run.
    stopped_early : bool
        True when ``callback`` returned False.
    optimizer : Optimizer
        The optimizer, with its state after training.
    """

    def __init__(self, params, costs, learning_rates, gradient_checks, stopped_early, optimizer):
        self.params = params
        self.costs = np.asarray(costs, dtype=np.float64)
        self.learning_rates = np.asarray(learning_rates, dtype=np.float64)
        self.gradient_checks = gradient_checks
        self.n_epochs = len(self.costs)
        self.stopped_early = stopped_early
        self.optimizer = optimizer

    def __repr__(self):
        last = f", final cost {self.costs[-1]:.6g}" if self.n_epochs else ""
        checks = f", gradient checks at epochs {sorted(self.gradient_checks)}" \
            if self.gradient_checks else ""
        early = " (stopped early)" if self.stopped_early else ""
        return (f"<FitResult: {self.n_epochs} epochs{early} with {self.optimizer!r}"
                f"{last}{checks}>")


# Below this many mini-batch steps a run is short: progress=None shows no bar.
_LONG_RUN_STEPS = 20_000
# ...and even on a long run, a bar appears only once this many seconds have passed.
_PROGRESS_DELAY = 2.0


def _progress_bar(progress, num_epochs, steps):
    """A tqdm bar over epochs, or None (tqdm is optional)."""
    if progress is False or (progress is None and steps < _LONG_RUN_STEPS):
        return None
    try:
        # Plain tqdm, not tqdm.auto: the notebook bar fails without ipywidgets.
        from tqdm import tqdm
    except ImportError:
        if progress:
            warnings.warn("progress=True needs tqdm (pip install tqdm); training without a "
                          "progress bar", UserWarning, stacklevel=3)
        return None
    if progress is None:  # long run: appear after a while, and only on a terminal
        return tqdm(total=num_epochs, unit="epoch", delay=_PROGRESS_DELAY, disable=None,
                    leave=False)
    return tqdm(total=num_epochs, unit="epoch")


def _check_epochs(check_gradients, num_epochs):
    if check_gradients is None or check_gradients is False:
        return ()
    if check_gradients is True:
        return (0, num_epochs)
    if isinstance(check_gradients, (numbers.Integral, str)):
        raise TypeError(f"check_gradients must be a sequence of epochs such as (0, "
                        f"{num_epochs}) or True, got {check_gradients!r}")
    epochs = sorted({_int(e, "check_gradients epoch", low=0) for e in check_gradients})
    late = [e for e in epochs if e > num_epochs]
    if late:
        raise ValueError(f"check_gradients asks for epochs {late} but num_epochs={num_epochs}")
    return tuple(epochs)


def _diverged(epoch, batch, n_batches, lr, why):
    return FloatingPointError(
        f"training diverged in epoch {epoch} (batch {batch + 1} of {n_batches}): {why}. "
        f"The learning rate {lr:g} is probably too large; try a smaller one (e.g. {lr / 10:g})"
        f", or check the inputs are normalized.")


def fit(model, params, X, Y, *, optimizer, num_epochs, batch_size=64, seed=None,
        schedule=None, callback=None, progress=None, print_every=None,
        check_gradients=None, check_options=None):
    """Train ``params`` with mini-batch ``optimizer`` steps, as the course does.

    Each epoch shuffles the examples (from ``seed``), cuts them into
    mini-batches, and for each batch computes the cost, the gradients
    (``model.cost_and_grads`` when the model has it, else ``cost`` and
    ``backward``) and one ``optimizer.step``. Dropout masks are drawn from the
    same generator as the shuffles (so ``seed`` fixes the whole run), and
    batch-norm running statistics are updated after every batch (and put back
    as they were if the run diverges); with batch norm a one-example leftover
    batch joins the batch before it. The costs
    recorded are the training objective (with dropout on).

    Parameters
    ----------
    model : MLP or any object with ``cost(params, X, Y)`` and ``backward(params, X, Y)``
    params : dict of str -> ndarray
        Starting parameters (not modified).
    X : array_like of shape (n_x, m)
    Y : array_like of shape (n_y, m)
    optimizer : Optimizer
        Used as given: its state carries over if it was stepped before (pass a
        fresh one, or call ``reset()``, to start from scratch).
    num_epochs : int >= 0
    batch_size : int >= 1 or None, default 64
        None (or ``>= m``) is full-batch gradient descent (no shuffling).
    seed : int, None or numpy.random.Generator
        Drives the shuffles; the same seed gives the same run.
    schedule : callable ``schedule(epoch) -> learning_rate``, optional
        Called at the start of every epoch (0, 1, ...); the result is assigned
        to ``optimizer.learning_rate``.
    callback : callable ``callback(epoch, params, cost)``, optional
        Called after every epoch; returning ``False`` stops training.
    progress : bool or None
        True shows a tqdm bar; None shows one only on long runs in a terminal
        (when tqdm is installed); False never does.
    print_every : int, optional
        Print ``Cost after epoch e: J`` for every epoch ``e`` divisible by it.
    check_gradients : sequence of int, or True, optional
        Epochs at which to run ``fastgrad.gradient_check`` on one fixed
        mini-batch (the first one of epoch 0): ``(0, N)`` checks at random
        initialization and again after ``N`` epochs; True means
        ``(0, num_epochs)``. A failed check is kept and warned about; checks
        after an early stop do not run. Checking does not change the training.
    check_options : dict, optional
        Keyword arguments passed on to ``fastgrad.gradient_check``. For a
        model with dropout the check freezes the masks with ``seed`` (default
        0) for both backprop and the check, unless ``dropout=False`` is given.

    Returns
    -------
    FitResult
        ``.params`` (new arrays), ``.costs`` per epoch, ``.learning_rates``,
        ``.gradient_checks`` ``{epoch: report}``.

    Raises
    ------
    ValueError, TypeError
        For bad arguments (each message names the argument).
    FloatingPointError
        When a cost, a gradient or a parameter becomes NaN or inf; the message
        names the epoch and suggests a smaller learning rate.
    """
    for attr in ("cost", "backward"):
        if not callable(getattr(model, attr, None)):
            raise TypeError(f"model must have a {attr}(params, X, Y) method, "
                            f"got {type(model).__name__}")
    if not (callable(getattr(optimizer, "step", None)) and hasattr(optimizer, "learning_rate")):
        raise TypeError(f"optimizer must be an Optimizer such as Adam(0.001), "
                        f"got {type(optimizer).__name__}")
    num_epochs = _int(num_epochs, "num_epochs", low=0)
    if batch_size is not None:
        batch_size = _int(batch_size, "batch_size", low=1)
    if print_every is not None:
        print_every = _int(print_every, "print_every", low=1)
    for fn, name in ((schedule, "schedule"), (callback, "callback")):
        if fn is not None and not callable(fn):
            raise TypeError(f"{name} must be callable or None, got {type(fn).__name__}")
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")
    check_at = _check_epochs(check_gradients, num_epochs)
    if check_options is not None and not isinstance(check_options, dict):
        raise TypeError(f"check_options must be a dict, got {type(check_options).__name__}")

    if hasattr(model, "check_data"):
        X, Y = model.check_data(X, Y)
    else:
        X, Y = _check_xy(X, Y)
        for arr, name in ((X, "X"), (Y, "Y")):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains NaN or inf")
    if hasattr(model, "check_params"):
        params = model.check_params(params)
    elif not isinstance(params, dict):
        raise TypeError(f"params must be a dict, got {type(params).__name__}")
    params = {k: np.array(v, dtype=np.float64, copy=True) for k, v in params.items()}

    m = X.shape[1]
    full_batch = batch_size is None or batch_size >= m
    batchnorm = bool(getattr(model, "batchnorm", ()))
    if batchnorm and (m < 2 or (not full_batch and batch_size < 2)):
        raise ValueError("batch norm needs at least 2 examples per mini-batch (the variance of "
                         f"one example is 0); got batch_size={batch_size}, m={m}")
    # Restored if the run diverges, so a failed fit leaves the model as it was.
    saved_stats = (dict(model.running_mean), dict(model.running_var)) if batchnorm else None
    n_batches = 1 if full_batch else -(-m // batch_size)
    rng = as_generator(seed)
    bar = _progress_bar(progress, num_epochs, num_epochs * n_batches)
    write = bar.write if bar is not None else print

    costs, rates, reports = [], [], {}
    check_batch = None
    stopped = False

    def run_check(epoch):
        from fastgrad import gradient_check  # written alongside; imported when used

        Xc, Yc = check_batch
        options = dict(check_options or {})
        if getattr(model, "has_dropout", False) and options.get("dropout", True):
            # Frozen masks: the same int seed for backprop and the check.
            options.setdefault("seed", 0)
            grads = model.backward(params, Xc, Yc, seed=options["seed"])
        else:
            grads = model.backward(params, Xc, Yc)
        if isinstance(grads, dict):  # as in step: the course's dZ1, dA1, ... are not checked
            grads = {k: v for k, v in grads.items()
                     if not (isinstance(k, str) and k.startswith("d") and k[1:] not in params
                             and _split_key(k[1:]) is None)}
        report = gradient_check(model, params, grads, Xc, Yc, **options)
        reports[epoch] = report
        if not getattr(report, "passed", True):
            warnings.warn(f"gradient check after {epoch} epochs failed:\n{report}",
                          UserWarning, stacklevel=3)

    try:
        for epoch in range(num_epochs + 1):
            training = epoch < num_epochs
            if training:
                batches = [(X, Y)] if full_batch else _batches(X, Y, batch_size, rng)
                if batchnorm and len(batches) > 1 and batches[-1][0].shape[1] == 1:
                    # Batch statistics of one example are degenerate (σ² = 0):
                    # the leftover example joins the batch before it.
                    (Xa, Ya), (Xb, Yb) = batches[-2:]
                    batches[-2:] = [(np.hstack([Xa, Xb]), np.hstack([Ya, Yb]))]
            if epoch == 0 and check_at:
                # One fixed batch for every check, so the reports differ only by params.
                check_batch = (X, Y) if full_batch else \
                    (batches if training else _batches(X, Y, batch_size, rng))[0]
            if epoch in check_at:
                run_check(epoch)
            if not training:
                break

            if schedule is not None:
                lr = schedule(epoch)
                try:
                    optimizer.learning_rate = lr
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"schedule({epoch}) returned {lr!r}, which is not a "
                                     f"valid learning rate: {exc}") from None
            lr = optimizer.learning_rate
            total = 0.0
            with np.errstate(over="ignore", invalid="ignore"):
                for b, (Xb, Yb) in enumerate(batches):
                    try:
                        if hasattr(model, "cost_and_grads"):
                            # One forward pass; dropout masks from the run's
                            # generator; batch-norm running statistics updated.
                            cost, grads = model.cost_and_grads(params, Xb, Yb, seed=rng,
                                                               update_running=True)
                        else:
                            cost = model.cost(params, Xb, Yb)
                            grads = None
                        if not math.isfinite(cost):
                            raise FloatingPointError(f"the cost is {cost}")
                        if grads is None:
                            grads = model.backward(params, Xb, Yb)
                        params = optimizer.step(params, grads)
                    except FloatingPointError as exc:
                        if saved_stats is not None:
                            model.running_mean, model.running_var = map(dict, saved_stats)
                        raise _diverged(epoch, b, len(batches), lr, exc) from exc
                    total += cost * Xb.shape[1]
            epoch_cost = total / m
            costs.append(epoch_cost)
            rates.append(lr)
            if print_every is not None and epoch % print_every == 0:
                write(f"Cost after epoch {epoch}: {epoch_cost:f}")
            if bar is not None:
                bar.update(1)
                if epoch % max(1, num_epochs // 100) == 0:
                    bar.set_postfix_str(f"cost={epoch_cost:.4g}", refresh=False)
            if callback is not None and callback(epoch, params, epoch_cost) is False:
                stopped = True
                break
    finally:
        if bar is not None:
            bar.close()
    return FitResult(params, costs, rates, reports, stopped, optimizer)
