"""``fastgrad info``: what this fastgrad is built with and what runs beside it.

Lists fastgrad's version and build (OpenMP or serial, and which OpenMP
runtime its kernels loaded), NumPy/SciPy, and every BLAS and OpenMP library
loaded in the process (threadpoolctl), then warns about combinations known to
go wrong: Intel's libiomp or LLVM's libomp beside GNU libgomp (crashes,
deadlocks or oversubscription), and two copies of libiomp/libomp ("OMP: Error
#15"). Several renamed libgomp copies (one per manylinux wheel, like
``libgomp-e985bcbb-a43904e4.so.1.0.0``) are normal: each wheel brings its own.
"""

import ctypes
import json
import os
import platform
import sys

# threadpoolctl's "prefix" of each OpenMP runtime, and whose it is.
RUNTIMES = {
    "libgomp": "GNU libgomp",
    "libiomp": "Intel libiomp",
    "libomp": "LLVM libomp",
    "vcomp": "MSVC vcomp",
}


def _mapped_file(address):
    """The file mapped at ``address`` in this process (Linux /proc), or None."""
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                parts = line.split(maxsplit=5)
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                if lo <= address < hi:
                    return parts[5].strip() if len(parts) == 6 else None
    except (OSError, ValueError, IndexError):
        pass
    return None


def openmp_runtime(pools=None):
    """The path of the OpenMP runtime fastgrad's kernels call, or None.

    Found by asking the dynamic loader where ``omp_get_max_threads`` resolves
    for fastgrad's ``_openmp_helpers`` extension; where /proc is missing, the
    only OpenMP library threadpoolctl lists (if there is exactly one)."""
    from fastgrad import _openmp_helpers

    if not _openmp_helpers.openmp_enabled():
        return None
    try:
        func = ctypes.CDLL(_openmp_helpers.__file__).omp_get_max_threads
        path = _mapped_file(ctypes.cast(func, ctypes.c_void_p).value)
    except (OSError, AttributeError):
        path = None
    if path is None and pools:
        runtimes = [
            p["filepath"]
            for p in pools
            if p.get("user_api") == "openmp" and p.get("internal_api") != "fastgrad"
        ]
        if len(runtimes) == 1:
            path = runtimes[0]
    return path


def _family(pool):
    name = os.path.basename(pool.get("filepath") or "").lower()
    for prefix in RUNTIMES:
        if (pool.get("prefix") or "").lower().startswith(prefix) or name.startswith(prefix):
            return prefix
    return None


def clashes(pools):
    """Warnings (strings) about the OpenMP runtimes in ``pools`` (threadpoolctl
    dicts); notes about harmless combinations come back in a second list."""
    openmp = [
        p for p in pools if p.get("user_api") == "openmp" and p.get("internal_api") != "fastgrad"
    ]
    by_family = {}
    for pool in openmp:
        family = _family(pool)
        if family is not None:
            by_family.setdefault(family, []).append(pool["filepath"])
    warnings, notes = [], []
    kmp = [f for f in ("libiomp", "libomp") if f in by_family]
    if "libgomp" in by_family and kmp:
        others = " and ".join(RUNTIMES[f] for f in kmp)
        warnings.append(
            f"{others} is loaded beside GNU libgomp: two OpenMP runtimes in one process can "
            "crash, deadlock or oversubscribe the cores. Prefer packages built with one runtime "
            "(e.g. NumPy/SciPy/scikit-learn wheels from PyPI all use libgomp), or set "
            "MKL_THREADING_LAYER=GNU when MKL brought libiomp; see "
            "https://github.com/joblib/threadpoolctl/blob/master/multiple_openmp.md"
        )
    kmp_files = [path for f in kmp for path in by_family[f]]
    if len(kmp_files) > 1:
        warnings.append(
            f"{len(kmp_files)} copies of the Intel/LLVM OpenMP runtime are loaded "
            f"({', '.join(kmp_files)}): this is what ends a process with 'OMP: Error #15'; "
            "install the packages that bring them from one source (all from PyPI, or all "
            "from conda)"
        )
    if len(by_family.get("libgomp", [])) > 1:
        notes.append(
            f"{len(by_family['libgomp'])} copies of GNU libgomp are loaded: normal, each "
            "manylinux wheel bundles its own renamed copy"
        )
    return warnings, notes


def runtime_info():
    """Everything ``fastgrad info`` prints, as a dict."""
    import numpy
    import scipy

    from fastgrad import _openmp_helpers
    from fastgrad._threads import effective_n_threads, forked_serial, thread_limit
    from fastgrad._version import __version__

    try:
        import threadpoolctl
    except ImportError:
        threadpoolctl = None
    pools = threadpoolctl.threadpool_info() if threadpoolctl is not None else []
    openmp = _openmp_helpers.openmp_enabled()
    if openmp:
        build = "OpenMP"
    elif _openmp_helpers.serial_requested():
        build = "serial (asked for with FASTGRAD_NO_OPENMP at build time)"
    else:
        build = (
            "serial (the compiler could not build an OpenMP program: kernels run on one "
            "thread, same results, slower)"
        )
    warnings, notes = clashes(pools)
    return {
        "fastgrad": __version__,
        "location": os.path.dirname(os.path.abspath(_openmp_helpers.__file__)),
        "build": build,
        "openmp_runtime": openmp_runtime(pools),
        "default_threads": effective_n_threads(None),
        "thread_limit": thread_limit(),
        "forked_serial": forked_serial(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "threadpoolctl": getattr(threadpoolctl, "__version__", None),
        "threadpools": pools,
        "warnings": warnings,
        "notes": notes,
    }


def format_info(info):
    """The text ``fastgrad info`` prints."""
    lines = [
        f"fastgrad {info['fastgrad']} ({info['location']})",
        f"build: {info['build']}",
    ]
    if info["build"] == "OpenMP":
        lines.append(f"OpenMP runtime: {info['openmp_runtime'] or 'unknown'}")
    threads = f"threads: {info['default_threads']} by default, at most {info['thread_limit']}"
    if info["forked_serial"]:
        threads += " (this process was forked after a parallel region: kernels run serially)"
    lines += [
        threads,
        f"python {info['python']} on {info['platform']}",
        (
            f"numpy {info['numpy']}, scipy {info['scipy']}, threadpoolctl "
            f"{info['threadpoolctl'] or 'not installed'}"
        ),
    ]
    if info["threadpoolctl"] is None:
        lines.append(
            "loaded BLAS/OpenMP libraries: unknown (pip install threadpoolctl to list them)"
        )
    else:
        lines.append("loaded BLAS/OpenMP libraries (threadpoolctl):")
        rows = [("user_api", "library", "threads", "version", "file")]
        rows += [
            (
                p.get("user_api", ""),
                p.get("internal_api", "")
                if p.get("internal_api") not in ("openmp", None)
                else p.get("prefix", ""),
                str(p.get("num_threads", "")),
                str(p.get("version") or "-"),
                p.get("filepath", ""),
            )
            for p in info["threadpools"]
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for row in rows:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[4])
    for note in info["notes"]:
        lines.append(f"note: {note}")
    for warning in info["warnings"]:
        lines.append(f"WARNING: {warning}")
    return "\n".join(lines)


def main(as_json=False, file=None):
    """Print the runtime table (or JSON); the exit status is 0."""
    info = runtime_info()
    file = sys.stdout if file is None else file
    print(json.dumps(info, indent=1, default=str) if as_json else format_info(info), file=file)
    return 0
