"""The gradient check's report: verdict, per-block rows and hints.

Verdict bands
-------------
The seeds grade the relative difference ``d = ‖a − n‖₂ / (‖a‖₂ + ‖n‖₂)`` as
"~1e-7 great, ~1e-5 look again, ~1e-3 a bug". The bands are an order of
magnitude apart, so fastgrad puts its boundaries between them:

* ``great`` — ``d < 1e-6``: within a factor 10 of the seeds' 1e-7. A correct
  backprop checked by fastgrad's exact kernel scores far lower (~1e-10);
  noisy finite differences of a correct gradient can reach a few 1e-7.
* ``check`` — ``1e-6 <= d < 1e-3``: the seeds' "look again" band around 1e-5.
* ``bug`` — ``d >= 1e-3``: the seeds' "a bug" band.

``passed`` is ``verdict == "great"``. The boundaries are the
``thresholds=(great, bug)`` argument of the checks.
"""

import itertools
import json
import math
import numbers

import numpy as np

from fastgrad._notebook import ShownInFull
from fastgrad._plain import finite_or_none
from fastgrad._table import table
from fastgrad.gradcheck._generic_kernel import block_norms

DEFAULT_THRESHOLDS = (1e-6, 1e-3)


class GradientCheckError(AssertionError):
    """Raised by :meth:`GradCheckReport.raise_if_failed` (and by the checks when
    ``raise_on_failure=True``) when the verdict is not "great"."""


# The rounding floor counts only f's last rounding, a lower bound: a sum of
# many terms, or cancellation inside f, is off by more. A difference within
# NOISE_MARGIN of it may be rounding (the verdict is at most "check"); a
# block must be ESCALATE_MARGIN above its own floor to count on its own (a
# block whose gradient is 0 differs from its noise by 100%).
NOISE_MARGIN = 3.0
ESCALATE_MARGIN = 10.0


def noise_floor(noise, analytic, numerical, use, blocks):
    """``(whole, per block)`` rounding floors of a relative difference:
    ``‖noise‖₂ / (‖a‖₂ + ‖n‖₂)`` over the coordinates ``use`` (bool (P,)),
    for all of θ and for each block ``(name, slice, shape)``; ``noise``
    (P,) is each numerical entry's rounding error (the last rounding of
    the costs it came from, over the step)."""
    with np.errstate(invalid="ignore"):
        sq = np.stack([np.where(use, v, 0.0) ** 2 for v in (noise, analytic, numerical)])
    starts = [sl.start for _, sl, _ in blocks]
    per = np.sqrt(np.add.reduceat(sq, starts, axis=1)) if starts else np.zeros((3, 0))
    whole = np.sqrt(sq.sum(axis=1))

    def ratio(e, a, n):
        den = a + n
        return float(e / den) if den > 0 else (np.inf if e > 0 else 0.0)

    return ratio(*whole), [ratio(*per[:, b]) for b in range(per.shape[1])]


def verdict_for(difference, thresholds=DEFAULT_THRESHOLDS):
    great, bug = thresholds
    if not np.isfinite(difference):
        return "bug"
    if difference < great:
        return "great"
    if difference < bug:
        return "check"
    return "bug"


def check_thresholds(thresholds):
    """``(great, bug)`` as two finite floats with ``0 < great <= bug``.

    Strings and bools are refused (``("1e-6", "1e-3")`` is a TypeError, not
    silently parsed)."""
    if thresholds is None:
        return DEFAULT_THRESHOLDS
    if isinstance(thresholds, (str, bytes, dict)) or not hasattr(thresholds, "__iter__"):
        raise TypeError(f"thresholds must be a pair (great, bug) of floats, got {thresholds!r}")
    values = list(thresholds)
    if len(values) != 2 or any(
        isinstance(t, (bool, np.bool_)) or not isinstance(t, numbers.Real) for t in values
    ):
        raise TypeError(f"thresholds must be a pair (great, bug) of floats, got {thresholds!r}")
    great, bug = (float(t) for t in values)
    if not (np.isfinite(great) and np.isfinite(bug) and 0 < great <= bug):
        raise ValueError(f"thresholds must be finite with 0 < great <= bug, got {thresholds!r}")
    return great, bug


class BlockResult:
    """One parameter block's row in the report.

    Attributes
    ----------
    name : str            gradient name, e.g. ``"dW2"``
    shape : tuple
    difference : float    relative difference over the block's checked, non-kink entries
    max_abs_error : float largest ``|a − n|`` there
    worst_index : tuple   where it occurs (index into the block)
    worst_numerical, worst_analytic : float
    n_checked : int       entries compared (all, or the sampled ones)
    n_kinks : int         checked entries whose perturbation crossed a relu kink
    hint : str or None    what the pattern of the mismatch suggests
    """

    def __init__(
        self,
        name,
        shape,
        difference,
        max_abs_error,
        worst_index,
        worst_numerical,
        worst_analytic,
        n_checked,
        n_kinks,
        hint,
    ):
        self.name = name
        self.shape = tuple(shape)
        self.difference = float(difference)
        self.max_abs_error = float(max_abs_error)
        self.worst_index = tuple(int(i) for i in worst_index)
        self.worst_numerical = float(worst_numerical)
        self.worst_analytic = float(worst_analytic)
        self.n_checked = int(n_checked)
        self.n_kinks = int(n_kinks)
        self.hint = hint

    def to_dict(self):
        return dict(self.__dict__)

    def __repr__(self):
        return (
            f"BlockResult({self.name!r}, shape={self.shape}, "
            f"difference={self.difference:.3g}, worst={self.worst_index})"
        )


def _hint(name, a, n, *, l2=0.0, m=None, weights=None):
    """Read the pattern of a mismatch between analytic ``a`` and numerical ``n``."""
    na, nn = np.linalg.norm(a), np.linalg.norm(n)
    if nn > 0 and na == 0:
        return f"{name} is all zeros but the numerical gradient is not: is it ever computed?"
    if na > 0 and nn == 0:
        return f"{name} should be zero (the cost does not depend on it) but is not"
    if na == 0 and nn == 0:
        return None
    ratio = float(np.dot(a, n) / np.dot(n, n))
    # A factor that prints as 1.00 is no wrong 1/m or 1/2 (a large epsilon's
    # curvature, say): "1.00x ... a constant factor" sent users looking.
    # One number is always some factor times another: for a one-entry block
    # only a factor far from 1 (a doubled term, a missing 1/2) says something.
    telling = a.size >= 2 or not 1 / 1.5 < abs(ratio) < 1.5
    if np.linalg.norm(a - ratio * n) <= 1e-3 * na and abs(ratio - 1) >= 5e-3:
        if abs(ratio + 1) <= 1e-3:
            return f"{name} has the wrong sign: it is -1.00x the numerical gradient"
    if telling and np.linalg.norm(a - ratio * n) <= 1e-3 * na and abs(ratio - 1) >= 5e-3:
        return (
            f"{name} is {ratio:.2f}x the numerical gradient: a constant factor "
            "(look for a wrong 1/m, a doubled term or a missing 1/2)"
        )
    if weights is not None and m:
        return _l2_hint(name, a, n, l2, m, weights.ravel())
    return None


def _l2_hint(name, a, n, l2, m, W):
    """``a − n = (λ/m)·W`` for one λ: an L2 term the cost checked and the
    gradient do not agree on (left out, doubled, or one the cost lacks, e.g.
    a regularized backprop checked against a cost without L2)."""
    ww = float(np.dot(W, W))
    if ww == 0:
        return None
    lam = m * float(np.dot(a - n, W)) / ww  # least squares: a − n ≈ (lam/m)·W
    term = (lam / m) * W
    if lam == 0 or np.linalg.norm((a - n) - term) > 1e-3 * np.linalg.norm(term):
        return None
    if l2 > 0 and abs(lam + l2) <= 1e-3 * l2:
        return f"{name} misses the L2 term (l2/m)*{name[1:]}"
    if l2 > 0 and abs(lam - l2) <= 1e-3 * l2:
        return f"{name} has the L2 term (l2/m)*{name[1:]} twice"
    if W.size < 2:  # one number is always some multiple of another
        return None
    if lam > 0:
        return (
            f"{name} holds an L2 term (lambda/m)*{name[1:]} with lambda = {lam:.3g} that the "
            f"checked cost does not have (its l2 = {l2:g}): give the cost the same term"
        )
    return (
        f"{name} lacks part of the cost's L2 term: it is (lambda/m)*{name[1:]} short with "
        f"lambda = {-lam:.3g} (the cost's l2 = {l2:g})"
    )


def _transposed_hint(name, a_block, n_block):
    if a_block.ndim == 2 and a_block.shape[0] == a_block.shape[1] > 1:
        if np.linalg.norm(a_block.T - n_block) <= 1e-3 * np.linalg.norm(n_block):
            return f"{name} looks transposed: it matches the numerical gradient's transpose"
    return None


def build_blocks(
    names,
    shapes,
    analytic,
    numerical,
    checked,
    kinks,
    *,
    thresholds=DEFAULT_THRESHOLDS,
    l2=0.0,
    m=None,
    params=None,
    norms=None,
):
    """Per-block rows. ``numerical`` is flat (P,); ``analytic`` is flat (P,)
    or a list of the blocks' flat arrays (no (P,) copy needed);
    ``checked``/``kinks`` are boolean masks over θ (None: every coordinate
    checked / none crossed a kink). ``norms``: the result of
    ``block_norms`` for these blocks with ``checked & ~kinks`` as the entries
    used, when the caller has it already (the MLP check runs it beside its
    whole-θ norms)."""
    sizes = [math.prod(int(n) for n in shape) for shape in shapes]
    starts = list(itertools.accumulate(sizes, initial=0))
    slices = [slice(s, e) for s, e in zip(starts[:-1], starts[1:])]
    if isinstance(analytic, np.ndarray):
        a_blocks = [analytic[sl] for sl in slices]
    else:
        a_blocks = [np.ascontiguousarray(a).reshape(-1) for a in analytic]
    every = [
        (checked is None or bool(checked[sl].all())) and (kinks is None or not kinks[sl].any())
        for sl in slices
    ]
    if not all(every):  # masks for the blocks with coordinates left out
        checked = np.ones(len(numerical), dtype=bool) if checked is None else checked
        kinks = np.zeros(len(numerical), dtype=bool) if kinks is None else kinks
    if norms is None:
        skip = None if all(every) else (~(checked & ~kinks)).view(np.uint8)
        norms = block_norms(
            [np.ascontiguousarray(a) for a in a_blocks],
            [np.ascontiguousarray(numerical[sl]) for sl in slices],
            skip,
        )
    rows, worst_at, worst_err = norms[:3]
    blocks = []
    for i, (name, shape, size, sl) in enumerate(zip(names, shapes, sizes, slices)):
        a_all, n_all = a_blocks[i], numerical[sl]
        use = None if every[i] else checked[sl] & ~kinks[sl]
        diff, flat = float(rows[i, 0]), int(worst_at[i])
        hint = None
        if verdict_for(diff, thresholds) != "great" and (every[i] or use.any()):
            a, n = (a_all, n_all) if every[i] else (a_all[use], n_all[use])
            weights = None
            if params is not None and name[1:].startswith("W"):
                weights = np.asarray(params[name[1:]]).ravel()
                weights = weights if every[i] else weights[use]
            hint = _hint(name, a, n, l2=l2, m=m, weights=weights)
            if hint is None and every[i]:
                hint = _transposed_hint(name, a_all.reshape(shape), n_all.reshape(shape))
        blocks.append(
            BlockResult(
                name,
                shape,
                diff,
                max(float(worst_err[i]), 0.0),
                np.unravel_index(flat, shape) if size else (),
                n_all[flat] if size else 0.0,
                a_all[flat] if size else 0.0,
                size if every[i] else np.count_nonzero(checked[sl]),
                0 if every[i] else np.count_nonzero(checked[sl] & kinks[sl]),
                hint,
            )
        )
    return blocks


class GradCheckReport(ShownInFull):
    """The result of :func:`fastgrad.gradient_check` or :func:`fastgrad.check_grad`.

    Attributes
    ----------
    difference : float
        ``‖a − n‖₂ / (‖a‖₂ + ‖n‖₂)`` over the checked coordinates, leaving out
        coordinates that crossed a relu kink (see ``n_kinks``); 0 when both
        are zero.
    difference_all : float
        The same over every checked coordinate, kinks included.
    verdict : {"great", "check", "bug"}
    passed : bool
        ``verdict == "great"``.
    numerical : dict of str -> ndarray
        The numerical gradients shaped like ``grads`` (NaN where a sampled or
        directional check did not compute an entry).
    blocks : list of BlockResult
    hints : list of str
    n_params, n_checked, n_kinks : int
    mode : {"full", "sampled", "directional", "callable"}
        "callable" is a full check through a Python callable
        (:func:`fastgrad.check_grad`, or :func:`fastgrad.gradient_check` on an
        object with a ``cost`` method); the latter reports "sampled" and
        "directional" as such.
    epsilon : float
    n_threads : int
        Threads of the compiled MLP kernel; always 1 for a Python callable
        (its calls are serial whatever ``n_threads`` was given).
    seconds : float
    flops : int or None
        Floating-point work of the incremental kernel (None for other paths).
    directions : dict or None
        For ``mode="directional"``: per block, the directional derivatives
        compared and the kink flags (``{"dW1": (numerical, analytic,
        kinks), ...}``).
    """

    def __init__(
        self,
        *,
        title,
        difference,
        difference_all,
        numerical,
        blocks,
        n_params,
        n_checked,
        n_kinks,
        mode,
        epsilon,
        n_threads,
        seconds,
        flops=None,
        thresholds=DEFAULT_THRESHOLDS,
        extra_hints=(),
        directions=None,
        kink_text=None,
        notes=(),
        noise_floor=None,
        unread=(),
        unread_hint=None,
    ):
        self.title = title
        # blocks whose numerical entries are all exactly 0 though the analytic
        # ones are not (the user's f did not see their steps), and the hint
        # that replaces every pointer at them when all of θ is such (None:
        # their own rows' hints say it)
        self._unread, self._unread_hint = frozenset(unread), unread_hint
        # the whole difference is within NOISE_MARGIN of the rounding floor (the
        # verdict is then capped at "check", unless the user gave the bands)
        self._at_noise = False
        self.kink_text = kink_text
        self.notes = list(notes)
        self.difference = float(difference)
        self.difference_all = float(difference_all)
        self.thresholds = tuple(thresholds)
        self.numerical = numerical
        self.blocks = blocks
        self._at_floor = set()  # blocks whose difference their rounding explains
        self.verdict, floor_hints = self._grade(noise_floor)
        self.passed = self.verdict == "great"
        self.n_params = int(n_params)
        self.n_checked = int(n_checked)
        self.n_kinks = int(n_kinks)
        self.mode = mode
        self.epsilon = float(epsilon)
        self.n_threads = int(n_threads)
        self.seconds = float(seconds)
        self.flops = None if flops is None else int(flops)
        self.directions = directions
        self.hints = self._collect_hints(list(extra_hints)) + floor_hints

    def _grade(self, noise_floor):
        """The verdict, and hints. ``noise_floor`` (a callable check) is
        ``(whole, per block, advice, cap)``, or a function that returns it:
        the relative differences that the cost's rounding alone (its last
        rounding per value) would give (see :func:`noise_floor`), what to
        do about it, and whether to cap. A difference within NOISE_MARGIN of
        the floor gets a note that the rounding, not the gradient, may
        explain it, and no pointers at the blocks it explains; with ``cap``
        (the default bands) it is at most "check", bands the user gave are
        kept as given. A
        block ESCALATE_MARGIN above its own floor counts with its own
        verdict: a 2x error in a small block is not hidden by large correct
        ones."""
        verdict = verdict_for(self.difference, self.thresholds)
        if noise_floor is None:
            return verdict, []
        if callable(noise_floor):  # computed only when something is not great
            great = self.thresholds[0]
            if verdict == "great" and all(b.difference < great for b in self.blocks):
                return verdict, []
            noise_floor = noise_floor()
        whole, per_block, advice, cap = noise_floor
        hints = []
        if verdict != "great" and self.difference <= NOISE_MARGIN * whole:
            self._at_noise = True
            if cap:
                verdict = "check"
            kept = "" if cap else " (the verdict keeps the thresholds you gave)"
            self.notes.append(
                f"the whole-theta difference is at the cost's rounding floor (~{whole:.1e}: "
                "f's last rounding over the step, at the least), so it alone cannot tell "
                f"this gradient from the truth{kept}{advice}"
            )
        rank = {"great": 0, "check": 1, "bug": 2}
        for b, floor in zip(self.blocks, per_block):
            if b.difference <= ESCALATE_MARGIN * floor:
                if np.isfinite(floor):  # an unknown (infinite) floor explains nothing
                    self._at_floor.add(b.name)
                continue
            v = verdict_for(b.difference, self.thresholds)
            if rank[v] > rank[verdict]:
                hints.append(
                    f"{b.name} alone differs by {b.difference:.2e} ({v}); the whole-theta "
                    f"difference ({self.difference:.2e}) is dominated by larger blocks"
                )
                verdict = v
        return verdict, hints

    def _collect_hints(self, hints):
        """The blocks' hints, pointers at the blocks not great, then
        ``hints``. A great report, or one whose difference is at the rounding
        floor, points at no block within ESCALATE_MARGIN of its own floor
        (its rounding explains it: a correct float32 layer's "should be
        zero" or "1.28x" is rounding); a block that f did not read points
        at f (its own row's hint, or the one for all of θ), never at the
        backprop."""
        bad = [b for b in self.blocks if verdict_for(b.difference, self.thresholds) != "great"]
        if self.verdict == "great" or self._at_noise:  # no pointers at what rounding explains
            bad = [b for b in bad if b.name not in self._at_floor]
        # a block f did not read points at f, not at the backprop: its row's own
        # hint (or the one for all of theta), no "largest error", no "look at"
        unread = any(b.name in self._unread for b in bad)
        own = [b.hint for b in bad if b.hint and not (self._unread_hint and b.name in self._unread)]
        hints = ([self._unread_hint] if unread and self._unread_hint else []) + own + hints
        bad = [b for b in bad if b.name not in self._unread]
        for b in bad:
            if not b.hint:
                hints.append(
                    f"{b.name}: largest error at {b.name}{list(b.worst_index)}: numerical "
                    f"{b.worst_numerical:.6g} vs analytic {b.worst_analytic:.6g}"
                )
        if bad and self.verdict != "great":
            names = ", ".join(b.name for b in bad)
            hints.append(f"look at the backprop of: {names}")
        if self.n_kinks:
            what = self.kink_text or "moved a relu pre-activation across 0"
            hints.append(
                f"{self.n_kinks} coordinate(s) {what} "
                "(marked *): the finite difference is not the derivative there, so they "
                "are left out of the difference (difference_all includes them)"
            )
        return hints

    def __bool__(self):
        return self.passed

    def raise_if_failed(self):
        """Raise :class:`GradientCheckError` unless the verdict is "great"."""
        if not self.passed:
            raise GradientCheckError(str(self))
        return self

    def __repr__(self):
        return (
            f"<GradCheckReport {self.verdict}: difference={self.difference:.3g}, "
            f"{self.n_checked}/{self.n_params} coordinates, mode={self.mode!r}>"
        )

    def __str__(self):
        great, bug = self.thresholds
        lines = [
            f"fastgrad gradient check: {self.title}",
            f"mode {self.mode} | {self.n_checked:,} of {self.n_params:,} coordinates | "
            f"epsilon {self.epsilon:.0e} | {self.n_threads} thread(s) | {_seconds(self.seconds)}",
            f"difference = |a-n|/(|a|+|n|) = {self.difference:.3e}  ->  {self.verdict.upper()}"
            f"   (great < {great:.0e} <= check < {bug:.0e} <= bug)",
            *self.notes,
            "",
        ]
        header = (
            "block",
            "shape",
            "checked",
            "difference",
            "max|a-n|",
            "worst at",
            "numerical",
            "analytic",
        )
        rows = []
        for b in self.blocks:
            mark = " *" if b.n_kinks else ""
            flag = "" if verdict_for(b.difference, self.thresholds) == "great" else "  <--"
            rows.append(
                (
                    b.name + mark,
                    "x".join(map(str, b.shape)) or "()",
                    f"{b.n_checked}",
                    f"{b.difference:.2e}",
                    f"{b.max_abs_error:.2e}",
                    str(list(b.worst_index)),
                    f"{b.worst_numerical:.6g}",
                    f"{b.worst_analytic:.6g}" + flag,
                )
            )
        lines.extend(table(header, rows, left=None, rule=False))
        if self.hints:
            lines.append("")
            lines.append("hints:")
            lines.extend(f"- {h}" for h in self.hints)
        return "\n".join(lines)

    def to_dict(self):
        """A JSON-ready dict (numerical gradients as nested lists; None for a
        value that is not finite)."""
        clean = finite_or_none
        return {
            "title": self.title,
            "difference": clean(self.difference),
            "difference_all": clean(self.difference_all),
            "verdict": self.verdict,
            "passed": self.passed,
            "thresholds": list(self.thresholds),
            "mode": self.mode,
            "epsilon": self.epsilon,
            "n_params": self.n_params,
            "n_checked": self.n_checked,
            "n_kinks": self.n_kinks,
            "n_threads": self.n_threads,
            "seconds": self.seconds,
            "flops": self.flops,
            "blocks": [{k: clean(v) for k, v in b.to_dict().items()} for b in self.blocks],
            "hints": list(self.hints),
            "numerical": {
                k: np.where(np.isfinite(v), v, None).tolist() for k, v in self.numerical.items()
            },
        }

    def to_json(self, **kwargs):
        return json.dumps(self.to_dict(), **kwargs)


def _seconds(s):
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"
