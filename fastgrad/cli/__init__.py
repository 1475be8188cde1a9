"""The ``fastgrad`` command.

``fastgrad check`` checks a network's backprop (a built-in default, or the
one the options describe) and prints the report; ``fastgrad demo NAME`` runs
a course experiment; ``fastgrad info`` prints the build's facts.

Exit status: 0 when the check passes, 1 when it finds a problem (and only
then), 2 for anything else that stops it: a bad option or combination of
options, a problem too large for memory, or an internal error. Every error
is one line on stderr, ``fastgrad: error: ...``, naming the option at fault;
set ``FASTGRAD_TRACEBACK=1`` to get the traceback of an internal error.
"""

import argparse
import os
import re
import sys

from fastgrad import _argcheck as ac  # noqa: F401  (tests patch cli.ac)
from fastgrad._argtypes import UsageError
from fastgrad.cli.check import HIDDEN, add_arguments, run_check  # noqa: F401  (HIDDEN: tests)
from fastgrad.training.results import DivergenceError

# argparse (before 3.13) takes "-1e-7" for an unknown option ("expected one
# argument"); "-.5" and "-3" it already reads as numbers.
_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^-(inf|infinity|nan)$", re.I)


class _Parser(argparse.ArgumentParser):
    """argparse with errors on one line (usage is one ``--help`` away), and
    negative numbers in exponent form (``--epsilon -1e-7``) taken as values,
    so that they reach the option's own range check."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")

    def parse_known_args(self, args=None, namespace=None):
        ns, extras = super().parse_known_args(args, namespace)
        # The innermost parser that ran (a subcommand's) answers for the
        # arguments nobody took: 'see fastgrad check --help', not 'fastgrad'.
        if getattr(ns, "_parser", None) is None:
            ns._parser = self
        return ns, extras

    def parse_args(self, args=None, namespace=None):
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            ns._parser.error(f"unrecognized arguments: {' '.join(extras)}")
        return ns


def _cmd_info(args):
    from fastgrad import info

    return info.main(as_json=args.json)


def _cmd_demo(args):
    return args.demo_run(args)


def build_parser():
    parser = _Parser(
        prog="fastgrad",
        description="Set up a deep network you can trust: normalize, initialize, check "
        "gradients. Exit status: 0 the check passed, 1 it found a problem, "
        "2 any error (bad options, out of memory, internal error).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    check = sub.add_parser(
        "check",
        help="check a network's backprop (built-in default)",
        description="Check backprop gradients against fastgrad's exact "
        "compiled finite differences. Without options: an "
        "8-32-16-1 relu/sigmoid network on 64 random "
        "examples. Exit status 0 when the check passes, 1 "
        "when it finds a problem, 2 for errors.",
    )
    add_arguments(check)
    check.set_defaults(func=run_check)
    demo = sub.add_parser("demo", help="run a course experiment (fastgrad demo -h lists them)")
    from fastgrad import demos

    demos.add_subparsers(demo)
    demo.set_defaults(func=_cmd_demo)
    info = sub.add_parser(
        "info",
        help="versions, the build (OpenMP or serial) and the BLAS/"
        "OpenMP libraries loaded, with clash warnings",
    )
    info.add_argument("--json", action="store_true", help="print the facts as JSON")
    info.set_defaults(func=_cmd_info)
    from fastgrad.cli import normalize_stats

    normalize_stats.add_parser(sub)
    return parser


# A library error that starts with an argument's Python name is reported with
# the option's name (the options are checked first; this is the fallback).
_FLAGS = {
    "n_threads": "--threads",
    "epsilon": "--epsilon",
    "k": "-k",
    "seed": "--seed",
    "mode": "--mode",
    "l2": "--l2",
    "keep_prob": "--keep-prob",
    "batchnorm": "--batchnorm",
    "layer_dims": "--layers",
    "hidden": "--hidden",
    "output": "--output",
}


def _flagged(text):
    name = re.match(r"\w+", text)
    if name and name.group() in _FLAGS and text[name.end() : name.end() + 1] in (" ", "["):
        return _FLAGS[name.group()] + text[name.end() :]
    return text


def _one_line(exc):
    text = " ".join(str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc).split())
    return text or type(exc).__name__


def main(argv=None):
    """Run the command and return its exit status (also for ``--help`` and
    option errors, which argparse reports by raising SystemExit)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"fastgrad: error: {_one_line(exc)}", file=sys.stderr)
    except MemoryError as exc:
        print(
            f"fastgrad: error: out of memory ({_one_line(exc)}): the problem is too large "
            "for this machine; use a smaller network or fewer examples",
            file=sys.stderr,
        )
    except KeyboardInterrupt:
        print("fastgrad: interrupted", file=sys.stderr)
        return 130
    except DivergenceError as exc:
        # The options asked for a step the data cannot take: the user's to change.
        flag = " (--learning-rate)" if hasattr(args, "learning_rate") else ""
        print(f"fastgrad: error: {_one_line(exc)}{flag}", file=sys.stderr)
    except BrokenPipeError:
        # The reader of stdout went away (`fastgrad check | head`): stop quietly,
        # and keep Python from failing again when it flushes stdout at exit.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return getattr(args, "status", 2)
    except OSError as exc:
        # A file that cannot be written or read (--plot, a stats file): the
        # machine's answer, not fastgrad's bug.
        print(f"fastgrad: error: {_one_line(exc)}", file=sys.stderr)
    except Exception as exc:
        # A library's ValueError/TypeError/KeyError is taken for an error in
        # the options, except from a command that reports each of those
        # itself as a UsageError (checks_input): from there it is a bug.
        if isinstance(exc, (ValueError, TypeError, KeyError)) and not getattr(
            args, "checks_input", False
        ):
            print(f"fastgrad: error: {_flagged(_one_line(exc))}", file=sys.stderr)
            return 2
        # An internal error: one line, still not "the check failed".
        if os.environ.get("FASTGRAD_TRACEBACK"):
            raise
        print(
            f"fastgrad: internal error: {type(exc).__name__}: {_one_line(exc)} (set "
            "FASTGRAD_TRACEBACK=1 to see the traceback; please report it)",
            file=sys.stderr,
        )
    return 2


if __name__ == "__main__":
    sys.exit(main())
