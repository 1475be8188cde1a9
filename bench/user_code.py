"""check_grad / check_vjp on a user's own NumPy code, against what one would run instead.

Three user-written functions with their own backward pass (``_user_layers.py``):
a 3-layer tanh network (``check_grad`` on a dict of parameters), a
convolution layer by im2col and a softmax-attention layer (``check_vjp``
with an upstream gradient). For each, the median seconds of ``--repeat``
runs of

* fastgrad, serial and with ``workers=2`` (two processes, started by the
  check and included in its time; they exit in the background after the
  check returns, and are reaped between timed runs);
* a bare Python loop of central differences over the same function (the
  course's loop; for a layer the loop of ``eval_numerical_gradient_array``:
  ``Σ upstream·(f(x+εe) − f(x−εe))/2ε``), and the same loop split in two
  halves over a ``ProcessPoolExecutor(2)`` (forked and started in the timed
  run, let go like ``workers=2``'s): what two processes give at best on
  this machine and this function, the ceiling against which ``workers=2``
  is judged; once as is, once with the malloc settings fastgrad's worker
  processes take (``fastgrad._malloc``: a function with MiB-sized
  temporaries can run ~2x faster with them). With ``--malloc-like-workers``
  the processes inherit those settings from this one, and only one
  ceiling row is shown;
* ``scipy.optimize.approx_fprime`` (forward difference, its default step;
  with ``workers=`` only where the installed SciPy has it);
* ``numdifftools.Gradient`` (Richardson extrapolation, ~30 calls per
  coordinate): timed on ``--nd-sample`` coordinates and scaled to all of them;
* ``torch.autograd.gradcheck`` (``fast_mode=False``, float64, its default
  eps=1e-6) on the same function written in torch; for a layer on the scalar
  ``Σ upstream·f``, since a full check of the layer's Jacobian needs one
  backward pass per output element.

and each tool's relative difference ``|a − n| / (|a| + |n|)`` against the
correct backprop gradient. Pin BLAS the same on both sides, e.g.

    OPENBLAS_NUM_THREADS=1 python bench/user_code.py [--repeat 3] [--markdown]

``--malloc-like-workers`` gives this process the malloc settings of
fastgrad's worker processes, so that the serial check and ``workers=2`` run
``f`` alike: the like-for-like measure of what two processes gain. Without
it, an ``f`` with MiB-sized temporaries may run ~2x slower serially (in this
process's malloc state) than in the workers, and ``workers=2`` looks better
than two cores allow.

(the workers of ``workers=2`` hold BLAS at one thread themselves; torch is
set to ``--torch-threads``, default 1). Numbers depend on the machine and
its load, which is printed; run on an idle machine.
"""

import argparse
import inspect
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _user_layers as U  # noqa: E402

import fastgrad  # noqa: E402

EPS = 1e-7


def rel(a, n):
    return float(np.linalg.norm(a - n) / (np.linalg.norm(a) + np.linalg.norm(n)))


def cpu_seconds():
    """CPU seconds (user + system) of this process and of its reaped children."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def reap_pools():
    """Wait until every ProcessPoolExecutor of this process has joined its
    processes (their CPU time is in RUSAGE_CHILDREN only once reaped)."""
    import threading
    from concurrent.futures import process

    for t in threading.enumerate():
        if isinstance(t, process._ExecutorManagerThread):
            t.join()


def fastgrad_tool(case, workers):
    def run():
        rep = check()
        run.notes = [n for n in rep.notes if n.startswith("workers")]
        return np.concatenate([rep.numerical[k].ravel() for k in case.keys])

    def check():
        if case.upstream is None:
            return fastgrad.check_grad(case.f, case.inputs, case.grads, progress=False,
                                      workers=workers)
        return fastgrad.check_vjp(case.f, tuple(case.inputs.values()),
                                     tuple(case.grads.values()), case.upstream,
                                     progress=False, workers=workers)

    return run


def bare_tool(case, lo=0, hi=None):
    """The loop a user writes: perturb one entry of θ in place, call, restore
    (coordinates ``lo:hi``, default all)."""

    def run():
        t = case.theta.copy()
        views = case.unflat(t)  # views of t: a perturbed entry is seen without copying
        stop = t.size if hi is None else hi
        n = np.empty(stop - lo)
        if case.upstream is None:
            for i in range(lo, stop):
                o = t[i]
                t[i] = o + EPS
                fp = case.f(views)
                t[i] = o - EPS
                fm = case.f(views)
                t[i] = o
                n[i - lo] = (fp - fm) / (2 * EPS)
            return n
        args, u = tuple(views.values()), case.upstream
        for i in range(lo, stop):
            o = t[i]
            t[i] = o + EPS
            yp = case.f(*args)
            t[i] = o - EPS
            ym = case.f(*args)
            t[i] = o
            n[i - lo] = np.sum(u * (yp - ym)) / (2 * EPS)
        return n

    return run


_CASE = None  # the case a forked pool's processes loop over


def _bare_range(lo, hi):
    return bare_tool(_CASE, lo, hi)()


def bare_pool_tool(case, n=2, malloc=False):
    """The bare loop split in ``n`` halves over a ProcessPoolExecutor of ``n``
    forked processes, started in the timed run and let go without waiting
    for them to exit, like ``workers=2``'s: what this machine allows two
    processes at best, with
    nothing of fastgrad's (the ceiling for ``workers=2``). With ``malloc``,
    the processes first take the malloc settings fastgrad's own workers take
    (``fastgrad._malloc``), so that the comparison is like for like."""

    def run():
        global _CASE
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from fastgrad._malloc import keep_freed_memory

        _CASE = case  # inherited by the forked processes (fork, whatever the default)
        edges = np.linspace(0, case.theta.size, n + 1).astype(int)
        init = keep_freed_memory if malloc else None
        ex = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork"),
                                 initializer=init)
        try:
            parts = list(ex.map(_bare_range, edges[:-1], edges[1:]))
        finally:
            ex.shutdown(wait=False)  # reaped after the timed run (reap_pools)
        return np.concatenate(parts)

    return run


def scipy_tools(case):
    try:
        from scipy.optimize import approx_fprime
    except ImportError:
        return {}, "scipy not installed"
    out = {"scipy approx_fprime": lambda: approx_fprime(case.theta, case.J)}
    if "workers" in inspect.signature(approx_fprime).parameters:
        out["scipy approx_fprime workers=2"] = lambda: approx_fprime(case.theta, case.J,
                                                                      workers=2)
        return out, None
    import scipy

    return out, f"SciPy {scipy.__version__}: approx_fprime has no workers= parameter"


def numdifftools_tool(case, sample):
    """numdifftools.Gradient on ``sample`` coordinates; seconds scaled to all."""
    import numdifftools as nd

    idx = np.linspace(0, case.theta.size - 1, min(sample, case.theta.size)).astype(int)

    def J_sub(s):
        t = case.theta.copy()
        t[idx] = s
        return case.J(t)

    def run():
        return nd.Gradient(J_sub)(case.theta[idx])

    return run, idx, case.theta.size / idx.size


def torch_tool(case, threads):
    """torch's gradcheck on the case. torch is imported here, after every
    other tool has run: a NumPy user's process has no torch in it, and
    torch's mappings (RSS 62 -> 247 MB here) make each fork of ``workers=2``
    (and of the 2-process ceiling) several ms slower."""
    import importlib

    import torch

    torch.set_num_threads(threads)
    tf = case.torch_f()
    ins = tuple(torch.tensor(v, dtype=torch.float64, requires_grad=True)
                for v in case.inputs.values())
    if case.upstream is None:
        fn = tf
    else:
        u = torch.from_numpy(case.upstream)

        def fn(*xs):
            return (u * tf(*xs)).sum()

    def run():
        assert torch.autograd.gradcheck(fn, ins, fast_mode=False)

    def numerical():
        g = importlib.import_module("torch.autograd.gradcheck")
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            jac = g.get_numerical_jacobian(lambda xs: fn(*xs), ins, eps=1e-6)
        return np.concatenate([j.detach().numpy().ravel() for j in jac])

    return run, numerical


def median_time(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def bench_case(case, args):
    a = case.analytic
    case.J(case.theta)
    t = time.perf_counter()
    for _ in range(10):
        case.J(case.theta)
    f_ms = (time.perf_counter() - t) / 10 * 1e3
    rows, notes = [], []
    tools = {"bare Python loop": bare_tool(case)}
    kind = "check_grad" if case.upstream is None else "check_vjp"
    tools[f"fastgrad {kind}"] = fastgrad_tool(case, None)
    tools[f"fastgrad {kind} workers=2"] = fastgrad_tool(case, 2)
    tools["bare loop, 2 processes"] = bare_pool_tool(case, 2)
    if not args.malloc_like_workers:  # else the row above has the settings already
        tools["bare loop, 2 processes, fastgrad's malloc"] = bare_pool_tool(case, 2, malloc=True)
    if not args.only_fastgrad:
        more, note = scipy_tools(case)
        tools.update(more)
        notes += [note] if note else []
    # rounds: every tool once per round, so a change of load hits all of them alike
    times = {name: [] for name in tools}
    cpu = {name: [] for name in tools}
    results = {}
    for _ in range(args.repeat):
        for name, fn in tools.items():
            c = cpu_seconds()
            t = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t)
            # workers=2's processes exit after the check returns: counted once reaped
            reap_pools()
            cpu[name].append(cpu_seconds() - c)
    base = serial = base_cpu = None
    for name, fn in tools.items():
        sec, best = float(np.median(times[name])), min(times[name])
        base = base or (sec, best)
        if name == f"fastgrad {kind}":
            serial = (sec, best)
        extra = "; ".join(getattr(fn, "notes", []))
        # CPU seconds of every process involved: the work done, whatever the load
        c = float(np.median(cpu[name]))
        base_cpu = base_cpu or c
        extra = f"cpu {c:.3f} s (x{c / base_cpu:.2f})" + ("; " + extra if extra else "")
        if name.endswith("workers=2") and serial:
            extra = (extra + "; " if extra else "") + f"{serial[0] / sec:.2f}x serial"
        if name.startswith("bare loop, 2 processes"):
            extra += f"; {base[0] / sec:.2f}x the bare loop (a ceiling for workers=2)"
        extra = f"best {best:.3f} s (x{best / base[1]:.2f}); " + extra
        rows.append((name, sec, sec / base[0], rel(a, results[name]), extra.rstrip("; ")))
    if not (args.no_numdifftools or args.only_fastgrad):
        try:
            run, idx, scale = numdifftools_tool(case, args.nd_sample)
            sec, n = median_time(run, 1)
            rows.append(("numdifftools Gradient", sec * scale, sec * scale / base[0], rel(a[idx], n),
                         f"timed on {idx.size} coordinates, scaled x{scale:.1f}"))
        except ImportError:
            notes.append("numdifftools not installed (pip install numdifftools)")
    return f_ms, rows, notes, base[0]


def torch_row(case, base, args, notes):
    """torch's row, run after every case's other tools (see torch_tool)."""
    try:
        run, numerical = torch_tool(case, args.torch_threads)
    except ImportError:
        notes.append("torch not installed (pip install torch==2.13.0)")
        return []
    import torch

    sec, _ = median_time(run, args.repeat)
    what = "on sum(upstream*f)" if case.upstream is not None else ""
    notes.append(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), imported "
                 "after every case's other tools ran")
    return [("torch gradcheck", sec, sec / base, rel(case.analytic, numerical()),
             f"fast_mode=False, eps=1e-6 {what}".strip())]


def environment(args):
    lines = [f"python {sys.version.split()[0]}, numpy {np.__version__}, fastgrad "
             f"{fastgrad.__version__}"]
    lines.append("malloc: " + ("this process too has the settings of fastgrad's workers"
                               if args.malloc_like_workers else "this process as it comes; "
                               "fastgrad's workers and the last row with its settings"))
    lines.append("OPENBLAS_NUM_THREADS=" + os.environ.get("OPENBLAS_NUM_THREADS", "(unset)")
                 + ", OMP_NUM_THREADS=" + os.environ.get("OMP_NUM_THREADS", "(unset)"))
    try:
        from threadpoolctl import threadpool_info

        lines.append("BLAS: " + ", ".join(f"{p['internal_api']} {p['num_threads']} threads"
                                          for p in threadpool_info()))
    except ImportError:
        pass
    with open("/proc/loadavg") if os.path.exists("/proc/loadavg") else open(os.devnull) as fh:
        load = fh.read().split()[:3]
    lines.append(f"cores {os.cpu_count()}, load average {' '.join(load)} (before the run)")
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--m", type=int, default=9000, help="the network's examples")
    ap.add_argument("--nd-sample", type=int, default=48, help="numdifftools coordinates")
    ap.add_argument("--no-numdifftools", action="store_true")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--torch-threads", type=int, default=1)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--cases", default="network,conv,attention")
    ap.add_argument("--only-fastgrad", action="store_true",
                    help="bare loop and fastgrad only (the 5%% and 1.8x targets)")
    ap.add_argument("--malloc-like-workers", action="store_true",
                    help="this process takes the malloc settings of fastgrad's worker "
                         "processes too, so that serial and workers=2 run f alike")
    args = ap.parse_args(argv)
    if args.malloc_like_workers:
        from fastgrad._malloc import keep_freed_memory

        if not keep_freed_memory():
            ap.error("--malloc-like-workers needs glibc's mallopt")
    for line in environment(args):
        print(line)
    make = {"network": lambda: U.network(m=args.m),
            "conv": lambda: U.conv(N=4, C=1, H=20, F=64, k=5),
            "attention": lambda: U.attention(T=320, d=4)}
    cases = [make[c]() for c in args.cases.split(",")]
    done = [(case, *bench_case(case, args)) for case in cases]
    if not (args.no_torch or args.only_fastgrad):
        for case, _, rows, notes, base in done:
            rows += torch_row(case, base, args, notes)
    for case, f_ms, rows, notes, _ in done:
        head = f"{case.name}: {case.theta.size} coordinates, one f {f_ms:.2f} ms"
        if args.markdown:
            print(f"\n{head}\n\n| tool | seconds | vs bare loop | difference | note |")
            print("|---|---:|---:|---:|---|")
            for name, sec, ratio, d, extra in rows:
                print(f"| {name} | {sec:.3f} | {ratio:.2f}x | {d:.1e} | {extra} |")
        else:
            print("\n" + head)
            for name, sec, ratio, d, extra in rows:
                print(f"  {name:34s} {sec:8.3f} s  x{ratio:5.2f} vs bare  difference {d:.1e}"
                      f"  {extra}")
        for n in notes:
            print(f"  note: {n}")
    with open("/proc/loadavg") if os.path.exists("/proc/loadavg") else open(os.devnull) as fh:
        print(f"\nload average after the run: {' '.join(fh.read().split()[:3])}")


if __name__ == "__main__":
    main()
