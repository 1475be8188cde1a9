"""Demo ``depth``: activation and gradient scale through a 50-layer network.

For each initialization the demo runs :func:`fastgrad.diagnose.diagnose`
on one batch and prints, at a few depths, the forward scale
``rms(Z[l]) / rms(X)`` and the backward scale ``‖dZ[l]‖ / ‖dZ[L]‖``:

- linear ``0.5·I`` / ``1.5·I`` (the course's example; hidden layers get
  ``w·I``, the output layer ``I``): exactly ``w^l`` forward and
  ``w^(L−1−l)`` backward;
- zeros: every signal after the input is exactly 0;
- random ``N(0, 1)`` with ReLU: ×sqrt(n/2) per layer, explodes;
- Xavier ``sqrt(1/n)`` with tanh: slowly shrinking, fine at this depth;
  with ReLU: halves the variance per layer, vanishes;
- He ``sqrt(2/n)`` with ReLU: flat.
"""

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad._argtypes import positive_int
from fastgrad.demos._common import (
    add_seed_and_plot,
    check_seed,
    fmt_sci,
    format_table,
    new_figure,
    plot_preflight,
    save_figure,
    single_threaded_blas,
)
from fastgrad.diagnostics import deep_linear_example, diagnose
from fastgrad.nn.model import MLP

NAME = "depth"
HELP = (
    "activation and gradient scale per layer of a 50-layer net under zeros, w*I, random, Xavier, He"
)

# (label, kind, hidden activation, init method or identity weight, scale)
SCHEMES = (
    ("zeros (relu)", "mlp", "relu", "zeros", 1.0),
    ("0.5*I (linear)", "linear", "linear", 0.5, None),
    ("1.5*I (linear)", "linear", "linear", 1.5, None),
    ("random N(0,1) (relu)", "mlp", "relu", "random", 1.0),
    ("xavier (tanh)", "mlp", "tanh", "xavier", 1.0),
    ("xavier (relu)", "mlp", "relu", "xavier", 1.0),
    ("he (relu)", "mlp", "relu", "he", 1.0),
)


def depth_profile(*, depth=50, width=100, m=200, seed=0, schemes=SCHEMES):
    """Diagnose a ``depth``-layer network under each initialization.

    Parameters
    ----------
    depth : int, default 50
        L, the number of weight layers.
    width : int, default 100
        Units in every hidden layer, and the input size.
    m : int, default 200
        Examples in the batch; ``X ~ N(0, 1)`` of shape ``(width, m)``.
    seed : int or None, default 0
    schemes : sequence of (label, kind, hidden, method_or_weight, scale)
        ``kind`` "mlp": ``MLP([width]*depth + [1], hidden)`` with a sigmoid
        output, init ``method`` times ``scale``, labels ``Y`` random 0/1;
        ``kind`` "linear": :func:`fastgrad.diagnose.deep_linear_example`
        with that weight, targets ``Y ~ N(0, 1)`` of shape ``(width, m)``.

    Returns
    -------
    dict
        ``{label: Diagnosis}``.
    """
    depth = ac.integer(depth, "depth", minimum=1)
    width = ac.integer(width, "width", minimum=1)
    m = ac.integer(m, "m", minimum=2)
    ss = np.random.SeedSequence(check_seed(seed))
    data_ss, init_ss = ss.spawn(2)
    rng = np.random.default_rng(data_ss)
    X = rng.standard_normal((width, m))
    Y_bin = (rng.random((1, m)) < 0.5).astype(np.int64)
    Y_lin = rng.standard_normal((width, m))
    out = {}
    for (label, kind, hidden, how, scale), child in zip(schemes, init_ss.spawn(len(schemes))):
        if kind == "linear":
            model, params = deep_linear_example(depth, how, width=width)
            Y = Y_lin
        else:
            model = MLP([width] * depth + [1], hidden=hidden, output="sigmoid")
            params = model.init_params(how, seed=np.random.default_rng(child), scale=scale)
            Y = Y_bin
        with single_threaded_blas():
            out[label] = diagnose(model, params, X, Y)
    return out


def _layers_shown(depth):
    picks = [1] + [l for l in range(10, depth + 1, 10)]
    if picks[-1] != depth:
        picks.append(depth)
    return sorted(set(p for p in picks if 1 <= p <= depth))


def scale_tables(result):
    """Two tables (forward, backward), one row per scheme."""
    depth = len(next(iter(result.values())).layers)
    shown = _layers_shown(depth)
    fwd_rows, bwd_rows = [], []
    for label, d in result.items():
        f, b = d.forward_scales, d.backward_scales
        fwd_rows.append([label] + [fmt_sci(float(f[l - 1])) for l in shown] + [d.summary()])
        bwd_rows.append(
            [label] + [fmt_sci(float(b[l - 1])) for l in shown] + [fmt_sci(d.layers[0].grad_W_norm)]
        )
    fwd = format_table(
        ["init"] + [f"layer {l}" for l in shown] + ["verdict"], fwd_rows, left=(0, len(shown) + 1)
    )
    bwd = format_table(["init"] + [f"layer {l}" for l in shown] + ["|dW1|"], bwd_rows)
    return fwd, bwd


def plot(result, path):
    fig, axes = new_figure(ncols=2, width=5.5)
    for label, d in result.items():
        layers = np.arange(1, len(d.layers) + 1)
        with np.errstate(divide="ignore"):
            f = np.where(d.forward_scales > 0, d.forward_scales, np.nan)
            b = np.where(d.backward_scales > 0, d.backward_scales, np.nan)
        if np.all(np.isnan(f)):
            label += " (all 0: off the log scale)"
        axes[0, 0].plot(layers, f, label=label)
        axes[0, 1].plot(layers, b, label=label)
    for ax, title in zip(axes[0], ("forward: rms(Z[l]) / rms(X)", "backward: |dZ[l]| / |dZ[L]|")):
        ax.set_yscale("log")
        ax.set_xlabel("layer l")
        ax.set_title(title)
    axes[0, 0].legend(fontsize=7)
    return save_figure(fig, path)


def add_arguments(parser):
    parser.add_argument("--depth", type=positive_int, default=50, help="number of layers L (50)")
    parser.add_argument("--width", type=positive_int, default=100, help="units per layer (100)")
    add_seed_and_plot(parser, 0, "seed")


def run(args):
    failed = plot_preflight(args)
    if failed is not None:
        return failed
    result = depth_profile(depth=args.depth, width=args.width, seed=args.seed)
    fwd, bwd = scale_tables(result)
    print(
        f"{args.depth}-layer network, {args.width} units per layer, X ~ N(0, 1), "
        "one batch of 200 examples\n"
    )
    print(
        "activation scale rms(Z[l]) / rms(X)  (0 = every unit silent; "
        "exploding > 100, vanishing < 0.01)"
    )
    print(fwd)
    print(
        "\ngradient scale |dZ[l]| / |dZ[L]|  "
        "(how the error signal grows or shrinks on its way back)"
    )
    print(bwd)
    if args.plot:
        print(f"\nplot written to {plot(result, args.plot)}")
    return 0
