"""``import fastgrad`` without built extensions says what is wrong and what to do.

A newcomer who clones the repository, runs ``pip install .`` and then
``python -c "import fastgrad"`` in the repository root imports the source
tree (the current directory comes first on ``sys.path``), which has no
compiled modules. Python's own message is "partially initialized module
(most likely due to a circular import)"; fastgrad must explain instead.

Each case copies the pure-Python package (no compiled files) to a temporary
directory and imports it in a fresh interpreter with that directory as the
working directory. The editable-install finder is removed first so the copy
is all Python can find, as in a regular (non-editable) install.
"""
import importlib.machinery
import os
import shutil
import subprocess
import sys
from pathlib import Path

import fastgrad

PACKAGE = Path(fastgrad.__file__).parent
IMPORT = ("import sys\n"
          "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
          "import fastgrad\n")


def _copy_pure_python(dest):
    shutil.copytree(PACKAGE, dest / "fastgrad",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))


def _import_in(cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", IMPORT], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_source_tree_without_extensions(tmp_path):
    _copy_pure_python(tmp_path)
    (tmp_path / "csrc").mkdir()
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'fastgrad'\n")
    proc = _import_in(tmp_path)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: you are importing fastgrad from its source tree")
    assert str(tmp_path / "fastgrad") in last
    assert "pip install ." in last and "pip install -e ." in last
    assert "fastgrad.gradcheck._mlp_kernel" in last
    assert "circular import" not in proc.stderr
    assert "partially initialized" not in proc.stderr


def test_installed_copy_without_extensions(tmp_path):
    _copy_pure_python(tmp_path)  # no csrc/ next to it: a broken installation
    proc = _import_in(tmp_path)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert "compiled extensions are missing" in last and "--force-reinstall" in last
    assert "circular import" not in proc.stderr


def test_extension_that_fails_to_load_shows_the_cause(tmp_path):
    _copy_pure_python(tmp_path)
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    for name in ("_openmp_helpers", "_argcheck_kernel", "nn/_codes", "gradcheck/_generic_kernel",
                 "gradcheck/_mlp_kernel", "normalize/_normalizer_kernel"):
        (tmp_path / "fastgrad" / f"{name}{suffix}").write_bytes(b"not a shared library")
    proc = _import_in(tmp_path)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert "failed to load" in last
    # the loader's own message is kept as the cause
    assert "The above exception was the direct cause" in proc.stderr


def test_the_installed_package_imports_from_another_directory(tmp_path):
    proc = subprocess.run([sys.executable, "-c", "import fastgrad; print(fastgrad.__version__)"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == fastgrad.__version__
