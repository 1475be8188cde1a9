"""check_grad on float32 models (issue 12)."""

import warnings

import numpy as np
import pytest

from fastgrad import check_grad

r = np.random.default_rng(0)
X = r.standard_normal((3, 16)).astype(np.float32)
Y = (r.random((1, 16)) > 0.5).astype(np.float32)


def params32():
    q = np.random.default_rng(1)
    return {
        "W1": (q.standard_normal((4, 3)) * 0.5).astype(np.float32),
        "b1": np.zeros((4, 1), np.float32),
        "W2": (q.standard_normal((1, 4)) * 0.5).astype(np.float32),
        "b2": np.zeros((1, 1), np.float32),
    }


def cost32(p):
    p = {k: np.asarray(v, dtype=np.float32) for k, v in p.items()}  # a float32 model
    A1 = np.tanh(p["W1"] @ X + p["b1"])
    A2 = 1 / (1 + np.exp(-(p["W2"] @ A1 + p["b2"])))
    m = np.float32(X.shape[1])
    return np.sum(-Y * np.log(A2) - (1 - Y) * np.log(1 - A2)) / m  # np.float32


def backprop32(p, bug=None):
    A1 = np.tanh(p["W1"] @ X + p["b1"])
    A2 = 1 / (1 + np.exp(-(p["W2"] @ A1 + p["b2"])))
    m = np.float32(X.shape[1])
    dZ2 = (A2 - Y) / m
    dZ1 = (p["W2"].T @ dZ2) * (1 - A1**2)
    g = {
        "W1": dZ1 @ X.T,
        "b1": dZ1.sum(axis=1, keepdims=True),
        "W2": dZ2 @ A1.T,
        "b2": dZ2.sum(axis=1, keepdims=True),
    }
    if bug == "W1":
        g["W1"] = g["W1"] * np.float32(2)
    if bug == "b2":
        g["b2"] = -g["b2"]
    return g


def ref_difference(p, g, h=np.cbrt(np.finfo(np.float32).eps / 2)):
    """Independent reference: float64 central differences of the float32 model
    at float32 points, step h·max(1,|θ|)."""
    num, ana = [], []
    for k, v in p.items():
        for idx in np.ndindex(v.shape):
            t = float(v[idx])
            s = h * max(1.0, abs(t))
            hi, lo = dict(p), dict(p)
            hi[k], lo[k] = v.copy(), v.copy()
            hi[k][idx], lo[k][idx] = np.float32(t + s), np.float32(t - s)
            num.append(
                (float(cost32(hi)) - float(cost32(lo))) / (float(hi[k][idx]) - float(lo[k][idx]))
            )
            ana.append(float(g[k][idx]))
    num, ana = np.array(num), np.array(ana)
    return np.linalg.norm(num - ana) / (np.linalg.norm(num) + np.linalg.norm(ana))


def test_correct_float32_backprop_is_great_and_states_step_and_floor():
    p = params32()
    before = {k: v.tobytes() for k, v in p.items()}
    g = backprop32(p)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "upcast to float64" warning for float32 models
        rep = check_grad(cost32, p, g)
    assert rep.verdict == "great", str(rep)
    assert rep.thresholds == (1e-3, 1e-2)
    text = str(rep)
    assert "float32 model" in text and "noise floor" in text
    np.testing.assert_allclose(rep.difference, ref_difference(p, g), rtol=1e-6, atol=1e-12)
    # the float64 default would have failed this correct float32 backprop
    # (on a float64 copy of the point: a float32 one is a float32 model)
    g64 = {k: v.astype(float) for k, v in g.items()}
    p64 = {k: v.astype(float) for k, v in p.items()}
    old = check_grad(lambda t: float(cost32(t)), p64, g64)
    assert old.verdict != "great"
    assert {k: v.tobytes() for k, v in p.items()} == before


@pytest.mark.parametrize("bug", ["W1", "b2"])
def test_float32_bug_is_found_in_its_block(bug):
    p = params32()
    rep = check_grad(cost32, p, backprop32(p, bug))
    assert rep.verdict == "bug"
    assert [b.name for b in rep.blocks if b.difference >= 1e-3] == [bug]


def test_float32_grads_alone_select_the_float32_check_and_thresholds_are_honoured():
    p = params32()
    g = backprop32(p)
    rep = check_grad(lambda t: float(cost32(t)), p, g)  # f returns float64, grads float32
    assert "float32 model" in str(rep) and rep.verdict == "great"
    rep = check_grad(cost32, p, g, thresholds=(1e-9, 1e-8))
    assert rep.thresholds == (1e-9, 1e-8) and rep.verdict == "bug"


def test_float32_sampled_and_directional():
    p = params32()
    rep = check_grad(cost32, p, backprop32(p), mode="sampled", k=2, seed=0)
    assert rep.verdict == "great" and rep.n_checked == 2 * 3 + 1
    # directional: float32 steps along each direction (refused before issue 12's follow-up)
    rep = check_grad(cost32, p, backprop32(p), mode="directional", k=3, seed=0)
    assert rep.verdict == "great" and "directions of length" in str(rep)
    rep = check_grad(cost32, p, backprop32(p, bug="W1"), mode="directional", k=3, seed=0)
    assert rep.verdict == "bug" and [b.name for b in rep.blocks if b.difference >= 1e-2] == ["W1"]


def test_float32_relu_kink_is_counted():
    theta = np.array([0.5, 1e-4, -0.3], np.float32)
    w = np.array([1.0, 2.0, -1.5], np.float32)

    def f(t):
        return np.sum(w * np.maximum(np.asarray(t, np.float32), 0))

    rep = check_grad(f, theta, w * (theta > 0))
    assert rep.n_kinks == 1 and rep.verdict == "great"
