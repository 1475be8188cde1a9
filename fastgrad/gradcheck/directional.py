"""The MLP's directional check: the cost's difference along random unit
directions, formed from forward deltas with the registry's exact activation
and loss differences (the NumPy twin of the kernel's identities), never as
the difference of two full costs."""

from __future__ import annotations

import numpy as np

import fastgrad.gradcheck._generic_kernel as _generic_kernel
from fastgrad import _progress
from fastgrad.gradcheck import calls, generic, kinks, lowprec, parallel, structured
from fastgrad.gradcheck.inputs import step_error
from fastgrad.gradcheck.rounding import noise_advice, rounding_error, typical_length


def directional(net, params, grads, blocks, k, rng):
    """k random unit directions inside every block; the difference of the cost
    along each.

    ``net`` is the check's :class:`fastgrad.gradcheck.mlp.KernelInputs`.
    Returns ``{grad_name: (numerical, analytic, kinks)}`` arrays of length k.
    """
    model, eps, m = net.model, net.epsilon, net.m
    out = {}
    for name, _, shape in blocks:
        num, ana, kink = np.empty(k), np.empty(k), np.zeros(k, dtype=bool)
        for r in range(k):
            v = rng.standard_normal(shape)
            v /= np.linalg.norm(v)
            sides = []
            for sign in (1.0, -1.0):
                dparams = {name: sign * eps * v}  # every other block stays put
                dl, kk = cost_delta(model, params, dparams, net)
                sides.append(dl)
                kink[r] |= kk
            l2 = 0.0
            if model.l2 and name.startswith("W"):
                l2 = model.l2 / (2 * m) * 4 * eps * float(np.sum(params[name] * v))
            num[r] = ((sides[0] - sides[1]) / m + l2) / (2 * eps)
            ana[r] = float(np.sum(grads["d" + name] * v))
        out["d" + name] = (num, ana, kink)
    return out


def cost_delta(model, params, dparams, net):
    """Σ_i Δloss_i when the parameters move by ``dparams`` (exact identities).

    ``dparams`` holds only the blocks that move; the layers before the first
    of them, and the products with blocks that do not move (exact zeros),
    are skipped.
    """
    cache, Y, scales = net.cache, net.Y, net.scales or {}
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
            dZ = dW @ cache.A[l - 1] if dZ is None else dZ + dW @ cache.A[l - 1]
        if db is not None:
            dZ = np.broadcast_to(db, (db.shape[0], net.m)).copy() if dZ is None else dZ + db
        if l < L:
            with np.errstate(over="ignore", invalid="ignore"):
                dA, kinks = model.activations[l - 1].delta(cache.Z[l], cache.G[l], dZ)
            if l in scales:  # frozen dropout: dropped units neither move nor kink
                dA *= scales[l]
                kinks &= scales[l] != 0
            any_kink |= bool(kinks.any())
    dl = model.output_layer.loss_delta(cache.Z[L], cache.A[L], Y, dZ)
    return float(np.sum(dl)), any_kink


def block_rows(blocks, directions, failing, relative_difference):
    """Blocks that passed along directions report the directional numbers."""
    full = {"d" + name for name, _ in failing}
    for b in blocks:
        if b.name in full:
            continue
        num, ana, kk = directions[b.name]
        use = ~kk
        b.difference = relative_difference(ana[use].copy(), num[use].copy())[0]
        err = np.abs(ana - num)
        b.max_abs_error = float(err.max())
        b.worst_index = (int(np.argmax(err)),)
        b.worst_numerical = float(num[b.worst_index[0]])
        b.worst_analytic = float(ana[b.worst_index[0]])
        b.n_checked = len(num)
        b.n_kinks = int(kk.sum())


def differences(directions, relative_difference):
    """(difference over every direction, difference leaving kinks out)."""
    nums, anas, kk = (np.concatenate([v[i] for v in directions.values()]) for i in range(3))
    diff_all = relative_difference(anas, nums)[0]
    diff = relative_difference(anas[~kk].copy(), nums[~kk].copy())[0]
    return diff_all, diff


# -- any callable (check_grad, gradient_check on a cost method) ----------------


class Along:
    """``g(t)``: the user's function at θ moved along one of D fixed
    directions. ``t`` (D,) is zero but for the one entry the compiled loop
    sets to ±ε, so the directions run through the very loop (and the very
    parallel machinery) of the coordinate checks: with ``workers`` the bits
    are those of the serial run.

    The point is ``θ_b + t_d·d_d`` in the direction's block b (rounded to
    float32 for a float32 model), every other block at its own bits.
    """

    def __init__(self, call, st, base, dirs, slices, f32, fname):
        self.call, self.st, self.base, self.dirs = call, st, base, dirs
        self.slices, self.f32, self.fname = slices, f32, fname

    def __call__(self, t):
        point = self.base.copy()
        nz = np.flatnonzero(t)
        if nz.size:
            d = int(nz[0])
            sl = self.slices[d]
            moved = self.base[sl] + t[d] * self.dirs[d]
            point[sl] = moved.astype(np.float32) if self.f32 else moved
        return calls.call_raw(self.call, self.st.views(point), self.fname)


class DirectionSpace(structured.Structure):
    """The directions as named blocks of one array ``t`` (``"W1 direction[2]"``
    in an error from a worker); ``g`` receives ``t`` itself, read-only."""

    def __init__(self, names, k):
        super().__init__("dict", names, [f"{n} direction" for n in names], [(k,)] * len(names))
        self.block_names, self.k = list(names), k

    def views(self, flat):
        return generic.read_only(flat)


def draw(analytic, k, rng, eps, f32, flat, blocks):
    """k random unit directions per block, the points θ ± h·v they reach and
    the analytic slope ``g·(θ⁺ − θ⁻)/2h`` along each (the points actually
    evaluated, so rounding the perturbation costs nothing). The step h is ε,
    or for a float32 model ``lowprec.steps(max|θ_b|, ε)`` =
    ``max(ε, cbrt(u32)·max(1, max|θ_b|))`` per block b at float32 points.
    Returns (dirs, slices, h per direction, analytic, unit directions)."""
    dirs, slices, hs, ana, units = [], [], [], [], []
    for name, sl, shape in blocks:
        h = float(lowprec.steps(np.max(np.abs(flat[sl])), eps)) if f32 else eps
        for _ in range(k):
            v = rng.standard_normal(shape).ravel()
            v /= np.linalg.norm(v)
            d, a = _along(v, h, eps, f32, flat, analytic, blocks, (name, sl))
            dirs.append(d)
            slices.append(sl)
            hs.append(h)
            ana.append(a)
            units.append(v)
    return dirs, slices, np.array(hs), np.array(ana), units


def _along(v, h, eps, f32, flat, analytic, blocks, block, refuse=True):
    """The direction ``d`` that the loop moves by ±ε (length h along the
    unit ``v``) and the analytic slope ``g·(θ⁺ − θ⁻)/2h`` at the points it
    reaches; ``block`` = (name, slice). A step that rounds to 0 everywhere
    is refused (``refuse``), or gives ``d = None``."""
    name, sl = block
    base = flat[sl]
    d = v if h == eps else (h / eps) * v
    with np.errstate(over="ignore", invalid="ignore"):
        plus, minus = base + eps * d, base + (-eps) * d
    if f32:
        plus, minus = (p.astype(np.float32).astype(np.float64) for p in (plus, minus))
    if not (np.isfinite(plus).all() and np.isfinite(minus).all()):
        j = int(np.argmax(~(np.isfinite(plus) & np.isfinite(minus))))
        raise step_error(blocks, sl.start + j, float(base[j]), eps)
    step = plus - minus
    if not np.any(step):
        if not refuse:
            return None, 0.0
        raise ValueError(
            f"cannot take a finite difference along a direction in "
            f"{name}: epsilon={eps!r} is below the float64 spacing of "
            "every entry, so the step rounds to 0; use a larger "
            "epsilon or rescale"
        )
    return d, float(np.dot(analytic[sl], step)) / (2 * h)


def run_callable(analytic, k, rng, thresholds, desc, raw, f32, pool, *, prefix="d", **run):
    """Directions in every block; a block that fails along them is then
    checked in full (float32 steps and ``workers`` as in the coordinate
    check). ``pool`` = (workers, seconds of one call, Structure of θ).

    A float32 block that is not great along its directions is first taken
    again along the same directions at lengths /4, /16, ... (the coordinate
    rule of :func:`lowprec.refine`, one direction standing for one
    coordinate); only a block still not great is checked in full."""
    call, flat, eps, blocks, fname = (
        run[key] for key in ("call", "flat", "eps", "blocks", "fname")
    )
    workers, t_call, st = pool
    f0 = _generic_kernel.as_real_scalar(raw, fname)
    dirs, slices, hs, ana, units = draw(analytic, k, rng, eps, f32, flat, blocks)
    space = DirectionSpace([name for name, _, _ in blocks], k)
    notes = []

    def along(dirs, coords, progress, desc):
        """f at θ ± ε·dirs[c] for the directions ``coords``: (K, 2)."""
        g = Along(call, st, flat.copy(), dirs, slices, f32, fname)
        t = np.zeros(len(dirs))
        use, chunk, n_workers = parallel.plan(workers, coords.size, t_call)
        bar = _progress.Progress(coords.size, progress, desc)
        try:
            if not use:
                return _differences(g, t, eps, coords, space, fname, bar.update)
            _, values, _, n_chunks = parallel.run(
                workers, direction_chunk, g, space, t, eps, coords, fname, chunk, bar
            )
        finally:
            bar.close()
        line = parallel.describe(workers, n_workers, n_chunks, chunk)
        if line not in notes:
            notes.append(line)
        return values

    values = along(dirs, np.arange(len(dirs), dtype=np.intp), run["progress"], desc)
    num = (values[:, 0] - values[:, 1]) / (2 * hs)
    refined_dirs = 0
    if f32:
        num, values, hs, ana, refined_dirs = _refine_directions(
            (dirs, slices, units, hs),
            (num, values, ana),
            along,
            f0,
            thresholds[0],
            k,
            run,
            analytic,
        )
    unit = lowprec.U32 if f32 else kinks.U64
    F = np.maximum(np.max(np.abs(values), axis=1), abs(f0))
    noise = (
        rounding_error(2 * hs, F, unit),
        noise_advice(
            f32,
            eps,
            float(np.max(F, initial=0.0)),
            num,
            unit,
            lambda: typical_length(
                flat, np.repeat(np.arange(len(blocks)), [sl.stop - sl.start for _, sl, _ in blocks])
            ),
        ),
    )
    directions, failing, hints, refined = {}, [], [], refined_dirs
    numerical = np.full(flat.size, np.nan)
    checked = np.zeros(flat.size, dtype=bool)
    for b, (name, sl, _) in enumerate(blocks):
        part = slice(b * k, (b + 1) * k)
        directions[prefix + name] = (num[part], ana[part], np.zeros(k, dtype=bool))
        if generic.relative_difference(ana[part], num[part]) < thresholds[0]:
            continue
        failing.append(name)
        whole = np.arange(sl.start, sl.stop, dtype=np.intp)
        n_b, v_b, st_b, _, more = generic.numerical_at(
            whole, f32, pool, desc + f" ({prefix}{name})", **run
        )
        if f32:  # the coordinate rule, refinement included
            first = (n_b, v_b, st_b)
            n_b, *_, more_refined = generic.refined_at(
                whole, analytic[sl], first, f0, thresholds[0], pool, **run
            )
            refined += more_refined or 0
        numerical[sl] = n_b
        notes.extend(n for n in more if n not in notes)
        checked[sl] = True
        hints.append(f"{prefix}{name} failed along random directions; checked in full")
    if f32:
        scale = max(float(np.max(np.abs(values), initial=0.0)), abs(f0))
        notes.insert(0, lowprec.note(2 * hs, scale, refined, directions=True))
    return dict(
        numerical=numerical,
        checked=checked,
        mode="directional",
        directions=directions,
        failing=failing,
        extra_hints=hints,
        notes=tuple(notes),
        noise=noise,
    )


def _refine_directions(drawn, first, along, f0, great, k, run, analytic):
    """The float32 directions of the blocks not great along them, again at
    lengths ``lowprec.steps(max|θ_b|, ε, level)`` (:func:`lowprec.refine`).
    ``drawn`` = (dirs, slices, unit directions, h), ``first`` = (numerical,
    values, analytic) along each; ``along(dirs, coords, progress, desc)``
    evaluates f. Returns (numerical, values, h, analytic, how many
    directions kept a shorter length)."""
    dirs, slices, units, hs = drawn
    num, values, ana = first
    flat, eps, blocks = run["flat"], run["eps"], run["blocks"]
    groups = np.repeat(np.arange(len(blocks)), k)
    idx = np.flatnonzero(lowprec.not_great(ana, num, groups, great))
    if idx.size == 0:
        return num, values, hs, ana, 0
    top = [float(np.max(np.abs(flat[sl]))) for _, sl, _ in blocks]

    def at_level(j, level):
        h = float(lowprec.steps(top[groups[j]], eps, level))
        name, sl, _ = blocks[groups[j]]
        d, a = _along(units[j], h, eps, True, flat, analytic, blocks, (name, sl), refuse=False)
        return d, a, h

    def widths(pos, level):  # 2h, or 0 where the step rounds to nothing
        out = np.empty(pos.size)
        for c, j in enumerate(idx[pos]):
            d, _, h = at_level(j, level)
            out[c] = 0.0 if d is None else 2 * h
        return out

    def evaluate(pos, level):
        level_dirs, h, a = list(dirs), np.empty(pos.size), np.empty(pos.size)
        for c, j in enumerate(idx[pos]):
            level_dirs[j], a[c], h[c] = at_level(j, level)
        v = along(level_dirs, np.ascontiguousarray(idx[pos], dtype=np.intp), False, "")
        n = (v[:, 0] - v[:, 1]) / (2 * h)
        return n, np.column_stack([v, a]), h, h

    def floor(v, width):  # the costs differenced, as for a coordinate
        return rounding_error(
            width, np.maximum(np.max(np.abs(v[:, :2]), axis=1), abs(f0)), lowprec.U32
        )

    start = (num[idx], np.column_stack([values[idx], ana[idx]]), hs[idx], hs[idx])
    n, v, h, _, level = lowprec.refine(
        None, eps, start, evaluate, floor, groups[idx], widths=widths
    )
    num, values, hs, ana = num.copy(), values.copy(), hs.copy(), ana.copy()
    num[idx], values[idx], hs[idx], ana[idx] = n, v[:, :2], h, v[:, 2]
    return num, values, hs, ana, int(np.count_nonzero(level))


def _differences(g, t, eps, coords, space, fname, update):
    """Both sides along the directions ``coords`` through the compiled loop
    (serially or in a worker); NaN/inf named by block and direction."""
    values = np.empty((coords.size, 2))
    out = np.empty(coords.size)
    try:
        _generic_kernel.central_differences(
            g, t, generic.read_only(t), eps, coords, out, update, fname, values
        )
    except _generic_kernel.NonFiniteValue as e:
        name, r = space.block_names[e.index // space.k], e.index % space.k
        raise ValueError(
            f"{fname} returned {float(e.value)!r} at {name} {'+' if e.side > 0 else '-'} "
            f"epsilon·v (random direction {r} in {name}, epsilon={eps!r}): "
            "the finite difference needs a finite value on both sides"
        ) from None
    return values


def direction_chunk(shipped, coords):
    """In a worker (:func:`fastgrad.gradcheck.parallel.run`): the directions
    ``coords`` of one chunk, with the serial run's error messages."""
    g, space, t, _, eps, fname, _ = shipped
    values = _differences(g, t.copy(), eps, coords, space, fname, None)
    return np.full(coords.size, np.nan), values, None
