"""Exit statuses and error lines of the ``fastgrad`` command.

0: the check passed; 1: the check found a problem (and nothing else); 2: any
error, reported as ONE line on stderr naming the option at fault: bad values,
bad combinations, a problem too large for memory, an internal error.
"""
import fastgrad_tests_corpus as C  # tests/_corpus.py, registered by conftest.py

import argparse
import os
import subprocess
import sys

import pytest

import fastgrad
from fastgrad import cli
from fastgrad.cli import build_parser, main

# Children run from tests/, never from the checkout root, whose fastgrad/ has no
# compiled extensions in a non-editable install (it would shadow the installed one).
HERE = os.path.dirname(os.path.abspath(__file__))


def _one_error_line(capsys):
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize("argv, flag", [
    (["check", "--seed", "-1"], "--seed"),
    (["check", "--seed", "x"], "--seed"),
    (["check", "--seed", "1.5"], "--seed"),
    (["check", "--threads", "0"], "--threads"),
    (["check", "--threads", "-2"], "--threads"),
    (["check", "--threads", "two"], "--threads"),
    (["check", "--mode", "sampled", "-k", "0"], "-k"),
    (["check", "-k", "3"], "-k"),                        # -k without a sampled/directional mode
    (["check", "--examples", "0"], "--examples"),
    (["check", "-m", "-5"], "--examples"),
    (["check", "--epsilon", "0"], "--epsilon"),
    (["check", "--epsilon", "nan"], "--epsilon"),
    (["check", "--epsilon", "inf"], "--epsilon"),
    (["check", "--epsilon", "-1e-7"], "--epsilon"),
    (["check", "--l2", "-1"], "--l2"),
    (["check", "--l2", "nan"], "--l2"),
    (["check", "--keep-prob", "0"], "--keep-prob"),
    (["check", "--keep-prob", "1.5"], "--keep-prob"),
    (["check", "--keep-prob", "nan"], "--keep-prob"),
    (["check", "--keep-prob", "0.5", "--layers", "3,1"], "--keep-prob"),
    (["check", "--hidden", "swish"], "--hidden"),
    (["check", "--hidden", ""], "--hidden"),
    (["check", "--hidden", "relu,tanh,relu"], "--hidden"),
    (["check", "--batchnorm", "3"], "--batchnorm"),
    (["check", "--batchnorm", "0"], "--batchnorm"),
    (["check", "--batchnorm", "1,1"], "--batchnorm"),
    (["check", "--batchnorm", "x"], "--batchnorm"),
    (["check", "--layers", "x"], "--layers"),
    (["check", "--layers", "3"], "--layers"),
    (["check", "--layers", "3,0,1"], "--layers"),
    (["check", "--output", "softmax", "--layers", "3,4,1"], "--output softmax"),
    (["check", "--output", "tanh"], "--output"),
    (["check", "--mode", "fast"], "--mode"),
    (["check", "--fixed"], "--fixed"),
    (["check", "--course", "--layers", "3,3,1"], "--layers"),
    (["check", "--course", "--examples", "5"], "--examples"),
    (["check", "--course", "--hidden", "tanh"], "--hidden"),
    (["check", "--course", "--output", "linear"], "--output"),
    (["check", "--course", "--l2", "0.1"], "--l2"),
    (["check", "--course", "--keep-prob", "0.5"], "--keep-prob"),
    (["check", "--course", "--batchnorm", "1"], "--batchnorm"),
    (["check", "--bug", "transpose:W2"], "--bug"),
    (["check", "--bug", "scale:W2:nan"], "--bug"),
    (["check", "--bug", "scale:W2:x"], "--bug"),
    (["check", "--bug", "sign:W2:3"], "--bug"),
    (["check", "--bug", "drop-l2:W1"], "--bug"),
    (["check", "--bug", "scale:W9"], "--bug"),
    (["check", "--layers", "1,4000000000,1"], "--layers"),
    (["check", "--layers", "1000,1000,1", "--examples", "100000000000"], "--examples"),
    (["demo", "depth", "--depth", "0"], "--depth"),
    (["demo", "depth", "--width", "-1"], "--width"),
    (["demo", "init", "--learning-rate", "0"], "--learning-rate"),
    (["demo", "init", "--iterations", "-5"], "--iterations"),
    (["demo", "init", "--seed", "-1"], "--seed"),
    (["demo", "normalize", "--m", "0"], "--m"),
    (["demo", "optimizers", "--batch-size", "0"], "--batch-size"),
    (["demo", "optimizers", "--print-every", "0"], "--print-every"),
    (["demo", "regularize", "--epochs", "-1"], "--epochs"),
    (["demo", "regularize", "--learning-rate", "nan"], "--learning-rate"),
    (["check", "--layers", "8,,1"], "--layers"),  # a typo, not [8, 1]
    (["check", "--layers", "8,32,"], "--layers"),
    (["check", "--epsilon", "-1e-7"], "--epsilon"),  # argparse took it for an option
    (["check", "--epsilon", "-inf"], "--epsilon"),
    ([], "COMMAND"),
])
def test_bad_options_exit_2_with_one_line_naming_the_flag(capsys, argv, flag):
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert line.startswith("fastgrad") and "error:" in line
    assert flag in line, line


def test_explanations(capsys):
    assert main(["check", "--bug", "transpose:W2"]) == 2
    assert "square" in _one_error_line(capsys)
    assert main(["check", "--layers", "8,16,16,1", "--bug", "transpose:W3"]) == 2
    assert "W2" in _one_error_line(capsys)          # names the square block there is
    assert main(["check", "--fixed"]) == 2
    assert "--course" in _one_error_line(capsys)
    assert main(["check", "--course", "--layers", "3,3,1", "-m", "3"]) == 2
    line = _one_error_line(capsys)
    assert "--course" in line and "--layers" in line and "--examples" in line


def test_softmax_on_the_default_network_gets_a_multi_unit_output(capsys):
    assert main(["check", "--output", "softmax", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "MLP([8, 32, 16, 3], hidden='relu', output='softmax'" in out


def test_transpose_bug_on_a_square_block_is_found(capsys):
    assert main(["check", "--layers", "8,16,16,1", "--bug", "transpose:W2", "--threads", "1"]) == 1
    assert "BUG" in capsys.readouterr().out


def test_too_large_is_refused_before_allocating_with_the_estimate(capsys, monkeypatch):
    monkeypatch.setattr(cli.ac, "available_memory", lambda: 8 * 2**30)
    calls = []
    monkeypatch.setattr(fastgrad, "MLP", lambda *a, **k: calls.append(a))
    assert main(["check", "--layers", "1,4000000000,1"]) == 2
    line = _one_error_line(capsys)
    assert "too large" in line and "12,000,000,001 parameters" in line
    assert "GiB" in line and "8.0 GiB available" in line
    assert calls == []  # refused before building anything


def test_memory_error_inside_the_check_is_exit_2(capsys, monkeypatch):
    def fail(*args, **kwargs):
        raise MemoryError("Unable to allocate 80.0 GiB for the scratch")

    monkeypatch.setattr(fastgrad, "gradient_check", fail)
    assert main(["check"]) == 2
    line = _one_error_line(capsys)
    assert "out of memory" in line and "80.0 GiB" in line and "too large" in line


def test_memory_error_without_message(capsys, monkeypatch):
    def fail(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(fastgrad, "gradient_check", fail)
    assert main(["check"]) == 2
    assert "out of memory (MemoryError)" in _one_error_line(capsys)


def test_internal_error_is_exit_2_not_1(capsys, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("something broke\nacross lines")

    monkeypatch.setattr(fastgrad, "gradient_check", fail)
    monkeypatch.delenv("FASTGRAD_TRACEBACK", raising=False)
    assert main(["check"]) == 2
    line = _one_error_line(capsys)
    assert "internal error: RuntimeError: something broke across lines" in line
    assert "FASTGRAD_TRACEBACK=1" in line
    monkeypatch.setenv("FASTGRAD_TRACEBACK", "1")
    with pytest.raises(RuntimeError, match="something broke"):
        main(["check"])


def test_keyboard_interrupt_is_130(capsys, monkeypatch):
    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fastgrad, "gradient_check", stop)
    assert main(["check"]) == 130
    assert _one_error_line(capsys) == "fastgrad: interrupted"


def test_exit_1_only_when_the_check_finds_a_problem(capsys):
    assert main(["check", "--threads", "1"]) == 0
    assert main(["check", "--threads", "1", "--bug", "sign:b2"]) == 1
    assert main(["check", "--course"]) == 1
    assert main(["check", "--course", "--fixed"]) == 0
    capsys.readouterr()


def test_help_exits_0(capsys):
    assert main(["check", "--help"]) == 0
    assert "usage: fastgrad check" in capsys.readouterr().out


def _subparser(parser, name):
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def test_every_check_option_has_help_with_its_default():
    check = _subparser(build_parser(), "check")
    for action in check._actions:
        if not action.option_strings or isinstance(action, (argparse._HelpAction,
                                                            argparse._StoreTrueAction)):
            continue
        assert action.help, action.option_strings
        text = action.help % dict(vars(action), prog=check.prog)  # as --help shows it
        assert "default:" in text, action.option_strings
        if action.default not in (None, [], False):
            shown = f"{action.default:g}" if isinstance(action.default, float) else action.default
            assert f"default: {shown}" in text, action.option_strings


def test_every_demo_option_shows_its_default():
    demo = _subparser(build_parser(), "demo")
    demos = next(a for a in demo._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in demos.choices.items():
        for action in parser._actions:
            if not action.option_strings or action.default in (None, False) or isinstance(
                    action, argparse._HelpAction):
                continue
            assert action.help and f"{action.default:g}" in action.help, (name, action.dest)


def test_the_real_command_one_line_no_traceback():
    env = {k: v for k, v in os.environ.items() if k != "FASTGRAD_TRACEBACK"}
    proc = subprocess.run([sys.executable, "-m", "fastgrad", "check", "--layers", "1,4000000000,1"],
                          capture_output=True, text=True, timeout=120, env=env,
                          cwd=HERE)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--layers" in lines[0] and "Traceback" not in proc.stderr



@pytest.mark.parametrize("argv, status", [(["check", "--course"], 1),
                                          (["check", "--course", "--fixed"], 0)])
def test_closed_stdout_keeps_the_verdict_and_is_quiet(capsys, monkeypatch, argv, status):
    monkeypatch.setattr(sys, "stdout", C.ClosedPipe())
    assert main(argv) == status
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("message, line", [
    ("n_threads must be at most 2 here, got 4000", "fastgrad: error: --threads must be at most 2 here, got 4000"),
    ("epsilon is too large for float64", "fastgrad: error: --epsilon is too large for float64"),
    ("k must be a positive int, got 0", "fastgrad: error: -k must be a positive int, got 0"),
    ("kinks are not allowed", "fastgrad: error: kinks are not allowed"),   # a word, not the argument k
])
def test_library_errors_are_reported_with_the_flag(capsys, monkeypatch, message, line):
    def fail(*args, **kwargs):
        raise ValueError(message)

    monkeypatch.setattr(fastgrad, "gradient_check", fail)
    assert main(["check"]) == 2
    assert _one_error_line(capsys) == line


# -- a command that checks its own input: its ValueError/TypeError is a bug ----
def _npy(tmp_path):
    import numpy as np

    path = tmp_path / "x.npy"
    np.save(path, np.ones((5, 2)))
    return str(path)


@pytest.mark.parametrize("exc_type", [TypeError, KeyError, RuntimeError])
def test_a_bug_in_normalize_stats_is_an_internal_error(tmp_path, capsys, monkeypatch, exc_type):
    def bug(self, *args, **kwargs):
        raise exc_type("unsupported format string passed to numpy.ndarray.__format__")

    monkeypatch.setattr(fastgrad.Normalizer, "partial_fit", bug)
    argv = ["normalize-stats", _npy(tmp_path), "--no-progress"]
    monkeypatch.delenv("FASTGRAD_TRACEBACK", raising=False)
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"fastgrad: internal error: {exc_type.__name__}: "), line
    assert "unsupported format string" in line and "please report it" in line
    monkeypatch.setenv("FASTGRAD_TRACEBACK", "1")
    with pytest.raises(exc_type, match="unsupported format string"):
        main(argv)


def test_a_bug_after_the_fit_is_an_internal_error_with_its_traceback(tmp_path, capsys,
                                                                      monkeypatch):
    # The trial's case: a TypeError from the summary of good input.
    from fastgrad.cli import normalize_stats

    def bug(*args, **kwargs):
        raise TypeError("unsupported format string passed to numpy.ndarray.__format__")

    monkeypatch.setattr(normalize_stats, "_summary", bug)
    monkeypatch.setenv("FASTGRAD_TRACEBACK", "1")
    with pytest.raises(TypeError, match="unsupported format string"):
        main(["normalize-stats", _npy(tmp_path), "--no-progress"])


def test_normalize_stats_input_errors_stay_one_line_under_traceback(tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.setenv("FASTGRAD_TRACEBACK", "1")
    assert main(["normalize-stats", str(tmp_path / "missing.npy")]) == 2
    assert "PATH" in _one_error_line(capsys)
    assert main(["normalize-stats", _npy(tmp_path), "-o", str(tmp_path / "no" / "x.npz")]) == 2
    assert "-o" in _one_error_line(capsys)


@pytest.mark.parametrize("argv, prog", [
    (["check", "--frobnicate"], "fastgrad check"),
    (["demo", "init", "--frob"], "fastgrad demo init"),
    (["info", "--zz"], "fastgrad info"),
])
def test_an_unknown_option_points_at_its_subcommand_help(capsys, argv, prog):
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert line == f"{prog}: error: unrecognized arguments: {argv[-1]} (see '{prog} --help')"


def test_a_diverging_demo_is_an_error_naming_the_learning_rate_not_internal(capsys):
    argv = ["demo", "regularize", "--learning-rate", "1e6", "--epochs", "50"]
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert line.startswith("fastgrad: error: training diverged"), line
    assert "--learning-rate" in line and "internal" not in line


def test_an_unwritable_file_is_an_error_not_internal(capsys, monkeypatch, tmp_path):
    from fastgrad import demos

    def refuse(args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "x.png"))

    monkeypatch.setattr(demos.available()["numerical"], "run", refuse)
    assert main(["demo", "numerical"]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("fastgrad: error:") and "Permission denied" in line, line
