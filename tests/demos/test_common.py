"""What the demos share: the registry that finds them (demos/__init__) and the
plot helper's clear error without matplotlib (demos/_common)."""
import sys

import fastgrad.demos as demos
from fastgrad.demos import depth as depth_demo
from fastgrad.demos import init as init_demo
from fastgrad.demos import normalize as normalize_demo


def test_registry_finds_the_three_demos():
    found = demos.available()
    for name, module in (("init", init_demo), ("depth", depth_demo), ("normalize", normalize_demo)):
        assert found[name] is module
        assert module.HELP and callable(module.add_arguments) and callable(module.run)


def test_plot_without_matplotlib_is_a_clear_error(monkeypatch, capsys, tmp_path):
    for mod in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, mod, None)
    for name in ("init", "depth", "normalize"):
        assert demos.main([name, "--plot", str(tmp_path / "x.png")]) == 2
        err = capsys.readouterr().err
        assert "matplotlib" in err and "pip install" in err
    assert not (tmp_path / "x.png").exists()


def test_plot_to_a_path_that_cannot_be_written_fails_before_the_demo_runs(capsys, tmp_path,
                                                                          monkeypatch):
    ran = []
    monkeypatch.setattr(init_demo, "compare_initializations", lambda *a, **k: ran.append(1))
    cases = [
        (tmp_path / "missing" / "x.png", "does not exist"),
        (tmp_path / "x.notaformat", "cannot write .notaformat"),
        (tmp_path, "is a folder"),
    ]
    for path, words in cases:
        assert demos.main(["init", "--plot", str(path)]) == 2
        err = capsys.readouterr().err
        assert "--plot" in err and words in err, err
    assert not ran


def test_seed_and_plot_options():
    import argparse

    import pytest

    from fastgrad.demos._common import PLOT_HELP, add_seed_and_plot

    parser = argparse.ArgumentParser(prog="d")
    add_seed_and_plot(parser, 4, "seed for the data")
    args = parser.parse_args([])
    assert args.seed == 4 and args.plot is None
    assert parser.parse_args(["--seed", "0", "--plot", "a.png"]).plot == "a.png"
    helps = {a.dest: a.help for a in parser._actions}
    assert helps["seed"] == "seed for the data (4)" and helps["plot"] == PLOT_HELP
    with pytest.raises(SystemExit):
        parser.parse_args(["--seed", "-1"])
