"""``fastgrad normalize-stats PATH``: batched fit of an .npy file, the bits
of the in-memory fit, bounded memory."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastgrad import Normalizer
from fastgrad.cli import main
from fastgrad.cli.normalize_stats import fit_npy

# Children run from tests/, not the checkout root, whose fastgrad/ would shadow
# the installed package in a non-editable install.
HERE = os.path.dirname(os.path.abspath(__file__))


def _same(a, b):
    return all(
        np.asarray(getattr(a, k)).tobytes() == np.asarray(getattr(b, k)).tobytes()
        for k in ("mean_", "var_", "scale_", "n_samples_seen_")
    )


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32])
def test_batched_file_fit_has_the_bits_of_fit(tmp_path, order, dtype):
    rng = np.random.default_rng(4)
    X = np.asarray(rng.standard_normal((5003, 4)) * 100 + 1e4, dtype=dtype, order=order)
    path = tmp_path / "x.npy"
    np.save(path, X)
    norm = fit_npy(path, batch_rows=333, progress=False)
    assert _same(norm, Normalizer().fit(X))
    np.testing.assert_allclose(norm.mean_, X.astype(np.float64).mean(axis=0), rtol=1e-13)


def test_cli_prints_and_saves(tmp_path, capsys):
    X = np.random.default_rng(0).standard_normal((1000, 3))
    path, out = tmp_path / "x.npy", tmp_path / "n.npz"
    np.save(path, X)
    assert (
        main(["normalize-stats", str(path), "--batch-rows", "100", "-o", str(out), "--no-progress"])
        == 0
    )
    text = capsys.readouterr().out
    assert "1,000 samples, 3 features" in text
    assert _same(Normalizer.load(out), Normalizer().fit(X))


def test_cli_errors_name_path(tmp_path, capsys):
    assert main(["normalize-stats", str(tmp_path / "missing.npy")]) == 2
    assert "PATH" in capsys.readouterr().err
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not an npy file")
    assert main(["normalize-stats", str(bad)]) == 2
    assert "PATH" in capsys.readouterr().err
    np.save(tmp_path / "one.npy", np.ones(5))
    assert main(["normalize-stats", str(tmp_path / "one.npy")]) == 2
    assert "2-D" in capsys.readouterr().err


def test_memory_stays_at_a_batch(tmp_path):
    path = tmp_path / "big.npy"
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(500_000, 100))
    for r in range(0, 500_000, 100_000):
        mm[r : r + 100_000] = r / 1e5
    del mm
    code = textwrap.dedent(
        f"""
        import resource
        from fastgrad.cli.normalize_stats import fit_npy
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        norm = fit_npy({str(path)!r}, progress=False)
        assert norm.n_samples_seen_ == 500_000
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=HERE)
    assert float(out.stdout.strip().splitlines()[-1]) < 150  # the file is 400 MB
