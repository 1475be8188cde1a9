"""Demo ``init``: the course's initialization experiment on two circles.

A ``[2, 10, 5, 1]`` ReLU/sigmoid network is trained by full-batch gradient
descent (learning rate 0.01, 15,000 iterations) from three starting points:

- **zeros** — every unit of a layer computes the same thing and gets the
  same gradient, so symmetry is never broken: with ReLU every hidden
  activation is 0, the cost stays at ln 2 ≈ 0.6931 and the network predicts
  one class (50 %);
- **random × 10** — ``N(0, 1) · 10``: a huge initial cost (the sigmoid
  saturates on confident wrong answers) and a slow, mediocre finish;
- **He** — ``N(0, 1) · sqrt(2 / n_{l-1})``: the cost falls steadily to
  ~99 % train / ~96 % test accuracy.
"""

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad._argtypes import nonnegative_int, positive_float
from fastgrad.datasets import make_circles
from fastgrad.demos._common import (
    add_seed_and_plot,
    check_seed,
    decision_boundary,
    format_table,
    new_figure,
    plot_preflight,
    save_figure,
    single_threaded_blas,
)
from fastgrad.nn.model import MLP
from fastgrad.training import gradient_descent

NAME = "init"
HELP = "zeros vs random x10 vs He initialization on the circles data (the course's experiment)"

LAYER_DIMS = (2, 10, 5, 1)
METHODS = (("zeros", "zeros", 1.0), ("random x10", "random", 10.0), ("he", "he", 1.0))


def compare_initializations(
    *,
    iterations=15000,
    learning_rate=0.01,
    seed=4,
    n_train=300,
    n_test=100,
    noise=0.05,
    record_every=1000,
    methods=METHODS,
):
    """Train the same network from several initializations.

    Parameters
    ----------
    iterations : int, default 15000
    learning_rate : float, default 0.01
    seed : int or None, default 4
        Seeds the data and each initialization (independent streams, so
        one method's draws do not depend on which others run).
    n_train, n_test : int
        Sizes of the circles train and test sets (drawn independently).
    noise : float, default 0.05
    record_every : int, default 1000
    methods : sequence of (label, method, scale)
        ``method`` and ``scale`` go to :func:`fastgrad.init.initialize_parameters`.

    Returns
    -------
    dict
        ``{"data": {"train": (X, Y), "test": (X, Y)}, "model": MLP,
        "record_every": int, "runs": {label: run}}`` where each ``run`` holds
        ``method``, ``scale``, ``initial_params``, ``params``, ``costs``
        (recorded every ``record_every`` iterations), ``final_cost``,
        ``train_accuracy`` and ``test_accuracy`` (fractions).
    """
    iterations = ac.integer(iterations, "iterations", minimum=0)
    learning_rate = ac.real(learning_rate, "learning_rate", low=0, low_open=True)
    n_train = ac.integer(n_train, "n_train", minimum=2)
    n_test = ac.integer(n_test, "n_test", minimum=2)
    ss = np.random.SeedSequence(check_seed(seed))
    train_ss, test_ss, init_ss = ss.spawn(3)
    X_train, Y_train = make_circles(n_train, noise=noise, seed=np.random.default_rng(train_ss))
    X_test, Y_test = make_circles(n_test, noise=noise, seed=np.random.default_rng(test_ss))
    model = MLP(list(LAYER_DIMS), hidden="relu", output="sigmoid")
    runs = {}
    for (label, method, scale), child in zip(methods, init_ss.spawn(len(methods))):
        params0 = model.init_params(method, seed=np.random.default_rng(child), scale=scale)
        with single_threaded_blas():
            params, costs = gradient_descent(
                model,
                params0,
                X_train,
                Y_train,
                learning_rate=learning_rate,
                num_iterations=iterations,
                record_every=record_every,
            )
        runs[label] = {
            "method": method,
            "scale": scale,
            "initial_params": params0,
            "params": params,
            "costs": costs,
            "final_cost": model.cost(params, X_train, Y_train),
            "train_accuracy": float(np.mean(model.predict(params, X_train) == Y_train)),
            "test_accuracy": float(np.mean(model.predict(params, X_test) == Y_test)),
        }
    return {
        "data": {"train": (X_train, Y_train), "test": (X_test, Y_test)},
        "model": model,
        "record_every": record_every,
        "iterations": iterations,
        "runs": runs,
    }


def cost_table(result):
    """The costs every ``record_every`` iterations, one column per run."""
    runs = result["runs"]
    labels = list(runs)
    n = max(len(r["costs"]) for r in runs.values())
    rows = []
    for k in range(n):
        row = [str(k * result["record_every"])]
        for label in labels:
            costs = runs[label]["costs"]
            row.append(f"{costs[k]:.4f}" if k < len(costs) else "")
        rows.append(row)
    rows.append(
        [f"{result['iterations']} (final)"] + [f"{runs[l]['final_cost']:.4f}" for l in labels]
    )
    return format_table(["iteration"] + [f"cost: {l}" for l in labels], rows)


def accuracy_table(result):
    """Train/test accuracy per initialization."""
    rows = [
        [
            label,
            f"{100 * r['train_accuracy']:.1f}%",
            f"{100 * r['test_accuracy']:.1f}%",
            f"{r['costs'][0]:.4g}" if r["costs"] else "-",
            f"{r['final_cost']:.4f}",
        ]
        for label, r in result["runs"].items()
    ]
    return format_table(["init", "train acc", "test acc", "initial cost", "final cost"], rows)


def plot(result, path):
    """Cost curves and the three decision boundaries, saved to ``path``."""
    runs = result["runs"]
    fig, axes = new_figure(ncols=len(runs) + 1)
    ax = axes[0, 0]
    for label, r in runs.items():
        its = np.arange(len(r["costs"])) * result["record_every"]
        ax.plot(its, r["costs"], marker="o", ms=3, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost")
    ax.set_title("training cost")
    ax.legend()
    model = result["model"]
    X, Y = result["data"]["train"]
    for ax, (label, r) in zip(axes[0, 1:], runs.items()):
        decision_boundary(
            ax,
            lambda G, p=r["params"]: model.predict(p, G),
            X,
            Y,
            title=f"{label}: train {100 * r['train_accuracy']:.0f}%",
        )
    return save_figure(fig, path)


def add_arguments(parser):
    parser.add_argument(
        "--iterations",
        type=nonnegative_int,
        default=15000,
        help="gradient-descent iterations (15000)",
    )
    parser.add_argument(
        "--learning-rate", type=positive_float, default=0.01, help="learning rate (0.01)"
    )
    add_seed_and_plot(parser, 4, "seed for the data and the initializations")


def run(args):
    failed = plot_preflight(args)
    if failed is not None:
        return failed
    result = compare_initializations(
        iterations=args.iterations, learning_rate=args.learning_rate, seed=args.seed
    )
    n_train = result["data"]["train"][0].shape[1]
    n_test = result["data"]["test"][0].shape[1]
    print(
        f"[2, 10, 5, 1] ReLU/sigmoid network on circles ({n_train} train / {n_test} test, "
        f"noise 0.05); gradient descent, learning rate {args.learning_rate:g}, "
        f"{args.iterations} iterations, seed {args.seed}\n"
    )
    print(cost_table(result))
    print()
    print(accuracy_table(result))
    if args.plot:
        print(f"\nplot written to {plot(result, args.plot)}")
    return 0
