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
from fastgrad.gradcheck.rounding import noise_advice, rounding_error


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
    or for a float32 model ``max(ε, cbrt(u32)·max(1, max|θ_b|))`` per block
    b at float32 points. Returns (dirs, slices, h per direction, analytic)."""
    dirs, slices, hs, ana = [], [], [], []
    for name, sl, shape in blocks:
        base = flat[sl]
        h = max(eps, lowprec.STEP * max(1.0, float(np.max(np.abs(base))))) if f32 else eps
        for _ in range(k):
            v = rng.standard_normal(shape).ravel()
            v /= np.linalg.norm(v)
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
                raise ValueError(
                    f"cannot take a finite difference along a direction in "
                    f"{name}: epsilon={eps!r} is below the float64 spacing of "
                    "every entry, so the step rounds to 0; use a larger "
                    "epsilon or rescale"
                )
            dirs.append(d)
            slices.append(sl)
            hs.append(h)
            ana.append(float(np.dot(analytic[sl], step)) / (2 * h))
    return dirs, slices, np.array(hs), np.array(ana)


def run_callable(analytic, k, rng, thresholds, desc, raw, f32, pool, *, prefix="d", **run):
    """Directions in every block; a block that fails along them is then
    checked in full (float32 steps and ``workers`` as in the coordinate
    check). ``pool`` = (workers, seconds of one call, Structure of θ)."""
    call, flat, eps, blocks, fname = (
        run[key] for key in ("call", "flat", "eps", "blocks", "fname")
    )
    workers, t_call, st = pool
    f0 = _generic_kernel.as_real_scalar(raw, fname)
    dirs, slices, hs, ana = draw(analytic, k, rng, eps, f32, flat, blocks)
    g = Along(call, st, flat.copy(), dirs, slices, f32, fname)
    space = DirectionSpace([name for name, _, _ in blocks], k)
    t = np.zeros(len(dirs))
    coords = np.arange(t.size, dtype=np.intp)
    use, chunk, n_workers = parallel.plan(workers, t.size, t_call)
    notes = []
    if use:
        bar = _progress.Progress(t.size, run["progress"], desc)
        try:
            _, values, _, n_chunks = parallel.run(
                workers, direction_chunk, g, space, t, eps, coords, fname, chunk, bar
            )
        finally:
            bar.close()
        notes.append(parallel.describe(workers, n_workers, n_chunks, chunk))
    else:
        bar = _progress.Progress(t.size, run["progress"], desc)
        try:
            values = _differences(g, t, eps, coords, space, fname, bar.update)
        finally:
            bar.close()
    num = (values[:, 0] - values[:, 1]) / (2 * hs)
    if f32:
        notes.insert(0, _f32_note(hs, values, f0))
    unit = lowprec.U32 if f32 else kinks.U64
    F = np.maximum(np.max(np.abs(values), axis=1), abs(f0))
    noise = (
        rounding_error(2 * hs, F, unit),
        noise_advice(f32, eps, float(np.max(F, initial=0.0)), num, unit),
    )
    directions, failing, hints = {}, [], []
    numerical = np.full(flat.size, np.nan)
    checked = np.zeros(flat.size, dtype=bool)
    for b, (name, sl, _) in enumerate(blocks):
        part = slice(b * k, (b + 1) * k)
        directions[prefix + name] = (num[part], ana[part], np.zeros(k, dtype=bool))
        if generic.relative_difference(ana[part], num[part]) < thresholds[0]:
            continue
        failing.append(name)
        whole = np.arange(sl.start, sl.stop, dtype=np.intp)
        numerical[sl], *_, more = generic.numerical_at(
            whole, f32, pool, desc + f" ({prefix}{name})", **run
        )
        notes.extend(n for n in more if n not in notes)
        checked[sl] = True
        hints.append(f"{prefix}{name} failed along random directions; checked in full")
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


def _f32_note(hs, values, f0):
    scale = max(float(np.max(np.abs(values))), abs(f0))
    floor = 8 * lowprec.U32 * scale / float(np.min(hs))
    return (
        f"float32 model: directions of length max(epsilon, {lowprec.STEP:.2g}*max(1,max|theta|)) "
        f"per block at float32 points (here {np.min(hs):.2g}..{np.max(hs):.2g}); noise floor "
        f"of a slope ~{floor:.1e} (8*u32*max|f|/step)"
    )
