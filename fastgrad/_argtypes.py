"""Command-line option types shared by the ``fastgrad`` command and the
demos: each turns a command-line string into a checked value (an argparse
``type=``), and its error names the value (argparse adds the flag). Options
about the network (activations, layers) are ``fastgrad check``'s own, in
:mod:`fastgrad.cli.check`.
"""

import argparse
import math


class UsageError(Exception):
    """A bad option or combination of options: exit status 2."""


# -- option types: each error names the value; argparse adds the flag --------
def _number(text, kind):
    try:
        return kind(text)
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None


def _checked(text, kind, ok, words):
    """``text`` as ``kind`` if ``ok(value)``; else an error saying it ``must be
    {words}``, quoting the integer or, for a number, the text as given."""
    value = _number(text, kind)
    if not ok(value):
        shown = value if kind is int else repr(text)
        raise argparse.ArgumentTypeError(f"must be {words}, got {shown}")
    return value


def positive_int(text):
    return _checked(text, int, lambda n: n >= 1, "a positive integer")


def nonnegative_int(text):
    return _checked(text, int, lambda n: n >= 0, "an integer >= 0")


def int_at_least(minimum):
    """An argparse type: an integer >= ``minimum``."""

    def check(text):
        return _checked(text, int, lambda n: n >= minimum, f"an integer >= {minimum}")

    check.__name__ = f"int_at_least_{minimum}"
    return check


def positive_float(text):
    return _checked(text, float, lambda x: math.isfinite(x) and x > 0, "a finite number > 0")


def nonnegative_float(text):
    return _checked(text, float, lambda x: math.isfinite(x) and x >= 0, "a finite number >= 0")


def probability(text):
    x = _number(text, float)
    if not 0 < x <= 1:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1], got {text!r}")
    return x


def threads(text):
    n = _number(text, int)
    if n < 1 and n != -1:
        raise argparse.ArgumentTypeError(f"must be a positive integer or -1 (every core), got {n}")
    return n


def int_list(text):
    values = []
    for v in text.replace(" ", "").split(","):
        if not v:  # "8,,1" is a typo, not [8, 1]
            raise argparse.ArgumentTypeError(
                f"empty entry in {text!r}: expected comma-separated integers such as 8,32,1"
            )
        try:
            values.append(int(v))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated integers, got {text!r}"
            ) from None
    if len(values) < 2 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"need at least two positive sizes, got {text!r}")
    return values
