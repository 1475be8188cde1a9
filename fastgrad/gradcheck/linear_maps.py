"""Exact linear maps for the MLP kernel: when every hidden layer after a
row is piecewise linear, a change of that row's activation reaches the
output through a fixed linear map (until a downstream pre-activation
changes side), so a coordinate costs O(m) instead of a propagation."""

from __future__ import annotations

import numpy as np

# Cap on the memory of one example chunk of the per-example Jacobians below.
LINEAR_MAP_BYTES = 32 * 2**20
# Examples per first-update GEMM (MAP_CHUNK in csrc/gradcheck/_mlp_kernel.pyx):
# the compiled build chunks the same way, so both give the same bits.
MAP_CHUNK = 16
# |ΔA| must stay below this fraction of the distance to the nearest kink:
# a margin so that rounding in the comparison can never hide a crossing.
RADIUS_MARGIN = 0.5


def mappable_layers(model):
    """Weight layers t+1 (0-based t) with a hidden output whose downstream is
    piecewise linear and free of batch norm: the ones that can have maps."""
    return [
        t
        for t in range(model.n_layers - 1)
        if all(a.piecewise_linear for a in model.activations[t + 1 :])
        and not any(l > t + 1 for l in model.batchnorm)
    ]


def linear_maps(model, params, Zs, scales=None, layers=None, n_threads=1, net=None):
    """Exact linear maps for hidden rows whose downstream is piecewise linear.

    When every hidden layer after layer t is relu, leaky-relu or linear, a
    change ΔA of unit j of layer t on example i moves the output
    pre-activations by exactly ``sens[j, i, :] · ΔA`` (in exact arithmetic),
    as long as no downstream pre-activation changes side. Dropout ``scales``
    (frozen masks) multiply each downstream layer's slopes. ``radius[j, i]`` is
    a safe bound on |ΔA| for that: half the smallest ``|Z[τ][u, i]| /
    |∂Z[τ][u, i]/∂A[t][j, i]|`` over later hidden layers τ. The kernel uses
    the map when every changed example is inside its radius, and the full
    propagation otherwise.

    ``layers`` (0-based t, default every layer that can have maps) selects the
    layers to build. With ``net`` (the kernel's MLPNet of the same network)
    they are built by the compiled kernel on ``n_threads`` threads
    (``csrc/gradcheck/_maps.pxi``) with the same arithmetic as the NumPy
    code here (both take the first update in one GEMM per chunk of
    MAP_CHUNK examples and dispatch products as NumPy's matmul does); the
    bits agree wherever SciPy's BLAS, which the kernel calls, rounds a GEMM
    as NumPy's does. The bits do not depend on ``n_threads``.
    Returns per-layer lists ``sens`` and ``radius`` (flat
    arrays, None where no map is stored) and the flag array ``fast``: 1 for
    a stored map, 2 for the last hidden layer, whose map is W[L] for every
    example and nothing to store (the kernel reads W[L]; radius ∞).
    """
    L = model.n_layers
    nL = model.layer_dims[-1]
    m = Zs[1].shape[1]
    fast = np.zeros(L, dtype=np.intp)
    sens_list, radius_list = [None] * L, [None] * L
    mappable = mappable_layers(model)
    layers = sorted(mappable if layers is None else set(layers) & set(mappable))
    if layers and layers[-1] == L - 2:
        fast[L - 2] = 2
        layers = layers[:-1]
    for t in layers:  # weight layer t+1 (1-based) has a hidden output
        n = model.layer_dims[t + 1]
        sens_list[t], radius_list[t] = np.empty(n * m * nL), np.empty(n * m)
        fast[t] = 1
    if net is not None:
        net.build_maps(layers, sens_list, radius_list, n_threads)
        return sens_list, radius_list, fast
    for t in layers:
        n = model.layer_dims[t + 1]
        radius = radius_list[t]
        _layer_map(
            model, params, Zs, scales, t, sens_list[t].reshape(n, m, nL), radius.reshape(n, m)
        )
        radius *= RADIUS_MARGIN
    return sens_list, radius_list, fast


def build_bytes(model, m, layers, n_threads=1):
    """Bytes of the compiled build's per-thread temporaries for ``layers``."""
    d = model.layer_dims
    layers = [t for t in layers if t <= model.n_layers - 3]
    if not layers:
        return 0
    per = max(
        MAP_CHUNK * d[t + 3] * (d[t + 1] + d[t + 2]) + 3 * max(d[t + 1 :]) * d[t + 1]
        for t in layers
    )
    return 8 * n_threads * per


def _layer_map(model, params, Zs, scales, t, sens, radius):
    """Fill ``sens`` (n, m, n_L) and ``radius`` (n, m) of hidden layer t+1."""
    L = model.n_layers
    n, m = radius.shape
    widest = max(model.layer_dims[t + 1 :])
    chunk = max(1, min(MAP_CHUNK, int(LINEAR_MAP_BYTES // (8 * n * widest))))
    radius.fill(np.inf)
    for start in range(0, m, chunk):
        ex = slice(start, min(m, start + chunk))
        # C[i] = ∂Z[τ][:, i]/∂A[t+1][:, i], starting with τ = t+2 (1-based).
        C = np.broadcast_to(params[f"W{t + 2}"], (ex.stop - ex.start,) + params[f"W{t + 2}"].shape)
        for tau in range(t + 2, L):
            _shrink_radius(radius, Zs[tau], C, ex)
            on, off = model.activations[tau - 1].slopes
            D = np.where(Zs[tau][:, ex] > 0, on, off)
            if scales and tau in scales:
                D = D * scales[tau][:, ex]
            D = D.T  # (i, u)
            W = params[f"W{tau + 1}"]
            if tau == t + 2:  # C is the same W for every example: one GEMM
                WD = (W[None, :, :] * D[:, None, :]).reshape(-1, W.shape[1])
                C = (WD @ C[0]).reshape(D.shape[0], W.shape[0], -1)
            else:
                C = W @ (D[:, :, None] * C)
        sens[:, ex, :] = np.transpose(C, (2, 0, 1))


def _shrink_radius(radius, Z, C, ex):
    """radius[j, i] = min over units u of |Z[u, i]| / |C[i, u, j]|, one u at
    a time so the temporaries stay in cache; fmin skips the 0/0 of a unit
    that cannot move (C = 0)."""
    absZ = np.abs(Z[:, ex])
    r = radius[:, ex].T.copy()  # (i, j)
    with np.errstate(divide="ignore", invalid="ignore"):
        for u in range(absZ.shape[0]):
            np.fmin(r, absZ[u][:, None] / np.abs(C[:, u, :]), out=r)
    radius[:, ex] = r.T


def bn_tail(model, cache, scales=None):
    """The constants of a batch-normalized, piecewise-linear last hidden
    layer (``csrc/gradcheck/_bn_tail.pxi``), or None when the network has
    none: ``(slope, slope·(U − μ), 1/min_i|Z|, max_i |U − μ|/|Z|)`` per row,
    flat, with the dropout scale in the slope."""
    L = model.n_layers
    l = L - 1
    if L < 3 or l not in model.batchnorm or not model.activations[l - 1].piecewise_linear:
        return None
    Z, c = cache.Z[l], cache.centered[l]
    on, off = model.activations[l - 1].slopes
    s = np.where(Z > 0, on, off)
    if scales and l in scales:
        s = s * scales[l]
    absZ = np.abs(Z)
    with np.errstate(divide="ignore", invalid="ignore"):
        if model.activations[l - 1].name == "linear":  # no kink to reach
            zinv, cz = np.zeros(Z.shape[0]), np.zeros(Z.shape[0])
        else:
            zinv = 1.0 / np.min(absZ, axis=1)
            cz = np.max(np.abs(c) / absZ, axis=1)
    flat = lambda a: np.ascontiguousarray(a, dtype=np.float64).reshape(-1)  # noqa: E731
    return flat(s), flat(s * c), flat(zinv), flat(cz)
