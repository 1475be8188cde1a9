"""A child forked after a parallel region runs fastgrad serially, not into a hang.

GNU libgomp keeps its worker threads between parallel regions; fork() copies
only the calling thread, so the child's next parallel region waits for
workers that do not exist (without the fix the script below hangs at the
child's first fit). Each case runs in a fresh interpreter in its own session
with a timeout, so a hang fails the test and its processes are killed.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastgrad._openmp_helpers import openmp_enabled
from fastgrad._threads import usable_cores

SCRIPT = textwrap.dedent(
    """
    import json, multiprocessing as mp, sys
    import numpy as np
    from fastgrad import Normalizer
    from fastgrad._threads import effective_n_threads, forked_serial

    X = np.random.default_rng(0).standard_normal((200_000, 20))

    def child(q):
        fitted = Normalizer(n_threads=2).fit(X)
        q.put({"n_threads": effective_n_threads(2), "forked_serial": forked_serial(),
               "mean": fitted.mean_.tolist(), "var": fitted.var_.tolist()})

    if sys.argv[1] == "parallel-first":
        Normalizer(n_threads=2).fit(X)      # a parallel region in the parent
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=child, args=(q,))
    p.start()
    out = q.get(timeout=90)
    p.join(30)
    out["parent_n_threads"] = effective_n_threads(2)
    out["exitcode"] = p.exitcode
    print(json.dumps(out))
    """
)


def _run(mode, tmp_path):
    script = tmp_path / "fork_child.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), mode], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)   # the parent and the hung child
        proc.communicate()
        pytest.fail(f"fork child hung ({mode})")
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _reference(n=200_000):
    """The child's X again, and its column means and variances in long double."""
    X = np.random.default_rng(0).standard_normal((n, 20)).astype(np.longdouble)
    mean = X.mean(axis=0)
    return mean.astype(float), ((X - mean) ** 2).mean(axis=0).astype(float)


@pytest.mark.skipif(not openmp_enabled() or usable_cores() < 2,
                    reason="needs an OpenMP build and 2 usable cores to run a parallel region")
def test_child_forked_after_parallel_region_runs_serially(tmp_path):
    out = _run("parallel-first", tmp_path)
    assert out["exitcode"] == 0
    assert out["forked_serial"] is True and out["n_threads"] == 1
    assert out["parent_n_threads"] == 2            # the parent keeps its threads
    mean, var = _reference()
    # float64 statistics of unit-scale data against a long-double reference
    np.testing.assert_allclose(out["mean"], mean, rtol=0, atol=1e-13)
    np.testing.assert_allclose(out["var"], var, rtol=1e-12)


def test_child_forked_before_any_parallel_region_keeps_its_threads(tmp_path):
    out = _run("serial-first", tmp_path)
    assert out["exitcode"] == 0
    assert out["forked_serial"] is False
    assert out["n_threads"] == (min(2, usable_cores()) if openmp_enabled() else 1)
    mean, var = _reference()
    # float64 statistics of unit-scale data against a long-double reference
    np.testing.assert_allclose(out["mean"], mean, rtol=0, atol=1e-13)
    np.testing.assert_allclose(out["var"], var, rtol=1e-12)


def test_fork_flag_forces_one_thread(monkeypatch):
    from fastgrad import _threads

    monkeypatch.setitem(_threads._STATE, "parallel", True)
    monkeypatch.setitem(_threads._STATE, "forked", False)
    _threads._after_fork_in_child()
    assert _threads.forked_serial()
    assert _threads.effective_n_threads(-1) == 1 and _threads.effective_n_threads(None) == 1
    assert _threads.thread_limit() == 1
