"""``python -m fastgrad`` is the ``fastgrad`` command (fastgrad/__main__.py)."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def test_python_m_fastgrad_runs_the_command():
    ok = subprocess.run([sys.executable, "-m", "fastgrad", "--help"], cwd=HERE,
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout.startswith("usage: fastgrad")
    bad = subprocess.run([sys.executable, "-m", "fastgrad", "nope"], cwd=HERE,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("fastgrad: error:")
