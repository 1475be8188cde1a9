"""Gradient descent vs momentum vs Adam on the moons (course, week 2).

A ``[2, 5, 2, 1]`` ReLU network with He initialization is trained three times
from the same starting parameters and the same mini-batch shuffles (batches
of 64, learning rate 0.0007), once per optimizer; the course found training
accuracies of about 72% (GD), 72% (momentum) and 94% (Adam) after 5,000
epochs: at such a small learning rate momentum barely helps, Adam's
per-parameter step size does.

The same work is importable: :func:`compare_optimizers` takes any ``X, Y``.
"""

import importlib.util
import sys

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad._argtypes import nonnegative_int, positive_float, positive_int
from fastgrad.demos._common import add_seed_and_plot, check_names
from fastgrad.nn.model import MLP
from fastgrad.optim import Adam, GradientDescent, Momentum, fit

NAME = "optimizers"
HELP = "GD vs momentum vs Adam on the moons data set (mini-batch 64, lr 0.0007)"

LAYER_DIMS = (2, 5, 2, 1)
N_SAMPLES = 300
NOISE = 0.2
COURSE_ACCURACY = {"gd": 0.72, "momentum": 0.72, "adam": 0.94}
OPTIMIZERS = {
    "gd": ("Gradient descent", lambda lr: GradientDescent(lr)),
    "momentum": ("Momentum (beta=0.9)", lambda lr: Momentum(lr, beta=0.9)),
    "adam": ("Adam", lambda lr: Adam(lr, beta1=0.9, beta2=0.999, epsilon=1e-8)),
}


def add_arguments(parser):
    parser.add_argument(
        "--epochs", type=nonnegative_int, default=5000, help="epochs per optimizer (5000)"
    )
    parser.add_argument("--learning-rate", type=positive_float, default=0.0007, help="(0.0007)")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="(64)")
    parser.add_argument(
        "--print-every",
        type=positive_int,
        default=1000,
        help="print the cost every this many epochs (1000)",
    )
    add_seed_and_plot(
        parser,
        3,
        "seed for the data, the initial weights and the shuffles",
        "save cost curves and decision boundaries (needs matplotlib)",
    )


def compare_optimizers(
    X,
    Y,
    *,
    epochs=5000,
    learning_rate=0.0007,
    batch_size=64,
    seed=3,
    print_every=None,
    names=tuple(OPTIMIZERS),
    out=print,
):
    """Train the demo network once per optimizer from the same start.

    Parameters
    ----------
    X : ndarray of shape (2, m)
    Y : ndarray of shape (1, m), 0/1 labels
    epochs, learning_rate, batch_size : training settings
    seed : int
        Seeds the He initialization and the mini-batch shuffles (the same for
        every optimizer, so only the update rule differs).
    print_every : int, optional
        Print each optimizer's cost every this many epochs through ``out``.
    names : sequence of {"gd", "momentum", "adam"}

    Returns
    -------
    model : MLP
    results : dict of name -> (FitResult, training accuracy)
    """
    names = check_names(names, OPTIMIZERS, "names")
    if print_every is not None:
        print_every = ac.integer(print_every, "print_every", minimum=1)
    model = MLP(list(LAYER_DIMS), hidden="relu", output="sigmoid")
    params0 = model.init_params("he", seed=seed)
    results = {}
    for name in names:
        label, make = OPTIMIZERS[name]
        if print_every is not None:
            out(f"{label}:")
        result = fit(
            model,
            params0,
            X,
            Y,
            optimizer=make(learning_rate),
            num_epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            print_every=print_every,
        )
        accuracy = float(np.mean(model.predict(result.params, X) == Y))
        results[name] = (result, accuracy)
    return model, results


def _plot(path, model, results, X, Y):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4 * (1 + len(results)), 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 1 + len(results))
    for name, (result, _) in results.items():
        axes[0].plot(result.costs, label=OPTIMIZERS[name][0])
    axes[0].set(xlabel="epoch", ylabel="cost (mean over the epoch's batches)", title="Cost")
    axes[0].legend()
    pad = 0.5
    x0, x1 = X[0].min() - pad, X[0].max() + pad
    y0, y1 = X[1].min() - pad, X[1].max() + pad
    xx, yy = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    grid = np.vstack([xx.ravel(), yy.ravel()])
    for ax, (name, (result, accuracy)) in zip(axes[1:], results.items()):
        zz = model.predict(result.params, grid).reshape(xx.shape)
        ax.contourf(xx, yy, zz, levels=[-0.5, 0.5, 1.5], cmap="Spectral", alpha=0.6)
        ax.scatter(X[0], X[1], c=Y[0], cmap="Spectral", s=10, edgecolors="k", linewidths=0.3)
        ax.set(title=f"{OPTIMIZERS[name][0]}: {accuracy:.1%}", xticks=[], yticks=[])
    fig.savefig(path, dpi=110)


def run(args):
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        print(
            "fastgrad demo optimizers: --plot needs matplotlib "
            "(pip install matplotlib, or pip install 'fastgrad[plot]')",
            file=sys.stderr,
        )
        return 2
    from fastgrad.datasets import make_moons

    X, Y = make_moons(N_SAMPLES, noise=NOISE, seed=args.seed)
    print(
        f"Moons: {N_SAMPLES} points, noise {NOISE} (seed {args.seed}); network "
        f"{list(LAYER_DIMS)}, ReLU, He init; mini-batch {args.batch_size}, learning rate "
        f"{args.learning_rate:g}, {args.epochs} epochs per optimizer\n"
    )
    model, results = compare_optimizers(
        X,
        Y,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        seed=args.seed,
        print_every=args.print_every,
    )
    width = max(len(label) for label, _ in OPTIMIZERS.values())
    print(
        f"\n{'optimizer':<{width}}  {'final cost':>10}  {'train accuracy':>14}  "
        f"{'course (5000 ep.)':>17}"
    )
    for name, (result, accuracy) in results.items():
        cost = f"{result.costs[-1]:.4f}" if result.n_epochs else "-"
        print(
            f"{OPTIMIZERS[name][0]:<{width}}  {cost:>10}  {accuracy:>14.1%}  "
            f"{'~' + format(COURSE_ACCURACY[name], '.0%'):>17}"
        )
    if args.plot:
        _plot(args.plot, model, results, X, Y)
        print(f"\nsaved {args.plot}")
    return 0
