"""Every option honoured or refused on every callable path (issue 12):
check_grad, check_vjp and gradient_check on an object with a cost method.

The function is a cubic, so the numerical gradient at step ε has the closed
form 3θ² + ε² (central difference of θ³); that is the independent reference
that shows ε (and the checked coordinates) are really the ones used.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fastgrad import GradientCheckError, check_grad, check_vjp, gradient_check

r = np.random.default_rng(0)
THETA = {"a": r.standard_normal((3, 2)), "b": r.standard_normal((4, 1))}
U = r.standard_normal(10)  # the VJP's upstream, over a's 6 and b's 4 outputs


class Cubic:
    """A user's model: J = Σ a³ + Σ b³ (X, Y unused)."""

    def cost(self, p, X, Y):
        return float(np.sum(p["a"] ** 3) + np.sum(p["b"] ** 3))


def cubes(a, b):
    return np.concatenate([(a**3).ravel(), (b**3).ravel()])


def run(path, wrong=False, **opts):
    """The check on ``path``; ``wrong`` doubles the gradient of ``b``."""
    g = {k: 3 * v**2 for k, v in THETA.items()}
    if path == "check_vjp":
        g = {"a": g["a"] * U[:6].reshape(3, 2), "b": g["b"] * U[6:].reshape(4, 1)}
    if wrong:
        g["b"] = 2 * g["b"]
    if path == "check_grad":
        return check_grad(lambda t: float(np.sum(t["a"] ** 3) + np.sum(t["b"] ** 3)), THETA, g, **opts)
    if path == "check_vjp":
        return check_vjp(cubes, THETA, g, U, **opts)
    grads = {"d" + k: v for k, v in g.items()}
    return gradient_check(Cubic(), THETA, grads, np.zeros((1, 1)), np.zeros((1, 1)), **opts)


PATHS = ["check_grad", "check_vjp", "gradient_check"]


def key(path, name):
    return "d" + name if path == "gradient_check" else name


@pytest.mark.parametrize("path", PATHS)
def test_epsilon_is_the_step_taken(path):
    rep = run(path, epsilon=1e-3, progress=False)
    assert rep.epsilon == 1e-3
    for name, v in THETA.items():
        ref = 3 * v**2 + 1e-6  # ((θ+ε)³ − (θ−ε)³) / 2ε
        if path == "check_vjp":
            ref = ref * (U[:6].reshape(3, 2) if name == "a" else U[6:].reshape(4, 1))
        np.testing.assert_allclose(rep.numerical[key(path, name)], ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("path", ["check_grad", "gradient_check"])
def test_sampled_mode_k_and_seed(path):
    a = run(path, mode="sampled", k=2, seed=4)
    b = run(path, mode="sampled", k=2, seed=4)
    assert a.n_checked == 4 and a.mode == "sampled" and a.verdict == "great"
    for name in THETA:
        k = key(path, name)
        np.testing.assert_array_equal(np.isnan(a.numerical[k]), np.isnan(b.numerical[k]))
    picks = {tuple(np.isnan(run(path, mode="sampled", k=2, seed=s).numerical[key(path, "a")]).ravel()) for s in range(6)}
    assert len(picks) > 1  # the seed chooses the coordinates


@pytest.mark.parametrize("path", ["check_grad", "gradient_check"])
def test_directional_mode_k_seed_and_workers(path):
    rep = run(path, mode="directional", k=4, seed=1)
    assert rep.mode == "directional" and rep.verdict == "great"
    assert all(len(v[0]) == 4 for v in rep.directions.values())
    bad = run(path, wrong=True, mode="directional", k=4, seed=1)
    assert bad.verdict == "bug" and any(f"{key(path, 'b')} failed along" in h for h in bad.hints)
    with ThreadPoolExecutor(2) as ex:
        par = run(path, wrong=True, mode="directional", k=4, seed=1, workers=ex)
    assert "workers: ThreadPoolExecutor" in str(par)
    for k, (num, ana, _) in bad.directions.items():
        assert par.directions[k][0].tobytes() == num.tobytes()
        assert par.directions[k][1].tobytes() == ana.tobytes()
    for k in bad.numerical:
        assert par.numerical[k].tobytes() == bad.numerical[k].tobytes()


def test_check_vjp_has_no_modes():
    with pytest.raises(TypeError, match="mode"):
        run("check_vjp", mode="sampled")


@pytest.mark.parametrize("path", PATHS)
def test_workers_executor_equals_serial_to_the_bit(path):
    serial = run(path, wrong=True)
    with ThreadPoolExecutor(2) as ex:
        par = run(path, wrong=True, workers=ex)
    assert "workers: ThreadPoolExecutor (2 workers)" in str(par)
    for k in serial.numerical:
        assert par.numerical[k].tobytes() == serial.numerical[k].tobytes()
    assert par.difference == serial.difference and par.hints == serial.hints


@pytest.mark.parametrize("path", PATHS)
def test_thresholds_and_raise_on_failure(path):
    assert run(path).verdict == "great"
    rep = run(path, thresholds=(1e-30, 1e-29))
    assert rep.thresholds == (1e-30, 1e-29) and rep.verdict == "bug"
    with pytest.raises(GradientCheckError):
        run(path, wrong=True, raise_on_failure=True)
    run(path, raise_on_failure=True)  # a correct gradient does not raise


@pytest.mark.parametrize("path", PATHS)
def test_progress(path, capsys):
    run(path, progress=False)
    assert capsys.readouterr().err == ""
    run(path, progress=True)
    assert "fastgrad" in capsys.readouterr().err


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "kw,exc,word",
    [
        ({"epsilon": 0.0}, ValueError, "epsilon"),
        ({"epsilon": "1e-7"}, TypeError, "epsilon"),
        ({"workers": 0}, ValueError, "workers"),
        ({"workers": 2.0}, TypeError, "workers"),
        ({"thresholds": (1e-3, 1e-6)}, ValueError, "thresholds"),
        ({"thresholds": "tight"}, TypeError, "thresholds"),
        ({"progress": "yes"}, TypeError, "progress"),
        ({"raise_on_failure": 1}, TypeError, "raise_on_failure"),
        ({"seed": "1"}, TypeError, "seed"),
    ],
)
def test_bad_values_are_refused_naming_the_option(path, kw, exc, word):
    with pytest.raises(exc, match=word):
        run(path, **kw)


@pytest.mark.parametrize("path", ["check_grad", "gradient_check"])
@pytest.mark.parametrize(
    "kw,exc,word",
    [
        ({"mode": "fast"}, ValueError, "mode"),
        ({"mode": "sampled", "k": 0}, ValueError, "k"),
        ({"mode": "directional", "k": 1.5}, TypeError, "k"),
    ],
)
def test_bad_modes_are_refused(path, kw, exc, word):
    with pytest.raises(exc, match=word):
        run(path, **kw)


@pytest.mark.parametrize("kw,exc", [({"dropout": False}, ValueError), ({"n_threads": 0}, ValueError)])
def test_gradient_check_only_options(kw, exc):
    with pytest.raises(exc, match=next(iter(kw))[:7]):
        run("gradient_check", **kw)
    assert run("gradient_check", n_threads=2).n_threads == 1  # honoured: the cost is Python, one thread
