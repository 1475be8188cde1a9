"""``fastgrad info``: version, build, runtimes loaded, clash warnings; the
serial-build warning at import."""
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy

import fastgrad
from fastgrad import _openmp_helpers, info
from fastgrad._version import __version__
from fastgrad.cli import main


def _pool(prefix, path, user_api="openmp", internal_api="openmp"):
    return {"user_api": user_api, "internal_api": internal_api, "prefix": prefix,
            "filepath": path, "num_threads": 2, "version": None}


def test_info_prints_versions_build_and_pools(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"fastgrad {__version__} (")
    assert fastgrad.__version__ == __version__
    assert f"numpy {np.__version__}, scipy {scipy.__version__}" in out
    if _openmp_helpers.openmp_enabled():
        assert "build: OpenMP" in lines
    else:
        assert any(line.startswith("build: serial") for line in lines)
    assert "loaded BLAS/OpenMP libraries (threadpoolctl):" in out
    assert "blas" in out                       # NumPy's BLAS is loaded


@pytest.mark.skipif(not _openmp_helpers.openmp_enabled(), reason="a serial build loads no OpenMP")
def test_info_names_the_runtime_the_kernels_call(capsys):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    path = info.openmp_runtime()
    assert path is not None and os.path.isfile(path)
    name = os.path.basename(path)
    assert name.startswith(("libgomp", "libomp", "libiomp", "vcomp"))
    listed = {os.path.realpath(p["filepath"]) for p in threadpoolctl.threadpool_info()
              if p["user_api"] == "openmp"}
    assert os.path.realpath(path) in listed
    main(["info"])
    assert f"OpenMP runtime: {path}" in capsys.readouterr().out


def test_info_json(capsys):
    assert main(["info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["fastgrad"] == __version__
    assert data["numpy"] == np.__version__ and data["scipy"] == scipy.__version__
    assert isinstance(data["threadpools"], list) and data["warnings"] == info.clashes(
        data["threadpools"])[0]


def test_gnu_beside_intel_or_llvm_warns():
    pools = [_pool("libgomp", "/a/libgomp-1234abcd.so.1"), _pool("libiomp", "/b/libiomp5.so")]
    warns, _ = info.clashes(pools)
    assert len(warns) == 1 and "Intel libiomp" in warns[0] and "GNU libgomp" in warns[0]
    warns, _ = info.clashes([_pool("libgomp", "/a/libgomp.so.1"), _pool("libomp", "/b/libomp.so")])
    assert len(warns) == 1 and "LLVM libomp" in warns[0]


def test_two_intel_llvm_copies_warn_error_15():
    warns, _ = info.clashes([_pool("libomp", "/a/libomp.so"), _pool("libiomp", "/b/libiomp5.so")])
    assert any("OMP: Error #15" in w for w in warns)


def test_several_renamed_libgomp_copies_are_normal():
    pools = [_pool("libgomp", "/a/scikit_learn.libs/libgomp-e985bcbb.so.1.0.0"),
             _pool("libgomp", "/b/fastgrad.libs/libgomp-e985bcbb-a43904e4.so.1.0.0"),
             _pool("libgomp", "/usr/lib/libgomp.so.1"),
             _pool("_openmp_helpers", "/b/fastgrad/_openmp_helpers.so", internal_api="fastgrad"),
             _pool("libscipy_openblas", "/c/libscipy_openblas.so", "blas", "openblas")]
    warns, notes = info.clashes(pools)
    assert warns == []
    assert len(notes) == 1 and "3 copies of GNU libgomp" in notes[0] and "normal" in notes[0]
    assert info.clashes(pools[:1]) == ([], [])


def test_info_without_threadpoolctl(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)   # import raises ImportError
    data = info.runtime_info()
    assert data["threadpoolctl"] is None and data["threadpools"] == []
    text = info.format_info(data)
    assert "threadpoolctl not installed" in text
    assert "unknown (pip install threadpoolctl to list them)" in text


def test_serial_build_warns_once_at_import(monkeypatch):
    monkeypatch.setattr(_openmp_helpers, "openmp_enabled", lambda: False)
    monkeypatch.setattr(_openmp_helpers, "serial_requested", lambda: False)
    with pytest.warns(RuntimeWarning, match="built without OpenMP"):
        fastgrad._warn_if_serial()
    monkeypatch.setattr(_openmp_helpers, "serial_requested", lambda: True)   # FASTGRAD_NO_OPENMP
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastgrad._warn_if_serial()


def test_openmp_build_imports_without_warning(tmp_path):
    """A fresh interpreter importing this build with warnings as errors."""
    if not _openmp_helpers.openmp_enabled() and not _openmp_helpers.serial_requested():
        pytest.skip("this build is serial by accident: it warns on purpose")
    proc = subprocess.run([sys.executable, "-W", "error", "-c", "import fastgrad"],
                          capture_output=True, text=True, timeout=120, check=False,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
