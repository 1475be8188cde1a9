"""The per-layer statistics behind :func:`fastgrad.diagnose` (see
:mod:`fastgrad.diagnostics` for what they mean)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad._typing import ArrayLike, Params
from fastgrad.diagnostics.report import Diagnosis, LayerReport
from fastgrad.nn.activations import ACTIVATIONS
from fastgrad.nn.protocol import Model

SATURATION_TOL = 0.01
DEFAULT_THRESHOLD = 100.0


# -- overflow-safe statistics ----------------------------------------------
def _peak(a):
    return float(np.max(np.abs(a))) if a.size else 0.0


def _rms(a):
    """sqrt(mean(a²)) without overflowing for |a| ~ 1e200."""
    peak = _peak(a)
    if peak == 0.0 or not np.isfinite(peak):
        return peak
    return peak * float(np.sqrt(np.mean(np.square(a / peak))))


def _norm(a):
    """Frobenius norm, overflow-safe."""
    return _rms(a) * float(np.sqrt(a.size)) if a.size else 0.0


def _mean_std(a):
    peak = _peak(a)
    if peak == 0.0 or not np.isfinite(peak):
        return (0.0, 0.0) if peak == 0.0 else (float("nan"), float("inf"))
    s = a / peak
    return peak * float(np.mean(s)), peak * float(np.std(s))


def _ratio(num, den):
    if den == 0.0 or not np.isfinite(den):
        return float("nan")
    return num / den


def _verdict(forward, backward, T):
    if forward is not None and np.isnan(forward):
        return "exploding"  # Z overflowed to inf and then NaN on the way here
    scales = [s for s in (forward, backward) if s is not None and not np.isnan(s)]
    if any(s > T for s in scales):
        return "exploding"
    if any(s < 1.0 / T for s in scales):
        return "vanishing"
    return "healthy"


def _unit_fraction(mask_all_examples):
    return float(np.mean(mask_all_examples)) if mask_all_examples.size else 0.0


def diagnose(
    model: Model,
    params: Params,
    X: ArrayLike,
    Y: ArrayLike | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    saturation_tol: float = SATURATION_TOL,
) -> Diagnosis:
    """Per-layer activation and gradient statistics, with a verdict.

    Parameters
    ----------
    model : fastgrad.MLP
    params : dict
        ``{"W1": (n1, n0), "b1": (n1, 1), ...}``; not modified.
    X : array_like, shape (n_x, m)
        A batch of inputs, examples as columns; not all zero.
    Y : array_like, shape (n_L, m), optional
        Labels; with them the report adds gradient norms and backward
        scales.
    threshold : float, default 100
        T > 1 in the verdict rule (see the module docstring).
    saturation_tol : float, default 0.01
        A tanh/sigmoid unit is saturated if it is within this of its
        asymptote on every example.

    Returns
    -------
    Diagnosis
        ``str()`` is a table, ``to_dict()`` plain data, ``verdicts`` the
        per-layer verdicts.
    """
    if not hasattr(model, "check_params") or not hasattr(model, "layer_dims"):
        raise TypeError(f"model must be a fastgrad.MLP, got {ac.got(model)}")
    threshold = ac.real(threshold, "threshold", low=1, low_open=True)
    saturation_tol = ac.real(
        saturation_tol, "saturation_tol", low=0, high=0.5, low_open=True, high_open=True
    )
    params, X, Y, x_rms = _checked_data(model, params, X, Y)
    # The output layer's units can saturate too when its activation is one of
    # the registry's (a sigmoid output); a softmax output is not looked at.
    names = list(model.hidden) + [model.output]

    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        cache = model.forward_cache(params, X)
        grads = deltas = None
        cost = None
        if Y is not None:
            cost = model.objective(params, cache, Y)
            grads, deltas = model.backprop(params, cache, Y)
    return _diagnosis(
        cache.Z,
        cache.A,
        grads,
        deltas,
        names,
        (x_rms, saturation_tol, threshold),
        cost,
        repr(model),
        _symmetric(model, params),
        [None] + [params[f"W{l}"] for l in range(1, model.n_layers + 1)],
    )


def diagnose_layers(
    X: ArrayLike,
    Z: Sequence[ArrayLike],
    A: Sequence[ArrayLike],
    dZ: Sequence[ArrayLike] | None = None,
    *,
    activations: Sequence[str] | None = None,
    sample_axis: int = 1,
    threshold: float = DEFAULT_THRESHOLD,
    saturation_tol: float = SATURATION_TOL,
) -> Diagnosis:
    """:func:`diagnose` for your own network: the same statistics, verdicts
    and sources from the arrays of your own forward (and backward) pass.

    Parameters
    ----------
    X : array_like, shape (n_0, m)
        The batch the pass ran on (examples as columns; see ``sample_axis``).
    Z : list of L array_like, shapes (n_l, m)
        The pre-activations ``Z[1], ..., Z[L]`` (``W @ A + b``), in order.
    A : list of L array_like, shapes (n_l, m)
        The activations ``A[1], ..., A[L]`` (``A[L]`` the output).
    dZ : list of L array_like, shapes (n_l, m), optional
        ``∂J/∂Z[l]`` from your backward pass: adds the backward scales,
        ``‖dW[l]‖ = ‖dZ[l] A[l−1]ᵀ‖`` and ``‖db[l]‖ = ‖Σ dZ[l]‖`` (without a
        regularization term). The course's backward pass holds ``m·∂J/∂Z``
        (its ``dZ[L] = A[L] − Y``, the ``1/m`` applied in ``dW``): pass
        ``[dz / m for dz in dZ]`` for its ``‖dW‖`` (the backward scales, ratios,
        are the same either way). A layer's own backward factor needs its
        weights (:func:`diagnose` has them): here the sources are named by
        the forward factors alone.
    activations : list of L str, optional
        Each layer's activation by fastgrad's names (``"relu"``, ``"tanh"``,
        ``"sigmoid"``, ...): the dead and saturated columns for those that
        have such states. Any other name (or None) leaves them empty.
    sample_axis : {1, 0}, default 1
        1: examples are columns, as in the course; 0: examples are rows, as
        in PyTorch and Keras (``(m, n_l)`` arrays).
    threshold, saturation_tol : float
        As in :func:`diagnose`.

    Returns
    -------
    Diagnosis
        ``sources`` and the report's last line name a layer whose own
        factor is off; ``symmetric`` is empty (no weights are given).

    The arrays are read, never written; torch tensors are read through
    ``.detach()``.
    """
    threshold = ac.real(threshold, "threshold", low=1, low_open=True)
    saturation_tol = ac.real(
        saturation_tol, "saturation_tol", low=0, high=0.5, low_open=True, high_open=True
    )
    if sample_axis not in (0, 1) or isinstance(sample_axis, bool):
        raise ValueError(f"sample_axis must be 0 or 1, got {sample_axis!r}")
    X = _layer_array(X, "X", sample_axis, None, finite=True)
    m = X.shape[1]
    Zs = [None] + _layer_list(Z, "Z", sample_axis, m)
    L = len(Zs) - 1
    As = [X] + _layer_list(A, "A", sample_axis, m, Zs[1:])
    names = ["-"] * L if activations is None else _names(activations, L)
    if m == 0 or X.shape[0] == 0:
        raise ValueError(
            f"X is empty (shape {_shown(X, sample_axis)}): there is nothing to measure"
        )
    x_rms = _rms(X)
    if x_rms == 0.0:
        raise ValueError("X is all zeros: the forward scale rms(Z)/rms(X) is undefined")
    grads = deltas = None
    if dZ is not None:
        deltas = [None] + _layer_list(dZ, "dZ", sample_axis, m, Zs[1:])
        with np.errstate(over="ignore", invalid="ignore"):
            grads = {}
            for l in range(1, L + 1):
                grads[f"dW{l}"] = deltas[l] @ As[l - 1].T
                grads[f"db{l}"] = deltas[l].sum(axis=1)
    title = f"your network ({L} layer{'s' if L > 1 else ''})"
    settings = (x_rms, saturation_tol, threshold)
    return _diagnosis(Zs, As, grads, deltas, names, settings, None, title)


def _layer_array(value, name, sample_axis, m, finite=False):
    """``value`` as a 2-D float64 array, examples as columns (a view of
    the user's array where it can be)."""
    if hasattr(value, "detach") and callable(value.detach):  # a torch tensor
        value = value.detach()
    ac.not_masked(value, name)
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (units, examples) or, with sample_axis=0, (examples, "
            f"units); got shape {arr.shape}"
        )
    arr = arr.astype(np.float64, copy=False)
    if sample_axis == 0:
        arr = arr.T
    if m is not None and arr.shape[1] != m:
        raise ValueError(
            f"{name} has {arr.shape[1]} examples but X has {m} (along sample_axis={sample_axis})"
        )
    if finite and not ac.all_finite(arr):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _layer_list(values, name, sample_axis, m, like=None):
    """The arrays of ``values``, one per layer; each of the shape of its
    layer's pre-activations ``like[i]`` when given."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a list of the L layers' arrays, got {ac.got(values)}")
    if len(values) == 0 or (like is not None and len(values) != len(like)):
        want = "at least one layer" if like is None else f"{len(like)} arrays, as Z has"
        raise ValueError(f"{name} must hold {want}, got {len(values)}")
    out = [_layer_array(v, f"{name}[{i}]", sample_axis, m) for i, v in enumerate(values)]
    for i, (a, z) in enumerate(zip(out, like or ())):
        if a.shape != z.shape:
            raise ValueError(
                f"{name}[{i}] has shape {_shown(a, sample_axis)} but Z[{i}] has "
                f"{_shown(z, sample_axis)}: each layer's arrays match its pre-activations"
            )
    return out


def _names(activations, L):
    if isinstance(activations, (str, bytes)) or not isinstance(activations, Sequence):
        raise TypeError(f"activations must be a list of L names, got {ac.got(activations)}")
    if len(activations) != L:
        raise ValueError(f"activations must name the {L} layers, got {len(activations)}")
    for i, a in enumerate(activations):
        if not isinstance(a, str):
            raise TypeError(f"activations[{i}] must be a str, got {ac.got(a)}")
    return list(activations)


def _shown(arr, sample_axis):
    """A shape as the user passed it."""
    return arr.shape if sample_axis == 1 else arr.shape[::-1]


def _diagnosis(Zs, As, grads, deltas, names, settings, cost, title, symmetric=(), weights=None):
    """The :class:`Diagnosis` of one forward (and backward) pass: ``Zs``,
    ``As`` and ``deltas`` indexed by layer (``As[0]`` is X, ``Zs[0]`` and
    ``deltas[0]`` unused; ``deltas`` None without labels), ``grads`` the
    ``dW{l}``/``db{l}`` arrays, ``weights`` the ``W[l]`` (or None: no
    backward factors), ``names`` the L activations' names
    (registry names get the dead/saturated columns), ``settings`` =
    ``(rms(X), saturation_tol, threshold)``."""
    x_rms, saturation_tol, threshold = settings
    L = len(Zs) - 1
    acts = [ACTIVATIONS.get(name) for name in names]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        if grads is not None and not _all_finite(Zs):
            grads = None
        out_delta_norm = _norm(deltas[L]) if deltas is not None else None
        reports = []
        for l in range(1, L + 1):
            scales = None if deltas is None else _gradient_scales(grads, deltas, l, out_delta_norm)
            reports.append(
                _layer_report(
                    l,
                    Zs[l],
                    As[l],
                    acts[l - 1],
                    names[l - 1],
                    x_rms,
                    saturation_tol,
                    threshold,
                    scales,
                )
            )
        steps = _steps(Zs, As, weights, deltas, L)
    return Diagnosis(reports, x_rms, cost, threshold, title, symmetric, steps)


def _steps(Zs, As, weights, deltas, L):
    """Each layer's own factors, ``([rms(Z[l]) / rms(A[l−1])], [‖W[l]ᵀ dZ[l]‖
    / ‖dZ[l]‖ or None])`` for l = 1..L: what layer l's weights alone do to the
    signal going forward and to the error going back (``W[l]ᵀ dZ[l]`` is
    ``dA[l−1]``, before layer l−1's activation slope, which is that layer's
    own: a saturated layer must not make the next one look mis-scaled). The
    backward factor is None for layer 1, without labels and without the
    weights (``weights`` None, or ``weights[l]`` the array ``W[l]``). The
    scales are running products of such factors; a single mis-scaled layer
    shows as one factor far from the others."""
    forward = [_ratio(_rms(Zs[l]), _rms(As[l - 1])) for l in range(1, L + 1)]
    if deltas is None or weights is None:
        return forward, [None] * L
    backward = [None] + [
        _ratio(_norm(weights[l].T @ deltas[l]), _norm(deltas[l])) for l in range(2, L + 1)
    ]
    return forward, backward


def _symmetric(model, params):
    """Hidden layers of more than one unit that training cannot tell apart:
    identical incoming weights and bias (or gamma/beta), so the same
    activations, and identical outgoing weights (the columns of W[l+1]), so
    the same gradients. The course's zero init."""
    out = []
    for l in range(1, model.n_layers):
        W, W_next = params[f"W{l}"], params[f"W{l + 1}"]
        if W.shape[0] < 2 or not np.all(W == W[:1]) or not np.all(W_next == W_next[:, :1]):
            continue
        others = [params[k] for k in (f"b{l}", f"gamma{l}", f"beta{l}") if k in params]
        if all(np.all(v == v[:1]) for v in others):
            out.append(l)
    return out


def _checked_data(model, params, X, Y):
    """Validated ``params``, ``X``, ``Y`` and ``rms(X)``; refuses an all-zero
    batch and batch norm, which diagnose cannot read."""
    params = model.check_params(params)
    if Y is None:
        X = model.check_data(X)
    else:
        X, Y = model.check_data(X, Y)
    x_rms = _rms(X)
    if x_rms == 0.0:
        raise ValueError(
            "X is all zeros: the forward scale rms(Z)/rms(X) is undefined; "
            "pass a batch of real inputs"
        )
    if getattr(model, "batchnorm", ()):
        raise ValueError(
            f"diagnose studies how the initialization scales activations and gradients with "
            f"depth; batch norm (layers {list(model.batchnorm)}) rescales every normalized layer "
            "by construction, so diagnose the network without it"
        )
    return params, X, Y, x_rms


def _layer_report(l, Z, A, act, name, x_rms, tol, threshold, scales):
    """Layer ``l``'s row; ``scales`` is ``(‖dW‖, ‖db‖, backward scale)``, or
    None without labels."""
    z_mean, z_std = _mean_std(Z)
    a_mean, a_std = _mean_std(A)
    fwd = _ratio(_rms(Z), x_rms)
    dead, saturated = _unit_fractions(act, A, tol)
    gW, gb, bwd = scales if scales is not None else (None, None, None)
    return LayerReport(
        layer=l,
        units=Z.shape[0],
        activation=name,
        z_mean=z_mean,
        z_std=z_std,
        a_mean=a_mean,
        a_std=a_std,
        forward_scale=fwd,
        dead=dead,
        saturated=saturated,
        grad_W_norm=gW,
        grad_b_norm=gb,
        backward_scale=None if bwd is None or np.isnan(bwd) else bwd,
        verdict=_verdict(fwd, bwd, threshold),
    )


def _unit_fractions(act, A, tol):
    """(dead, saturated) fractions of a layer's units, None where the
    activation has no such state (the registry says which)."""
    dead = saturated = None
    if act is not None and act.dead_when_zero:
        dead = _unit_fraction(np.all(A == 0.0, axis=1))
    if act is not None and act.saturated is not None:
        saturated = _unit_fraction(np.all(act.saturated(A, tol), axis=1))
    return dead, saturated


def _gradient_scales(grads, deltas, l, out_delta_norm):
    """(‖dW[l]‖, ‖db[l]‖, backward scale) of layer l (inf norms when the
    forward pass overflowed)."""
    if grads is not None:
        gW, gb = _norm(grads[f"dW{l}"]), _norm(grads[f"db{l}"])
    else:
        gW = gb = float("inf")
    bwd = _ratio(_norm(deltas[l]), out_delta_norm) if out_delta_norm else float("nan")
    return gW, gb, bwd


def _all_finite(arrays):
    return all(a is None or np.all(np.isfinite(a)) for a in arrays)


def deep_linear_example(n_layers, weight=1.5, *, width=2):
    """The course's deep linear network, ``ŷ = weight^(L−1) · x`` exactly.

    ``g(z) = z`` everywhere, ``b[l] = 0``, ``W[l] = weight · I`` for the
    hidden layers ``l = 1..L−1`` and ``W[L] = I`` for the output layer (the
    course sets the last matrix aside: "ignoring ``W[L]``"). Hence
    ``Z[l] = A[l] = weight^l · x`` for ``l < L`` and
    ``ŷ = weight^(L−1) · x``.

    Parameters
    ----------
    n_layers : int
        L >= 1.
    weight : float, default 1.5
        1.5 explodes, 0.5 vanishes.
    width : int, default 2
        Units per layer (the course draws 2).

    Returns
    -------
    model : fastgrad.MLP
        ``MLP([width] * (L + 1), hidden="linear", output="linear")``.
    params : dict
    """
    from fastgrad.nn.model import MLP

    L = ac.integer(n_layers, "n_layers", minimum=1)
    n = ac.integer(width, "width", minimum=1)
    weight = ac.real(weight, "weight")
    model = MLP([n] * (L + 1), hidden="linear", output="linear")
    params = {}
    for l in range(1, L + 1):
        params[f"W{l}"] = (float(weight) if l < L else 1.0) * np.eye(n)
        params[f"b{l}"] = np.zeros((n, 1))
    return model, params
