"""Build fastgrad's compiled kernels. ``csrc/`` mirrors the package: every
``csrc/<folders>/<name>.pyx`` becomes ``fastgrad.<folders>.<name>``, e.g.
``csrc/gradcheck/_mlp_kernel.pyx`` -> ``fastgrad.gradcheck._mlp_kernel``, the
kernel of ``fastgrad/gradcheck/mlp.py`` (a kernel is named after its caller).

OpenMP is used when the compiler can build *and run* a tiny OpenMP program;
otherwise the build warns and produces serial code that passes every test.
Set ``FASTGRAD_DEBUG=1`` to compile with bounds checking and wraparound on.
``FASTGRAD_NO_OPENMP=1`` asks for serial kernels (recorded in the build, so
``import fastgrad`` does not warn about them); ``FASTGRAD_REQUIRE_OPENMP=1``
makes a missing OpenMP an error instead of a serial build (wheel builds set it).
Release builds carry no debug info (``-g0``; ``-s`` strips the link on Linux).
"""
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import warnings
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).parent.resolve()
OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        printf("%d\\n", n);
        return n > 0 ? 0 : 1;
    }
    """
)


def env_flags(*names):
    """The user's flags from the environment, which setuptools adds to every
    compile and link: the probe must see them too (a libomp under
    ``-I``/``-L`` paths on macOS, an older libgomp on Linux wheel builds)."""
    return [flag for name in names for flag in os.environ.get(name, "").split()]


def openmp_flags():
    """Return (compile_args, link_args) for OpenMP, or ([], []) if unusable."""
    if os.environ.get("FASTGRAD_NO_OPENMP"):
        # Recorded in the build: fastgrad._openmp_helpers.serial_requested().
        return [("/D" if sys.platform == "win32" else "-D") + "FASTGRAD_SERIAL_REQUESTED=1"], []
    if sys.platform == "win32":
        candidates = [(["/openmp"], [])]
    elif sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"]), (["-fopenmp"], ["-fopenmp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()
    for cflags, lflags in candidates:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp, "probe.c")
            exe = Path(tmp, "probe")
            src.write_text(OPENMP_PROBE)
            try:
                subprocess.run(
                    cc + env_flags("CPPFLAGS", "CFLAGS") + cflags + [str(src), "-o", str(exe)]
                    + lflags + env_flags("LDFLAGS"),
                    check=True, capture_output=True, timeout=120,
                )
                subprocess.run([str(exe)], check=True, capture_output=True, timeout=60)
            except (OSError, subprocess.SubprocessError):
                continue
        return cflags, lflags
    if os.environ.get("FASTGRAD_REQUIRE_OPENMP"):
        sys.exit("fastgrad: FASTGRAD_REQUIRE_OPENMP is set but the C compiler "
                 f"({' '.join(cc)}) cannot build and run an OpenMP program")
    # pip shows this only with -v; the built package says it again at import
    # (fastgrad/__init__.py) and in `fastgrad info`.
    warnings.warn(
        "\n*** fastgrad: the C compiler cannot build and run an OpenMP program. ***\n"
        "*** Building SERIAL kernels: results are identical, only slower.     ***\n",
        stacklevel=1,
    )
    return [], []


def release_flags(debug):
    """(compile_args, link_args) that keep debug info out of release builds:
    the interpreter's CFLAGS often carry ``-g``, which triples the size of
    every extension. Extra arguments come last on the command line, so
    ``-g0`` wins."""
    if debug or sys.platform == "win32":
        return [], []
    if sys.platform == "darwin":
        return ["-g0"], ["-Wl,-S"]
    return ["-g0"], ["-s"]


def extensions():
    debug = bool(os.environ.get("FASTGRAD_DEBUG"))
    cflags, lflags = openmp_flags()
    strip_cflags, strip_lflags = release_flags(debug)
    cflags, lflags = cflags + strip_cflags, lflags + strip_lflags
    # -ffp-contract=off: no fused multiply-add where the source has a
    # multiply and an add. GCC and clang fuse them by default on targets with
    # FMA (aarch64, Apple arm64), which would give the kernels other bits
    # there than on x86-64, and give the vectorized and the scalar steps of
    # one norm recurrence different bits (csrc/gradcheck/_generic_kernel.pyx).
    opt = ["-O0", "-g"] if debug else ["-O3"]
    opt = opt + ["-ffp-contract=off"]
    if sys.platform == "win32":
        opt = ["/Od"] if debug else ["/O2"]  # MSVC does not contract by default
    exts = []
    for pyx in sorted((HERE / "csrc").rglob("*.pyx")):
        name = ".".join(("fastgrad",) + pyx.relative_to(HERE / "csrc").with_suffix("").parts)
        exts.append(
            Extension(
                name,
                [str(pyx.relative_to(HERE))],
                extra_compile_args=opt + cflags,
                extra_link_args=lflags,
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
            )
        )
    directives = {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": debug,
        "initializedcheck": debug,
        "cdivision": True,
        "embedsignature": True,
    }
    return cythonize(
        exts,
        compiler_directives=directives,
        include_path=[str(HERE / "csrc")],
        # Each build compiles with its own OpenMP decision; never reuse stale C.
        force=True,
        quiet=True,
    )


setup(ext_modules=extensions())
