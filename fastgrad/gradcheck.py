"""Gradient checking: the two-sided finite difference of the cost over every
parameter, compared with backprop by ``‖a − n‖₂ / (‖a‖₂ + ‖n‖₂)``.

``gradient_check`` runs fastgrad's compiled incremental kernel for
:class:`fastgrad.MLP` (see ``csrc/_gradcheck.pyx``); ``check_grad`` and
``numerical_gradient`` handle any Python callable with a compiled loop.

Kinks: a relu is not differentiable at 0. When ``θ ± ε`` moves a relu or
leaky-relu pre-activation across 0, the finite difference averages the two
slopes and disagrees with any backprop. The kernel flags those coordinates;
they are reported (``n_kinks``, a ``*`` on the block) and left out of
``difference`` and the verdict; ``difference_all`` includes them.
"""
import os
import sys
import time

import numpy as np
from scipy.special import expit

from fastgrad import _check_options as options
from fastgrad import _gradcheck, _numdiff
from fastgrad._threads import effective_n_threads, single_threaded_blas
from fastgrad.activations import CODES, LEAKY_SLOPE, OUTPUT_CODES, delta
from fastgrad.init import as_generator
from fastgrad.model import MLP
from fastgrad.params import block_slices, params_to_vector, vector_to_params
from fastgrad.report import (
    GradCheckReport,
    GradientCheckError,
    build_blocks,
    check_thresholds,
    verdict_for,
)

MODES = options.MODES
_WORK_PER_THREAD = 32768
# A check expected to take longer than this shows a progress bar / ETA.
PROGRESS_AFTER_SECONDS = 2.0


def _stderr_is_terminal():
    """Whether a redrawn bar on stderr will be seen as one: a terminal, or a
    Jupyter kernel's stream (where tqdm.auto draws a widget)."""
    err = sys.stderr
    if err is None:
        return False
    if type(err).__module__.startswith("ipykernel"):
        return True
    try:
        return bool(err.isatty())
    except (AttributeError, ValueError, OSError):  # replaced, closed or detached stream
        return False


class _Progress:
    """A progress display for work expected to take more than a couple of
    seconds (always with ``progress=True``, never with ``False``).

    On a terminal: a tqdm bar when tqdm is installed (its rate counted from
    the bar's start, not from the check's), else ETA lines. On anything else
    (CI logs, pipes, a captured stderr): sparse plain lines, one at the start
    and then at most one every ``TEXT_EVERY`` seconds, so a log is not flooded
    with carriage-return updates.
    """

    TEXT_EVERY = 10.0

    def __init__(self, total, progress, desc):
        self.total, self.progress, self.desc = total, progress, desc
        self.bar = None
        self.start = time.perf_counter()
        self.last_print = self.start

    @property
    def shown(self):
        """Whether a bar or ETA line has appeared."""
        return self.bar is not None

    def update(self, done):
        if self.progress is False:
            return
        now = time.perf_counter()
        elapsed = now - self.start
        eta = elapsed / max(done, 1) * (self.total - done)
        if self.bar is None:
            if self.progress is not True and (done >= self.total
                                              or elapsed + eta <= PROGRESS_AFTER_SECONDS):
                return
            self.bar = "text"
            if _stderr_is_terminal():
                try:
                    from tqdm.auto import tqdm
                except ImportError:
                    pass
                else:
                    # initial=done: tqdm's rate counts what is done from now
                    # on, not the coordinates finished before the bar existed.
                    self.bar = tqdm(total=self.total, initial=done, desc=self.desc,
                                    unit="coord", leave=False)
                    return
            self.last_print = now
            print(f"{self.desc}: {done:,}/{self.total:,} coordinates, about {eta:.0f} s left",
                  file=sys.stderr, flush=True)
            return
        if isinstance(self.bar, str):
            if now - self.last_print >= self.TEXT_EVERY and done < self.total:
                self.last_print = now
                print(f"{self.desc}: {done:,}/{self.total:,}, about {eta:.0f} s left",
                      file=sys.stderr, flush=True)
        else:
            self.bar.update(done - self.bar.n)

    def close(self):
        if self.bar is not None and not isinstance(self.bar, str):
            self.bar.close()


class _MLPKernel:
    """The unperturbed forward pass, flattened once for the compiled kernel.

    The exact linear maps of :func:`_linear_maps` are built per call of
    :meth:`run`, only for the layers whose rows the requested coordinates use
    often enough to pay for them, so a sampled or directional check costs
    memory and time in proportion to what it checks.
    """

    def __init__(self, model, params, X, Y, epsilon, scales=None):
        cache = model._forward(params, X, scales=scales)
        Zs, As = cache.Z, cache.A
        L = model.n_layers
        self.model, self.params, self.X, self.Y, self.m = model, params, X, Y, X.shape[1]
        self.Zs, self.As, self.Gs, self.scales = Zs, As, cache.G, scales
        self.theta = params_to_vector(params)
        self.dims = np.asarray(model.layer_dims, dtype=np.intp)
        self.act = np.asarray([CODES[h] for h in model.hidden] + [OUTPUT_CODES[model.output]],
                              dtype=np.intc)
        self.zcache = np.concatenate([Zs[l].ravel() for l in range(1, L + 1)])
        self.acache = np.concatenate([As[l].ravel() for l in range(0, L)])
        self.gcache = _concat([cache.G[l].ravel() for l in range(1, L)])
        self.dgcache = _concat([_slope(model.hidden[l - 1], Zs[l]).ravel() for l in range(1, L)])
        scales = scales or {}
        self.dropped = np.asarray([l + 1 in scales for l in range(L)], dtype=np.intp)
        self.scache = _concat([scales[l].ravel() for l in sorted(scales)])
        bn_layers = model.batchnorm
        self.bn = np.asarray([l + 1 in bn_layers for l in range(L)], dtype=np.intp)
        self.ucache = _concat([cache.centered[l].ravel() for l in bn_layers])
        self.zncache = _concat([cache.Zn[l].ravel() for l in bn_layers])
        self.sdcache = _concat([np.sqrt(cache.var[l] + model.bn_epsilon).ravel()
                                for l in bn_layers])
        self.out = np.ascontiguousarray(As[L]).ravel()
        self.y = np.ascontiguousarray(Y).ravel()
        self.ysum = np.ascontiguousarray(Y.sum(axis=0))
        self.epsilon = epsilon
        # Where each weight layer's coordinates start in θ (W, then b or γ, β).
        sizes = [d1 * d0 + d1 * (2 if l + 1 in bn_layers else 1)
                 for l, (d0, d1) in enumerate(zip(model.layer_dims[:-1], model.layer_dims[1:]))]
        self.layer_start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        self.mappable = _mappable_layers(model)

    def max_step(self):
        """The largest |ΔZ| a single coordinate's ±ε causes at its own layer:
        ε·max|A[l−1]| over the layers (and ε for a bias)."""
        biggest = max([1.0] + [float(np.max(np.abs(self.As[l]), initial=0.0))
                               for l in range(self.model.n_layers)])
        return self.epsilon * biggest

    def map_layers(self, coords):
        """Layers whose exact linear maps pay for themselves for ``coords``.

        A layer's maps cost about one propagation per unit (row) to build
        and save a propagation for every coordinate of that row afterwards:
        worth it when the coordinates in the layer are at least twice its
        rows (always so in a full check, rarely in a sampled one). Maps are
        built for every row of a layer or none, so a coordinate gets the same
        bits whichever other coordinates are checked with it.
        """
        if not self.mappable or coords.size == 0:
            return []
        layer = np.searchsorted(self.layer_start, coords, side="right") - 1
        counts = np.bincount(layer, minlength=self.model.n_layers)
        last = self.model.n_layers - 2  # its map is W[L] itself: free, always used
        return [t for t in self.mappable if t == last or counts[t] >= 2 * self.dims[t + 1]]

    def scratch_bytes(self):
        """Bytes of one thread's scratch in the kernel (csrc/_gradcheck.pyx
        ``_scratch_sizes``): deltas for the widest layer after the first."""
        dims, m = [int(d) for d in self.dims], self.m
        n_d = max(dims[2:], default=1)
        n_wg = max((dims[l] * dims[l + 1] for l in range(2, len(dims) - 1)), default=1)
        return 8 * (5 * m + 4 * m * n_d + n_wg + n_d)

    def memory_estimate(self, layers, n_threads):
        """(total bytes, parts) a run with the maps of ``layers`` needs."""
        nL = int(self.dims[-1])
        layers = [t for t in layers if t != self.model.n_layers - 2]  # W[L]: nothing stored
        maps = sum(int(self.dims[t + 1]) * self.m * (nL + 1) * 8 for t in layers)
        if layers:
            maps += 4 * _LINEAR_MAP_BYTES  # one chunk's temporaries while they are built
        scratch = n_threads * self.scratch_bytes()
        return maps + scratch, {"linear maps": maps, f"scratch ({n_threads} thread(s))": scratch}

    def run(self, coords, n_threads, progress, desc):
        coords = np.ascontiguousarray(coords, dtype=np.intp)
        K = coords.size
        numerical = np.empty(K)
        kinks = np.zeros(K, dtype=np.uint8)
        flops = np.zeros(K, dtype=np.longlong)
        if K == 0:
            return numerical, kinks.astype(bool), 0
        # Waking a thread team costs more than a tiny check: give each thread
        # at least _WORK_PER_THREAD coordinate-examples (bits do not depend on it).
        n_threads = max(1, min(n_threads, (K * self.m) // _WORK_PER_THREAD))
        layers = self.map_layers(coords)
        _check_memory(*self.memory_estimate(layers, n_threads))
        sens, radius, fast = _linear_maps(self.model, self.params, self.Zs, self.scales, layers)
        bar = _Progress(K, progress, desc)
        # The coordinates run in pieces of about PIECE_SECONDS, each one
        # nogil region, so Python sees Ctrl-C (and the bar moves) in between.
        # Each coordinate's bits do not depend on how the work is split.
        piece = max(64, 8 * n_threads)
        try:
            s = 0
            while s < K:
                e = min(K, s + piece)
                t_piece = time.perf_counter()
                _gradcheck.mlp_numerical_gradient(
                    self.theta, self.dims, self.act, LEAKY_SLOPE, self.zcache,
                    self.acache, self.gcache, self.dgcache, self.scache, self.dropped, self.bn,
                    self.ucache, self.zncache, self.sdcache, self.out, self.y, self.ysum,
                    sens, radius, fast, self.m,
                    self.model.l2, self.epsilon, coords[s:e], numerical[s:e],
                    kinks[s:e], flops[s:e], n_threads,
                )
                took = time.perf_counter() - t_piece
                bar.update(e)
                # Aim the next piece at PIECE_SECONDS, growing at most 4x a time.
                per = took / (e - s)
                piece = int(min(4 * piece, max(8 * n_threads, PIECE_SECONDS / max(per, 1e-9))))
                s = e
        finally:
            bar.close()
        return numerical, kinks.astype(bool), int(flops.sum())


# Target wall time of one nogil piece of a check: Ctrl-C waits at most this.
PIECE_SECONDS = 0.2
# Cap on the memory of one example chunk of the per-example Jacobians below.
_LINEAR_MAP_BYTES = 32 * 2**20
# |ΔA| must stay below this fraction of the distance to the nearest kink:
# a margin so that rounding in the comparison can never hide a crossing.
_RADIUS_MARGIN = 0.5
# |d| above which activation and loss deltas switch from the expm1/log1p
# forms (exact to rounding for |d| ≤ 1) to difference-of-tails forms that
# cannot overflow or cancel to log1p(−1) (csrc/_gradcheck.pyx: LARGE_DELTA).
_LARGE_DELTA = 1.0


def _available_memory():
    """Bytes this process can still allocate, as far as the OS tells:
    MemAvailable, and the room left under an address-space limit. None when
    unknown (then nothing is refused)."""
    limits = []
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
                    break
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            with open("/proc/self/statm") as fh:
                used = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            limits.append(max(0, soft - used))
    except (ImportError, OSError, ValueError, IndexError, AttributeError):
        pass
    return min(limits) if limits else None


def _fmt_bytes(n):
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _check_memory(total, parts):
    """Refuse, before allocating anything, a run that cannot fit."""
    avail = _available_memory()
    if avail is None or total <= avail:
        return
    detail = ", ".join(f"{k} {_fmt_bytes(v)}" for k, v in parts.items() if v)
    raise MemoryError(
        f"this gradient check needs about {_fmt_bytes(total)} ({total:,} bytes: {detail}) "
        f"but only about {_fmt_bytes(avail)} is available; use mode='sampled' (or "
        "'directional'), fewer examples in X, or fewer threads (n_threads)")


def _slope(name, Z):
    """g'(Z) for the kernel's tanh and sigmoid deltas, each factor computed
    directly so it keeps full precision in saturation (not as 1 − a²)."""
    if name == "tanh":
        with np.errstate(over="ignore"):
            return 1.0 / np.cosh(Z) ** 2
    if name == "sigmoid":
        return expit(Z) * expit(-Z)
    return np.zeros_like(Z)  # not read for piecewise-linear layers


def _concat(parts):
    return np.concatenate(parts) if parts else np.zeros(0)


_PIECEWISE_SLOPES = {"linear": (1.0, 1.0), "relu": (1.0, 0.0), "leaky_relu": (1.0, LEAKY_SLOPE)}


def _mappable_layers(model):
    """Weight layers t+1 (0-based t) with a hidden output whose downstream is
    piecewise linear and free of batch norm: the ones that can have maps."""
    return [t for t in range(model.n_layers - 1)
            if all(h in _PIECEWISE_SLOPES for h in model.hidden[t + 1:])
            and not any(l > t + 1 for l in model.batchnorm)]


def _linear_maps(model, params, Zs, scales=None, layers=None):
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
    layers to build. Returns flat ``sens`` and ``radius`` (concatenated over
    those layers, allocated once) and the per-layer flag array ``fast``: 1
    for a stored map, 2 for the last hidden layer, whose map is W[L] for
    every example and nothing to store (the kernel reads W[L]; radius ∞).
    """
    L = model.n_layers
    nL = model.layer_dims[-1]
    m = Zs[1].shape[1]
    fast = np.zeros(L, dtype=np.intp)
    mappable = _mappable_layers(model)
    layers = sorted(mappable if layers is None else set(layers) & set(mappable))
    if layers and layers[-1] == L - 2:
        fast[L - 2] = 2
        layers = layers[:-1]
    sizes = [model.layer_dims[t + 1] * m for t in layers]
    sens_all = np.empty(sum(sizes) * nL)
    rad_all = np.empty(sum(sizes))
    slopes = _PIECEWISE_SLOPES
    s_off = r_off = 0
    for t, size in zip(layers, sizes):  # weight layer t+1 (1-based) has a hidden output
        n = model.layer_dims[t + 1]
        widest = max(model.layer_dims[t + 1:])
        chunk = max(1, int(_LINEAR_MAP_BYTES // (8 * n * widest)))
        sens = sens_all[s_off:s_off + size * nL].reshape(n, m, nL)
        radius = rad_all[r_off:r_off + size].reshape(n, m)
        radius.fill(np.inf)
        for start in range(0, m, chunk):
            ex = slice(start, min(m, start + chunk))
            # C[i] = ∂Z[τ][:, i]/∂A[t+1][:, i], starting with τ = t+2 (1-based).
            C = np.broadcast_to(params[f"W{t + 2}"], (ex.stop - ex.start,) + params[f"W{t + 2}"].shape)
            for tau in range(t + 2, L + 1):
                if tau < L:
                    # min over u of |Z[u, i]| / |C[i, u, j]|, one u at a time so
                    # the temporaries stay in cache; fmin skips the 0/0 of a
                    # unit that cannot move (C = 0).
                    absZ = np.abs(Zs[tau][:, ex])
                    r = radius[:, ex].T.copy()                      # (i, j)
                    with np.errstate(divide="ignore", invalid="ignore"):
                        for u in range(absZ.shape[0]):
                            np.fmin(r, absZ[u][:, None] / np.abs(C[:, u, :]), out=r)
                    radius[:, ex] = r.T
                    on, off = slopes[model.hidden[tau - 1]]
                    D = np.where(Zs[tau][:, ex] > 0, on, off)
                    if scales and tau in scales:
                        D = D * scales[tau][:, ex]
                    D = D.T                                                 # (i, u)
                    W = params[f"W{tau + 1}"]
                    if tau == t + 2:  # C is the same W for every example: one GEMM
                        WD = (W[None, :, :] * D[:, None, :]).reshape(-1, W.shape[1])
                        C = (WD @ C[0]).reshape(D.shape[0], W.shape[0], -1)
                    else:
                        C = W @ (D[:, :, None] * C)
            sens[:, ex, :] = np.transpose(C, (2, 0, 1))
        radius *= _RADIUS_MARGIN
        fast[t] = 1
        s_off += size * nL
        r_off += size
    return sens_all, rad_all, fast


def _sample_coords(slices, k, rng):
    """``k`` coordinates from every block (all of a block smaller than ``k``)."""
    picked = []
    for _, sl, _ in slices:
        size = sl.stop - sl.start
        take = min(k, size)
        picked.append(sl.start + np.sort(rng.choice(size, size=take, replace=False)))
    return np.concatenate(picked) if picked else np.zeros(0, dtype=np.intp)


def _directional(kernel, params, grads, slices, k, rng):
    """k random unit directions inside every block; the difference of the cost
    along each, formed from forward deltas (no full-cost subtraction).

    Returns ``{grad_name: (numerical, analytic, kinks)}`` arrays of length k.
    """
    model, eps, m = kernel.model, kernel.epsilon, kernel.m
    out = {}
    for name, sl, shape in slices:
        num, ana, kink = np.empty(k), np.empty(k), np.zeros(k, dtype=bool)
        for r in range(k):
            v = rng.standard_normal(shape)
            v /= np.linalg.norm(v)
            sides = []
            for sign in (1.0, -1.0):
                dparams = {name: sign * eps * v}  # every other block stays put
                dl, kk = _cost_delta(model, params, dparams, kernel)
                sides.append(dl)
                kink[r] |= kk
            l2 = 0.0
            if model.l2 and name.startswith("W"):
                l2 = model.l2 / (2 * m) * 4 * eps * float(np.sum(params[name] * v))
            num[r] = ((sides[0] - sides[1]) / m + l2) / (2 * eps)
            ana[r] = float(np.sum(grads["d" + name] * v))
        out["d" + name] = (num, ana, kink)
    return out


def _cost_delta(model, params, dparams, kernel):
    """Σ_i Δloss_i when the parameters move by ``dparams`` (exact identities).

    ``dparams`` holds only the blocks that move; the layers before the first
    of them, and the products with blocks that do not move (exact zeros),
    are skipped.
    """
    Zs, As, Gs, Y, scales = kernel.Zs, kernel.As, kernel.Gs, kernel.Y, kernel.scales or {}
    L = model.n_layers
    dA = None  # ΔA of the layer below: None while it is exactly zero
    any_kink = False
    for l in range(1, L + 1):
        W, dW, db = params[f"W{l}"], dparams.get(f"W{l}"), dparams.get(f"b{l}")
        if dA is None and dW is None and db is None:
            continue
        dZ = None
        if dA is not None:
            dZ = (W if dW is None else W + dW) @ dA
        if dW is not None:
            dZ = dW @ As[l - 1] if dZ is None else dZ + dW @ As[l - 1]
        if db is not None:
            dZ = np.broadcast_to(db, (db.shape[0], kernel.m)).copy() if dZ is None else dZ + db
        if l < L:
            name = model.hidden[l - 1]
            with np.errstate(over="ignore", invalid="ignore"):
                dA, kinks = delta(name, Zs[l], Gs[l], dZ)
            if name in ("tanh", "sigmoid"):
                big = np.abs(dZ) > _LARGE_DELTA
                if big.any():
                    dA[big] = _smooth_delta_large(name, Zs[l][big], dZ[big])
            if l in scales:  # frozen dropout: dropped units neither move nor kink
                dA *= scales[l]
                kinks &= scales[l] != 0
            any_kink |= bool(kinks.any())
    ZL, out = Zs[L], As[L]
    if model.output == "sigmoid":
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            dl = np.log1p(out * np.expm1(dZ)) - Y * dZ
        big = np.abs(dZ) > _LARGE_DELTA
        if big.any():
            dl[big] = _softplus_loss_delta(ZL[big], dZ[big], Y[big], 1.0)
    elif model.output == "softmax":
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            dl = (Y.sum(axis=0) * np.log1p(np.sum(out * np.expm1(dZ), axis=0))
                  - np.sum(Y * dZ, axis=0))
        big = np.any(np.abs(dZ) > _LARGE_DELTA, axis=0)
        if big.any():
            dl[big] = _softmax_loss_delta(ZL[:, big], dZ[:, big], Y[:, big])
    else:
        dl = dZ * ((ZL - Y) + 0.5 * dZ)
    return float(np.sum(dl)), any_kink


def _sigmoid_stable(x):
    with np.errstate(over="ignore"):
        return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))),
                        np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))


def _sigmoid_delta_large(z, d):
    """σ(z + d) − σ(z) as a difference of two tails (both on the side of z
    where σ is small), so nothing overflows and, for |d| > 1, nothing cancels."""
    zp = z + d
    return np.where(z >= 0, _sigmoid_stable(-z) - _sigmoid_stable(-zp),
                    _sigmoid_stable(zp) - _sigmoid_stable(z))


def _smooth_delta_large(name, z, d):
    if name == "tanh":  # tanh(x) = 2σ(2x) − 1
        return 2.0 * _sigmoid_delta_large(2.0 * z, 2.0 * d)
    return _sigmoid_delta_large(z, d)


def _softplus_loss_delta(z, d, y, s):
    """s·(softplus(z + d) − softplus(z)) − y·d for large |d|.

    softplus(x) = max(x, 0) + log1p(e^−|x|): the max parts differ by d, z + d,
    −z or 0 (taken exactly and combined with y·d first), the tails are two
    small accurate numbers.
    """
    zp = z + d
    relu = np.where(zp > 0, np.where(z > 0, d, zp), np.where(z > 0, -z, 0.0))
    tail = np.log1p(np.exp(-np.abs(zp))) - np.log1p(np.exp(-np.abs(z)))
    return (s * relu - y * d) + s * tail


def _softmax_loss_delta(Z, D, Y):
    """(Σy)·(LSE(z + d) − LSE(z)) − Σ y·d per column, for large |d|.

    With a = z − max z and c* the argmax of a + d: LSE(z+d) − LSE(z) =
    a_c* + d_c* + log Σ e^(a+d − a_c* − d_c*) − log Σ e^a; no exponential
    overflows and d_c* meets y·d before anything else is added.
    """
    ysum = Y.sum(axis=0)
    A = Z - Z.max(axis=0)
    AD = A + D
    cs = np.argmax(AD, axis=0)
    cols = np.arange(Z.shape[1])
    top = AD[cs, cols]
    s1 = np.sum(np.exp(AD - top), axis=0)
    s0 = np.sum(np.exp(A), axis=0)
    return (ysum * A[cs, cols] + (ysum * D[cs, cols] - np.sum(Y * D, axis=0))
            + ysum * (np.log(s1) - np.log(s0)))


def gradient_check(model, params, grads, X, Y, *, epsilon=1e-7, n_threads=None,
                   mode="full", k=None, seed=None, dropout=True, thresholds=None,
                   progress=None, raise_on_failure=False):
    """Check backprop gradients against the two-sided numerical gradient.

    Parameters
    ----------
    model : fastgrad.MLP
        The network whose cost ``J`` is differentiated. Any object with a
        ``cost(params, X, Y)`` method also works (through the generic, slower
        path of :func:`check_grad`).
    params : dict
        ``{"W1": (n1, n0), "b1": (n1, 1), ...}``; a batch-normalized layer l
        has ``gamma{l}`` and ``beta{l}`` (``(n_l, 1)``) instead of ``b{l}``.
    grads : dict
        The gradients to check, ``{"dW1": (n1, n0), "db1": (n1, 1), ...}``;
        exactly one per parameter.
    X : array of shape (n_x, m)
        Inputs, examples as columns.
    Y : array of shape (n_L, m)
        Targets (``(m,)`` is accepted for one output unit).
    epsilon : float, default 1e-7
        The step ε of ``(J(θ+εe_i) − J(θ−εe_i)) / 2ε``.
    n_threads : int or None
        OpenMP threads; None uses the cores OpenMP would use (respecting
        ``OMP_NUM_THREADS``), -1 all usable cores; never more than the usable
        cores. The report is identical, to the bit, for every value.
    mode : {"full", "sampled", "directional"}
        ``full`` checks every coordinate. ``sampled`` checks ``k``
        coordinates (default 10) from *every* block, so no bias is missed.
        ``directional`` compares, for ``k`` random unit directions v inside
        every block, the difference of the cost along v with ``v·dθ`` (two
        cost evaluations per direction, like torch's fast mode); a block that
        fails is then checked in full so the report still points at entries.
    k : int, optional
        Coordinates (sampled) or directions (directional) per block.
    seed : int, None or numpy.random.Generator
        For ``sampled`` and ``directional``, and the dropout masks: for a
        model with ``keep_prob < 1`` it must be the int given to
        ``model.backward(..., seed=)``, so that θ+ε, θ−ε and the analytic
        gradient all see the same masks (a check whose masks are redrawn at
        every evaluation compares noise with noise, and is refused).
    dropout : bool, default True
        False checks with every unit kept (pass ``dropout=False`` to
        ``model.backward`` too).
    thresholds : (float, float), default (1e-6, 1e-3)
        Verdict boundaries: great below the first, bug from the second on.
    progress : bool or None
        Progress bar / ETA: None shows it for checks expected to take more
        than a couple of seconds; False never; True always. When stderr is
        not a terminal (CI logs, pipes) it is a few plain lines instead of a
        bar: one at the start, then at most one every 10 s.
    raise_on_failure : bool, default False
        Raise :class:`fastgrad.GradientCheckError` unless the verdict is great.

    Returns
    -------
    GradCheckReport

    Notes
    -----
    The check runs in pieces of about 0.2 s, so Ctrl-C stops it promptly. It
    needs memory in proportion to what it checks; a check that cannot fit
    raises MemoryError with the estimate before allocating anything. A step
    ε·activation above 1 uses overflow-free forms of the loss and activation
    differences (the finite difference stays finite whenever the cost is).

    Batch-normalized networks are checked by the same compiled kernel (every
    example is carried below a batch-norm layer, so they cost more per
    coordinate); the directional mode is not available for them. Nothing
    passed in is modified. Inputs in float32 are upcast to float64
    with a warning: a finite difference at ε = 1e-7 needs double precision.
    """
    t0 = time.perf_counter()
    eps = options.epsilon(epsilon)
    thresholds = check_thresholds(thresholds)
    mode = options.mode(mode)
    k = options.k(k, mode)
    nt = effective_n_threads(n_threads)
    dropout = options.flag(dropout, "dropout")
    progress = options.progress(progress)
    raise_on_failure = options.flag(raise_on_failure, "raise_on_failure")
    if isinstance(model, type):
        raise TypeError(f"model must be a model instance, got the class {model.__name__} "
                        f"(construct it first, e.g. {model.__name__}([n_x, ..., n_L]))")
    if not isinstance(model, MLP):
        if not callable(getattr(model, "cost", None)):
            raise TypeError(f"model must be a fastgrad.MLP or have a cost(params, X, Y) method, "
                            f"got {type(model).__name__}")
        return _check_generic_model(model, params, grads, X, Y, eps, thresholds,
                                    raise_on_failure, mode=mode, k=k, seed=seed, n_threads=nt,
                                    dropout=dropout, progress=progress)
    params = model.check_params(params, "params", warn_downcast=True)
    grads = model.check_params(grads, "grads", prefix="d", warn_downcast=True)
    X, Y = model.check_data(X, Y, warn_downcast=True)
    scales = _dropout_scales(model, X.shape[1], seed, dropout)
    if model.batchnorm and mode == "directional":
        raise ValueError("mode='directional' is not available for batch-normalized networks; "
                         "use mode='full' or 'sampled'")
    rng = as_generator(seed)

    # BLAS stays on one thread for the whole check, set-up included and for
    # every n_threads: a threaded BLAS may round the set-up products
    # differently (n_threads=1 and 2 would then differ in the last bits), and
    # a threaded BLAS call in the set-up leaves its workers spinning for
    # ~0.1 s on the very cores the OpenMP kernel is about to use.
    with single_threaded_blas():
        return _check_mlp(model, params, grads, X, Y, eps, nt, mode, k, rng, thresholds,
                          progress, raise_on_failure, t0, scales)


def _dropout_scales(model, m, seed, dropout):
    """Frozen dropout factors for the check, or a refusal that says why."""
    if not dropout or not model.has_dropout:
        return None
    if seed is None:
        raise ValueError(
            f"{model!r} uses dropout: a gradient check whose masks are redrawn for every "
            "cost evaluation compares noise with noise. Freeze the masks by passing the same "
            "int seed to model.backward(..., seed=s) and gradient_check(..., seed=s), or "
            "check without dropout: dropout=False in both.")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"with dropout, seed must be an int (the one given to model.backward) "
                        f"so the same masks can be drawn again, got {type(seed).__name__}")
    return model._dropout_scales(m, seed, True)


def _check_mlp(model, params, grads, X, Y, eps, nt, mode, k, rng, thresholds, progress,
               raise_on_failure, t0, scales):
    kernel = _MLPKernel(model, params, X, Y, eps, scales)
    slices = block_slices(params)
    analytic = params_to_vector(grads, prefix="d")
    P = analytic.size
    if mode != "full":  # a full check fills all three from the kernel's output
        numerical = np.full(P, np.nan)
        checked = np.zeros(P, dtype=bool)
        kinks = np.zeros(P, dtype=bool)
    flops = 0
    extra_hints, directions = [], None
    desc = "fastgrad gradient check"

    if mode == "directional":
        directions = _directional(kernel, params, grads, slices, k, rng)
        failing = []
        for name, sl, shape in slices:
            num, ana, kk = directions["d" + name]
            use = ~kk
            diff = _numdiff.relative_difference(ana[use].copy(), num[use].copy())[0]
            if diff >= thresholds[0]:
                failing.append((name, sl))
        for name, sl in failing:
            coords = np.arange(sl.start, sl.stop)
            n, kk, fl = kernel.run(coords, nt, progress, desc + f" ({name})")
            numerical[sl], kinks[sl], checked[sl] = n, kk, True
            flops += fl
            extra_hints.append(f"d{name} failed along random directions; checked in full")
        diff_all, diff = _directional_differences(directions, failing)
    else:
        coords = np.arange(P) if mode == "full" else _sample_coords(slices, k, rng)
        n, kk, flops = kernel.run(coords, nt, progress, desc)
        if mode == "full":
            numerical, kinks, checked = n, kk, np.ones(P, dtype=bool)
            diff_all = _numdiff.relative_difference(analytic, numerical)[0]
        else:
            numerical[coords], kinks[coords], checked[coords] = n, kk, True
            diff_all = _numdiff.relative_difference(analytic[checked], numerical[checked])[0]
        use = checked & ~kinks
        diff = diff_all if use.all() else \
            _numdiff.relative_difference(analytic[use], numerical[use])[0]

    names = ["d" + name for name, _, _ in slices]
    shapes = [shape for _, _, shape in slices]
    blocks = build_blocks(names, shapes, analytic, numerical, checked, kinks,
                          thresholds=thresholds, l2=model.l2, m=kernel.m, params=params)
    if mode == "directional":
        _directional_block_rows(blocks, directions, failing)
    step = kernel.max_step()
    if step > _LARGE_DELTA and verdict_for(diff, thresholds) != "great":
        extra_hints.append(
            f"epsilon={eps:g} moves a pre-activation by up to {step:.3g} (inputs or "
            "activations this large): the finite difference is then far from the derivative. "
            "Scale the inputs (e.g. fastgrad.Normalizer) or pass a smaller epsilon")
    if scales and verdict_for(diff, thresholds) != "great":
        extra_hints.append("the model uses dropout: model.backward must get the same int seed "
                           "as gradient_check (or dropout=False in both), or its masks differ")
    report = GradCheckReport(
        title=repr(model), difference=diff, difference_all=diff_all,
        numerical=vector_to_params(numerical, params, prefix="d"), blocks=blocks,
        n_params=P, n_checked=int(checked.sum()) if mode != "directional" else
        int(checked.sum()) + sum(len(v[0]) for v in directions.values()),
        n_kinks=int((checked & kinks).sum()), mode=mode, epsilon=eps, n_threads=nt,
        seconds=time.perf_counter() - t0, flops=flops, thresholds=thresholds,
        extra_hints=extra_hints, directions=directions,
    )
    if raise_on_failure:
        report.raise_if_failed()
    return report


def _directional_differences(directions, failing):
    nums, anas, kk = (np.concatenate([v[i] for v in directions.values()]) for i in range(3))
    diff_all = _numdiff.relative_difference(anas, nums)[0]
    diff = _numdiff.relative_difference(anas[~kk].copy(), nums[~kk].copy())[0]
    return diff_all, diff


def _directional_block_rows(blocks, directions, failing):
    """Blocks that passed along directions report the directional numbers."""
    full = {"d" + name for name, _ in failing}
    for b in blocks:
        if b.name in full:
            continue
        num, ana, kk = directions[b.name]
        use = ~kk
        b.difference = _numdiff.relative_difference(ana[use].copy(), num[use].copy())[0]
        err = np.abs(ana - num)
        b.max_abs_error = float(err.max())
        b.worst_index = (int(np.argmax(err)),)
        b.worst_numerical = float(num[b.worst_index[0]])
        b.worst_analytic = float(ana[b.worst_index[0]])
        b.n_checked = len(num)
        b.n_kinks = int(kk.sum())


# The paths through a Python callable live in their own module.
from fastgrad import _callable_check  # noqa: E402


def _check_generic_model(model, params, grads, X, Y, eps, thresholds, raise_on_failure, *,
                         mode="full", k=None, seed=None, n_threads=None, dropout=True,
                         progress=None):
    """Any model with ``cost(params, X, Y)``: the compiled loop over a callable.

    Validated as the MLP path: one gradient ``"d" + name`` per parameter, of
    the same shape, finite. ``mode``, ``k``, ``seed`` and ``progress`` are
    honoured; ``n_threads`` does not apply (the cost is Python, evaluated on
    one thread; the report says 1); ``dropout=False`` is refused (only an MLP's
    masks can be switched off by fastgrad), and a cost that differs between
    two calls at the same θ (redrawn masks) is refused. See
    :mod:`fastgrad._callable_check`.
    """
    return _callable_check.check_generic_model(
        model, params, grads, X, Y, eps, thresholds, raise_on_failure, mode=mode, k=k,
        seed=seed, n_threads=n_threads, dropout=dropout, progress=progress)


def numerical_gradient(f, theta, *, epsilon=1e-7):
    """Two-sided numerical gradient of a scalar function.

    Parameters
    ----------
    f : callable
        ``f(theta) -> float``; receives a read-only array shaped like
        ``theta`` (copy it if ``f`` needs to write).
    theta : array_like, any shape
        The point. Not modified: the compiled loop perturbs a float64 working
        copy in place and restores every entry from its saved bits.
    epsilon : float, default 1e-7
        Absolute step. Coordinates where ``theta ± epsilon`` overflows or
        rounds back to ``theta`` are refused with a ValueError.

    Returns
    -------
    ndarray, shaped like ``theta``, float64 (empty for an empty ``theta``)

    Raises
    ------
    ValueError
        ``f`` returned NaN or inf (the message names the coordinate and the
        side), or a step cannot be taken.
    """
    _check_callable(f)
    eps = options.epsilon(epsilon)
    work = _as_theta(theta)
    flat = work.reshape(-1)
    blocks = [("theta", slice(0, flat.size), work.shape)]
    out = _callable_check.central_differences(
        f, flat, _callable_check._read_only(work), eps, np.arange(flat.size, dtype=np.intp),
        blocks, _argument_name(f), False, "fastgrad numerical_gradient")
    return out.reshape(work.shape)


def _check_callable(f):
    if not callable(f):
        raise TypeError(f"f must be a callable f(theta) -> float, got {type(f).__name__}")


def _callable_name(f):
    return getattr(f, "__name__", type(f).__name__)


def _argument_name(f):
    """How messages name the user's callable: the argument ``f``, and its own name."""
    return f"f ({_callable_name(f)})"


def _as_theta(theta, name="theta"):
    return _callable_check.as_theta(theta, name)


def check_grad(f, theta, grad, *, epsilon=1e-7, thresholds=None, raise_on_failure=False,
               progress=None):
    """Check a gradient of any Python function ``f(theta) -> float``.

    Parameters
    ----------
    f : callable
        Receives a read-only array shaped like ``theta``; must return one
        real number.
    theta : array_like, any shape, not empty
    grad : array_like shaped like ``theta``, or callable ``grad(theta)``
    epsilon : float, default 1e-7
    thresholds : (float, float), default (1e-6, 1e-3)
    raise_on_failure : bool, default False
    progress : bool or None
        As for :func:`gradient_check`.

    Returns
    -------
    GradCheckReport
        One block, ``"theta"``; ``report.numerical["theta"]`` is the
        numerical gradient.
    """
    _check_callable(f)
    eps = options.epsilon(epsilon)
    raise_on_failure = options.flag(raise_on_failure, "raise_on_failure")
    thresholds = check_thresholds(thresholds)
    progress = options.progress(progress)
    work = _as_theta(theta)
    if work.size == 0:
        raise ValueError(f"theta is empty (shape {work.shape}): there is nothing to check")
    g = grad(work.copy()) if callable(grad) else grad
    g = _as_theta(g, "grad")
    if g.shape != work.shape:
        hint = " (it looks transposed)" if g.shape == work.shape[::-1] and g.ndim == 2 else ""
        raise ValueError(f"grad has shape {g.shape}, expected {work.shape} like theta{hint}")
    return _callable_report(f, work.reshape(-1), work, g.ravel(), eps, thresholds,
                            raise_on_failure, title=_callable_name(f),
                            blocks=[("theta", slice(0, work.size), work.shape)], prefix="",
                            progress=progress)


def _callable_report(f, flat, view, analytic, eps, thresholds, raise_on_failure, *, title,
                     blocks, prefix, progress=None):
    t0 = time.perf_counter()
    P = flat.size
    numerical = _callable_check.central_differences(
        f, flat, _callable_check._read_only(view), eps, np.arange(P, dtype=np.intp), blocks,
        _argument_name(f), progress, "fastgrad check_grad")
    report = _callable_check.build_report(
        title=title, analytic=analytic, numerical=numerical, checked=np.ones(P, dtype=bool),
        blocks=blocks, prefix=prefix, mode="callable", eps=eps, thresholds=thresholds,
        seconds=time.perf_counter() - t0)
    if raise_on_failure:
        report.raise_if_failed()
    return report


__all__ = ["gradient_check", "check_grad", "numerical_gradient", "GradientCheckError"]
