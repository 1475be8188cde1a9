"""``fastgrad check``: its options, the problem they describe, bugs to
inject, and the command itself."""

import argparse
import json
import math
import sys

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad._argtypes import (
    UsageError,
    int_list,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    probability,
    threads,
)
from fastgrad.nn.activations import ACTIVATIONS
from fastgrad.nn.outputs import OUTPUTS

HIDDEN = tuple(ACTIVATIONS)

BUG_KINDS = {
    "scale": "multiply the block by FACTOR (default 2)",
    "sign": "flip the block's sign",
    "zero": "set the block to zero",
    "transpose": "transpose a square weight block",
    "drop-l2": "leave the L2 term out of a dW block (needs --l2 > 0)",
}
DEFAULT_LAYERS = [8, 32, 16, 1]
DEFAULT_SOFTMAX_OUTPUTS = 3
DEFAULT_EXAMPLES = 64


# -- option types for the network; each error names the value ----------
def hidden_names(text):
    names = [h.strip() for h in text.split(",")]
    for h in names:
        if h not in HIDDEN:
            raise argparse.ArgumentTypeError(
                f"unknown activation {h!r}; choose from {', '.join(HIDDEN)}"
            )
    return names if "," in text else names[0]


def layer_sizes(text):
    if text.strip().lower() == "all":
        return True
    try:
        return [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected 'all' or comma-separated layer numbers, got {text!r}"
        ) from None


# The options that describe the network; --course has its own.
NETWORK_OPTIONS = {
    "layers": "--layers",
    "examples": "--examples",
    "hidden": "--hidden",
    "output": "--output",
    "l2": "--l2",
    "keep_prob": "--keep-prob",
    "batchnorm": "--batchnorm",
}


def add_arguments(p):
    """The options of ``fastgrad check``: the network, then the check."""
    _add_network_arguments(p)
    _add_check_arguments(p)


def _output_help():
    """``--output``'s help, from the registry (a new output needs no edit here)."""
    parts = [
        f"{o.name} with {o.loss_name}"
        + (f" (needs >= {o.min_units} output units)" if o.min_units > 1 else "")
        for o in OUTPUTS.values()
    ]
    return f"output layer and loss: {', '.join(parts)} (default: sigmoid)"


def _add_network_arguments(p):
    # The network options default to None so that --course can tell whether
    # they were given; their real defaults are filled in by _network_options.
    p.add_argument(
        "--layers",
        type=int_list,
        metavar="N0,N1,...",
        help="layer sizes, input first (default: 8,32,16,1; "
        f"8,32,16,{DEFAULT_SOFTMAX_OUTPUTS} with --output softmax)",
    )
    p.add_argument(
        "--examples",
        "-m",
        type=positive_int,
        metavar="M",
        help=f"number of random examples m (default: {DEFAULT_EXAMPLES})",
    )
    p.add_argument(
        "--hidden",
        type=hidden_names,
        metavar="ACT[,ACT...]",
        help=f"hidden activation: {', '.join(HIDDEN)}; comma-separated for one "
        "per hidden layer (default: relu)",
    )
    p.add_argument("--output", choices=list(OUTPUTS), help=_output_help())
    p.add_argument(
        "--l2",
        type=nonnegative_float,
        metavar="LAMBDA",
        help="L2 strength lambda in lambda/(2m)*sum|W|^2 (default: 0)",
    )
    p.add_argument(
        "--keep-prob",
        type=probability,
        metavar="P",
        help="dropout keep probability of the hidden layers; the check freezes "
        "the masks with --seed (default: 1, no dropout)",
    )
    p.add_argument(
        "--batchnorm",
        type=layer_sizes,
        metavar="L1,L2,...",
        help="batch-normalize these hidden layers (1-based), or 'all' (default: none)",
    )


def _add_check_arguments(p):
    p.add_argument(
        "--epsilon",
        type=positive_float,
        default=1e-7,
        help="finite-difference step (default: %(default)g)",
    )
    p.add_argument(
        "--threads",
        type=threads,
        default=None,
        metavar="N",
        help="OpenMP threads, -1 for every core (default: the cores OpenMP "
        "would use, respecting OMP_NUM_THREADS)",
    )
    p.add_argument(
        "--seed",
        type=nonnegative_int,
        default=0,
        help="seed for the data, the weights, the dropout masks and the sampled "
        "coordinates (default: 0)",
    )
    p.add_argument(
        "--mode",
        default="full",
        choices=["full", "sampled", "directional"],
        help="full: every coordinate; sampled: -k coordinates per block; "
        "directional: -k random directions per block, a failing block "
        "re-checked in full (default: full)",
    )
    p.add_argument(
        "-k",
        type=positive_int,
        default=None,
        help="coordinates (sampled) or directions (directional) per block; "
        "only with --mode sampled|directional (default: 10 sampled, "
        "3 directional)",
    )
    p.add_argument(
        "--bug",
        action="append",
        default=[],
        metavar="KIND:BLOCK[:FACTOR]",
        help="inject a bug into the gradients, e.g. scale:W2, scale:W2:1.5, "
        "sign:b1, zero:W1, transpose:W2 (square blocks), drop-l2:W1 (with "
        "--l2); repeatable (default: none)",
    )
    p.add_argument(
        "--course",
        action="store_true",
        help="check the course's worked example (a fixed 4-5-3-1 network, 47 "
        "parameters, 3 examples) with its two deliberate backprop bugs; the "
        "network options do not apply",
    )
    p.add_argument(
        "--fixed",
        action="store_true",
        help="with --course: the corrected backprop (it should pass)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _flag_list(names):
    return ", ".join(NETWORK_OPTIONS[n] for n in names)


def _network_options(args):
    """Fill in the network defaults and check the options against each other."""
    if args.output is None:
        args.output = "sigmoid"
    if args.layers is None:
        args.layers = list(DEFAULT_LAYERS)
        if args.output == "softmax":
            args.layers[-1] = DEFAULT_SOFTMAX_OUTPUTS
    layers_text = ",".join(map(str, args.layers))
    n_hidden = len(args.layers) - 2
    if args.output == "softmax" and args.layers[-1] < 2:
        raise UsageError(
            f"--output softmax needs at least 2 output units, but --layers "
            f"{layers_text} ends with {args.layers[-1]} (for one output use "
            "--output sigmoid)"
        )
    if args.examples is None:
        args.examples = DEFAULT_EXAMPLES
    if args.hidden is None:
        args.hidden = "relu"
    if isinstance(args.hidden, list) and len(args.hidden) != n_hidden:
        raise UsageError(
            f"--hidden lists {len(args.hidden)} activations but --layers "
            f"{layers_text} has {n_hidden} hidden layer(s)"
        )
    if args.l2 is None:
        args.l2 = 0.0
    if args.keep_prob is None:
        args.keep_prob = 1.0
    if args.keep_prob < 1 and n_hidden == 0:
        raise UsageError(
            f"--keep-prob needs a hidden layer to drop units from; --layers {layers_text} has none"
        )
    if args.batchnorm is None:
        args.batchnorm = ()
    elif args.batchnorm is not True:
        for l in args.batchnorm:
            if not 1 <= l <= n_hidden:
                raise UsageError(
                    f"--batchnorm {l}: the hidden layers of --layers {layers_text} "
                    f"are 1..{n_hidden} (the output layer is not normalized)"
                )
        if len(set(args.batchnorm)) != len(args.batchnorm):
            raise UsageError(f"--batchnorm lists a layer twice: {args.batchnorm}")


def _check_options(args):
    if args.fixed and not args.course:
        raise UsageError(
            "--fixed only applies with --course (it selects the course's corrected backprop)"
        )
    if args.course:
        given = [n for n in NETWORK_OPTIONS if getattr(args, n) is not None]
        if given:
            raise UsageError(
                f"--course checks the course's fixed 4-5-3-1 network on its 3 "
                f"examples; {_flag_list(given)} "
                f"{'does' if len(given) == 1 else 'do'} not apply to it (drop "
                f"{'it' if len(given) == 1 else 'them'}, or drop --course)"
            )
    else:
        _network_options(args)
    if args.k is not None and args.mode == "full":
        raise UsageError(
            "-k applies to --mode sampled or --mode directional; --mode full "
            "checks every coordinate"
        )


def _check_memory(args):
    """Refuse, before allocating, a problem that cannot fit in memory.

    The estimate is a floor: X and Y, the parameters with their analytic and
    numerical gradients, and four (units x examples) arrays per layer for
    the forward and backward passes (Z, activations, dZ, dA), in float64.
    """
    dims, m = args.layers, args.examples
    n_params = sum(dims[l] * (dims[l - 1] + 1) for l in range(1, len(dims)))
    floor = 8 * ((dims[0] + dims[-1]) * m + 4 * n_params + 4 * sum(dims[1:]) * m)
    available = ac.available_memory()
    if available is not None and floor > available:
        raise UsageError(
            f"--layers {','.join(map(str, dims))} with --examples {m} is too large: "
            f"{n_params:,} parameters, at least {ac.gib(floor)} of memory, and this machine has "
            f"{ac.gib(available)} available; use a smaller network or fewer examples"
        )


def _inject(grads, params, spec, model, m):
    parts = spec.split(":")
    if len(parts) not in (2, 3) or parts[0] not in BUG_KINDS:
        raise UsageError(
            f"--bug {spec!r}: expected KIND:BLOCK[:FACTOR] with KIND one of {', '.join(BUG_KINDS)}"
        )
    kind, block = parts[0], parts[1]
    if len(parts) == 3 and kind != "scale":
        raise UsageError(f"--bug {spec!r}: only scale takes a FACTOR")
    key = block if block.startswith("d") else "d" + block
    if key not in grads:
        raise UsageError(
            f"--bug {spec!r}: no block {block!r}; blocks are {', '.join(k[1:] for k in grads)}"
        )
    g = grads[key]
    if kind == "scale":
        try:
            factor = float(parts[2]) if len(parts) == 3 else 2.0
        except ValueError:
            raise UsageError(f"--bug {spec!r}: FACTOR must be a number") from None
        if not math.isfinite(factor):
            raise UsageError(f"--bug {spec!r}: FACTOR must be a finite number")
        grads[key] = g * factor
    elif kind == "sign":
        grads[key] = -g
    elif kind == "zero":
        grads[key] = np.zeros_like(g)
    elif kind == "transpose":
        if g.ndim != 2 or g.shape[0] != g.shape[1]:
            square = [
                k[1:] for k, v in grads.items() if k.startswith("dW") and v.shape[0] == v.shape[1]
            ]
            where = (
                f"the square weight blocks here are {', '.join(square)}"
                if square
                else "this network has none (a W block is square when two consecutive "
                "--layers sizes are equal, e.g. --layers 8,16,16,1 makes W2 16x16)"
            )
            raise UsageError(
                f"--bug {spec!r}: a transposed {g.shape[0]}x{g.shape[1]} block "
                f"would not have {block}'s shape; transpose needs a square "
                f"block, and {where}"
            )
        grads[key] = g.T.copy()
    else:
        if model.l2 == 0 or not key.startswith("dW"):
            raise UsageError(f"--bug {spec!r}: drop-l2 needs --l2 > 0 and a W block")
        grads[key] = g - (model.l2 / m) * params[key[1:]]


def _problem(args):
    from fastgrad import MLP, course

    if args.course:
        X, Y, params = course.gradient_check_n_test_case()
        _, cache = course.forward_propagation_n(X, Y, params)
        raw = course.backward_propagation_n(X, Y, cache, bugs=not args.fixed)
        grads = {k: raw[k] for k in ("dW1", "db1", "dW2", "db2", "dW3", "db3")}
        return course.model_for(params), params, grads, X, Y
    _check_memory(args)
    model = MLP(
        args.layers,
        hidden=args.hidden,
        output=args.output,
        l2=args.l2,
        keep_prob=args.keep_prob,
        batchnorm=args.batchnorm,
    )
    rng = np.random.default_rng(args.seed)
    X = rng.standard_normal((args.layers[0], args.examples))
    Y = OUTPUTS[args.output].random_targets(rng, args.layers[-1], args.examples)
    init = "he" if all(a.has_kink for a in model.activations) else "xavier"
    params = model.init_params(init, seed=rng)
    for key in params:  # biases, γ and β away from 0 and 1 exercise their blocks
        if not key.startswith("W"):
            params[key] = params[key] + 0.1 * rng.standard_normal(params[key].shape)
    grads = model.backward(params, X, Y, seed=args.seed)
    return model, params, grads, X, Y


def run_check(args):
    from fastgrad import gradient_check

    _check_options(args)
    model, params, grads, X, Y = _problem(args)
    for spec in args.bug:
        _inject(grads, params, spec, model, X.shape[1])
    report = gradient_check(
        model,
        params,
        grads,
        X,
        Y,
        epsilon=args.epsilon,
        n_threads=args.threads,
        mode=args.mode,
        k=args.k,
        seed=args.seed,
    )
    args.status = 0 if report.passed else 1  # kept if the reader of stdout goes away
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(report)
    sys.stdout.flush()
    return args.status
