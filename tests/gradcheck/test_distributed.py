"""Checks sharded over processes and a dask.distributed cluster (issue 13):
the report of gradient_check / check_grad / check_vjp on workers equals the
local run to the bit, the data is shipped and built once, progress moves as
shards finish, and a worker killed mid-check loses no coordinate."""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from fastgrad import MLP, check_grad, check_vjp, gradient_check
from fastgrad.gradcheck import distributed as shards_mod
from fastgrad.gradcheck import mlp
from fastgrad.gradcheck import parallel

distributed = pytest.importorskip("distributed")
pytest.importorskip("cloudpickle")

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def client():
    # Started from the tests dir: a worker process must import the installed
    # fastgrad, never the uncompiled source tree at the repo root.
    old = os.getcwd()
    os.chdir(HERE)
    try:
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        c = distributed.Client(cluster)
    finally:
        os.chdir(old)
    yield c
    c.close()
    cluster.close()


def same(a, b):
    """Identical reports but for the timing and the line naming the workers."""
    da, db = a.to_dict(), b.to_dict()
    assert da.keys() == db.keys()
    for key in da:
        if key not in ("seconds", "notes"):
            assert repr(da[key]) == repr(db[key]), key
    for k in a.numerical:
        assert a.numerical[k].tobytes() == b.numerical[k].tobytes(), k


def net(hidden, keep_prob=1.0, bug=None):
    rng = np.random.default_rng(5)
    model = MLP([6, 12, 8, 1], hidden=hidden, keep_prob=keep_prob)
    params = model.init_params(seed=1)
    X = rng.standard_normal((6, 40))
    Y = (rng.random((1, 40)) > 0.5).astype(float)
    grads = model.backward(params, X, Y, seed=3)
    if bug:
        grads[bug] = grads[bug] * 1.5  # a wrong block: directional re-checks it in full
    return model, params, X, Y, grads


CASES = [
    ("tanh", 1.0, "full", None),
    ("tanh", 1.0, "sampled", None),
    ("tanh", 1.0, "directional", "dW2"),
    ("relu", 0.8, "full", None),
    ("relu", 0.8, "sampled", None),
    ("relu", 0.8, "directional", "dW1"),
]


@pytest.mark.parametrize("hidden,keep,mode,bug", CASES)
def test_mlp_on_a_local_cluster_equals_the_local_run(client, hidden, keep, mode, bug):
    model, params, X, Y, grads = net(hidden, keep, bug)
    opts = dict(mode=mode, k=4, seed=3)
    local = gradient_check(model, params, grads, X, Y, **opts)
    remote = gradient_check(model, params, grads, X, Y, workers=client, **opts)
    same(local, remote)
    assert any("dask Client" in n for n in remote.notes)
    if bug:  # the failing block was re-checked, on the cluster
        (block,) = [b for b in remote.blocks if b.name == bug]
        assert remote.verdict == "bug" and block.n_checked == grads[bug].size


def test_mlp_on_processes_and_a_thread_pool_equals_the_local_run():
    model, params, X, Y, grads = net("tanh", 1.0)
    before = [a.tobytes() for a in (*params.values(), *grads.values(), X, Y)]
    local = gradient_check(model, params, grads, X, Y)
    same(local, gradient_check(model, params, grads, X, Y, workers=2))
    assert [a.tobytes() for a in (*params.values(), *grads.values(), X, Y)] == before
    with ThreadPoolExecutor(2) as ex:
        same(local, gradient_check(model, params, grads, X, Y, workers=ex))


def test_batchnorm_and_l2_on_a_thread_pool_equal_the_local_run():
    rng = np.random.default_rng(2)
    model = MLP([5, 9, 7, 1], hidden="tanh", l2=0.3, batchnorm=[1])
    params = model.init_params(seed=4)
    X, Y = rng.standard_normal((5, 30)), (rng.random((1, 30)) > 0.5).astype(float)
    grads = model.backward(params, X, Y)
    local = gradient_check(model, params, grads, X, Y)
    with ThreadPoolExecutor(2) as ex:
        same(local, gradient_check(model, params, grads, X, Y, workers=ex))


def test_the_net_is_built_once_per_worker_thread(monkeypatch):
    built = []
    real = mlp._mlp_net

    def counting(data):
        built.append(1)
        return real(data)

    monkeypatch.setattr(mlp, "_mlp_net", counting)
    model, params, X, Y, grads = net("tanh", 1.0)
    with ThreadPoolExecutor(2) as ex:
        rep = gradient_check(model, params, grads, X, Y, workers=ex)
    n_shards = int(rep.notes[0].split(", ")[1].split()[0])
    assert n_shards >= 3 and 1 <= len(built) <= 2
    assert not shards_mod._CACHE  # freed after the check


def test_progress_moves_as_shards_finish():
    updates = []

    class Bar:
        def update(self, n):
            updates.append(n)

    def work(obj, item):
        time.sleep(0.01 * (3 - item))  # the last shard finishes first
        return obj + item

    with ThreadPoolExecutor(3) as ex, shards_mod.Shards(ex, lambda d: d, 10) as sh:
        out = sh.map(work, [0, 1, 2], [5, 6, 7], Bar())
    assert out == [10, 11, 12]
    assert sorted(updates) == updates and updates[-1] == 18 and len(updates) == 3


r = np.random.default_rng(0)
A = r.standard_normal((5, 5))
THETA = {"w": r.standard_normal((3, 5)), "b": r.standard_normal(5)}


def make_f(marker=None, parent=None, delay=0.0):
    """f; with a marker path, the first call in a worker process kills that
    process (os.kill of its own pid) mid-check, exactly once."""

    def f(t):
        if marker is not None and os.getpid() != parent:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.close(fd)
                os.kill(os.getpid(), signal.SIGKILL)
        if delay:
            time.sleep(delay)
        return float(np.sum(np.tanh(t["w"] @ A + t["b"]) ** 2))

    return f


def grad(t):
    h = np.tanh(t["w"] @ A + t["b"])
    dz = 2 * h * (1 - h**2)
    return {"w": dz @ A.T, "b": dz.sum(axis=0)}


def test_check_grad_and_check_vjp_take_a_client(client):
    assert parallel.check_workers(client) is client
    f = make_f()
    same(check_grad(f, THETA, grad, seed=1), check_grad(f, THETA, grad, seed=1, workers=client))

    def g(w, b):
        return np.tanh(w @ A + b)

    u = np.random.default_rng(2).standard_normal((3, 5))
    dz = u * (1 - g(**THETA) ** 2)
    vjp = {"w": dz @ A.T, "b": dz.sum(axis=0)}
    local = check_vjp(g, THETA, vjp, u)
    remote = check_vjp(g, THETA, vjp, u, workers=client)
    same(local, remote)
    assert any("dask Client" in n for n in remote.notes)


def test_a_killed_process_worker_is_replaced_and_no_coordinate_lost(tmp_path, monkeypatch):
    restarts = []
    real = shards_mod.Shards._restart
    monkeypatch.setattr(
        shards_mod.Shards, "_restart", lambda s, *a: (restarts.append(a), real(s, *a))
    )
    f = make_f(tmp_path / "killed", os.getpid(), delay=0.01)
    serial = check_grad(make_f(), THETA, grad)
    par = check_grad(f, THETA, grad, workers=2)
    assert (tmp_path / "killed").exists() and len(restarts) == 1
    same(serial, par)


def test_a_pool_whose_workers_keep_dying_raises_clearly():
    parent = os.getpid()

    def f(t):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.01)
        return float(np.sum(t["w"]))

    with pytest.raises(RuntimeError, match=r"died 4 times.*coordinates were not computed"):
        check_grad(f, THETA, lambda t: {"w": np.ones((3, 5)), "b": np.zeros(5)}, workers=2)


def _pool_breaking_at_submit(monkeypatch, breaks):
    """Our own pool, whose ``submit`` raises BrokenProcessPool at the second
    shard for the first ``breaks`` pools started: a worker dying while the
    shards are still being handed out (a race the kill tests only sometimes hit)."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    started = []

    class Pool(ProcessPoolExecutor):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            started.append(self)
            self.n = 0

        def submit(self, *a, **k):
            self.n += 1
            if self.n == 2 and len(started) <= breaks:
                raise BrokenProcessPool("A child process terminated abruptly")
            return super().submit(*a, **k)

    monkeypatch.setattr(shards_mod, "ProcessPoolExecutor", Pool)
    return started


def test_a_worker_dying_while_shards_are_submitted_is_restarted(monkeypatch):
    serial = check_grad(make_f(), THETA, grad)
    started = _pool_breaking_at_submit(monkeypatch, breaks=1)
    par = check_grad(make_f(delay=0.01), THETA, grad, workers=2)
    assert len(started) == 2
    same(serial, par)


def test_a_pool_that_keeps_breaking_at_submit_raises_clearly(monkeypatch):
    _pool_breaking_at_submit(monkeypatch, breaks=99)
    with pytest.raises(RuntimeError, match=r"died 4 times.*coordinates were not computed"):
        check_grad(make_f(delay=0.01), THETA, grad, workers=2)


def test_a_broken_executor_of_the_user_is_reported_not_restarted(tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    f = make_f(tmp_path / "killed", os.getpid(), delay=0.01)
    with ProcessPoolExecutor(2) as ex:
        with pytest.raises(RuntimeError, match=r"broke during the check.*not computed"):
            check_grad(f, THETA, grad, workers=ex)


def test_a_killed_dask_worker_is_retried_and_no_coordinate_lost(client, tmp_path):
    before = set(client.run(os.getpid).values())
    f = make_f(tmp_path / "killed", os.getpid(), delay=0.01)
    serial = check_grad(make_f(), THETA, grad)
    par = check_grad(f, THETA, grad, workers=client)
    assert (tmp_path / "killed").exists()
    same(serial, par)
    client.wait_for_workers(2, timeout=30)
    assert set(client.run(os.getpid).values()) != before  # one was really replaced


def test_a_result_forgotten_with_its_worker_is_run_again(client, monkeypatch):
    # a shard finished, then its result died with its worker before it was
    # collected: dask raises FutureCancelledError ("already forgotten") at
    # result(); the shard runs again, as a cancelled one does
    from distributed.client import Future, FutureCancelledError

    real, raised = Future.result, []

    def forgotten(self, *a, **k):
        if not raised:
            raised.append(self.key)
            raise FutureCancelledError(self.key, reason="already forgotten")
        return real(self, *a, **k)

    monkeypatch.setattr(Future, "result", forgotten)
    serial = check_grad(make_f(), THETA, grad)
    par = check_grad(make_f(delay=0.01), THETA, grad, workers=client)
    assert raised
    same(serial, par)


def test_a_cancelled_error_that_f_raises_is_f_s_error_not_a_lost_shard(client):
    # only a shard that dask cancelled is run again; f's own CancelledError
    # (an inner job it waited for) is the error a serial run meets
    from concurrent.futures import CancelledError

    f0 = make_f(delay=0.01)

    def f(t):
        if t["b"][0] != THETA["b"][0]:
            raise CancelledError("inner job cancelled")
        return f0(t)

    for workers in (None, client):
        with pytest.raises(CancelledError, match="inner job cancelled"):
            check_grad(f, THETA, grad, workers=workers)


def test_an_f_that_does_not_pickle_is_named(client):
    import threading

    lock, f0 = threading.Lock(), make_f(delay=0.01)

    def f(t):
        with lock:
            return f0(t)

    with pytest.raises(TypeError, match=r"is sent f \(or the model\), theta and the data pickled"):
        check_grad(f, THETA, grad, workers=client)


def test_a_client_that_cannot_take_work_is_refused_before_any_work():
    from types import SimpleNamespace

    busy = {"tcp://w": 1}
    for stub, said in [
        (SimpleNamespace(asynchronous=True, status="running", nthreads=lambda: busy),
         "asynchronous"),
        (SimpleNamespace(asynchronous=False, status="closed", nthreads=lambda: busy), "closed"),
        (SimpleNamespace(asynchronous=False, status="running", nthreads=lambda: {}),
         "no workers"),
    ]:
        with pytest.raises(ValueError, match=said):
            shards_mod.usable_client(stub)
    c = distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                           dashboard_address=":0")
    c.close()
    with pytest.raises(ValueError, match=r"workers= is a dask Client that is closed"):
        check_grad(make_f(), THETA, grad, workers=c)


def _install_killer(marker, every_worker=False):
    """A function for client.run: in each worker, the MLP shard runner kills
    its own process the first time any worker runs a shard (a marker file
    makes it exactly once), or, with ``every_worker``, the first time that
    worker runs one (a marker file per process)."""

    def install():
        import os
        import signal

        from fastgrad.gradcheck import mlp_shards as mod

        real = getattr(mod, "_real_mlp_shard", mod._mlp_shard)

        def killing(net, item):
            path = f"{marker}-{os.getpid()}" if every_worker else marker
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return real(net, item)
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)

        mod._real_mlp_shard, mod._mlp_shard = real, killing

    return install


def _uninstaller():
    """Made by a factory so cloudpickle ships it by value: a worker cannot
    import this test module (in CI, ``tests`` is not an importable package)."""

    def uninstall():
        from fastgrad.gradcheck import mlp_shards as mod

        mod._mlp_shard = getattr(mod, "_real_mlp_shard", mod._mlp_shard)

    return uninstall


def test_mlp_check_survives_a_dask_worker_killed_mid_check(client, tmp_path):
    # replaces a worker of the shared cluster (and waits for its successor)
    model, params, X, Y, grads = net("relu", 0.8)
    local = gradient_check(model, params, grads, X, Y, seed=3)
    marker = tmp_path / "killed"
    before = set(client.run(os.getpid).values())
    client.run(_install_killer(str(marker)))
    try:
        remote = gradient_check(model, params, grads, X, Y, seed=3, workers=client)
    finally:
        client.run(_uninstaller())
    assert marker.exists()
    same(local, remote)
    client.wait_for_workers(2, timeout=30)
    assert set(client.run(os.getpid).values()) != before


class CountingScatter:
    """Wraps client.scatter: how many times the check shipped its data."""

    def __init__(self, client, monkeypatch):
        self.calls, self.real = 0, client.scatter
        monkeypatch.setattr(client, "scatter", self)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.real(*args, **kwargs)


def test_data_lost_with_every_worker_holding_it_is_shipped_again(client, tmp_path, monkeypatch):
    # Every worker dies at its first call of f, so no copy of the scattered
    # data survives (dask trims a broadcast to one copy within seconds anyway,
    # and cannot recompute scattered data): dask cancels the shards not
    # finished; the check ships the data to the new workers and reruns them.
    pids = set(client.run(os.getpid).values())
    scatter = CountingScatter(client, monkeypatch)
    base = make_f(delay=0.01)

    def f(t):
        if os.getpid() in pids:
            (tmp_path / str(os.getpid())).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return base(t)

    serial = check_grad(base, THETA, grad)
    par = check_grad(f, THETA, grad, workers=client)
    assert {int(p.name) for p in tmp_path.iterdir()} == pids  # both died
    # (a third shipment if dask trimmed one worker's copy before its first
    # shard: that worker then dies after the second)
    assert scatter.calls >= 2
    same(serial, par)
    client.wait_for_workers(2, timeout=30)
    assert not pids & set(client.run(os.getpid).values())


def test_mlp_check_with_its_data_lost_on_dask_is_shipped_again(client, tmp_path, monkeypatch):
    model, params, X, Y, grads = net("tanh", 1.0)
    local = gradient_check(model, params, grads, X, Y)
    pids = set(client.run(os.getpid).values())
    scatter = CountingScatter(client, monkeypatch)
    client.run(_install_killer(str(tmp_path / "killed"), every_worker=True))
    try:
        remote = gradient_check(model, params, grads, X, Y, workers=client)
    finally:
        client.run(_uninstaller())
    assert len(list(tmp_path.iterdir())) == 2 and scatter.calls >= 2
    same(local, remote)
    assert f"data shipped again {scatter.calls - 1} time(s) after workers died" in remote.notes[0]
    client.wait_for_workers(2, timeout=30)
    assert not pids & set(client.run(os.getpid).values())


def test_data_lost_more_than_max_retries_is_a_clear_error(client, monkeypatch):
    # A cluster that loses the data every time: the shards come back
    # cancelled (as after the loss) and the check gives up with a count.
    from concurrent.futures import Future

    def lost(*args, **kwargs):
        fut = Future()
        fut.cancel()
        fut.key = object()
        return fut

    ran = []
    monkeypatch.setattr(client, "scatter", lambda *a, **k: None)
    monkeypatch.setattr(client, "submit", lost)
    monkeypatch.setattr(client, "run", lambda fn, *args, **kw: ran.append((fn, args)))
    monkeypatch.setattr(distributed, "as_completed", iter)
    with shards_mod.Shards(client, lambda d: d, 1) as sh:
        with pytest.raises(RuntimeError, match=r"lost on the dask cluster 4 times.*7 of 7 coordin"):
            sh.map(lambda obj, item: item, [0, 1], [3, 4])
    # what the surviving workers built is still freed
    assert ran == [(shards_mod._forget, (sh.token,))]


def test_an_error_in_f_on_the_cluster_reaches_the_caller(client):
    def f(t):
        if t["b"][0] > THETA["b"][0]:  # only at θ + ε e_i of one coordinate
            raise RuntimeError("boom in f")
        return float(np.sum(t["w"]))

    with pytest.raises(RuntimeError, match="boom in f"):
        check_grad(f, THETA, lambda t: {"w": np.ones((3, 5)), "b": np.zeros(5)}, workers=client)


@pytest.mark.parametrize("how", ["thread pool", "dask client"])
def test_an_error_on_workers_is_the_one_the_serial_run_meets(how, request):
    """Two coordinates fail; the later one's shard finishes first. The
    caller still gets the earlier one's error, as without workers."""
    theta = np.linspace(0.1, 0.8, 8)

    def f(t):
        if t[1] > 0.2 + 1e-9:
            time.sleep(0.3)
            raise RuntimeError("f failed at coordinate 1") from KeyError("the cause")
        if t[6] > 0.7 + 1e-9:
            raise RuntimeError("f failed at coordinate 6")
        return float(np.sum(t**2))

    with pytest.raises(RuntimeError, match="coordinate 1") as serial:
        check_grad(f, theta, 2 * theta)
    if how == "dask client":
        with pytest.raises(RuntimeError) as par:
            check_grad(f, theta, 2 * theta, workers=request.getfixturevalue("client"))
    else:
        with ThreadPoolExecutor(max_workers=2) as ex, pytest.raises(RuntimeError) as par:
            check_grad(f, theta, 2 * theta, workers=ex)
    assert str(par.value) == str(serial.value)
    # the user's own chain comes along, as serially
    assert repr(par.value.__cause__) == repr(serial.value.__cause__) == "KeyError('the cause')"


def test_an_error_on_our_own_processes_is_the_earliest_with_its_remote_traceback():
    """workers=2 (processes fastgrad starts): f slow enough that the check
    is not kept serial; the later coordinate's error comes back first."""
    theta = np.linspace(0.1, 0.8, 8)

    def f(t):
        time.sleep(0.02)
        if t[1] > 0.2 + 1e-9:
            time.sleep(0.3)
            raise RuntimeError("f failed at coordinate 1")
        if t[6] > 0.7 + 1e-9:
            raise RuntimeError("f failed at coordinate 6")
        return float(np.sum(t**2))

    with pytest.raises(RuntimeError, match="coordinate 1") as serial:
        check_grad(f, theta, 2 * theta)
    with pytest.raises(RuntimeError) as par:
        check_grad(f, theta, 2 * theta, workers=2)
    assert str(par.value) == str(serial.value)
    assert "f failed at coordinate 1" in str(par.value.__cause__)  # the worker's traceback


def test_an_error_in_one_shard_leaves_nothing_built_behind():
    """An error in f stops the check; shards still running on the user's
    thread pool are waited for, so none builds into the cache after the
    check freed it (they used to, and the check's data stayed in memory)."""
    import threading

    started = threading.Event()

    def work(obj, item):
        if item == 0:
            started.wait(5)
            raise ValueError("f failed")
        started.set()
        time.sleep(0.05)
        return item

    with ThreadPoolExecutor(4) as ex:
        with pytest.raises(ValueError, match="f failed"):
            with shards_mod.Shards(ex, lambda d: d, 1) as sh:
                sh.map(work, [0, 1, 2, 3], [1, 1, 1, 1])
    assert not shards_mod._CACHE


def test_a_shut_down_executor_is_named_in_the_error():
    ex = ThreadPoolExecutor(2)
    ex.shutdown()
    model, params, X, Y, grads = net("tanh")
    for call in (
        lambda: gradient_check(model, params, grads, X, Y, workers=ex),
        lambda: check_grad(make_f(), THETA, grad, workers=ex),
    ):
        with pytest.raises(RuntimeError, match=r"workers=<concurrent.futures.*cannot take work"):
            call()
