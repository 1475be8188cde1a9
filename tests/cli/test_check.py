"""The fastgrad command."""
import json

import pytest

from fastgrad.cli import main


def test_default_check_passes(capsys):
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "GREAT" in out and "dW1" in out


def test_injected_bug_is_found_and_named(capsys):
    assert main(["check", "--bug", "scale:W2:3", "--threads", "1"]) == 1
    out = capsys.readouterr().out
    assert "BUG" in out and "dW2 is 3.00x" in out


def test_course_example(capsys):
    assert main(["check", "--course"]) == 1
    out = capsys.readouterr().out
    assert "db1 is 4.00x" in out and "dW2 is 2.00x" in out
    assert main(["check", "--course", "--fixed"]) == 0


def test_json_and_options(capsys):
    assert main(["check", "--json", "--layers", "3,5,4,3", "--output", "softmax",
                 "--hidden", "tanh,relu", "--l2", "0.1", "--mode", "sampled", "-k", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "great" and data["mode"] == "sampled"
    assert [b["name"] for b in data["blocks"]] == ["dW1", "db1", "dW2", "db2", "dW3", "db3"]


def test_dropout_and_batchnorm_options(capsys):
    assert main(["check", "--json", "--keep-prob", "0.7", "--batchnorm", "2", "--l2", "0.1",
                 "--seed", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "great"
    assert [b["name"] for b in data["blocks"]] == ["dW1", "db1", "dW2", "dgamma2", "dbeta2",
                                                   "dW3", "db3"]
    assert main(["check", "--batchnorm", "all", "--bug", "scale:gamma1:1.5"]) == 1
    assert "dgamma1 is 1.50x" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["check", "--keep-prob", "0"],
    ["check", "--course", "--batchnorm", "1"],
    ["check", "--batchnorm", "3"],
    ["check", "--bug", "nope:W1"],
    ["check", "--bug", "scale:W9"],
    ["check", "--bug", "transpose:W1"],
    ["check", "--bug", "drop-l2:W1"],
    ["check", "--hidden", "swish"],
    ["check", "--epsilon", "0"],
    ["check", "--examples", "0"],
])
def test_bad_options_exit_2_with_one_line(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(("fastgrad: error:", "fastgrad check: error:"))


def test_argparse_errors_exit_2(capsys):
    assert main(["check", "--layers", "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "argument --layers" in err[0]


def test_info(capsys):
    assert main(["info"]) == 0
    assert "OpenMP" in capsys.readouterr().out
