"""The init, depth and normalize demos: each runs at short settings, prints
its table, and shows the course's qualitative result; --plot writes a PNG or
fails clearly without matplotlib."""
import sys

import numpy as np
import pytest

import fastgrad.demos as demos
from fastgrad.demos import depth as depth_demo
from fastgrad.demos import init as init_demo
from fastgrad.demos import normalize as normalize_demo


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


class ReferenceNormalizer:
    """The documented interface in plain NumPy: course layout (n_x, m),
    statistics from the training set, divide by σ (not σ²)."""

    def fit_transform(self, X):
        self.mean_ = X.mean(axis=1, keepdims=True)
        self.scale_ = X.std(axis=1, keepdims=True)
        return (X - self.mean_) / self.scale_


def normalizer():
    """fastgrad's Normalizer when this branch has it, else the reference."""
    try:
        from fastgrad.normalize.normalizer import Normalizer
    except ImportError:
        return ReferenceNormalizer()
    return Normalizer(sample_axis=1)


def test_registry_finds_the_three_demos():
    found = demos.available()
    for name, module in (("init", init_demo), ("depth", depth_demo), ("normalize", normalize_demo)):
        assert found[name] is module
        assert module.HELP and callable(module.add_arguments) and callable(module.run)


# -- init ----------------------------------------------------------------------
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


def test_plot_without_matplotlib_is_a_clear_error(monkeypatch, capsys, tmp_path):
    for mod in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, mod, None)
    for name in ("init", "depth", "normalize"):
        assert demos.main([name, "--plot", str(tmp_path / "x.png")]) == 2
        err = capsys.readouterr().err
        assert "matplotlib" in err and "pip install" in err
    assert not (tmp_path / "x.png").exists()


# -- depth ---------------------------------------------------------------------
def test_depth_demo_verdicts():
    L = 20
    result = depth_demo.depth_profile(depth=L, width=40, m=100, seed=0)
    assert set(result["zeros (relu)"].verdicts) == {"vanishing"}
    assert not result["zeros (relu)"].forward_scales.any()
    assert set(result["random N(0,1) (relu)"].verdicts) == {"exploding"}
    # Xavier under ReLU halves Var(Z) per layer: rms × 1/sqrt(2) per layer.
    xr = result["xavier (relu)"]
    slope = np.polyfit(np.arange(1, L), np.log10(xr.forward_scales[:-1]), 1)[0]
    assert slope == pytest.approx(np.log10(np.sqrt(0.5)), abs=0.05)
    assert xr.verdicts[-2] == "vanishing" and xr.verdicts[0] == "vanishing"   # signal / gradient
    assert result["he (relu)"].healthy
    for w in (0.5, 1.5):
        d = result[f"{w}*I (linear)"]
        np.testing.assert_allclose(d.forward_scales, [w ** l for l in range(1, L)] + [w ** (L - 1)], rtol=1e-12)
        np.testing.assert_allclose(d.backward_scales, [w ** (L - 1 - l) for l in range(1, L)] + [1.0],
                                   rtol=1e-10)


def test_depth_demo_cli(capsys, tmp_path):
    png = tmp_path / "depth.png"
    assert demos.main(["depth", "--depth", "12", "--width", "20", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "he (relu)" in out and "layer 12" in out and "1.5*I (linear)" in out
    assert png.stat().st_size > 0


# -- normalize -------------------------------------------------------------------
@pytest.fixture(scope="module")
def norm_result():
    return normalize_demo.compare_normalization(m=200, seed=0, max_iterations=2000,
                                                probe_iterations=200, normalizer=normalizer())


def test_normalize_demo_round_bowl(norm_result):
    raw, norm = norm_result["runs"]["raw"], norm_result["runs"]["normalized"]
    # The measured edge of stability agrees with 2/λ_max of the Hessian,
    # computed here independently.
    for r, X in ((raw, raw["X"]), (norm, norm["X"])):
        A = np.vstack([X, np.ones((1, X.shape[1]))])
        lam = np.linalg.eigvalsh(A @ A.T / X.shape[1])
        assert r["lr_theory"] == pytest.approx(2 / lam.max(), rel=1e-10)
        assert r["condition"] == pytest.approx(lam.max() / lam.min(), rel=1e-6)
        # Found by bisection to within 0.06%, and never on the unstable side.
        assert 0.99 * (2 / lam.max()) <= r["lr_max"] <= 1.001 * (2 / lam.max())
    assert norm["lr_max"] / raw["lr_max"] > 1e4
    assert raw["condition"] > 1e5 and norm["condition"] < 3
    assert norm["reached"] and norm["iterations"] <= 5
    assert not raw["reached"] and raw["predicted_iterations"] > 100 * norm_result["max_iterations"]
    assert norm["predicted_iterations"] == norm["iterations"]


def test_normalize_closed_form_matches_training(norm_result):
    """The closed form the demo extrapolates with is what the trainer does."""
    raw = norm_result["runs"]["raw"]
    X, lr = raw["X"], raw["lr"]
    Y = normalize_demo.make_elongated(200, seed=0)[1]
    A = np.vstack([X, np.ones((1, 200))])
    theta = np.linalg.lstsq(A.T, Y.ravel().astype(float), rcond=None)[0]
    H = A @ A.T / 200
    e = -theta
    for k in range(0, 2000, 250):
        predicted = norm_result["optimum"] + 0.5 * e @ H @ e
        assert raw["costs"][k] == pytest.approx(predicted, rel=1e-6)
        for _ in range(250):
            e = e - lr * (H @ e)


def test_normalize_demo_cli(capsys, tmp_path, monkeypatch):
    made = []
    real = normalize_demo.compare_normalization

    def fake_compare(**kwargs):
        made.append(kwargs)
        return real(m=150, seed=kwargs["seed"], max_iterations=500,
                                                    probe_iterations=150, normalizer=normalizer())

    monkeypatch.setattr(normalize_demo, "compare_normalization", fake_compare)
    png = tmp_path / "norm.png"
    assert demos.main(["normalize", "--seed", "3", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "largest stable lr" in out and "iterations to target" in out and "normalized" in out
    assert made[0]["seed"] == 3 and png.stat().st_size > 0
