"""The init demo: it runs at short settings, prints its table, and shows the
course's result (zeros stay symmetric, random x10 starts huge, He learns)."""
import re
from pathlib import Path

import numpy as np
import pytest

import fastgrad.demos as demos
from fastgrad.demos import init as init_demo


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def init_result():
    # 1,500 steps of 0.1 follow roughly the same path as the demo's 15,000 of 0.01.
    return init_demo.compare_initializations(iterations=1500, learning_rate=0.1, seed=4)


def test_init_demo_reproduces_the_course(init_result):
    runs = init_result["runs"]
    Y_train = init_result["data"]["train"][1]
    Y_test = init_result["data"]["test"][1]
    zeros, big, he = runs["zeros"], runs["random x10"], runs["he"]
    # Zeros: symmetry never broken, cost ln 2, one class predicted.
    np.testing.assert_allclose(zeros["costs"], np.log(2), rtol=1e-12)
    assert zeros["train_accuracy"] == pytest.approx(np.mean(Y_train == 0))
    assert zeros["test_accuracy"] == pytest.approx(np.mean(Y_test == 0))
    assert zeros["train_accuracy"] == 0.5
    for l in (1, 2):
        W = zeros["params"][f"W{l}"]
        np.testing.assert_array_equal(W, np.broadcast_to(W[:1], W.shape))
    # random x10: a huge first cost; He: far better at the end.
    assert big["costs"][0] > 100 * he["costs"][0]
    assert he["train_accuracy"] >= 0.95 and he["test_accuracy"] >= 0.9
    assert he["train_accuracy"] - big["train_accuracy"] >= 0.15
    assert he["final_cost"] < big["final_cost"]
    # Accuracies are what predict gives, computed independently here.
    model = init_result["model"]
    X_test = init_result["data"]["test"][0]
    A = model.forward(he["params"], X_test)
    assert he["test_accuracy"] == pytest.approx(np.mean((A > 0.5) == Y_test))


def test_init_demo_is_reproducible(init_result):
    again = init_demo.compare_initializations(iterations=10, learning_rate=0.1, seed=4)
    for label in ("random x10", "he"):
        for k, v in again["runs"][label]["initial_params"].items():
            np.testing.assert_array_equal(v, init_result["runs"][label]["initial_params"][k])


def test_init_demo_cli_prints_tables(capsys, tmp_path):
    png = tmp_path / "init.png"
    assert demos.main(["init", "--iterations", "300", "--learning-rate", "0.1", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "train acc" in out and "test acc" in out
    assert "cost: zeros" in out and "300 (final)" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_readme_table_is_what_the_demo_gives():
    # the README's table of `fastgrad demo init` (default settings), parsed
    # from the README, against a run of the demo at those settings
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("`fastgrad demo init` reruns the course's experiment")[1]
    rows = re.findall(r"^\| (zeros|random × 10|He) +\| ([^|]+)\| ([^|]+)\| ([^|]+)\| ([^|]+)\|",
                      section, flags=re.M)
    assert [r[0] for r in rows] == ["zeros", "random × 10", "He"]
    runs = init_demo.compare_initializations()["runs"]
    for (label, train, test, first, last), key in zip(rows, ("zeros", "random x10", "he")):
        run = runs[key]
        assert f"{100 * run['train_accuracy']:.1f} %" == train.strip(), label
        assert f"{100 * run['test_accuracy']:.1f} %" == test.strip(), label
        assert f"{run['costs'][0]:.4g}" == first.strip(), label
        assert f"{run['final_cost']:.4f}" == last.strip(), label
