"""Sampled and directional checks: seeded, per block, and they find bugs."""
import numpy as np
import pytest

from fastgrad import MLP, gradient_check

BLOCKS = ["dW1", "db1", "dW2", "db2", "dW3", "db3"]


@pytest.fixture
def setup(ref):
    dims = [6, 9, 7, 2]
    params, X, Y = ref.problem(dims, 12, seed=21)
    model = MLP(dims, hidden="tanh", l2=0.2)
    return model, params, X, Y


def test_sampled_takes_k_from_every_block_and_matches_full(setup):
    model, params, X, Y = setup
    grads = model.backward(params, X, Y)
    full = gradient_check(model, params, grads, X, Y)
    s = gradient_check(model, params, grads, X, Y, mode="sampled", k=3, seed=0)
    for b in s.blocks:
        assert b.n_checked == min(3, int(np.prod(b.shape)))
    for key, arr in s.numerical.items():
        done = ~np.isnan(arr)
        assert done.sum() == min(3, arr.size)
        # A full check may take the Taylor jets where a sampled one propagates
        # (its plan is decided from all its coordinates): equal to rounding.
        np.testing.assert_allclose(arr[done], full.numerical[key][done], rtol=1e-13, atol=1e-17)
    again = gradient_check(model, params, grads, X, Y, mode="sampled", k=3, seed=0)
    for key in s.numerical:
        assert np.array_equal(np.isnan(s.numerical[key]), np.isnan(again.numerical[key]))
    assert s.verdict == "great"


@pytest.mark.parametrize("mode", ["sampled", "directional"])
@pytest.mark.parametrize("block", BLOCKS)
def test_cheap_modes_find_a_bug_in_every_block(setup, mode, block):
    model, params, X, Y = setup
    grads = model.backward(params, X, Y)
    grads[block] = grads[block] * 1.5
    report = gradient_check(model, params, grads, X, Y, mode=mode, k=2, seed=1)
    assert report.verdict == "bug"
    flagged = [b.name for b in report.blocks if b.difference >= 1e-6]
    assert flagged == [block]
    assert any(f"{block} is 1.50x" in h for h in report.hints)


def test_directional_passes_correct_gradients_and_matches_v_dot_grad(setup, ref):
    model, params, X, Y = setup
    grads = model.backward(params, X, Y)
    report = gradient_check(model, params, grads, X, Y, mode="directional", k=4, seed=3)
    assert report.verdict == "great"
    assert report.n_checked == 4 * len(BLOCKS)
    for name, (num, ana, kinks) in report.directions.items():
        assert num.shape == (4,) and not kinks.any()
        assert ref.rel(num, ana) < 1e-8


@pytest.mark.parametrize("have_tqdm", [True, False])
def test_progress_display_with_and_without_tqdm(setup, monkeypatch, capsys, have_tqdm):
    import sys

    if not have_tqdm:
        monkeypatch.setitem(sys.modules, "tqdm", None)
        monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    model, params, X, Y = setup
    grads = model.backward(params, X, Y)
    quiet = gradient_check(model, params, grads, X, Y, progress=False)
    shown = gradient_check(model, params, grads, X, Y, progress=True)
    for key in quiet.numerical:
        assert np.array_equal(quiet.numerical[key], shown.numerical[key])
    err = capsys.readouterr().err
    assert ("left" in err) if not have_tqdm else True


# -- any callable: NaN along a direction, serially and on workers ---------------


def test_nan_along_a_direction_names_the_block_serially_and_on_workers():
    from concurrent.futures import ThreadPoolExecutor

    from fastgrad import check_grad

    theta = {"w": np.full(3, 0.5), "b": np.zeros(2)}

    def f(t):  # NaN as soon as b moves up in its first entry
        return float(np.sum(t["w"] ** 2) + (np.nan if t["b"][0] > 0 else np.sum(t["b"])))

    grad = {"w": theta["w"] * 2, "b": np.ones(2)}
    with pytest.raises(ValueError, match=r"at b [+-] epsilon·v \(random direction \d in b") as serial:
        check_grad(f, theta, grad, mode="directional", k=4, seed=0)
    # the same words from a worker (it used to name a "theta index", which
    # is a direction there, and a step variable as if it were θ)
    with ThreadPoolExecutor(2) as ex, pytest.raises(ValueError) as parallel:
        check_grad(f, theta, grad, mode="directional", k=4, seed=0, workers=ex)
    assert str(parallel.value) == str(serial.value)
