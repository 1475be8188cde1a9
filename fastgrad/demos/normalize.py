"""Demo ``normalize``: normalization makes the cost bowl round.

The elongated data (``x1`` in 1…1000, ``x2`` in 0…1) is fitted by a single
linear unit with the squared-error cost ``J = 1/(2m) Σ (w·x + b − y)²``
— exactly a quadratic bowl, whose shape is the Hessian
``H = (1/m) X̃ X̃ᵀ`` with ``X̃ = [X; 1]``. Plain gradient descent from zero
weights, with and without :class:`fastgrad.Normalizer`, reports:

- the **largest stable learning rate**, found by search (a run of 300
  iterations is stable if its cost never rises: it ends neither above its
  start nor above its midpoint) and compared with the theory value
  ``2 / λ_max(H)``;
- the **iterations to reach a target cost** ``J* + 1% · (J0 − J*)``
  (``J*`` the least-squares optimum, ``J0`` the cost at zero weights, the
  same for both since normalization is an affine change of variables) at
  half the largest stable rate. When the budget runs out first, the exact
  count is given by the closed form for gradient descent on a quadratic,
  ``J(k) − J* = ½ Σ_i λ_i (1 − αλ_i)^(2k) c_i²`` (``c`` the initial error in
  ``H``'s eigenbasis).

Unnormalized, ``λ_max/λ_min`` is ~10⁷: the step must be tiny for the steep
``w1`` direction and then crawls along the flat ones. Normalized it is ~1.
"""

import math

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad._argtypes import int_at_least, positive_int
from fastgrad.datasets import make_elongated
from fastgrad.demos._common import (
    add_seed_and_plot,
    fmt_sci,
    format_table,
    new_figure,
    plot_preflight,
    save_figure,
    single_threaded_blas,
)
from fastgrad.nn.model import MLP
from fastgrad.training import DivergenceError, gradient_descent

NAME = "normalize"
HELP = (
    "gradient descent on elongated data with and without the Normalizer: "
    "speed and largest stable step"
)


def _zeros(model):
    return {k: np.zeros(s) for k, s in model.param_shapes().items()}


def _quadratic(model, X, Y):
    """Optimum, Hessian and the closed-form cost curve of GD for a linear unit."""
    m = X.shape[1]
    A = np.vstack([X, np.ones((1, m))])  # X̃, shape (n_x + 1, m)
    theta_star = np.linalg.lstsq(A.T, Y.T, rcond=None)[0].ravel()  # [w; b]
    n = X.shape[0]
    best = {"W1": theta_star[None, :n].copy(), "b1": theta_star[n:].reshape(1, 1)}
    H = A @ A.T / m  # ∂²J/∂θ² for J = 1/(2m)‖θᵀX̃ − Y‖²
    lam, V = np.linalg.eigh(H)
    c = V.T @ (np.zeros(n + 1) - theta_star)  # initial error from θ0 = 0

    def excess_cost(alpha, k):
        """J(θ_k) − J* after k steps of size alpha, from θ0 = 0."""
        with np.errstate(over="ignore", under="ignore"):
            return 0.5 * float(np.sum(lam * (1.0 - alpha * lam) ** (2 * k) * c * c))

    return best, lam, excess_cost


def _is_stable(model, X, Y, lr, iterations, J0):
    """Stable: finite, and the cost never rose — checked as J(end) <= J0 and
    J(end) <= J(middle). Below 2/λ_max every term of the quadratic's cost
    shrinks every step, so the cost is non-increasing (up to rounding);
    above it, the steepest direction grows geometrically and shows up at
    the end of the run even when it started tiny."""
    half = max(iterations // 2, 1)
    try:
        params, costs = gradient_descent(
            model, _zeros(model), X, Y, learning_rate=lr, num_iterations=2 * half, record_every=half
        )
    except DivergenceError:
        return False
    cost = model.cost(params, X, Y)
    return math.isfinite(cost) and cost <= J0 and cost <= costs[-1] * (1.0 + 1e-9)


def largest_stable_learning_rate(model, X, Y, *, iterations=300, bisections=12):
    """Search the largest learning rate for which gradient descent is stable.

    Powers of ten are tried downwards from 10 until a run of ``iterations``
    steps from zero weights is stable (finite, and the cost at the end is
    not above the cost at the start or at the middle); then ``bisections``
    halvings of the bracket in log space.

    Returns
    -------
    float
        The largest learning rate found stable (within a factor
        ``10 ** (1 / 2**bisections)`` of the edge).
    """
    J0 = model.cost(_zeros(model), X, Y)
    hi = 10.0
    lo = hi
    while _is_stable(model, X, Y, lo, iterations, J0) is False:
        hi, lo = lo, lo / 10.0
        if lo < 1e-15:
            raise RuntimeError("no stable learning rate above 1e-15")
    if lo == hi:  # 10 itself is stable
        return lo
    for _ in range(bisections):
        mid = math.sqrt(lo * hi)
        if _is_stable(model, X, Y, mid, iterations, J0):
            lo = mid
        else:
            hi = mid
    return lo


def compare_normalization(
    *,
    m=500,
    seed=0,
    target_fraction=0.01,
    max_iterations=20000,
    probe_iterations=300,
    normalizer=None,
):
    """Gradient descent on the elongated data, raw and normalized.

    Parameters
    ----------
    m : int, default 500
        Examples in :func:`fastgrad.datasets.make_elongated`.
    seed : int or None, default 0
    target_fraction : float, default 0.01
        The target cost is ``J* + target_fraction · (J0 − J*)``.
    max_iterations : int, default 20000
        Budget for the measured run; beyond it the closed form gives the
        count.
    probe_iterations : int, default 300
        Length of each run in the learning-rate search.
    normalizer : object, optional
        An unfitted transformer with ``fit_transform(X)`` for ``X`` of shape
        ``(n_x, m)``; default ``fastgrad.Normalizer(sample_axis=1)``.

    Returns
    -------
    dict
        ``{"target": float, "optimum": float, "initial": float,
        "runs": {"raw": run, "normalized": run}}``; each ``run`` has
        ``X``, ``lr_max`` (measured), ``lr_theory`` (``2/λ_max``),
        ``condition`` (``λ_max/λ_min``), ``lr`` (used: ``lr_max / 2``),
        ``iterations`` (to reach the target; None if not within the
        budget), ``predicted_iterations`` (closed form), ``costs`` (every
        iteration of the measured run) and ``reached`` (bool).
    """
    m = ac.integer(m, "m", minimum=2)
    target_fraction = ac.real(
        target_fraction, "target_fraction", low=0, high=1, low_open=True, high_open=True
    )
    max_iterations = ac.integer(max_iterations, "max_iterations", minimum=1)
    probe_iterations = ac.integer(probe_iterations, "probe_iterations", minimum=1)
    if normalizer is None:
        from fastgrad.normalize.normalizer import Normalizer

        normalizer = Normalizer(sample_axis=1)
    X, Y = make_elongated(m, seed=seed)
    Xn = np.asarray(normalizer.fit_transform(X), dtype=np.float64)
    if Xn.shape != X.shape:
        raise ValueError(
            f"normalizer.fit_transform returned shape {Xn.shape}, expected {X.shape}"
            " (course layout: features are rows)"
        )
    with single_threaded_blas():
        out = _compare(X, Xn, Y, target_fraction, max_iterations, probe_iterations)
    out["normalizer"] = normalizer
    return out


def _compare(X, Xn, Y, target_fraction, max_iterations, probe_iterations):
    model = MLP([X.shape[0], 1], output="linear")
    out = {"runs": {}, "model": model}
    for label, data in (("raw", X), ("normalized", Xn)):
        best, lam, excess = _quadratic(model, data, Y)
        J_star = model.cost(best, data, Y)
        J0 = model.cost(_zeros(model), data, Y)
        if label == "raw":
            target = J_star + target_fraction * (J0 - J_star)
            out.update(target=target, optimum=J_star, initial=J0)
        lr_max = largest_stable_learning_rate(model, data, Y, iterations=probe_iterations)
        lr = lr_max / 2.0
        hit = []
        params, costs = gradient_descent(
            model,
            _zeros(model),
            data,
            Y,
            learning_rate=lr,
            num_iterations=max_iterations + 1,
            record_every=1,
            callback=lambda i, p, cost, target=target, hit=hit: (
                cost <= target and not hit.append(i)
            ),
        )
        # Closed form: smallest k with J* + excess(k) <= target.
        gap = target - J_star
        k_hi = 1
        while excess(lr, k_hi) > gap and k_hi < 1e15:
            k_hi *= 2
        k_lo = 0
        while k_hi - k_lo > 1:
            k_mid = (k_lo + k_hi) // 2
            if excess(lr, k_mid) > gap:
                k_lo = k_mid
            else:
                k_hi = k_mid
        out["runs"][label] = {
            "X": data,
            "lr_max": lr_max,
            "lr_theory": 2.0 / float(lam[-1]),
            "condition": float(lam[-1] / lam[0]),
            "lr": lr,
            "iterations": hit[0] if hit else None,
            "reached": bool(hit),
            "predicted_iterations": k_hi if excess(0.0, 0) > gap else 0,
            "costs": costs,
            "final_params": params,
        }
    out["max_iterations"] = max_iterations
    return out


def results_table(result):
    rows = []
    for label, r in result["runs"].items():
        if r["reached"]:
            its = f"{r['iterations']}"
        else:
            its = f"> {result['max_iterations']}"
        rows.append(
            [
                label,
                fmt_sci(r["lr_max"]),
                fmt_sci(r["lr_theory"]),
                fmt_sci(r["condition"]),
                fmt_sci(r["lr"]),
                its,
                f"{r['predicted_iterations']:,}",
            ]
        )
    return format_table(
        [
            "inputs",
            "largest stable lr",
            "2/lambda_max",
            "condition number",
            "lr used",
            "iterations to target",
            "closed-form count",
        ],
        rows,
    )


def plot(result, path):
    fig, axes = new_figure(ncols=1, width=6)
    ax = axes[0, 0]
    for label, r in result["runs"].items():
        gap = np.asarray(r["costs"]) - result["optimum"]
        ax.plot(np.arange(len(gap)), np.maximum(gap, 1e-300), label=f"{label} (lr {r['lr']:.2g})")
    ax.axhline(result["target"] - result["optimum"], color="k", ls="--", lw=0.8, label="target")
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlim(left=0, right=max(len(r["costs"]) for r in result["runs"].values()))
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("J − J*")
    ax.set_title("gradient descent on the elongated data\n(each run stops at the target)")
    ax.legend()
    return save_figure(fig, path)


def add_arguments(parser):
    parser.add_argument("--m", type=int_at_least(2), default=500, help="number of examples (500)")
    parser.add_argument(
        "--max-iterations",
        type=positive_int,
        default=20000,
        help="budget for the measured run (20000)",
    )
    add_seed_and_plot(parser, 0, "seed for the data")


def run(args):
    failed = plot_preflight(args)
    if failed is not None:
        return failed
    result = compare_normalization(m=args.m, seed=args.seed, max_iterations=args.max_iterations)
    print(
        f"linear unit, squared error, on the elongated data (m={args.m}: x1 in 1..1000, "
        f"x2 in 0..1); gradient descent from zero weights"
    )
    print(
        f"target cost J* + 1% (J0 - J*) = {result['target']:.6g}   "
        f"(J0 = {result['initial']:.6g}, optimum J* = {result['optimum']:.6g})\n"
    )
    print(results_table(result))
    raw, norm = result["runs"]["raw"], result["runs"]["normalized"]
    print(
        f"\nnormalized inputs allow a {norm['lr_max'] / raw['lr_max']:.2g}x larger step "
        "and reach the "
        f"target in {norm['predicted_iterations']:,} instead of {raw['predicted_iterations']:,} "
        "iterations (exact counts for a quadratic): the bowl is round."
    )
    if args.plot:
        print(f"\nplot written to {plot(result, args.plot)}")
    return 0
