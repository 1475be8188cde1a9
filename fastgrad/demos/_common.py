"""Helpers shared by the demos: plain-text tables, argument checks and lazy matplotlib."""

import math
import os

from fastgrad import _argcheck as ac
from fastgrad._argtypes import nonnegative_int
from fastgrad._table import table


def check_seed(seed):
    """A demo's ``seed``: None or an int >= 0 (it seeds a ``SeedSequence``)."""
    if seed is None:
        return None
    return ac.integer(seed, "seed", minimum=0)


def check_names(names, allowed, what):
    """``names`` as a list, each one of ``allowed`` (a dict or a sequence)."""
    if isinstance(names, str):
        names = [names]
    names = list(names)
    for name in names:
        ac.choice(name, tuple(allowed), what)
    return names


PLOT_HELP = "also draw the result to FILE.png (needs matplotlib: pip install fastgrad[plot])"


def add_seed_and_plot(parser, seed, seed_help, plot_help=PLOT_HELP):
    """The options the seeded demos share: ``--seed`` (an int >= 0, default
    ``seed``) and ``--plot FILE.png``."""
    parser.add_argument("--seed", type=nonnegative_int, default=seed, help=f"{seed_help} ({seed})")
    parser.add_argument("--plot", metavar="FILE.png", help=plot_help)


def format_table(header, rows, *, left=(0,)):
    """A plain-text table: columns padded to their widest cell.

    Parameters
    ----------
    header : list of str
    rows : list of list of str
    left : collection of int
        Columns aligned left; the others are right-aligned (numbers).
    """
    return "\n".join(table(header, rows, left=left))


def fmt_sci(value, digits=2):
    """1.5e+08-style, with 'inf'/'nan'/'0' spelled out."""
    if value is None:
        return "-"
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    if value == 0:
        return "0"
    return f"{value:.{digits}e}"


def new_figure(*, ncols=1, nrows=1, width=4.5, height=4.0):
    """A matplotlib ``Figure`` with a grid of axes, drawn with Agg.

    matplotlib is imported here, lazily, and pyplot is never imported: the
    figure is rendered by the Agg canvas, so no GUI backend or global
    backend switch is involved.

    Raises
    ------
    ImportError
        If matplotlib is not installed, with the command that installs it.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "--plot needs matplotlib, which is not installed; "
            "install it with `pip install matplotlib` (or `pip install fastgrad[plot]`)"
        ) from exc
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def save_figure(fig, path):
    """Write ``fig`` to ``path`` (format from the extension) and return it."""
    fig.savefig(path, dpi=120)
    return path


def decision_boundary(ax, predict, X, Y, *, title="", steps=200):
    """Shade ``predict`` over the data's bounding box and scatter ``X``.

    ``predict`` maps a ``(2, k)`` array of points to ``(1, k)`` labels.
    """
    import numpy as np

    pad = 0.25 * max(float(np.ptp(X[0])), float(np.ptp(X[1])), 1e-12)
    x0 = np.linspace(X[0].min() - pad, X[0].max() + pad, steps)
    x1 = np.linspace(X[1].min() - pad, X[1].max() + pad, steps)
    g0, g1 = np.meshgrid(x0, x1)
    grid = np.vstack([g0.ravel(), g1.ravel()])
    z = np.asarray(predict(grid)).reshape(g0.shape)
    ax.contourf(g0, g1, z, levels=[-0.5, 0.5, 1.5], colors=["#c6dbef", "#f4c7c3"], alpha=0.8)
    ax.scatter(X[0], X[1], c=np.ravel(Y), cmap="coolwarm", s=10, edgecolors="k", linewidths=0.3)
    ax.set_title(title)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")


def report_plot_error(exc):
    """Print a plotting problem to stderr; the demo's exit code is 2."""
    import sys

    print(f"fastgrad demo: {exc}", file=sys.stderr)
    return 2


# One implementation for the whole package: the demos multiply small matrices,
# where a BLAS thread pool only adds synchronization.
from fastgrad._threads import single_threaded_blas  # noqa: E402,F401


def plot_preflight(args):
    """None when ``--plot`` is off or can work; else the demo's exit code (2),
    before the experiment runs: matplotlib missing, a folder that does not
    exist or cannot be written, a file type matplotlib cannot write."""
    path = getattr(args, "plot", None)
    if not path:
        return None
    try:
        fig, _ = new_figure()
    except ImportError as exc:
        return report_plot_error(exc)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return report_plot_error(f"--plot {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        return report_plot_error(f"--plot {path}: the folder {folder} is not writable")
    if os.path.isdir(path):
        return report_plot_error(
            f"--plot {path}: is a folder; give a file name, e.g. {path}/plot.png"
        )
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    types = fig.canvas.get_supported_filetypes()
    if ext and ext not in types:
        return report_plot_error(
            f"--plot {path}: matplotlib cannot write .{ext} files; use one of "
            + ", ".join(f".{t}" for t in sorted(types))
        )
    return None
