#!/usr/bin/env python
"""fastgrad's full gradient check against the tools a user would pick instead.

Run from the repository root (or with fastgrad installed)::

    python bench/gradcheck.py                 # every network, every tool
    python bench/gradcheck.py --quick         # the two small networks, 1 repeat
    python bench/gradcheck.py --networks course,mnist --no-torch --markdown
    python bench/gradcheck.py --networks issue15 --tools inplace --blas-threads 1 \
        --fastgrad-blas-threads 1 --no-torch --no-jax --markdown   # smooth/deep/BN rows

Every tool checks the same network (ReLU hidden layers, sigmoid output — or,
for the ``issue15`` networks (VARIANTS), tanh/sigmoid hidden layers or batch
norm, where only the in-place loop runs beside fastgrad —
binary cross-entropy, ε = 1e-7, He-initialized from a fixed seed, X ~ N(0, 1),
Y ∈ {0, 1}) and is compared with the analytic gradient of ``MLP.backward``:

* fastgrad, 1 thread and all threads: ``gradient_check(..., mode="full")``;
* the course's NumPy loop (``gradient_check_n``: copy θ, rebuild the dict,
  full forward, for θ+ε and θ−ε);
* the best in-place NumPy loop (θ perturbed in place, views, buffers reused);
* ``scipy.optimize.check_grad`` (one-sided: P+1 evaluations; its result is
  ‖a − n‖₂, and its numerical gradient is ``approx_fprime``'s);
* ``torch.autograd.gradcheck`` in float64, ``fast_mode=False`` (full) and
  ``fast_mode=True`` (one random projection);
* ``jax.test_util.check_grads(order=1, modes=["rev"])`` (one random
  direction: it is not a full check, and says so).

A per-coordinate tool first runs on a pilot sample of 200 coordinates drawn
from every parameter block. If its full run is estimated to take longer than
``--budget`` seconds, its full time is extrapolated from a timed sample (the
pilot, or a larger one taking ~10% of the budget): those rows say "est.", and
the relative difference is the one on the sample. fastgrad always runs in
full. Every gradient checked is correct, so any failure is a false alarm.
"""
import argparse
import contextlib
import importlib
import os
import platform
import statistics
import sys
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
try:
    import fastgrad
except ImportError:  # a development checkout built with `build_ext --inplace`
    sys.path.insert(0, str(HERE.parent))
    import fastgrad
sys.path.insert(0, str(HERE))
import _baselines as B  # noqa: E402  (bench/ is not a package)
from fastgrad import params_to_vector  # noqa: E402

EPSILON = B.EPSILON
MIN_SAMPLE = 200        # coordinates in the pilot that estimates a tool's full
                        # run, and at least this many behind an "est."
SAMPLE_SHARE = 0.1      # an extrapolation sample takes ~this share of the budget
REL_SHARE = 0.25        # a tool's untimed second pass for its numerical gradient
                        # (scipy, torch) may take ~this share of the budget; beyond
                        # it, the pass covers a sample of the timed coordinates
SEED = 0

NETWORKS = {
    # name: (layer_dims, m); "course" is the course's fixed 47-parameter case
    "course": ((4, 5, 3, 1), 3),
    "small": ((20, 50, 50, 1), 128),
    "medium": ((64, 128, 64, 1), 256),
    "mnist": ((784, 128, 64, 1), 64),
}
# Smooth, deep and batch-normalized networks (issue 15): name: (layer_dims, m,
# hidden, batch-normalized layers). Xavier-initialized for tanh and sigmoid.
# Only the in-place NumPy loop runs beside fastgrad here (the course's loop is
# ReLU-only; --tools selects the others where they apply).
VARIANTS = {
    "mnist-tanh": ((784, 128, 64, 1), 64, "tanh", ()),
    "mnist-sigmoid": ((784, 128, 64, 1), 64, "sigmoid", ()),
    "medium-tanh": ((64, 128, 64, 1), 256, "tanh", ()),
    "deep-tanh": ((64,) * 10 + (1,), 128, "tanh", ()),
    "deep-relu": ((64,) * 10 + (1,), 128, "relu", ()),
    "mnist-relu-bn": ((784, 128, 64, 1), 64, "relu", (1, 2)),
    "cifar-tanh": ((3072, 1024, 512, 10), 64, "tanh", ()),
}
ISSUE15 = tuple(VARIANTS)
QUICK_NETWORKS = ("course", "small")


# -- cases -------------------------------------------------------------------

@dataclass
class Case:
    name: str
    model: object
    params: dict
    X: np.ndarray
    Y: np.ndarray
    analytic: np.ndarray = field(init=False)
    grads: dict = field(init=False)
    theta: np.ndarray = field(init=False)

    def __post_init__(self):
        self.grads = self.model.backward(self.params, self.X, self.Y)
        self.analytic = params_to_vector(self.grads, prefix="d")
        self.theta = params_to_vector(self.params)

    @property
    def P(self):
        return self.theta.size

    @property
    def m(self):
        return self.X.shape[1]

    @property
    def label(self):
        dims = ",".join(str(d) for d in self.model.layer_dims)
        if len(set(self.model.layer_dims[1:-1])) == 1 and len(self.model.layer_dims) > 6:
            dims = f"{self.model.layer_dims[1]}]×{len(self.model.layer_dims) - 2}+[{dims.split(',')[-1]}"
        prefix = "course " if self.name == "course" else ""
        acts = {a.name for a in self.model.activations}
        kind = "" if acts == {"relu"} and not self.model.batchnorm else f" {'/'.join(sorted(acts))}"
        if self.model.batchnorm:
            kind += " + BN on " + ",".join(str(l) for l in sorted(self.model.batchnorm))
        return f"{prefix}[{dims}]{kind} m={self.m}"

    @property
    def relu_only(self):
        return all(a.name == "relu" for a in self.model.activations) and not self.model.batchnorm

    def block_sizes(self):
        return [int(np.prod(s)) for s in self.model.param_shapes().values()]


def make_case(name):
    if name == "course":
        model, params, X, Y = B.course_example()
        return Case(name, model, params, X, Y)
    if name in VARIANTS:
        dims, m, hidden, bn = VARIANTS[name]
        model, params, X, Y = B.random_case(dims, m, seed=SEED, hidden=hidden, batchnorm=bn)
        return Case(name, model, params, X, Y)
    if name in NETWORKS:
        dims, m = NETWORKS[name]
    else:  # "D0-D1-...-DL@m"
        try:
            dims_text, m_text = name.split("@")
            dims, m = tuple(int(d) for d in dims_text.split("-")), int(m_text)
        except ValueError:
            raise SystemExit(f"unknown network {name!r}: use one of "
                             f"{', '.join(list(NETWORKS) + list(VARIANTS))}, 'issue15', "
                             "or a spec like 20-50-50-1@128") from None
    model, params, X, Y = B.random_case(dims, m, seed=SEED)
    return Case(name, model, params, X, Y)


def sample_indices(case, n, rng):
    """About ``n`` sorted coordinates, at least one from every parameter block
    (so biases are not missed), the rest in proportion to block size."""
    if n >= case.P:
        return np.arange(case.P)
    out, start = [], 0
    for size in case.block_sizes():
        k = min(size, max(1, round(n * size / case.P)))
        out.append(start + rng.choice(size, size=k, replace=False))
        start += size
    return np.sort(np.concatenate(out))


# -- tools -------------------------------------------------------------------

@dataclass
class Outcome:
    numerical: np.ndarray = None    # at the coordinates the tool ran on
    passed: bool = None             # the tool's own verdict, if it has one
    raw: float = None               # the tool's own number, if it is not the rel. diff


class Tool:
    """A per-coordinate tool: ``run(idx)`` checks the coordinates ``idx``
    (``None``: all of θ); ``second_pass(idx)`` gets its numerical gradient
    there when ``run`` does not expose it (untimed)."""
    name = "?"
    per_coordinate = True
    note = ""

    def __init__(self, case):
        self.case = case

    def run(self, idx):
        raise NotImplementedError

    def second_pass(self, idx):
        return None


class CourseLoop(Tool):
    name = "course NumPy loop"
    note = "copy θ + rebuild dict per evaluation"

    def run(self, idx):
        c = self.case
        return Outcome(numerical=B.course_loop(c.model, c.params, c.X, c.Y, EPSILON, idx))


class InPlaceLoop(Tool):
    name = "in-place NumPy loop"
    note = "θ perturbed in place, views, buffers reused"

    def run(self, idx):
        c = self.case
        return Outcome(numerical=B.inplace_loop(c.model, c.params, c.X, c.Y, EPSILON, idx))


class ScipyCheckGrad(Tool):
    name = "scipy check_grad"
    note = "one-sided, P+1 evaluations"

    def __init__(self, case):
        super().__init__(case)
        self.f, self.grad = B.flat_cost_and_grad(case.model, case.params, case.X, case.Y)

    def _restricted(self, idx):
        theta = self.case.theta
        if idx is None:
            return self.f, self.grad, theta.copy()
        f_s = B.restrict(self.f, theta, idx)
        full_grad = B.restrict(self.grad, theta, idx)
        return f_s, (lambda x: full_grad(x)[idx]), theta[idx].copy()

    def run(self, idx):
        from scipy.optimize import check_grad

        f, grad, x0 = self._restricted(idx)
        return Outcome(raw=float(check_grad(f, grad, x0, epsilon=EPSILON)))

    def second_pass(self, idx):
        # check_grad computes exactly this internally (same step, deterministic).
        from scipy.optimize import approx_fprime

        f, _, x0 = self._restricted(idx)
        return approx_fprime(x0, f, EPSILON)


class TorchGradcheck(Tool):
    def __init__(self, case, fast_mode):
        super().__init__(case)
        import torch

        self.torch = torch
        self.fast_mode = fast_mode
        self.per_coordinate = not fast_mode
        self.name = f"torch gradcheck fast_mode={fast_mode}"
        self.note = "one random projection vᵀJu" if fast_mode else "float64, full Jacobian"
        self.fn = B.torch_cost(case.model, case.X, case.Y)

    def _restricted(self, idx):
        torch, theta = self.torch, self.case.theta
        if idx is None:
            return self.fn, torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        x = torch.tensor(theta[idx], dtype=torch.float64, requires_grad=True)
        return B.torch_restrict(self.fn, theta, idx), x

    def run(self, idx):
        fn, x = self._restricted(idx)
        ok = self.torch.autograd.gradcheck(fn, (x,), eps=EPSILON, fast_mode=self.fast_mode,
                                           raise_exception=False)
        return Outcome(passed=bool(ok))

    def second_pass(self, idx):
        if self.fast_mode:
            return None
        fn, x = self._restricted(idx)
        return B.torch_numerical_gradient(fn, x.detach(), EPSILON)


class JaxCheckGrads(Tool):
    name = "jax check_grads (rev)"
    note = "one random direction, not a full check"
    per_coordinate = False

    def __init__(self, case):
        super().__init__(case)
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        from jax.test_util import check_grads

        self.check_grads = check_grads
        self.f = B.jax_cost(case.model, case.X, case.Y)
        self.theta = jnp.asarray(case.theta)
        assert self.theta.dtype == jnp.float64, "jax_enable_x64 did not take"

    def run(self, idx):
        try:
            self.check_grads(self.f, (self.theta,), order=1, modes=["rev"], eps=EPSILON)
        except AssertionError:
            return Outcome(passed=False)
        return Outcome(passed=True)


# -- measuring ---------------------------------------------------------------

@dataclass
class Row:
    network: str
    P: int
    tool: str
    run: str = ""              # "full ×3", "full ×1", "est. (n coords)", "directional ×3"
    seconds: float = None
    per_coord_us: float = None
    speedup: float = None      # fastgrad (all threads) is this many times faster
    rel_diff: float = None
    rel_note: str = ""
    check: str = ""
    note: str = ""


def timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def progress(msg):
    print(msg, file=sys.stderr, flush=True)


def measure_tool(tool, case, args, rng):
    """Time ``tool`` on ``case`` within the budget; return a Row."""
    row = Row(case.label, case.P, tool.name, note=tool.note)
    P = case.P
    if not tool.per_coordinate:
        runs = [timed(lambda: tool.run(None)) for _ in range(args.repeat)]
        row.seconds = statistics.median(t for _, t in runs)
        row.run = f"directional ×{args.repeat}"
        outcome = runs[-1][0]
        row.check = _verdict(outcome.passed)
        row.rel_note = "n/a (directional)"
        return row

    # The pilot is as large as the smallest extrapolation sample, so a noisy
    # machine misleads the estimate less and the pilot can serve as the sample.
    pilot = sample_indices(case, MIN_SAMPLE, rng)
    pilot_outcome, t_pilot = timed(lambda: tool.run(pilot))
    per_coord = t_pilot / pilot.size
    estimate = per_coord * P
    if estimate <= args.budget:
        idx, runs = None, []
        # Repeat while the runs so far and one more fit the budget (the
        # pilot's estimate can be off on a busy machine).
        while len(runs) < args.repeat:
            runs.append(timed(lambda: tool.run(None)))
            spent = sum(t for _, t in runs)
            if spent + spent / len(runs) > args.budget:
                break
        row.seconds = statistics.median(t for _, t in runs)
        row.run = f"full ×{len(runs)}"
        outcome = runs[-1][0]
        coords = np.arange(P)
    else:
        n = min(P, int(SAMPLE_SHARE * args.budget / per_coord))
        if n <= pilot.size:
            coords = idx = pilot
            outcome, t = pilot_outcome, t_pilot
        else:
            coords = idx = sample_indices(case, n, rng)
            outcome, t = timed(lambda: tool.run(idx))
        per_coord = t / coords.size
        row.seconds = per_coord * P
        row.run = f"est. ({coords.size} coords)"
    row.per_coord_us = row.seconds / P * 1e6
    row.check = _verdict(outcome.passed)

    timed_coords = coords
    numerical = outcome.numerical
    if numerical is None:
        # The tool does not expose its numerical gradient: recompute it the
        # same way on the coordinates it ran on (a sample of them if that
        # would take more than REL_SHARE of the budget).
        cap = max(MIN_SAMPLE, int(REL_SHARE * args.budget / per_coord))
        if coords.size > cap:
            coords = np.sort(rng.choice(coords, size=cap, replace=False))
            idx = coords
        numerical = tool.second_pass(idx)
    if numerical is None:
        row.rel_note = "n/a"
    else:
        row.rel_diff = B.relative_difference(case.analytic[coords], numerical)
        if coords.size < P:
            row.rel_note = f"on {coords.size} coords"
    if outcome.raw is not None:
        row.note = f"returns ‖a−n‖₂ = {outcome.raw:.3g}; " + row.note
        if numerical is not None and coords.size == timed_coords.size:
            # Sanity: approx_fprime reproduces check_grad's own number.
            same = np.linalg.norm(case.analytic[coords] - numerical)
            if not np.isclose(same, outcome.raw, rtol=1e-12, atol=0):
                row.note += f" (approx_fprime gives {same:.3g}!)"
    return row


def _verdict(passed):
    return "—" if passed is None else ("pass" if passed else "FAIL")


def _proc_status_kib(*keys):
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in keys:
                out[key] = int(value.split()[0])
    return out


def peak_rss_increase(fn):
    """Bytes the resident set grew to above its size at the start while
    ``fn()`` ran, or None where Linux's /proc interface is missing.

    Writing 5 to /proc/self/clear_refs resets the peak (VmHWM) to the current
    RSS, so VmHWM afterwards is the peak during ``fn`` - C scratch memory
    included, which tracemalloc does not see.
    """
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        base = _proc_status_kib("VmRSS")["VmRSS"]
    except (OSError, KeyError):
        return None
    fn()
    return (_proc_status_kib("VmHWM")["VmHWM"] - base) * 1024


def memory_child(name):
    """``--_memory NAME``: in a fresh process (no heap left over from other
    tools), print the peak RSS increase and the tracemalloc peak of one full
    fastgrad check with all threads, as JSON."""
    import gc
    import json

    check = fastgrad.gradient_check
    warm = make_case("course")  # first-call imports and thread start-up, not the check
    check(warm.model, warm.params, warm.grads, warm.X, warm.Y, epsilon=EPSILON, mode="full")
    c = make_case(name)
    call = lambda: check(c.model, c.params, c.grads, c.X, c.Y, epsilon=EPSILON, mode="full")  # noqa: E731
    gc.collect()
    rss = peak_rss_increase(call)
    gc.collect()
    tracemalloc.start()
    call()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"rss": rss, "traced": traced}))


def measure_memory(name):
    """Run :func:`memory_child` in a subprocess; ``(rss, traced)`` or Nones."""
    import json
    import subprocess

    try:
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_memory", name],
                              capture_output=True, text=True, timeout=3600, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        return result["rss"], result["traced"]
    except (subprocess.SubprocessError, OSError, ValueError, IndexError, KeyError) as exc:
        progress(f"  memory measurement failed: {exc}")
        return None, None


def measure_fastgrad(case, args):
    """Rows for 1 thread and all threads, and a summary dict (or None)."""
    check = getattr(fastgrad, "gradient_check", None)
    if check is None:
        rows = [Row(case.label, case.P, f"fastgrad ({t})", run="—",
                    note="fastgrad.gradient_check not available") for t in ("1 thread", "all threads")]
        return rows, None

    from fastgrad._threads import effective_n_threads

    n_all = effective_n_threads(None)
    c = case
    rows, times, reports = [], {}, {}
    for label, n_threads in (("1 thread", 1), (f"{n_all} threads", None)):
        def call():
            return check(c.model, c.params, c.grads, c.X, c.Y, epsilon=EPSILON,
                         n_threads=n_threads, mode="full")
        runs = [timed(call) for _ in range(args.repeat)]
        t = statistics.median(s for _, s in runs)
        report = runs[-1][0]
        times[n_threads], reports[n_threads] = t, report
        rows.append(Row(c.label, c.P, f"fastgrad ({label})", run=f"full ×{args.repeat}",
                        seconds=t, per_coord_us=t / c.P * 1e6,
                        rel_diff=float(report.difference), check=str(report.verdict)))
        progress(f"  {rows[-1].tool}: {t:.4g} s")

    # Memory, untimed, in a fresh process: peak RSS (C scratch included) and
    # tracemalloc's peak (NumPy and Python allocations only).
    rss, traced_peak = measure_memory(c.name)

    flops = getattr(reports[None], "flops", None)
    t_all = times[None]
    summary = {
        "network": c.label, "P": c.P, "t1": times[1], "tN": t_all, "n_threads": n_all,
        "scaling": times[1] / t_all if t_all > 0 else None,
        "flops": flops, "gflops": (flops / t_all / 1e9) if flops and t_all > 0 else None,
        "rss": rss, "traced": traced_peak,
        "forward": B.forward_memory_bytes(c.model.layer_dims, c.m),
    }
    return rows, summary


# -- output ------------------------------------------------------------------

def fmt_s(x):
    if x is None:
        return "—"
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def fmt_e(x):
    return "—" if x is None else f"{x:.2e}"


def fmt_bytes(n):
    if n is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def render(headers, rows, markdown):
    cells = [[str(c) for c in r] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |",
                 "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in cells]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join(out)


def results_table(rows, markdown):
    headers = ["network", "P", "tool", "run", "seconds", "µs/coord",
               "fastgrad speed-up", "rel. difference", "tool verdict", "notes"]
    body = []
    for r in rows:
        secs = fmt_s(r.seconds)
        if r.seconds is not None and r.run.startswith("est."):
            secs = "est. " + secs
        speed = "—" if r.speedup is None else f"{r.speedup:.3g}×"
        rel = fmt_e(r.rel_diff)
        if r.rel_note:
            rel = r.rel_note if r.rel_diff is None else f"{rel} ({r.rel_note})"
        body.append([r.network, r.P, r.tool, r.run, secs,
                     "—" if r.per_coord_us is None else f"{r.per_coord_us:.3g}",
                     speed, rel, r.check, r.note])
    return render(headers, body, markdown)


def fastgrad_table(summaries, markdown):
    headers = ["network", "P", "1 thread s", "all threads s", "scaling", "flops",
               "GFLOP/s", "peak RSS increase", "tracemalloc peak", "forward pass Z+A"]
    body = []
    for s in summaries:
        body.append([s["network"], s["P"], fmt_s(s["t1"]), f"{fmt_s(s['tN'])} ({s['n_threads']})",
                     "—" if s["scaling"] is None else f"{s['scaling']:.2f}×",
                     "n/a" if s["flops"] is None else f"{s['flops']:.3g}",
                     "n/a" if s["gflops"] is None else f"{s['gflops']:.3g}",
                     fmt_bytes(s["rss"]), fmt_bytes(s["traced"]), fmt_bytes(s["forward"])])
    return render(headers, body, markdown)


def environment(args, have_torch, have_jax):
    lines = []
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines.append(f"CPU: {cpu}; {os.cpu_count()} logical cores, {usable} usable"
                 f"; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    lines.append(f"Python {platform.python_version()} on {platform.platform()}")
    import scipy

    versions = [f"fastgrad {fastgrad.__version__}", f"numpy {np.__version__}",
                f"scipy {scipy.__version__}"]
    if have_torch:
        import torch
        versions.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    if have_jax:
        import jax
        versions.append(f"jax {jax.__version__} ({jax.default_backend()}, x64)")
    lines.append(", ".join(versions))
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        lines.append(f"NumPy BLAS: {blas.get('name')} {blas.get('version', '')}".rstrip())
    except Exception:  # older NumPy: no mode="dicts"
        lines.append("NumPy BLAS: see numpy.show_config()")
    try:
        from threadpoolctl import threadpool_info

        pools = [f"{p['internal_api']} {p.get('version') or ''} ×{p['num_threads']}".replace("  ", " ")
                 for p in threadpool_info()]
        lines.append("thread pools: " + "; ".join(pools))
    except ImportError:
        pass
    try:
        from fastgrad._openmp_helpers import openmp_enabled
        lines.append(f"fastgrad OpenMP: {'yes' if openmp_enabled() else 'no (serial build)'}")
    except ImportError:
        lines.append("fastgrad OpenMP: compiled helpers not built")
    lines.append(f"ε = {EPSILON:g}, budget {args.budget:g} s per tool, repeat {args.repeat}, "
                 f"seed {SEED}, baseline BLAS threads: {args.blas_threads or 'default'}, "
                 f"fastgrad BLAS threads: {args.fastgrad_blas_threads or 'default'}, "
                 f"torch threads: {args.torch_threads if have_torch else '—'}")
    return lines


# -- main --------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help=f"networks {','.join(QUICK_NETWORKS)}, --repeat 1, --budget 10 "
                        "(explicit options win)")
    p.add_argument("--networks", default=None,
                   help=f"comma-separated: {', '.join(NETWORKS)}, {', '.join(VARIANTS)}, "
                        "issue15 (all of the latter) or D0-D1-...-DL@m (default: the "
                        "former four; with --quick: course, small)")
    p.add_argument("--repeat", type=int, default=None,
                   help="runs per fast tool; the median is reported (default 3)")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds a tool may take before it is extrapolated from a "
                        "sample (default 120)")
    p.add_argument("--no-torch", action="store_true", help="skip torch.autograd.gradcheck")
    p.add_argument("--torch-threads", type=int, default=2,
                   help="torch.set_num_threads (default 2)")
    p.add_argument("--blas-threads", type=int, default=None,
                   help="BLAS threads for the NumPy/SciPy baselines (default: the "
                        "library's own, as a user gets; needs threadpoolctl)")
    p.add_argument("--no-jax", action="store_true", help="skip jax.test_util.check_grads")
    p.add_argument("--tools", default=None,
                   help="comma-separated subset of course,inplace,scipy,torch,jax "
                        "(default: all; on non-ReLU or batch-norm networks only inplace)")
    p.add_argument("--fastgrad-blas-threads", type=int, default=None,
                   help="BLAS threads under fastgrad's own calls too (its kernel's GEMMs "
                        "and the NumPy set-up); default: the library's own")
    p.add_argument("--markdown", action="store_true", help="print markdown tables")
    p.add_argument("--_memory", metavar="NAME",
                   help="only the peak memory of one check of NAME, in this process (the "
                        "bench runs it in a fresh one per network); prints JSON")
    args = p.parse_args(argv)
    if args.networks is None:
        args.networks = ",".join(QUICK_NETWORKS if args.quick else NETWORKS)
    args.networks = args.networks.replace("issue15", ",".join(ISSUE15))
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.budget is None:
        args.budget = 10.0 if args.quick else 120.0
    if args.repeat < 1 or args.budget <= 0:
        p.error("--repeat must be >= 1 and --budget > 0")
    return args


@contextlib.contextmanager
def blas_limit(n_threads):
    """``--blas-threads``: hold the BLAS under NumPy/SciPy to ``n_threads``
    for the baselines (None: the libraries' default, what a user gets)."""
    if n_threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n_threads, user_api="blas"):
        yield


def optional_import(name, skip, flag):
    if skip:
        return False, f"{name}: skipped ({flag})"
    try:
        importlib.import_module(name)
    except Exception as exc:  # ImportError, or a broken install
        return False, f"{name}: not available ({type(exc).__name__}: {exc}); its rows are skipped"
    return True, None


def main(argv=None):
    args = parse_args(argv)
    if args._memory:
        memory_child(args._memory)
        return 0
    have_torch, torch_note = optional_import("torch", args.no_torch, "--no-torch")
    have_jax, jax_note = optional_import("jax", args.no_jax, "--no-jax")
    if have_torch:
        import torch
        torch.set_num_threads(args.torch_threads)
    notes = [n for n in (torch_note, jax_note) if n]
    if not hasattr(fastgrad, "gradient_check"):
        notes.append("fastgrad.gradient_check not available: fastgrad rows are empty")

    rng = np.random.default_rng(SEED)
    rows, summaries, cases = [], [], []
    for name in args.networks.split(","):
        case = make_case(name.strip())
        cases.append(case)
        progress(f"{case.label}: P = {case.P}")
        with blas_limit(args.fastgrad_blas_threads):
            fg_rows, summary = measure_fastgrad(case, args)
        rows += fg_rows
        if summary:
            summaries.append(summary)
        t_fast = summary["tN"] if summary else None

        tools = [("course", CourseLoop), ("inplace", InPlaceLoop), ("scipy", ScipyCheckGrad)]
        if have_torch:
            tools += [("torch", lambda c: TorchGradcheck(c, fast_mode=False)),
                      ("torch", lambda c: TorchGradcheck(c, fast_mode=True))]
        if have_jax:
            tools.append(("jax", JaxCheckGrads))
        wanted = (args.tools.split(",") if args.tools
                  else None if case.relu_only else ["inplace"])
        tools = [make for key, make in tools
                 if (wanted is None or key in wanted) and (key != "course" or case.relu_only)]
        for make in tools:
            tool = make(case)
            progress(f"  {tool.name} ...")
            with warnings.catch_warnings(), blas_limit(args.blas_threads):
                warnings.simplefilter("ignore", UserWarning)
                row = measure_tool(tool, case, args, rng)
            if t_fast and row.seconds:
                row.speedup = row.seconds / t_fast
            progress(f"    {row.run}: {row.seconds:.4g} s, rel. diff {fmt_e(row.rel_diff)}"
                     + (f", {row.check}" if row.check != "—" else ""))
            rows.append(row)

    print("## Environment\n")
    for line in environment(args, have_torch, have_jax):
        print(f"- {line}" if args.markdown else line)
    for n in notes:
        print(f"- note: {n}" if args.markdown else f"note: {n}")
    print("\n## Full gradient check: time and relative difference\n")
    print(results_table(rows, args.markdown))
    print("\nseconds: median of the runs; 'est.' = extrapolated from a timed sample of "
          "coordinates. speed-up = tool seconds / fastgrad (all threads) seconds. "
          "rel. difference = ‖a−n‖₂/(‖a‖₂+‖n‖₂) against MLP.backward. Every gradient "
          "checked here is correct, so a FAIL is a false alarm.")
    if any(r.check == "FAIL" and r.run.startswith("directional") for r in rows):
        print("\nA directional check moves all P coordinates at once, θ ± ε·t with t ~ N(0, I), "
              "a step of length ≈ ε·√P; on a ReLU network that step can cross a kink "
              "(a hidden pre-activation within reach of 0), and the finite difference "
              "then disagrees with the exact gradient.")
    print("\n## fastgrad: thread scaling, flops, memory\n")
    if summaries:
        print(fastgrad_table(summaries, args.markdown))
    else:
        print("fastgrad.gradient_check not available")
        mem = [[c.label, fmt_bytes(B.forward_memory_bytes(c.model.layer_dims, c.m))]
               for c in cases]
        print("\nforward pass Z+A (for comparison with fastgrad's peak memory):\n")
        print(render(["network", "forward pass Z+A"], mem, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
