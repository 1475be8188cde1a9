"""Demo ``numerical``: the course's lesson on numerical approximation of gradients.

The course's example: f(θ) = θ³ at θ = 1 with ε = 0.01.

- two-sided ``(f(θ+ε) − f(θ−ε)) / 2ε = 3.0001``: error 1e-4 = ε², O(ε²);
- one-sided ``(f(θ+ε) − f(θ)) / ε = 3.0301``: error 0.0301 ≈ 3ε, O(ε).

Then the error of both formulas against ε from 1e-1 to 1e-12. Truncation
falls with ε (slope 1 and slope 2 on a log-log plot) until the rounding of
the two function values, about ``u·|f|/ε`` (u = 2⁻⁵³ ≈ 1.1e-16), takes over
and the error turns up again: the one-sided error is smallest near
``sqrt(u) ≈ 1e-8``, the two-sided one near ``cbrt(u) ≈ 5e-6``. The course's
ε = 1e-7 sits just past the two-sided optimum, where the error (~1e-10
here) is far below the 1e-7 relative difference the check looks for.

fastgrad's exact kernel does not subtract two rounded costs: it forms the
*change* of the cost from exact identities (here ``(θ+ε)³ − (θ−ε)³ =
(a − b)(a² + ab + b²)`` with ``a − b`` the step actually taken), so there
is no cancellation and its error is the truncation ``ε²`` alone, down to
the rounding of the result itself (~1e-16): the last column.
"""

import numpy as np

from fastgrad.demos._common import (
    PLOT_HELP,
    fmt_sci,
    format_table,
    new_figure,
    plot_preflight,
    save_figure,
)

NAME = "numerical"
HELP = "the course's f(theta)=theta^3: one- vs two-sided differences, error against epsilon"

EPSILONS = tuple(10.0**-k for k in range(1, 13))
U = float(np.finfo(np.float64).eps) / 2


def f(theta):
    return theta**3


def course_example(theta=1.0, eps=0.01):
    """``{"two_sided", "one_sided", "exact"}`` of the course's example, and their errors."""
    exact = 3 * theta**2
    two = (f(theta + eps) - f(theta - eps)) / (2 * eps)
    one = (f(theta + eps) - f(theta)) / eps
    return {
        "exact": exact,
        "two_sided": two,
        "two_sided_error": abs(two - exact),
        "one_sided": one,
        "one_sided_error": abs(one - exact),
    }


def cancellation_free(theta, eps):
    """The two-sided difference of θ³ from its exact change: with ``a = θ+ε``,
    ``b = θ−ε`` (rounded), ``(a³ − b³)/(a − b) = a² + ab + b²``: no
    difference of two rounded cubes is ever taken."""
    a, b = theta + eps, theta - eps
    return a * a + a * b + b * b


def error_table(theta=1.0, epsilons=EPSILONS):
    """Rows ``(ε, one-sided error, two-sided error, ε·3θ, ε², u·|f|/ε,
    fastgrad's cancellation-free error)`` against the exact ``3θ²``."""
    exact = 3 * theta**2
    rows = []
    for eps in epsilons:
        one = (f(theta + eps) - f(theta)) / eps
        two = (f(theta + eps) - f(theta - eps)) / (2 * eps)
        free = cancellation_free(theta, eps)
        rows.append(
            (
                eps,
                abs(one - exact),
                abs(two - exact),
                3 * theta * eps,
                eps**2,
                U * abs(f(theta)) / eps,
                abs(free - exact),
            )
        )
    return rows


def plot(rows, path):
    fig, axes = new_figure(width=6.5, height=4.5)
    ax = axes[0, 0]
    eps = np.array([r[0] for r in rows])
    cols = np.array([r[1:] for r in rows])
    floor = 1e-17  # a zero error drawn at the bottom of the axis
    ax.loglog(eps, np.maximum(cols[:, 0], floor), "o-", label="one-sided (f(t+e)-f(t))/e")
    ax.loglog(eps, np.maximum(cols[:, 1], floor), "s-", label="two-sided (f(t+e)-f(t-e))/2e")
    ax.loglog(eps, np.maximum(cols[:, 5], floor), "^-", label="fastgrad, cancellation-free")
    ax.loglog(eps, cols[:, 2], ":", color="gray", label="O(e): 3e")
    ax.loglog(eps, cols[:, 3], "--", color="gray", label="O(e^2): e^2")
    ax.loglog(eps, cols[:, 4], "-.", color="gray", label="rounding u|f|/e")
    ax.axvline(1e-7, color="k", lw=0.8)
    ax.set_xlabel("epsilon")
    ax.set_ylabel("|error| of df/dtheta at theta=1")
    ax.set_title("f(theta) = theta^3")
    ax.invert_xaxis()
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def add_arguments(parser):
    parser.add_argument("--plot", metavar="FILE.png", help=PLOT_HELP)


def run(args):
    failed = plot_preflight(args)
    if failed is not None:
        return failed
    ex = course_example()
    print("f(theta) = theta^3 at theta = 1, epsilon = 0.01; exact derivative 3\n")
    print(
        f"two-sided (f(1.01) - f(0.99)) / 0.02 = {ex['two_sided']:.4f}   "
        f"error {fmt_sci(ex['two_sided_error'])}   O(epsilon^2)"
    )
    print(
        f"one-sided (f(1.01) - f(1))    / 0.01 = {ex['one_sided']:.4f}   "
        f"error {fmt_sci(ex['one_sided_error'])}   O(epsilon)\n"
    )
    rows = error_table()
    header = ["epsilon", "one-sided", "two-sided", "3*eps", "eps^2", "u|f|/eps", "fastgrad"]
    print("|error| against epsilon (u = 2^-53: the rounding of each f value)")
    print(format_table(header, [[fmt_sci(v) for v in r] for r in rows], left=()))
    one_best = min(rows, key=lambda r: r[1])[0]
    two_best = min(rows, key=lambda r: r[2])[0]
    at_default = next(r for r in rows if r[0] == 1e-7)
    print(
        f"\nTruncation falls as epsilon (one-sided) and epsilon^2 (two-sided) until the "
        f"rounding floor u|f|/epsilon takes over: the smallest errors are at epsilon = "
        f"{fmt_sci(one_best)} (one-sided, ~sqrt(u)) and {fmt_sci(two_best)} (two-sided, "
        "~cbrt(u)).\nThe course's epsilon = 1e-7 is just past the two-sided optimum: its "
        f"error there is {fmt_sci(at_default[2])}, far below the 1e-7 relative difference a "
        "gradient check looks for.\nfastgrad forms the "
        "change of the cost without subtracting two rounded values, so its error is "
        "epsilon^2 alone, down to ~1e-16."
    )
    if args.plot:
        print(f"\nplot written to {plot(rows, args.plot)}")
    return 0
