"""`fastgrad demo regularize` end to end, with short settings."""
import re

import numpy as np

import fastgrad.demos as demos
from fastgrad.datasets import make_moons
from fastgrad.demos.regularize import N_TRAIN, NOISE, compare_regularization


def test_registered():
    assert "regularize" in demos.available()


def test_regularization_trades_train_for_test_accuracy():
    X, Y = make_moons(1200, noise=NOISE, seed=2)
    r = compare_regularization(X[:, :N_TRAIN], Y[:, :N_TRAIN], X[:, N_TRAIN:], Y[:, N_TRAIN:],
                               epochs=1500, seed=2)
    assert all(v["check"].verdict == "great" for v in r.values())
    # Unregularized fits the small training set best and generalizes worst.
    assert r["none"]["train"] >= max(r["l2"]["train"], r["dropout"]["train"])
    assert r["none"]["test"] < min(r["l2"]["test"], r["dropout"]["test"])
    # L2 shrinks the weights.
    w = {k: sum(np.sum(v["result"].params[f"W{l}"] ** 2) for l in (1, 2, 3)) for k, v in r.items()}
    assert w["l2"] < w["none"]


def test_cli_prints_the_table(capsys, tmp_path):
    png = tmp_path / "regularize.png"
    rc = demos.main(["regularize", "--epochs", "20", "--plot", str(png)])
    out = capsys.readouterr().out
    assert rc == 0
    for label in ("No regularization", "L2, lambda=0.7", "Dropout, keep_prob=0.7"):
        line = next(l for l in out.splitlines() if l.startswith(label))
        assert "(great)" in line
        assert len(re.findall(r"\d+\.\d%", line)) == 2
    assert png.stat().st_size > 0
