"""Thread counts: capped, strict, bit-identical results, and a BLAS pin that
restores exactly what was there, whatever the order concurrent checks leave in."""
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import fastgrad.gradcheck.mlp as mlp
from fastgrad import MLP, gradient_check
from fastgrad._openmp_helpers import openmp_enabled
from fastgrad._threads import effective_n_threads, single_threaded_blas, usable_cores

# Children run from tests/, never from the checkout root, whose fastgrad/ has no
# compiled extensions in a non-editable install (it would shadow the installed one).
HERE = os.path.dirname(os.path.abspath(__file__))

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads():
    return sorted({p["num_threads"] for p in threadpoolctl.threadpool_info()
                   if p["user_api"] == "blas"})


def _problem(dims, hidden, output, m, seed):
    model = MLP(dims, hidden=hidden, output=output)
    params = model.init_params("he", seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((dims[0], m))
    if output == "softmax":
        Y = np.eye(dims[-1])[:, rng.integers(0, dims[-1], m)]
    else:
        Y = (rng.random((dims[-1], m)) < 0.5).astype(float)
    return model, params, X, Y, model.backward(params, X, Y)


# -- effective_n_threads ------------------------------------------------------
def test_usable_cores_respects_affinity(monkeypatch):
    import fastgrad._threads as th

    monkeypatch.setattr(th, "_CGROUP_FILES", ())
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count()
    assert usable_cores() == expected


@pytest.mark.parametrize("v2, v1, expected", [
    ("max 100000\n", None, None), ("150000 100000\n", None, 2), ("50000 100000\n", None, 1),
    (None, ("-1", "100000"), None), (None, ("300000", "100000"), 3), (None, None, None),
    ("garbage", ("100000", "100000"), 1),
])
def test_cgroup_quota_caps_usable_cores(tmp_path, monkeypatch, v2, v1, expected):
    import fastgrad._threads as th

    files = []
    if v2 is not None:
        (tmp_path / "cpu.max").write_text(v2)
    files.append((str(tmp_path / "cpu.max"), None))
    if v1 is not None:
        (tmp_path / "quota").write_text(v1[0])
        (tmp_path / "period").write_text(v1[1])
    files.append((str(tmp_path / "quota"), str(tmp_path / "period")))
    monkeypatch.setattr(th, "_CGROUP_FILES", tuple(files))
    assert th._cgroup_cpus() == expected
    if expected is not None:
        assert usable_cores() <= expected


@pytest.mark.parametrize("n", [4000, 2**31, 2**63, np.int64(2**40)])
def test_n_threads_is_capped_at_usable_cores(n):
    assert effective_n_threads(n) == (usable_cores() if openmp_enabled() else 1)


@pytest.mark.parametrize("bad", [True, False, np.True_, "2", 1.5, 2.0, [2], None.__class__])
def test_n_threads_rejects_non_ints(bad):
    with pytest.raises(TypeError, match="n_threads"):
        effective_n_threads(bad)


@pytest.mark.parametrize("bad", [0, -2, -(2**31)])
def test_n_threads_rejects_zero_and_negatives(bad):
    with pytest.raises(ValueError, match="n_threads"):
        effective_n_threads(bad)


def test_gradient_check_reports_the_capped_count():
    model, params, X, Y, grads = _problem([3, 4, 1], "tanh", "sigmoid", 5, 0)
    report = gradient_check(model, params, grads, X, Y, n_threads=2**31)
    assert report.n_threads == (usable_cores() if openmp_enabled() else 1)
    with pytest.raises(TypeError, match="n_threads"):
        gradient_check(model, params, grads, X, Y, n_threads=True)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/task")
def test_normalizer_with_4000_threads_starts_no_more_than_the_cores():
    """Normalizer(n_threads=4000) used to start ~3,900 OpenMP threads (each
    kept alive by the runtime afterwards); run in a subprocess and count."""
    code = textwrap.dedent("""
        import os
        import numpy as np
        from fastgrad import Normalizer
        X = np.random.default_rng(0).standard_normal((2_000_000, 1))
        base = Normalizer(n_threads=1).fit_transform(X)
        before = len(os.listdir("/proc/self/task"))
        for n in (4000, 2**31):
            out = Normalizer(n_threads=n).fit_transform(X)
            assert np.array_equal(out, base)
        print(before, len(os.listdir("/proc/self/task")))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=HERE)
    assert out.returncode == 0, out.stderr[-2000:]
    before, after = map(int, out.stdout.split())
    assert after <= before + usable_cores()


# -- bits ------------------------------------------------------------------------
CASES = [([1, 31, 33, 38, 21], "relu", "softmax", 29, 0),   # the case
         ([1, 31, 33, 38, 21], "relu", "softmax", 29, 1)]
rng = np.random.default_rng(2024)
for _ in range(4):
    depth = int(rng.integers(2, 5))
    dims = [int(d) for d in rng.integers(1, 40, depth + 1)]
    CASES.append((dims, str(rng.choice(["relu", "leaky_relu", "tanh"])),
                  str(rng.choice(["softmax", "sigmoid", "linear"])),
                  int(rng.integers(1, 70)), int(rng.integers(1000))))


@pytest.mark.parametrize("dims, hidden, output, m, seed", CASES)
@pytest.mark.parametrize("mode", ["full", "sampled"])
def test_every_thread_count_gives_the_same_bits(dims, hidden, output, m, seed, mode):
    """Under a threaded BLAS (set here to 4 threads, so an unpinned set-up
    product would run threaded) and under a BLAS held at 1 thread by the
    caller, n_threads=1, 2 and None give identical bits."""
    model, params, X, Y, grads = _problem(dims, hidden, output, m, seed)
    results = []
    for blas in (4, 1):
        with threadpoolctl.threadpool_limits(limits=blas, user_api="blas"):
            for nt in (1, 2, None):
                r = gradient_check(model, params, grads, X, Y, n_threads=nt, mode=mode, k=5,
                                   seed=3)
                results.append(r)
    for r in results[1:]:
        for key in results[0].numerical:
            np.testing.assert_array_equal(r.numerical[key], results[0].numerical[key])
        assert r.difference == results[0].difference


@pytest.mark.parametrize("nt", [1, 2])
def test_blas_is_pinned_for_the_whole_check_whatever_n_threads(monkeypatch, nt):
    """The set-up products (forward pass, linear maps) run with BLAS at one
    thread for n_threads=1 too; it was left threaded there."""
    seen = []
    real = mlp.KernelInputs.__init__

    def spy(self, *args, **kwargs):
        seen.append(_blas_threads())
        real(self, *args, **kwargs)
        seen.append(_blas_threads())

    monkeypatch.setattr(mlp.KernelInputs, "__init__", spy)
    model, params, X, Y, grads = _problem([1, 31, 33, 38, 21], "relu", "softmax", 29, 0)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        gradient_check(model, params, grads, X, Y, n_threads=nt)
        assert _blas_threads() == [2]
    assert seen and all(s == [1] for s in seen)


# -- the pin ---------------------------------------------------------------------
def test_pin_restores_after_out_of_order_exits():
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        a, b = single_threaded_blas(), single_threaded_blas()
        a.__enter__()
        b.__enter__()
        assert _blas_threads() == [1]
        a.__exit__(None, None, None)        # first in, first out
        assert _blas_threads() == [1]       # b still runs: still pinned
        b.__exit__(None, None, None)
        assert _blas_threads() == [2]


def test_pin_restores_after_an_exception():
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        with pytest.raises(RuntimeError):
            with single_threaded_blas():
                raise RuntimeError("boom")
        assert _blas_threads() == [2]


def test_concurrent_checks_from_python_threads_restore_blas():
    model, params, X, Y, grads = _problem([8, 40, 30, 3], "relu", "softmax", 40, 0)
    ref = gradient_check(model, params, grads, X, Y, n_threads=1)
    errors, reports = [], []
    start = threading.Barrier(6)

    def work(i):
        try:
            start.wait()
            for _ in range(4):
                reports.append(gradient_check(model, params, grads, X, Y,
                                              n_threads=1 + i % 2))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert _blas_threads() == [2]
    assert len(reports) == 24
    for r in reports:
        for key in ref.numerical:
            np.testing.assert_array_equal(r.numerical[key], ref.numerical[key])


def test_pin_leaves_a_single_threaded_blas_alone(monkeypatch):
    """BLAS already on one thread (OPENBLAS_NUM_THREADS=1): nothing is set,
    so nothing needs restoring, and threadpoolctl's limiter is not built."""
    from fastgrad._threads import _controller

    ctl = _controller()

    def no_limit(*a, **k):
        raise AssertionError("limit() called although BLAS was single-threaded")

    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        monkeypatch.setattr(ctl, "limit", no_limit)
        with single_threaded_blas():
            assert _blas_threads() == [1]
        assert _blas_threads() == [1]
        monkeypatch.undo()
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        with single_threaded_blas():
            assert _blas_threads() == [1]
        assert _blas_threads() == [2]


def test_cgroup_quota_is_read_again_after_a_second(tmp_path, monkeypatch):
    import fastgrad._threads as th

    quota = tmp_path / "cpu.max"
    quota.write_text("100000 100000\n")
    monkeypatch.setattr(th, "_CGROUP_FILES", ((str(quota), None),))
    assert usable_cores() == 1
    quota.write_text("max 100000\n")
    assert usable_cores() == 1  # within CGROUP_SECONDS: the quota read before
    monkeypatch.setattr(th, "CGROUP_SECONDS", 0.0)
    assert usable_cores() == len(os.sched_getaffinity(0))


def test_pin_that_found_one_thread_leaves_one_thread():
    """The first user found BLAS on one thread (nothing pinned); BLAS was
    raised to 2 while it ran: its exit, the last, leaves BLAS on one thread,
    the limit in force when it entered."""
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        a, b = single_threaded_blas(), single_threaded_blas()
        a.__enter__()
        threadpoolctl.threadpool_limits(limits=2, user_api="blas")
        b.__enter__()
        b.__exit__(None, None, None)
        a.__exit__(None, None, None)
        assert _blas_threads() == [1]
