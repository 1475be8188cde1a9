"""fastgrad._argtypes: the command-line option types shared by the CLI and
the demos turn strings into checked values, and their errors name the value."""
import argparse

import pytest

from fastgrad import _argtypes as t


@pytest.mark.parametrize("fn, text, value", [
    (t.positive_int, "3", 3),
    (t.nonnegative_int, "0", 0),
    (t.int_at_least(2), "2", 2),
    (t.positive_float, "1e-3", 0.001),
    (t.nonnegative_float, "0", 0.0),
    (t.probability, "1", 1.0),
    (t.probability, "0.25", 0.25),
    (t.threads, "-1", -1),
    (t.threads, "4", 4),
    (t.int_list, "2, 8,1", [2, 8, 1]),
])
def test_good_values(fn, text, value):
    assert fn(text) == value


@pytest.mark.parametrize("fn, text, message", [
    (t.positive_int, "0", "must be a positive integer, got 0"),
    (t.positive_int, "1.5", "expected an integer, got '1.5'"),
    (t.nonnegative_int, "-1", "must be an integer >= 0, got -1"),
    (t.int_at_least(2), "1", "must be an integer >= 2, got 1"),
    (t.positive_float, "0", "must be a finite number > 0, got '0'"),
    (t.positive_float, "inf", "must be a finite number > 0, got 'inf'"),
    (t.positive_float, "x", "expected a number, got 'x'"),
    (t.nonnegative_float, "nan", "must be a finite number >= 0, got 'nan'"),
    (t.probability, "0", "must lie in (0, 1], got '0'"),
    (t.threads, "0", "must be a positive integer or -1 (every core), got 0"),
    (t.int_list, "3", "need at least two positive sizes, got '3'"),
    (t.int_list, "3,0", "need at least two positive sizes, got '3,0'"),
    (t.int_list, "3,a", "expected comma-separated integers, got '3,a'"),
])
def test_bad_values_raise_argparse_errors_naming_the_value(fn, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as info:
        fn(text)
    assert str(info.value) == message


def test_argparse_adds_the_flag(capsys):
    parser = argparse.ArgumentParser(prog="p")
    parser.add_argument("--epochs", type=t.nonnegative_int)
    with pytest.raises(SystemExit):
        parser.parse_args(["--epochs", "-2"])
    assert "argument --epochs: must be an integer >= 0, got -2" in capsys.readouterr().err
    assert t.int_at_least(5).__name__ == "int_at_least_5"


def test_usage_error_is_an_exception():
    assert issubclass(t.UsageError, Exception)
