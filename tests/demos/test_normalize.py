"""The normalize demo: gradient descent on elongated data with and without
normalization, its closed form against the training, and its command."""
import numpy as np
import pytest

import fastgrad.demos as demos
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
