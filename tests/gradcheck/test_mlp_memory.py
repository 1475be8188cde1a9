"""Memory in proportion to what is checked, and a clear MemoryError up front.

Peaks are measured, so each test can fail: tracemalloc sees every NumPy
allocation (the exact linear maps live in NumPy arrays); the kernel's
per-thread scratch is C malloc, so it is tested in a subprocess under an
address-space limit (resource.RLIMIT_AS) that the old n_max² sizing broke.
"""
import os
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest

from fastgrad import MLP, gradient_check
from fastgrad import _argcheck as ac

# Children run from tests/, never from the checkout root, whose fastgrad/ has no
# compiled extensions in a non-editable install (it would shadow the installed one).
HERE = os.path.dirname(os.path.abspath(__file__))

posix_only = pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and /proc are Linux")


def _softmax_problem(dims, m, seed=0):
    model = MLP(dims, hidden="relu", output="softmax")
    params = model.init_params("he", seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((dims[0], m))
    Y = np.eye(dims[-1])[:, rng.integers(0, dims[-1], m)]
    return model, params, X, Y


@pytest.mark.parametrize("mode", ["sampled", "directional"])
def test_cheap_modes_do_not_build_the_full_linear_maps(mode):
    # Full maps for this net: 2 layers x 200 units x 200 examples x 201 doubles
    # = 129 MB (the old sampled/directional peak was 281 MB).
    dims, m = [30, 200, 200, 200], 200
    model, params, X, Y = _softmax_problem(dims, m)
    grads = model.backward(params, X, Y)
    full_maps = 2 * 200 * m * (dims[-1] + 1) * 8
    tracemalloc.start()
    try:
        report = gradient_check(model, params, grads, X, Y, mode=mode, k=4, seed=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.verdict == "great"
    # What is left is the forward caches, a few copies of the activations
    # (~0.5 MB each here): ~10 MB measured.
    assert peak < full_maps / 4, peak


def test_sampled_matches_the_long_double_reference_without_maps(ref):
    dims, m = [5, 12, 9, 4], 10
    model, params, X, Y = _softmax_problem(dims, m, seed=3)
    grads = model.backward(params, X, Y)
    report = gradient_check(model, params, grads, X, Y, mode="sampled", k=3, seed=1)
    expected = ref.numerical(ref.flatten(params), [(k, v.shape) for k, v in params.items()],
                             ["relu"] * 2, "softmax", 0.0, X, Y)
    got = ref.flatten(report.numerical, "d")
    done = ~np.isnan(got)
    assert done.sum() == report.n_checked == 3 * 6
    assert ref.rel(got[done], expected[done]) < 1e-9


@posix_only
def test_wide_single_hidden_layer_scratch_fits_in_little_memory():
    """MLP([1, 100000, 1]), m=2 (300k parameters): the old scratch asked for
    n_max² doubles, 80 GB per thread. Under a 4 GB address-space limit it
    must run and be right."""
    code = textwrap.dedent("""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))
        import numpy as np
        from fastgrad import MLP, gradient_check
        model = MLP([1, 100000, 1])
        params = model.init_params("he", seed=0)
        X = np.array([[0.5, -1.0]]); Y = np.array([[1.0, 0.0]])
        grads = model.backward(params, X, Y)
        r = gradient_check(model, params, grads, X, Y, n_threads=2, progress=False)
        print(r.verdict, r.n_checked, repr(r.difference))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=HERE)
    assert out.returncode == 0, out.stderr[-2000:]
    verdict, n_checked, diff = out.stdout.split()
    assert verdict == "great" and int(n_checked) == 300001 and float(diff) < 1e-12


@posix_only
def test_a_check_that_cannot_fit_says_so_before_allocating():
    """The first layer's maps of MLP([10, 1000, 1000, 1000], softmax), m=500,
    need 4 GB; under a 3 GB limit a full check refuses with the estimate and
    what to do, and the sampled mode then runs in the same process."""
    code = textwrap.dedent("""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
        import numpy as np
        from fastgrad import MLP, gradient_check
        model = MLP([10, 1000, 1000, 1000], output="softmax")
        params = model.init_params("he", seed=0)
        rng = np.random.default_rng(0)
        X = rng.standard_normal((10, 500))
        Y = np.eye(1000)[:, rng.integers(0, 1000, 500)]
        grads = model.backward(params, X, Y)
        try:
            gradient_check(model, params, grads, X, Y, progress=False)
        except MemoryError as e:
            print("REFUSED", e)
        r = gradient_check(model, params, grads, X, Y, mode="sampled", k=1, seed=0)
        print("SAMPLED", r.verdict)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=HERE)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    refused = [ln for ln in lines if ln.startswith("REFUSED")]
    assert refused, out.stdout
    assert "GB" in refused[0] and "bytes" in refused[0] and "mode='sampled'" in refused[0]
    assert "SAMPLED great" in lines


def test_memory_error_names_the_estimate(monkeypatch):
    dims, m = [6, 20, 20, 3], 30
    model, params, X, Y = _softmax_problem(dims, m)
    grads = model.backward(params, X, Y)
    monkeypatch.setattr(ac, "available_memory", lambda: 2**16)
    with pytest.raises(MemoryError, match=r"needs about .*bytes.*mode='sampled'"):
        gradient_check(model, params, grads, X, Y, n_threads=1)


def test_last_hidden_layer_stores_no_map(ref):
    """The last hidden layer's map is W[L] for every example: the kernel reads
    W[L] instead of a stored (n, m, n_L) copy (216 MB for this net)."""
    dims, m = [5, 300, 300], 300
    model, params, X, Y = _softmax_problem(dims, m, seed=2)
    grads = model.backward(params, X, Y)
    tracemalloc.start()
    try:
        report = gradient_check(model, params, grads, X, Y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.verdict == "great" and report.n_checked == report.n_params
    assert peak < 300 * m * 301 * 8 / 8, peak
    # Spot-check a few first-layer coordinates (the ones that use the map)
    # against the long-double reference.
    small_dims = [3, 6, 5]
    model2, p2, X2, Y2 = _softmax_problem(small_dims, 7, seed=5)
    r2 = gradient_check(model2, p2, model2.backward(p2, X2, Y2), X2, Y2)
    expected = ref.numerical(ref.flatten(p2), [(k, v.shape) for k, v in p2.items()],
                             ["relu"], "softmax", 0.0, X2, Y2)
    assert ref.rel(ref.flatten(r2.numerical, "d"), expected) < 1e-9


def test_the_available_memory_is_read_again_unless_far_from_the_need(monkeypatch):
    """A reading under a second old is reused only when it left 100x the
    need free; a larger need, or another reader, reads again."""
    from fastgrad.gradcheck import mlp

    calls = []

    def reader():
        calls.append(1)
        return 10**9

    monkeypatch.setattr(ac, "available_memory", reader)
    monkeypatch.setattr(mlp, "_LAST_READING", [None, -1.0, None])
    mlp.check_memory(10**6, {})
    mlp.check_memory(10**6, {})
    assert len(calls) == 1
    mlp.check_memory(10**8, {})  # 1/10 of the reading: read again
    assert len(calls) == 2
    monkeypatch.setattr(ac, "available_memory", lambda: 2**16)
    with pytest.raises(MemoryError):
        mlp.check_memory(10**6, {})
