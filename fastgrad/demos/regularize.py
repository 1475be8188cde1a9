"""No regularization vs L2 vs dropout on a small, noisy training set (course, week 1).

One network, ``[2, 40, 20, 1]`` with ReLU and He initialization, is trained
three times from the same starting parameters with batch gradient descent
(learning rate 0.3): without regularization, with L2 (λ = 0.7, the course's
value) and with inverted dropout (keep_prob = 0.7 on both hidden layers). The
data are moons with heavy noise (0.3): 200 training points, which a network
this size can fit noise and all, and 1,000 test points from the same
distribution to measure what it learned. The course saw the same pattern on
its "football" data set: the unregularized network fits the training set
best and the test set worst; L2 and dropout trade some training accuracy for
test accuracy.

Before training, each variant's backprop is gradient checked (dropout with
frozen masks), so the comparison is between correct implementations.

The same work is importable: :func:`compare_regularization`.
"""

import numpy as np

from fastgrad._argtypes import nonnegative_int, positive_float
from fastgrad.demos._common import (
    add_seed_and_plot,
    check_names,
    decision_boundary,
    format_table,
    new_figure,
    plot_preflight,
    save_figure,
    single_threaded_blas,
)
from fastgrad.gradcheck import gradient_check
from fastgrad.nn.model import MLP
from fastgrad.optim import GradientDescent, fit

NAME = "regularize"
HELP = "no regularization vs L2 vs dropout: train/test accuracy on noisy moons"

LAYER_DIMS = (2, 40, 20, 1)
N_TRAIN, N_TEST, NOISE = 200, 1000, 0.3
VARIANTS = {
    "none": ("No regularization", {}),
    "l2": ("L2, lambda=0.7", {"l2": 0.7}),
    "dropout": ("Dropout, keep_prob=0.7", {"keep_prob": 0.7}),
}


def add_arguments(parser):
    parser.add_argument(
        "--epochs", type=nonnegative_int, default=10000, help="epochs per variant (10000)"
    )
    parser.add_argument("--learning-rate", type=positive_float, default=0.3, help="(0.3)")
    add_seed_and_plot(parser, 2, "seed for the data, the weights and the dropout masks")


def compare_regularization(
    X_train,
    Y_train,
    X_test,
    Y_test,
    *,
    epochs=10000,
    learning_rate=0.3,
    seed=2,
    variants=tuple(VARIANTS),
    layer_dims=LAYER_DIMS,
):
    """Train one network per regularization variant from the same start.

    Parameters
    ----------
    X_train, X_test : ndarray of shape (2, m)
    Y_train, Y_test : ndarray of shape (1, m), 0/1 labels
    epochs, learning_rate : batch gradient descent settings
    seed : int
        Seeds the He initialization (shared by every variant) and the dropout
        masks.
    variants : sequence of {"none", "l2", "dropout"}

    Returns
    -------
    dict of name -> dict with ``model``, ``result`` (FitResult), ``check``
    (the gradient check before training), ``train`` and ``test`` accuracy.
    """
    variants = check_names(variants, VARIANTS, "variants")
    out = {}
    for name in variants:
        model = MLP(list(layer_dims), hidden="relu", output="sigmoid", **VARIANTS[name][1])
        params = model.init_params("he", seed=seed)
        grads = model.backward(params, X_train, Y_train, seed=seed)
        check = gradient_check(model, params, grads, X_train, Y_train, seed=seed)
        result = fit(
            model,
            params,
            X_train,
            Y_train,
            optimizer=GradientDescent(learning_rate),
            num_epochs=epochs,
            batch_size=None,
            seed=seed,
        )
        accuracy = {
            part: float(np.mean(model.predict(result.params, X) == Y))
            for part, X, Y in (("train", X_train, Y_train), ("test", X_test, Y_test))
        }
        out[name] = {"model": model, "result": result, "check": check, **accuracy}
    return out


def _plot(path, results, X, Y):
    fig, axes = new_figure(ncols=len(results), width=4.0, height=3.8)
    for ax, (name, r) in zip(axes[0], results.items()):
        decision_boundary(
            ax,
            lambda G, r=r: r["model"].predict(r["result"].params, G),
            X,
            Y,
            title=f"{VARIANTS[name][0]}\ntrain {r['train']:.1%}, test {r['test']:.1%}",
        )
    return save_figure(fig, path)


def run(args):
    failed = plot_preflight(args)
    if failed:
        return failed
    from fastgrad.datasets import make_moons

    X, Y = make_moons(N_TRAIN + N_TEST, noise=NOISE, seed=args.seed)
    X_train, Y_train = X[:, :N_TRAIN], Y[:, :N_TRAIN]
    X_test, Y_test = X[:, N_TRAIN:], Y[:, N_TRAIN:]
    print(
        f"Noisy moons (noise {NOISE}, seed {args.seed}): {N_TRAIN} training and {N_TEST} "
        f"test points; network {list(LAYER_DIMS)}, ReLU, He init; batch gradient descent, "
        f"learning rate {args.learning_rate:g}, {args.epochs} epochs per variant\n"
    )
    with single_threaded_blas():
        results = compare_regularization(
            X_train,
            Y_train,
            X_test,
            Y_test,
            epochs=args.epochs,
            learning_rate=args.learning_rate,
            seed=args.seed,
        )
    rows = [
        [
            VARIANTS[name][0],
            f"{r['check'].difference:.1e} ({r['check'].verdict})",
            f"{r['result'].costs[-1]:.4f}" if r["result"].n_epochs else "-",
            f"{r['train']:.1%}",
            f"{r['test']:.1%}",
        ]
        for name, r in results.items()
    ]
    print(
        format_table(
            ["variant", "gradient check", "final cost", "train accuracy", "test accuracy"], rows
        )
    )
    print(
        "\nThe dropout row's cost is the training objective with dropout on (noisier); its "
        "accuracies are at inference, with every unit kept."
    )
    if args.plot:
        _plot(args.plot, results, X_test, Y_test)
        print(f"\nsaved {args.plot}")
    return 0
