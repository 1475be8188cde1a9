"""The ``fastgrad`` command.

``fastgrad check`` checks a network's backprop (a built-in default, or the
one the options describe) and prints the report; ``fastgrad demo NAME`` runs
a course experiment; ``fastgrad info`` prints the build's facts.
Exit status: 0 when the check passes, 1 when it finds a problem, 2 for bad
options.
"""
import argparse
import json
import sys

import numpy as np

BUG_KINDS = {
    "scale": "multiply the block by FACTOR (default 2)",
    "sign": "flip the block's sign",
    "zero": "set the block to zero",
    "transpose": "transpose a square weight block",
    "drop-l2": "leave the L2 term out of a dW block (needs --l2 > 0)",
}


class UsageError(Exception):
    pass


def _ints(text):
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    if len(values) < 2 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"need at least two positive sizes, got {text!r}")
    return values


def _layers(text):
    if text.strip().lower() == "all":
        return True
    try:
        return [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'all' or comma-separated layer numbers, "
                                         f"got {text!r}")


def _add_check_arguments(p):
    p.add_argument("--layers", type=_ints, default=[8, 32, 16, 1], metavar="N0,N1,...",
                   help="layer sizes, input first (default 8,32,16,1)")
    p.add_argument("--examples", "-m", type=int, default=64, help="examples m (default 64)")
    p.add_argument("--hidden", default="relu",
                   help="hidden activation(s): relu, leaky_relu, tanh, sigmoid, linear; "
                        "comma-separated for one per layer (default relu)")
    p.add_argument("--output", default="sigmoid", choices=["sigmoid", "softmax", "linear"])
    p.add_argument("--l2", type=float, default=0.0, help="L2 strength lambda (default 0)")
    p.add_argument("--keep-prob", type=float, default=1.0,
                   help="dropout keep probability of the hidden layers (default 1: none); "
                        "the check freezes the masks with --seed")
    p.add_argument("--batchnorm", type=_layers, default=(), metavar="L1,L2,...",
                   help="batch-normalize these hidden layers (1-based), or 'all'")
    p.add_argument("--epsilon", type=float, default=1e-7, help="finite-difference step")
    p.add_argument("--threads", type=int, default=None, help="OpenMP threads (default all)")
    p.add_argument("--seed", type=int, default=0, help="seed for data and weights")
    p.add_argument("--mode", default="full", choices=["full", "sampled", "directional"])
    p.add_argument("-k", type=int, default=None, help="per-block samples/directions")
    p.add_argument("--bug", action="append", default=[], metavar="KIND:BLOCK[:FACTOR]",
                   help="inject a bug into the gradients, e.g. scale:W2, sign:b1, zero:W1, "
                        "transpose:W2, drop-l2:W1 (repeatable)")
    p.add_argument("--course", action="store_true",
                   help="check the course's worked example (47 parameters) with its two "
                        "deliberate backprop bugs; add --fixed for the corrected backprop")
    p.add_argument("--fixed", action="store_true", help="with --course: the fixed backprop")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _inject(grads, params, spec, model, m):
    parts = spec.split(":")
    if len(parts) not in (2, 3) or parts[0] not in BUG_KINDS:
        raise UsageError(f"--bug {spec!r}: expected KIND:BLOCK[:FACTOR] with KIND one of "
                         f"{', '.join(BUG_KINDS)}")
    kind, block = parts[0], parts[1]
    key = block if block.startswith("d") else "d" + block
    if key not in grads:
        raise UsageError(f"--bug {spec!r}: no block {block!r}; blocks are "
                         f"{', '.join(k[1:] for k in grads)}")
    g = grads[key]
    if kind == "scale":
        try:
            factor = float(parts[2]) if len(parts) == 3 else 2.0
        except ValueError:
            raise UsageError(f"--bug {spec!r}: FACTOR must be a number") from None
        grads[key] = g * factor
    elif kind == "sign":
        grads[key] = -g
    elif kind == "zero":
        grads[key] = np.zeros_like(g)
    elif kind == "transpose":
        if g.ndim != 2 or g.shape[0] != g.shape[1]:
            raise UsageError(f"--bug {spec!r}: transpose needs a square block, "
                             f"{block} is {g.shape[0]}x{g.shape[1]}")
        grads[key] = g.T.copy()
    else:
        if model.l2 == 0 or not key.startswith("dW"):
            raise UsageError(f"--bug {spec!r}: drop-l2 needs --l2 > 0 and a W block")
        grads[key] = g - (model.l2 / m) * params[key[1:]]


def _problem(args):
    from fastgrad import MLP, course

    if args.course:
        if args.keep_prob != 1.0 or args.batchnorm:
            raise UsageError("--course checks the course's fixed network; --keep-prob and "
                             "--batchnorm do not apply to it")
        X, Y, params = course.gradient_check_n_test_case()
        _, cache = course.forward_propagation_n(X, Y, params)
        raw = course.backward_propagation_n(X, Y, cache, bugs=not args.fixed)
        grads = {k: raw[k] for k in ("dW1", "db1", "dW2", "db2", "dW3", "db3")}
        return course.model_for(params), params, grads, X, Y
    hidden = args.hidden.split(",") if "," in args.hidden else args.hidden
    try:
        model = MLP(args.layers, hidden=hidden, output=args.output, l2=args.l2,
                    keep_prob=args.keep_prob, batchnorm=args.batchnorm)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.examples < 1:
        raise UsageError(f"--examples must be >= 1, got {args.examples}")
    rng = np.random.default_rng(args.seed)
    X = rng.standard_normal((args.layers[0], args.examples))
    n_out = args.layers[-1]
    if args.output == "softmax":
        Y = np.eye(n_out)[:, rng.integers(0, n_out, args.examples)]
    elif args.output == "sigmoid":
        Y = (rng.random((n_out, args.examples)) < 0.5).astype(float)
    else:
        Y = rng.standard_normal((n_out, args.examples))
    init = "he" if all(h in ("relu", "leaky_relu") for h in model.hidden) else "xavier"
    params = model.init_params(init, seed=rng)
    for key in params:  # biases, γ and β away from 0 and 1 exercise their blocks
        if not key.startswith("W"):
            params[key] = params[key] + 0.1 * rng.standard_normal(params[key].shape)
    grads = model.backward(params, X, Y, seed=args.seed)
    return model, params, grads, X, Y


def _cmd_check(args):
    from fastgrad import gradient_check

    model, params, grads, X, Y = _problem(args)
    for spec in args.bug:
        _inject(grads, params, spec, model, X.shape[1])
    report = gradient_check(model, params, grads, X, Y, epsilon=args.epsilon,
                            n_threads=args.threads, mode=args.mode, k=args.k, seed=args.seed)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(report)
    return 0 if report.passed else 1


def _cmd_info(args):
    import scipy

    import fastgrad
    from fastgrad._openmp_helpers import max_threads, openmp_enabled

    print(f"fastgrad {fastgrad.__version__}")
    print(f"OpenMP: {'yes' if openmp_enabled() else 'no (serial build)'}, "
          f"{max_threads()} thread(s) by default")
    print(f"numpy {np.__version__}, scipy {scipy.__version__}")
    return 0


def _cmd_demo(args):
    return args._demo_run(args)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastgrad",
        description="Set up a deep network you can trust: normalize, initialize, check gradients.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    check = sub.add_parser("check", help="check a network's backprop (built-in default)",
                           description="Check backprop gradients against fastgrad's exact "
                                       "compiled finite differences.")
    _add_check_arguments(check)
    check.set_defaults(func=_cmd_check)
    demo = sub.add_parser("demo", help="run a course experiment (fastgrad demo -h lists them)")
    from fastgrad import demos

    demos.add_subparsers(demo)
    demo.set_defaults(func=_cmd_demo)
    info = sub.add_parser("info", help="versions and whether the build has OpenMP")
    info.set_defaults(func=_cmd_info)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"fastgrad: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, KeyError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"fastgrad: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
