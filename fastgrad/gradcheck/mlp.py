"""The MLP path of :func:`fastgrad.gradient_check`: the unperturbed forward
pass handed to the compiled kernel (``csrc/gradcheck/_mlp_kernel.pyx``) as
one typed object, the run in interruptible pieces, and the report.

Kinks: a relu is not differentiable at 0. When ``θ ± ε`` moves a relu or
leaky-relu pre-activation across 0, the finite difference averages the two
slopes and disagrees with any backprop. The kernel flags those coordinates;
they are reported (``n_kinks``, a ``*`` on the block) and left out of
``difference`` and the verdict; ``difference_all`` includes them.
"""

from __future__ import annotations

import contextlib
import functools
import time

import numpy as np

import fastgrad.gradcheck._mlp_kernel as _mlp_kernel
from fastgrad import _argcheck as ac
from fastgrad import _progress
from fastgrad.gradcheck import directional, jets, mlp_shards
from fastgrad.gradcheck._generic_kernel import block_norms, relative_difference
from fastgrad.gradcheck.linear_maps import (
    bn_tail,
    build_bytes,
    linear_maps,
    mappable_layers,
)
from fastgrad.gradcheck.report import GradCheckReport, build_blocks, verdict_for
from fastgrad.nn.activations import LARGE_DELTA, LEAKY_SLOPE
from fastgrad.nn.spec import sample_coordinates

# Waking a thread team costs more than a tiny check: each thread gets at
# least this many coordinate-examples (the bits do not depend on it).
WORK_PER_THREAD = 32768
# Target wall time of one nogil piece of a check: Ctrl-C waits at most this.
PIECE_SECONDS = 0.2
# How much longer than the last piece the next may be (the first pieces are
# short, to measure the cost of a coordinate before committing to a long one).
PIECE_GROWTH = 4
DESC = "fastgrad gradient check"


def _flat(a):
    return np.ascontiguousarray(a).reshape(-1)


class KernelInputs:
    """The unperturbed forward pass, handed once to the compiled kernel as a
    typed :class:`~fastgrad.gradcheck._mlp_kernel.MLPNet`.

    The exact linear maps (:mod:`fastgrad.gradcheck.linear_maps`) and the
    Taylor jets of smooth downstream layers (:mod:`fastgrad.gradcheck.jets`)
    are built per call of :meth:`run`, only for the layers whose rows the
    requested coordinates use often enough to pay for them (the
    :class:`~fastgrad.gradcheck.jets.Plan`), so a sampled or directional
    check costs memory and time in proportion to what it checks. A
    batch-normalized, piecewise-linear last hidden layer gets its constants
    once, here (``linear_maps.bn_tail``).
    """

    def __init__(self, model, params, X, Y, epsilon, scales=None):
        cache = model.forward_cache(params, X, scales=scales)
        L = model.n_layers
        self.model, self.params, self.X, self.Y, self.m = model, params, X, Y, X.shape[1]
        self.cache, self.scales, self.epsilon = cache, scales, epsilon
        self.dims = np.asarray(model.layer_dims, dtype=np.intp)
        hidden = range(1, L)
        bn = model.batchnorm
        self.net = _mlp_kernel.MLPNet(
            [_flat(params[f"W{l}"]) for l in range(1, L + 1)],
            self.dims,
            [a.code for a in model.activations] + [model.output_layer.code],
            LEAKY_SLOPE,
            model.l2,
            epsilon,
            Z=[_flat(cache.Z[l]) for l in range(1, L + 1)],
            A=[_flat(cache.A[l]) for l in range(L)],
            G=[_flat(cache.G[l]) for l in hidden],
            slope=[
                _flat(model.activations[l - 1].kernel_slope(cache.Z[l], cache.G[l])) for l in hidden
            ],
            scale=[_flat(scales[l]) if scales and l in scales else None for l in hidden],
            bn_centered=[_flat(cache.centered[l]) if l in bn else None for l in hidden],
            bn_normalized=[_flat(cache.Zn[l]) if l in bn else None for l in hidden],
            bn_std=[
                _flat(np.sqrt(cache.var[l] + model.bn_epsilon)) if l in bn else None for l in hidden
            ],
            gamma=[_flat(params[f"gamma{l}"]) if l in bn else None for l in hidden],
            out=_flat(cache.A[L]),
            y=_flat(Y),
            ysum=_flat(Y.sum(axis=0)),
        )
        tail = bn_tail(model, cache, scales)
        if tail is not None:
            self.net.set_bn_tail(*tail)
        self.layer_start = np.asarray(model.spec.layer_starts(), dtype=np.intp)
        self.mappable = mappable_layers(model)
        self.jettable = jets.jet_layers(model)
        self.steps = [
            jets.activation_step(cache, model, params, epsilon, scales, t) for t in self.jettable
        ]
        self.steps = dict(zip(self.jettable, self.steps))

    def max_step(self):
        """The largest |ΔZ| a single coordinate's ±ε causes at its own layer:
        ε·max|A[l−1]| over the layers (and ε for a bias)."""
        biggest = max(ac.max_abs(self.cache.A[l], 1.0) for l in range(self.model.n_layers))
        return self.epsilon * biggest

    def map_layers(self, coords, counts=None):
        """Layers whose exact linear maps pay for themselves for ``coords``.

        A layer's maps cost about one propagation per unit (row) to build
        and save a propagation for every coordinate of that row afterwards:
        worth it when the coordinates in the layer are at least twice its
        rows (always so in a full check, rarely in a sampled one). Maps are
        built for every row of a layer or none, so a coordinate gets the same
        bits whichever other coordinates are checked with it.
        """
        if not self.mappable or len(coords) == 0:
            return []
        counts = self._counts(coords) if counts is None else counts
        last = self.model.n_layers - 2  # its map is W[L] itself: free, always used
        return [t for t in self.mappable if t == last or counts[t] >= 2 * self.dims[t + 1]]

    def _counts(self, coords):
        """Coordinates per weight layer (a range, or sorted coordinates, by
        bisection: O(L log K) instead of O(K))."""
        if isinstance(coords, range):  # (plain ints: a few layers)
            lo, hi = coords.start, coords.stop
            ends = self.layer_start.tolist() + [max(hi, self.layer_start[-1])]
            return [max(0, min(e, hi) - max(s, lo)) for s, e in zip(ends[:-1], ends[1:])]
        if coords.size > 1 and coords[0] <= coords[-1] and np.all(coords[1:] >= coords[:-1]):
            # an intp sentinel: a float one would convert all of coords to float
            ends = np.append(self.layer_start, np.iinfo(np.intp).max).astype(np.intp)
            return np.diff(np.searchsorted(coords, ends))
        layer = np.searchsorted(self.layer_start, coords, side="right") - 1
        return np.bincount(layer, minlength=self.model.n_layers)

    def memory_estimate(self, plan, n_threads):
        """(total bytes, parts) a run with ``plan`` needs."""
        nL = int(self.dims[-1])
        if not isinstance(plan, jets.Plan):
            plan = jets.Plan(maps=tuple(plan))
        layers = [t for t in plan.maps if t != self.model.n_layers - 2]  # W[L]: nothing stored
        maps = sum(int(self.dims[t + 1]) * self.m * (nL + 1) * 8 for t in layers)
        if layers:  # the temporaries while they are built
            maps += build_bytes(self.model, self.m, layers, n_threads)
        scratch = n_threads * self.net.scratch_bytes()
        coef = self.net.jet_bytes(plan.jets, plan.orders)
        if plan.jets:  # the jets' build scratch is freed before the run's is taken
            scratch = max(scratch, n_threads * self.net.jet_scratch_bytes(max(plan.orders)))
        parts = {"linear maps": maps, "Taylor jets": coef}
        parts[f"scratch ({n_threads} thread(s))"] = scratch
        return maps + coef + scratch, parts

    def plan(self, coords):
        """How the run of ``coords`` propagates: a :class:`jets.Plan` of the
        layers whose exact linear maps are built and of those whose Taylor
        jets are (and their order). Decided from the whole set of
        coordinates of a check; a shard of it run with the same plan
        (``run(shard, ..., plan=plan)``) gives the same bits as the whole."""
        coords = as_coords(coords)
        counts = self._counts(coords) if len(coords) else None
        maps = tuple(self.map_layers(coords, counts))
        if not self.jettable or len(coords) == 0:
            return jets.Plan(maps=maps)
        layers, orders = jets.choose(self.jettable, counts, self.dims, self.steps)
        return jets.Plan(maps=maps, jets=layers, orders=orders)

    def run(self, coords, n_threads, progress, desc, plan=None):
        """``(numerical, kinks, flops)`` of the coordinates ``coords`` (an
        intp array, or a ``range`` of step 1), run with ``plan`` (default:
        :meth:`plan` of ``coords``)."""
        coords = as_coords(coords)
        K = len(coords)
        numerical = np.empty(K)
        kinks = np.empty(K, dtype=bool)
        if K == 0:
            return numerical, kinks, 0
        plan = self.plan(coords) if plan is None else plan
        if not isinstance(plan, jets.Plan):  # a bare list of map layers
            plan = jets.Plan(maps=tuple(plan))
        # The jets' build parallelizes over units, not coordinates.
        jet_units = sum(int(self.dims[t + 1]) for t in plan.jets)
        n_threads = max(1, min(n_threads, max(K * self.m // WORK_PER_THREAD, jet_units)))
        bar = _progress.Progress(K, progress, desc)
        # each thread's scratch, kept across the pieces of the build and the
        # run, and for the next run
        pool = _mlp_kernel.take_pool(n_threads)
        try:
            self._build(plan, n_threads, pool)
            flops = _run_in_pieces(self.net, coords, numerical, kinks, n_threads, bar, pool)
        finally:
            bar.close()
            _mlp_kernel.give_pool(pool)
        return numerical, kinks, flops

    def _build(self, plan, n_threads, pool=None):
        """Install the maps and jets of ``plan``; kept for the next run with
        the same plan (a shard after a shard: built once)."""
        if plan == getattr(self, "_built", None):
            return
        self._built = None  # an interrupted build is not reused
        check_memory(*self.memory_estimate(plan, n_threads))
        self.net.set_linear_maps(
            *linear_maps(
                self.model, self.params, self.cache.Z, self.scales, plan.maps, n_threads, self.net
            )
        )
        qmax = [jets.jet_qmax(k) for k in plan.orders]
        n_units = self.net.prepare_jets(plan.jets, plan.orders, qmax)
        _build_in_pieces(functools.partial(self.net.build_jets, pool=pool), n_units, n_threads)
        self.net.activate_jets()
        self._built = plan


def _build_in_pieces(build, n, n_threads):
    """``build(start, stop, n_threads)`` over ``0:n`` in pieces of about
    PIECE_SECONDS (each one nogil region), so Ctrl-C is seen in between."""
    piece, s = 8 * n_threads, 0
    while s < n:
        e = min(n, s + piece)
        t_piece = time.perf_counter()
        build(s, e, n_threads)
        per = (time.perf_counter() - t_piece) / (e - s)
        piece = int(min(PIECE_GROWTH * piece, max(2 * n_threads, PIECE_SECONDS / max(per, 1e-9))))
        s = e


def as_coords(coords):
    """Coordinates as the kernel takes them: a ``range`` of step 1 as it is
    (run with no index array), anything else as a contiguous intp array."""
    if isinstance(coords, range) and coords.step == 1:
        return coords
    return np.ascontiguousarray(coords, dtype=np.intp)


def _run_in_pieces(net, coords, numerical, kinks, n_threads, bar, pool):
    """The coordinates run in pieces of about PIECE_SECONDS, each one nogil
    region, so Python sees Ctrl-C (and the bar moves) in between. Each
    coordinate's bits do not depend on how the work is split. Returns the
    flops."""
    K = len(coords)
    piece = max(64, 8 * n_threads)
    s, flops = 0, 0
    kink_bytes = kinks.view(np.uint8)
    while s < K:
        e = min(K, s + piece)
        t_piece = time.perf_counter()
        ranged = isinstance(coords, range)  # None: the kernel runs start, start + 1, ...
        flops += _mlp_kernel.mlp_numerical_gradient(
            net,
            None if ranged else coords[s:e],
            numerical[s:e],
            kink_bytes[s:e],
            n_threads,
            start=coords.start + s if ranged else 0,
            pool=pool,
        )
        took = time.perf_counter() - t_piece
        bar.update(e)
        # Aim the next piece at PIECE_SECONDS, growing at most 4x a time.
        per = took / (e - s)
        piece = int(min(PIECE_GROWTH * piece, max(8 * n_threads, PIECE_SECONDS / max(per, 1e-9))))
        s = e
    return flops


# (reader, time, bytes) of the last reading of the available memory
_LAST_READING = [None, -1.0, None]


def _available_for(total):
    """``ac.available_memory()``, read again unless a reading under a second
    old left 100x ``total`` free (reading /proc costs ~0.2 ms, a tenth of a
    small check; a run that could come near the limit always reads anew)."""
    reader, when, avail = _LAST_READING
    now = time.monotonic()
    if reader is ac.available_memory and now - when < 1.0 and avail and 100 * total < avail:
        return avail
    avail = ac.available_memory()
    _LAST_READING[:] = [ac.available_memory, now, avail]
    return avail


def check_memory(total, parts):
    """Refuse, before allocating anything, a run that cannot fit."""
    avail = _available_for(total)
    if avail is None or total <= avail:
        return
    detail = ", ".join(f"{k} {ac.fmt_bytes(v)}" for k, v in parts.items() if v)
    raise MemoryError(
        f"this gradient check needs about {ac.fmt_bytes(total)} ({total:,} bytes: {detail}) "
        f"but only about {ac.fmt_bytes(avail)} is available; use mode='sampled' (or "
        "'directional'), fewer examples in X, or fewer threads (n_threads)"
    )


class _Numbers:
    """What a run found: numerical values, which coordinates were checked and
    which crossed a kink, the flops, the directions and extra hints."""

    def __init__(self, P, mode):
        self.P = P
        # a full check's arrays come from its run
        full = mode == "full"
        self.numerical = None if full else np.full(P, np.nan)
        self.checked = None if full else np.zeros(P, dtype=bool)
        self.kinks = None if full else np.zeros(P, dtype=bool)
        self.flops, self.hints, self.directions, self.failing = 0, [], None, []
        self.norms = None  # a full check's block_norms, for the report's rows


def _run_directional(net, params, grads, blocks, k, rng, nt, progress, thresholds, r, runner):
    """The directions run here (``net``); a failing block's full re-check on
    ``runner`` (``net`` itself, or its shards on the workers)."""
    r.directions = directional.directional(net, params, grads, blocks, k, rng)
    for name, sl, _ in blocks:
        num, ana, kk = r.directions["d" + name]
        use = ~kk
        if relative_difference(ana[use].copy(), num[use].copy())[0] >= thresholds[0]:
            r.failing.append((name, sl))
    for name, sl in r.failing:
        n, kk, fl = runner.run(range(sl.start, sl.stop), nt, progress, DESC + f" ({name})")
        r.numerical[sl], r.kinks[sl], r.checked[sl] = n, kk, True
        r.flops += fl
        r.hints.append(f"d{name} failed along random directions; checked in full")
    return directional.differences(r.directions, relative_difference)


def _run_coordinates(net, grad_blocks, blocks, mode, k, rng, nt, progress, r):
    """(difference over every checked coordinate, difference without the
    kinks). A full check takes the whole-θ norms and every block's in one
    compiled pass from the gradient blocks as they are (``r.norms``, for the
    report's rows): no (P,) copy of the gradient."""
    P = r.P
    if mode == "full":
        r.numerical, r.kinks, r.flops = net.run(range(P), nt, progress, DESC)
        r.checked = None  # every coordinate
        skip = r.kinks.view(np.uint8) if np.count_nonzero(r.kinks) else None
        numerical = [r.numerical[sl] for _, sl, _ in blocks]
        r.norms = block_norms(grad_blocks, numerical, skip, True, nt)
        return float(r.norms[3][0]), float(r.norms[4][0])
    analytic = np.concatenate(grad_blocks)
    coords = sample_coordinates(blocks, k, rng)
    n, kk, r.flops = net.run(coords, nt, progress, DESC)
    r.numerical[coords], r.kinks[coords], r.checked[coords] = n, kk, True
    diff_all = relative_difference(analytic[r.checked], r.numerical[r.checked])[0]
    if not r.kinks.any():
        return diff_all, diff_all
    use = r.checked & ~r.kinks
    return diff_all, relative_difference(analytic[use], r.numerical[use])[0]


def _mlp_net(data):
    """In a worker, once per check: the MLP's forward pass and compiled net
    (handed to :class:`~fastgrad.gradcheck.mlp_shards.MLPShards` as ``build``)."""
    return KernelInputs(*data)


def check_mlp(model, params, grads, X, Y, settings, rng, scales):
    """The MLP check on validated inputs (see :func:`fastgrad.gradient_check`)."""
    eps, nt, mode, k = settings.epsilon, settings.n_threads, settings.mode, settings.k
    thresholds, progress = settings.thresholds, settings.progress
    net = KernelInputs(model, params, X, Y, eps, scales)
    blocks = model.spec.blocks
    grad_blocks = [_flat(grads["d" + name]) for name, _, _ in blocks]
    P = sum(g.size for g in grad_blocks)
    r = _Numbers(P, mode)
    with contextlib.ExitStack() as stack:
        runner = net
        if settings.workers is not None:
            shards = mlp_shards.MLPShards(
                settings.workers, _mlp_net, net, model, params, X, Y, eps, scales
            )
            runner = stack.enter_context(shards)
        if mode == "directional":
            diff_all, diff = _run_directional(
                net, params, grads, blocks, k, rng, nt, progress, thresholds, r, runner
            )
        else:
            diff_all, diff = _run_coordinates(
                runner, grad_blocks, blocks, mode, k, rng, nt, progress, r
            )
    notes = [runner.note()] if runner is not net and runner.n_shards else []
    rows = build_blocks(
        ["d" + name for name, _, _ in blocks],
        [s for _, _, s in blocks],
        grad_blocks,
        r.numerical,
        r.checked,
        r.kinks,
        thresholds=thresholds,
        l2=model.l2,
        m=net.m,
        params=params,
        norms=r.norms,
    )
    if mode == "directional":
        directional.block_rows(rows, r.directions, r.failing, relative_difference)
    _advice(net, eps, diff, thresholds, scales, r.hints)
    n_checked = r.P if r.checked is None else int(np.count_nonzero(r.checked))
    if mode == "directional":
        n_checked += sum(len(v[0]) for v in r.directions.values())
    report = GradCheckReport(
        title=repr(model),
        difference=diff,
        difference_all=diff_all,
        numerical={"d" + name: r.numerical[sl].reshape(shape) for name, sl, shape in blocks},
        blocks=rows,
        n_params=P,
        n_checked=n_checked,
        n_kinks=int(np.count_nonzero(r.kinks)),  # set on checked coordinates only
        mode=mode,
        epsilon=eps,
        n_threads=nt,
        seconds=time.perf_counter() - settings.started,
        flops=r.flops,
        thresholds=thresholds,
        extra_hints=r.hints,
        directions=r.directions,
        notes=notes,
    )
    if settings.raise_on_failure:
        report.raise_if_failed()
    return report


def _advice(net, eps, diff, thresholds, scales, hints):
    """Hints about a failed check's likely cause: a step too large for the
    inputs, or dropout masks that differ."""
    if verdict_for(diff, thresholds) == "great":
        return
    step = net.max_step()
    if step > LARGE_DELTA:
        hints.append(
            f"epsilon={eps:g} moves a pre-activation by up to {step:.3g} (inputs or "
            "activations this large): the finite difference is then far from the derivative. "
            "Scale the inputs (e.g. fastgrad.Normalizer) or pass a smaller epsilon"
        )
    if scales:
        hints.append(
            "the model uses dropout: model.backward must get the same int seed "
            "as gradient_check (or dropout=False in both), or its masks differ"
        )
