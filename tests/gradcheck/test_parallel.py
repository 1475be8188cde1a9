"""check_grad(workers=...): processes or any Executor, identical bits (issue 12)."""

import multiprocessing
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

from fastgrad import check_grad
from fastgrad.gradcheck import parallel

r = np.random.default_rng(0)
A = r.standard_normal((6, 6))
THETA = {"w": r.standard_normal((4, 6)), "b": r.standard_normal(6), "k": np.array([1e-9, 0.5])}


def make_f(delay=0.0):
    def f(t):  # a closure: needs cloudpickle
        if delay:
            time.sleep(delay)
        h = np.tanh(t["w"] @ A + t["b"])
        return float(np.sum(h**2) + np.sum(np.abs(t["k"])))

    return f


def grad(t):
    z = t["w"] @ A + t["b"]
    h = np.tanh(z)
    dz = 2 * h * (1 - h**2)
    return {"w": dz @ A.T, "b": dz.sum(axis=0), "k": np.sign(t["k"])}


def same(a, b):
    assert a.to_dict().keys() == b.to_dict().keys()
    for key in ("difference", "difference_all", "n_kinks", "n_checked", "verdict", "hints"):
        assert a.to_dict()[key] == b.to_dict()[key], key
    for k in a.numerical:
        assert a.numerical[k].tobytes() == b.numerical[k].tobytes()


@pytest.mark.parametrize("mode", ["full", "sampled"])
def test_workers_2_equals_serial_to_the_bit(mode):
    f = make_f(delay=0.01)  # slow enough that the check goes parallel
    serial = check_grad(f, THETA, grad, mode=mode, k=5, seed=3)
    par = check_grad(f, THETA, grad, mode=mode, k=5, seed=3, workers=2)
    assert any(line.startswith("workers: 2 processes") for line in str(par).splitlines())
    same(serial, par)
    assert par.n_kinks == 1 and par.verdict == "great"


def test_forked_workers_take_the_check_as_is_else_pickled(monkeypatch):
    """Where processes fork they inherit f and θ: nothing is pickled, and an f
    holding what cannot be pickled (a lock) works; elsewhere the check goes
    pickled (here forced by saying the start method is spawn)."""
    import cloudpickle

    from fastgrad.gradcheck import distributed

    lock = threading.Lock()
    inner = make_f(delay=0.01)

    def f(t):
        with lock:
            return inner(t)

    serial = check_grad(f, THETA, grad)
    if multiprocessing.get_start_method() == "fork":

        def no_pickling(obj, *a, **k):
            raise AssertionError("pickled under fork")

        with monkeypatch.context() as m:
            m.setattr(cloudpickle, "dumps", no_pickling)
            same(serial, check_grad(f, THETA, grad, workers=2))
    f2 = make_f(delay=0.01)
    monkeypatch.setattr(distributed.multiprocessing, "get_start_method", lambda: "spawn")
    same(check_grad(f2, THETA, grad), check_grad(f2, THETA, grad, workers=2))
    with pytest.raises(TypeError, match="lock"):  # the lock cannot go pickled
        check_grad(f, THETA, grad, workers=2)


def test_back_to_back_checks_never_fork_beside_a_stopping_pool(monkeypatch):
    """A finished check lets its pool stop in the background; the next check
    waits for it before forking, so no fork copies a process whose pool
    threads still run (a deadlock hazard; a DeprecationWarning on 3.12+)."""
    import os
    from concurrent.futures import process

    seen = []
    real_fork = os.fork

    def fork():
        seen.append(
            [
                t.name
                for t in threading.enumerate()
                if isinstance(t, process._ExecutorManagerThread) or t.name == "QueueFeederThread"
            ]
        )
        return real_fork()

    monkeypatch.setattr(os, "fork", fork)
    slow_stop = process._ExecutorManagerThread.join_executor_internals

    def join_executor_internals(self):
        time.sleep(0.3)  # a pool slow to stop: still stopping when the next check starts
        slow_stop(self)

    monkeypatch.setattr(
        process._ExecutorManagerThread, "join_executor_internals", join_executor_internals
    )
    f = make_f(delay=0.01)
    reports = [check_grad(f, THETA, grad, workers=2) for _ in range(3)]
    if multiprocessing.get_start_method() == "fork":
        assert len(seen) == 6 and seen == [[]] * 6, seen
    for r in reports[1:]:
        same(reports[0], r)


def test_a_lambda_and_a_user_executor():
    theta = np.linspace(-1, 1, 12)
    f = lambda t: float(np.sum(np.sin(t) * t))  # noqa: E731
    g = np.cos(theta) * theta + np.sin(theta)
    serial = check_grad(f, theta, g)
    with ProcessPoolExecutor(max_workers=2) as ex:
        par = check_grad(f, theta, g, workers=ex)
        assert ex.submit(abs, -3).result() == 3  # left running
    same(serial, par)
    with ThreadPoolExecutor(max_workers=2) as ex:
        same(serial, check_grad(f, theta, g, workers=ex))


class CountingExecutor(Executor):
    def __init__(self):
        self.inner, self.n = ThreadPoolExecutor(2), 0

    def submit(self, fn, *args, **kwargs):
        self.n += 1
        return self.inner.submit(fn, *args, **kwargs)


def test_any_executor_is_used_in_chunks():
    ex = CountingExecutor()
    theta = np.linspace(-1, 1, 40)
    rep = check_grad(lambda t: float(np.sum(t**3)), theta, 3 * theta**2, workers=ex)
    assert ex.n >= 2 and rep.verdict == "great"
    ex.inner.shutdown()


def test_a_fast_f_stays_serial_with_workers_n():
    use, chunk, _ = parallel.plan(2, 200, 1e-5)  # 200 coordinates of a 10 us f: 4 ms in all
    assert not use
    use, chunk, n = parallel.plan(2, 200, 1e-3)  # 0.4 s serial: parallel, chunks of 50 ms
    assert use and chunk == 25 and n == 2


def test_float32_model_with_workers():
    theta = np.linspace(-1, 1, 8).astype(np.float32)
    f = lambda t: np.sum(np.asarray(t, np.float32) ** 3)  # noqa: E731
    g = (3 * theta.astype(np.float32) ** 2).astype(np.float32)
    ex = CountingExecutor()
    same(check_grad(f, theta, g), check_grad(f, theta, g, workers=ex))
    assert ex.n >= 2
    ex.inner.shutdown()


def test_errors_in_a_worker_name_the_coordinate():
    theta = np.array([0.5, 1.0, 2.0, 3.0])

    def f(t):
        with np.errstate(invalid="ignore"):
            return float(np.log(3.0 - t[3]) + np.sum(t))

    ex = CountingExecutor()
    with pytest.raises(ValueError, match=r"theta\[3\]"):
        check_grad(f, np.array([0.5, 1.0, 2.0, 3.0 - 1e-8]), np.ones(4), workers=ex)
    ex.inner.shutdown()
    assert theta[3] == 3.0


def test_chunks_are_a_multiple_of_the_workers_and_even():
    for n_coords, chunk, n in [(321, 28, 2), (321, 41, 2), (10, 3, 4), (5, 100, 2), (1000, 7, 3)]:
        k = parallel.n_chunks(n_coords, chunk, n)
        sizes = [p.size for p in np.array_split(np.arange(n_coords), k)]
        assert max(sizes) <= chunk and max(sizes) - min(sizes) <= 1 and sum(sizes) == n_coords
        assert k % n == 0 or k == n_coords
