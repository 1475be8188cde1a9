"""Build fastgrad's compiled kernels. ``csrc/`` mirrors the package: every
``csrc/<folders>/<name>.pyx`` becomes ``fastgrad.<folders>.<name>``, e.g.
``csrc/gradcheck/_mlp_kernel.pyx`` -> ``fastgrad.gradcheck._mlp_kernel``, the
kernel of ``fastgrad/gradcheck/mlp.py`` (a kernel is named after its caller).

OpenMP is used when the compiler can build *and run* a tiny OpenMP program;
otherwise the build warns and produces serial code that passes every test.
Set ``FASTGRAD_DEBUG=1`` to compile with bounds checking and wraparound on.
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


def openmp_flags():
    """Return (compile_args, link_args) for OpenMP, or ([], []) if unusable."""
    if os.environ.get("FASTGRAD_NO_OPENMP"):
        return [], []
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
                    cc + cflags + [str(src), "-o", str(exe)] + lflags,
                    check=True, capture_output=True, timeout=120,
                )
                subprocess.run([str(exe)], check=True, capture_output=True, timeout=60)
            except (OSError, subprocess.SubprocessError):
                continue
        return cflags, lflags
    warnings.warn(
        "\n*** fastgrad: the C compiler cannot build and run an OpenMP program. ***\n"
        "*** Building SERIAL kernels: results are identical, only slower.     ***\n",
        stacklevel=1,
    )
    return [], []


def extensions():
    debug = bool(os.environ.get("FASTGRAD_DEBUG"))
    cflags, lflags = openmp_flags()
    opt = ["-O0", "-g"] if debug else ["-O3"]
    if sys.platform == "win32":
        opt = ["/Od"] if debug else ["/O2"]
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
