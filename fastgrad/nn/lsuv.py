"""Layer-sequential unit-variance init (public as ``fastgrad.init.lsuv``):
the one initializer that needs data. It uses the model protocol
(``init_params``, ``forward_cache``, ``check_data``) and nothing private."""

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad._rng import as_generator
from fastgrad.nn.init import initialize_parameters

__all__ = ["lsuv"]


def lsuv(model, X, *, seed=None, tol=0.1, max_iter=10):
    """Layer-sequential unit-variance init (Mishkin & Matas, 2016).

    Start from :func:`orthogonal` weights and zero biases; then, for
    ``l = 1..L`` in order, compute the pre-activations ``Z[l]`` on the batch
    ``X`` and divide ``W[l]`` by ``std(Z[l])`` until
    ``|Var(Z[l]) − 1| < tol`` (at most ``max_iter`` rescalings per layer).
    With zero biases one rescaling is usually exact; the loop matters only
    when the variance is not homogeneous in ``W`` (it always is here, so
    this converges in one or two steps).

    Parameters
    ----------
    model : fastgrad.MLP
        Gives ``layer_dims`` and the activations.
    X : array_like, shape ``(n_x, m)``
        A batch of (normalized) inputs, examples as columns, ``m >= 2``.
    seed : int, None or numpy.random.Generator
    tol : float, default 0.1
    max_iter : int, default 10

    Returns
    -------
    dict of str -> ndarray of float64
        ``{"W1", "b1", ...}``; every layer's ``Z`` has variance within
        ``tol`` of 1 on ``X``.

    Raises
    ------
    ValueError
        If a layer's pre-activations are constant on ``X`` (e.g. every unit
        of the layer before is dead), so no rescaling can reach variance 1.
    """
    if not hasattr(model, "layer_dims") or not hasattr(model, "check_data"):
        raise TypeError(f"model must be a fastgrad.MLP, got {ac.got(model)}")
    tol = ac.real(tol, "tol", low=0, low_open=True)
    max_iter = ac.integer(max_iter, "max_iter", minimum=1)
    as_generator(seed)  # check it before any work
    X = model.check_data(X)
    if X.shape[1] < 2:
        raise ValueError(
            f"lsuv needs a batch of at least 2 examples to measure a variance, got m={X.shape[1]}"
        )
    if hasattr(model, "init_params"):  # batch-normalized layers get gamma, beta
        params = model.init_params("orthogonal", seed=seed)
    else:
        params = initialize_parameters(model.layer_dims, "orthogonal", seed=seed)
    for l in range(1, model.n_layers + 1):
        for _ in range(int(max_iter)):
            Zs = model.forward_cache(params, X).Z
            var = float(np.var(Zs[l]))
            if not np.isfinite(var) or var <= np.finfo(float).tiny:
                raise ValueError(
                    f"lsuv: the pre-activations Z{l} are constant on X (variance {var:g}); "
                    "check X (constant features?) or the layers before (dead units?)"
                )
            if abs(var - 1.0) < tol:
                break
            params[f"W{l}"] = params[f"W{l}"] / np.sqrt(var)
    return params
