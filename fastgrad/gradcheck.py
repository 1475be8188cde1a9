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
import contextlib
import sys
import time
import warnings

import numpy as np
from scipy.special import expit, softmax

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

MODES = ("full", "sampled", "directional")
_WORK_PER_THREAD = 32768
# A check expected to take longer than this shows a progress bar / ETA.
PROGRESS_AFTER_SECONDS = 2.0


def _check_epsilon(epsilon):
    try:
        eps = float(epsilon)
    except (TypeError, ValueError):
        raise TypeError(f"epsilon must be a positive float, got {epsilon!r}") from None
    if not np.isfinite(eps) or eps <= 0:
        raise ValueError(f"epsilon must be a positive finite float, got {epsilon!r}")
    return eps


class _Progress:
    """Chunked execution with a progress bar (tqdm if installed) or ETA lines,
    shown only when the work is expected to take more than a couple of seconds."""

    def __init__(self, total, progress, desc):
        self.total, self.progress, self.desc = total, progress, desc
        self.bar = None
        self.start = time.perf_counter()
        self.last_print = self.start

    @property
    def shown(self):
        """Whether a bar or ETA line has appeared (pieces are only for it)."""
        return self.bar is not None

    def update(self, done):
        if self.progress is False:
            return
        elapsed = time.perf_counter() - self.start
        eta = elapsed / max(done, 1) * (self.total - done)
        if self.bar is None:
            if self.progress is not True and (done >= self.total
                                              or elapsed + eta <= PROGRESS_AFTER_SECONDS):
                return
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=self.total, desc=self.desc, unit="coord", leave=False)
            except ImportError:
                self.bar = "text"
                print(f"{self.desc}: about {eta:.0f} s left ({self.total:,} coordinates)",
                      file=sys.stderr)
        if isinstance(self.bar, str):
            if time.perf_counter() - self.last_print > 5 or done >= self.total:
                self.last_print = time.perf_counter()
                print(f"{self.desc}: {done:,}/{self.total:,}, about {eta:.0f} s left",
                      file=sys.stderr)
        else:
            self.bar.n = done
            self.bar.refresh()

    def close(self):
        if self.bar is not None and not isinstance(self.bar, str):
            self.bar.close()


class _MLPKernel:
    """The unperturbed forward pass, flattened once for the compiled kernel."""

    def __init__(self, model, params, X, Y, epsilon, scales=None):
        cache = model._forward(params, X, scales=scales)
        Zs, As = cache.Z, cache.A
        L = model.n_layers
        self.model, self.X, self.Y, self.m = model, X, Y, X.shape[1]
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
        self.sens, self.radius, self.fast = _linear_maps(model, params, Zs, scales)

    def run(self, coords, n_threads, progress, desc):
        coords = np.ascontiguousarray(coords, dtype=np.intp)
        K = coords.size
        numerical = np.empty(K)
        kinks = np.zeros(K, dtype=np.uint8)
        flops = np.zeros(K, dtype=np.longlong)
        # Pieces only so the progress bar can move; each coordinate's bits do
        # not depend on how the work is split.
        piece = max(1024, K // 50)
        # Waking a thread team costs more than a tiny check: give each thread
        # at least _WORK_PER_THREAD coordinate-examples (bits do not depend on it).
        n_threads = max(1, min(n_threads, (K * self.m) // _WORK_PER_THREAD))
        bar = _Progress(K, progress, desc)
        try:
            s = 0
            while s < K:
                e = min(K, s + piece)
                _gradcheck.mlp_numerical_gradient(
                    self.theta, self.dims, self.act, LEAKY_SLOPE, self.zcache,
                    self.acache, self.gcache, self.dgcache, self.scache, self.dropped, self.bn,
                    self.ucache, self.zncache, self.sdcache, self.out, self.y, self.ysum,
                    self.sens, self.radius, self.fast, self.m,
                    self.model.l2, self.epsilon, coords[s:e], numerical[s:e],
                    kinks[s:e], flops[s:e], n_threads,
                )
                bar.update(e)
                s = e
                if not bar.shown:  # short enough to show nothing: finish in one region
                    piece = K
        finally:
            bar.close()
        return numerical, kinks.astype(bool), int(flops.sum())


# Cap on the memory of one example chunk of the per-example Jacobians below.
_LINEAR_MAP_BYTES = 32 * 2**20
# |ΔA| must stay below this fraction of the distance to the nearest kink:
# a margin so that rounding in the comparison can never hide a crossing.
_RADIUS_MARGIN = 0.5


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


def _linear_maps(model, params, Zs, scales=None):
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

    Returns flat ``sens`` and ``radius`` (concatenated over the layers that
    have them) and the per-layer flag array ``fast``.
    """
    L = model.n_layers
    nL = model.layer_dims[-1]
    m = Zs[1].shape[1]
    fast = np.zeros(L, dtype=np.intp)
    sens_parts, rad_parts = [], []
    slopes = {"linear": (1.0, 1.0), "relu": (1.0, 0.0), "leaky_relu": (1.0, LEAKY_SLOPE)}
    for t in range(L - 1):  # weight layer t+1 (1-based) has a hidden output
        downstream = model.hidden[t + 1:]
        if any(h not in slopes for h in downstream) or any(l > t + 1 for l in model.batchnorm):
            continue  # nonlinear downstream, or batch norm tying the examples together
        n = model.layer_dims[t + 1]
        widest = max(model.layer_dims[t + 1:])
        chunk = max(1, int(_LINEAR_MAP_BYTES // (8 * n * widest)))
        sens = np.empty((n, m, nL))
        radius = np.full((n, m), np.inf)
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
        fast[t] = 1
        sens_parts.append(sens.ravel())
        rad_parts.append((_RADIUS_MARGIN * radius).ravel())
    return _concat(sens_parts), _concat(rad_parts), fast


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
    L = model.n_layers
    out = {}
    for name, sl, shape in slices:
        num, ana, kink = np.empty(k), np.empty(k), np.zeros(k, dtype=bool)
        for r in range(k):
            v = rng.standard_normal(shape)
            v /= np.linalg.norm(v)
            sides = []
            for sign in (1.0, -1.0):
                dparams = {key: np.zeros(np.shape(val)) for key, val in params.items()}
                dparams[name] = sign * eps * v
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
    """Σ_i Δloss_i when the parameters move by ``dparams`` (exact identities)."""
    Zs, As, Gs, Y, scales = kernel.Zs, kernel.As, kernel.Gs, kernel.Y, kernel.scales or {}
    L = model.n_layers
    dA = np.zeros_like(As[0])
    any_kink = False
    for l in range(1, L + 1):
        W, dW, db = params[f"W{l}"], dparams[f"W{l}"], dparams[f"b{l}"]
        dZ = (W + dW) @ dA + dW @ As[l - 1] + db
        if l < L:
            dA, kinks = delta(model.hidden[l - 1], Zs[l], Gs[l], dZ)
            if l in scales:  # frozen dropout: dropped units neither move nor kink
                dA *= scales[l]
                kinks &= scales[l] != 0
            any_kink |= bool(kinks.any())
    ZL, out = Zs[L], As[L]
    if model.output == "sigmoid":
        dl = np.log1p(out * np.expm1(dZ)) - Y * dZ
    elif model.output == "softmax":
        dl = Y.sum(axis=0) * np.log1p(np.sum(out * np.expm1(dZ), axis=0)) - np.sum(Y * dZ, axis=0)
    else:
        dl = dZ * ((ZL - Y) + 0.5 * dZ)
    return float(np.sum(dl)), any_kink


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
        OpenMP threads; None uses all cores. The report is identical, to the
        bit, for every value.
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
        than a couple of seconds; False never; True always.
    raise_on_failure : bool, default False
        Raise :class:`fastgrad.GradientCheckError` unless the verdict is great.

    Returns
    -------
    GradCheckReport

    Notes
    -----
    Batch-normalized networks are checked by the same compiled kernel (every
    example is carried below a batch-norm layer, so they cost more per
    coordinate); the directional mode is not available for them. Nothing
    passed in is modified. Inputs in float32 are upcast to float64
    with a warning: a finite difference at ε = 1e-7 needs double precision.
    """
    t0 = time.perf_counter()
    eps = _check_epsilon(epsilon)
    thresholds = check_thresholds(thresholds)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not isinstance(model, MLP):
        if not callable(getattr(model, "cost", None)):
            raise TypeError(f"model must be a fastgrad.MLP or have a cost(params, X, Y) method, "
                            f"got {type(model).__name__}")
        return _check_generic_model(model, params, grads, X, Y, eps, thresholds, raise_on_failure, mode=mode, k=k, seed=seed, n_threads=n_threads, dropout=dropout, progress=progress)
    nt = effective_n_threads(n_threads)
    params = model.check_params(params, "params", warn_downcast=True)
    grads = model.check_params(grads, "grads", prefix="d", warn_downcast=True)
    X, Y = model.check_data(X, Y, warn_downcast=True)
    scales = _dropout_scales(model, X.shape[1], seed, dropout)
    if model.batchnorm and mode == "directional":
        raise ValueError("mode='directional' is not available for batch-normalized networks; "
                         "use mode='full' or 'sampled'")
    rng = as_generator(seed)
    if k is None:
        k = 10 if mode == "sampled" else 3
    if mode != "full" and (not isinstance(k, (int, np.integer)) or k < 1):
        raise ValueError(f"k must be a positive int, got {k!r}")

    # BLAS stays on one thread for the whole check, set-up included: a
    # threaded BLAS call in the set-up leaves its workers spinning for ~0.1 s
    # on the very cores the OpenMP kernel is about to use.
    with single_threaded_blas() if nt > 1 else contextlib.nullcontext():
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
        directions = _directional(kernel, params, grads, slices, int(k), rng)
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
        coords = np.arange(P) if mode == "full" else _sample_coords(slices, int(k), rng)
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
    eps = _callable_check.check_epsilon(epsilon)
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
    eps = _callable_check.check_epsilon(epsilon)
    raise_on_failure = _callable_check.check_flag(raise_on_failure, "raise_on_failure")
    thresholds = check_thresholds(thresholds)
    progress = _callable_check.check_progress(progress)
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
