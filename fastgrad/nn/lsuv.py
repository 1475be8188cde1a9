"""Layer-sequential unit-variance init (public as ``fastgrad.init.lsuv``):
the one initializer that needs data. It uses the model protocol
(``init_params``, ``forward_cache``, ``check_data``) and nothing private."""

import warnings

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad._rng import as_draws
from fastgrad.nn.init import initialize_parameters

__all__ = ["lsuv"]


def lsuv(model, X, *, seed=None, tol=0.1, max_iter=10):
    """Layer-sequential unit-variance init (Mishkin & Matas, 2016).

    Start from :func:`orthogonal` weights and zero biases; then, for
    ``l = 1..L`` in order, compute the layer's linear output on the batch
    ``X``, ``W[l] @ A[l−1] + b[l]`` (that is ``Z[l]``; for a batch-normalized
    layer, ``W[l] @ A[l−1]`` before the normalization, which then gives
    ``Z[l]`` the variance ``σ²/(σ²+ε)`` at ``gamma = 1``), and divide
    ``W[l]`` by its standard deviation until its variance is within ``tol``
    of 1 (at most ``max_iter`` rescalings per layer). That output is
    homogeneous in ``W[l]`` (the biases are zero), so one rescaling is exact
    up to rounding and the loop stops after one or two.

    Parameters
    ----------
    model : fastgrad.MLP
        Gives ``layer_dims`` and the activations.
    X : array_like, shape ``(n_x, m)``
        A batch of (normalized) inputs, examples as columns, ``m >= 2``.
    seed : int, None, numpy.random.Generator or numpy.random.RandomState
    tol : float, default 0.1
    max_iter : int, default 10

    Returns
    -------
    dict of str -> ndarray of float64
        ``{"W1", "b1", ...}``; every layer's linear output has variance
        within ``tol`` of 1 on ``X`` (a RuntimeWarning names a layer where
        ``max_iter`` rescalings did not get there: a ``tol`` below rounding).

    Raises
    ------
    ValueError
        If a layer's linear output is constant on ``X`` up to rounding (e.g.
        every example of the batch is the same, or every unit of the layer
        before is dead), so no rescaling can reach variance 1, or if it
        overflows.
    """
    if not hasattr(model, "layer_dims") or not hasattr(model, "check_data"):
        raise TypeError(f"model must be a fastgrad.MLP, got {ac.got(model)}")
    tol = ac.real(tol, "tol", low=0, low_open=True)
    max_iter = ac.integer(max_iter, "max_iter", minimum=1)
    as_draws(seed)  # check it before any work (a RandomState too, as the initializers)
    X = model.check_data(X)
    if X.shape[1] < 2:
        raise ValueError(
            f"lsuv needs a batch of at least 2 examples to measure a variance, got m={X.shape[1]}"
        )
    if (X == X[:, :1]).all():
        raise ValueError(
            f"X: every example (column) of the batch is the same, so no layer's output varies "
            f"over it; lsuv needs a batch of distinct examples (got {X.shape[1]} copies of one)"
        )
    if hasattr(model, "init_params"):  # batch-normalized layers get gamma, beta
        params = model.init_params("orthogonal", seed=seed)
    else:
        params = initialize_parameters(model.layer_dims, "orthogonal", seed=seed)
    normalized = getattr(model, "batchnorm", ())
    for l in range(1, model.n_layers + 1):
        with np.errstate(over="ignore", invalid="ignore"):  # later layers, not yet scaled
            A = model.forward_cache(params, X).A[l - 1]
        for _ in range(int(max_iter)):
            W = params[f"W{l}"]
            b = None if l in normalized else params[f"b{l}"]
            std = _std(W, A, b, l)
            if abs(std * std - 1.0) < tol:
                break
            params[f"W{l}"] = W / std
        else:
            std = _std(params[f"W{l}"], A, None if l in normalized else params[f"b{l}"], l)
            if not abs(std * std - 1.0) < tol:
                warnings.warn(
                    f"lsuv: layer {l}'s output variance is {std * std:.6g} after "
                    f"max_iter={max_iter} rescalings, not within tol={tol:g} of 1",
                    RuntimeWarning,
                    stacklevel=2,
                )
    return params


def _std(W, A, b, l):
    """The standard deviation of ``W @ A (+ b)`` over the whole block (the
    paper's), computed from the block divided by its largest magnitude (no
    overflow or underflow for any finite block); a ValueError when every unit
    is constant over the examples up to the rounding of the product (a few
    ulps of ``max |W| @ |A|``): units that differ from one another only
    (a constant batch through a layer of several units) give a block
    variance that means nothing about the data."""
    with np.errstate(over="ignore", invalid="ignore"):
        U = W @ A if b is None else W @ A + b
        peak = float(np.max(np.abs(U)))
        if not np.isfinite(peak):
            raise ValueError(
                f"lsuv: the linear output of layer {l} overflows on X (max |W{l} @ A| is "
                "not finite): scale X down (normalize it) first"
            )
        std = peak * float(np.std(U / peak)) if peak > 0 else 0.0
        # the largest spread of one unit over the examples
        spread = peak * float(np.max(np.std(U / peak, axis=1))) if peak > 0 else 0.0
        # the product's own rounding, from unit-scaled factors (no overflow)
        w_max, a_max = float(np.max(np.abs(W))), float(np.max(np.abs(A)))
        scaled = float(np.max(np.abs(W / w_max) @ np.abs(A / a_max))) if w_max * a_max else 0.0
        reach = scaled * w_max * a_max + (0.0 if b is None else float(np.max(np.abs(b))))
    noise = 64 * np.finfo(float).eps * reach * max(1, W.shape[1]) ** 0.5
    if spread == 0.0 or (np.isfinite(noise) and spread <= noise):
        raise ValueError(
            f"lsuv: the linear output of layer {l} is constant over the examples of X up to "
            f"rounding (std {spread:.3g} over the examples at most, next to |W{l}| @ |A| ~ "
            f"{reach:.3g}): no rescaling reaches variance "
            "1; check X (identical examples? constant features?) or the layers before "
            "(dead units?)"
        )
    return std
