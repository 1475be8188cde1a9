"""``fastgrad normalize-stats PATH``: batched fit of an .npy file, the bits
of the in-memory fit, bounded memory."""

import fastgrad_tests_corpus as C  # tests/_corpus.py, registered by conftest.py

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


# -- what a new user meets: NaN, -o, misuse -----------------------------------
import errno  # noqa: E402

from fastgrad.cli import normalize_stats  # noqa: E402


def _run(*argv):
    return main(["normalize-stats", *map(str, argv), "--no-progress"])


def _one_error_line(capsys):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _nan_cases():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((700, 4)) * 3 + 5
    scattered = X.copy()
    scattered[rng.random(X.shape) < 0.2] = np.nan
    column = X.copy()
    column[:, 2] = np.nan                       # a feature with no values at all
    late = X.copy()
    late[650:, 1] = np.nan                      # NaN only in the last batches
    even = X.copy()
    even[::3] = np.nan                          # whole rows: every feature loses the same
    return {"scattered": scattered, "whole_column": column, "late": late, "even_rows": even}


@pytest.mark.parametrize("case", sorted(_nan_cases()))
@pytest.mark.parametrize("batch_rows", [64, 10_000])
def test_nan_is_missing_saved_with_the_bits_of_fit(tmp_path, capsys, case, batch_rows):
    X = _nan_cases()[case]
    path, out = tmp_path / "x.npy", tmp_path / "n.npz"
    np.save(path, X)
    assert _run(path, "--batch-rows", batch_rows, "-o", out) == 0
    ref = Normalizer().fit(X.copy())            # independent in-memory fit
    assert _same(Normalizer.load(out), ref)
    text = capsys.readouterr().out
    first = text.splitlines()[0]
    assert first.startswith("700 samples, 4 features")
    counts = (~np.isnan(X)).sum(axis=0)
    if counts.min() == counts.max():
        assert f"values per feature (NaN ignored): {counts[0]}" in first
    else:
        assert f"values per feature (NaN ignored): {counts.min()} to {counts.max()}" in first
    assert ("1 feature with no values" in first) == (case == "whole_column")
    assert text.rstrip().endswith(f"saved to {out}")


def test_the_trial_file_with_nan(tmp_path, capsys):
    X = np.array([[1.0, np.nan], [2, 3]])
    np.save(tmp_path / "dnan.npy", X)
    assert _run(tmp_path / "dnan.npy", "-o", tmp_path / "o.npz") == 0
    assert _same(Normalizer.load(tmp_path / "o.npz"), Normalizer().fit(X))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "2 samples, 2 features; values per feature (NaN ignored): 1 to 2"
    assert lines[2].split() == ["0", "2", "1.5", "0.5"]      # feature, values, mean, scale
    assert lines[3].split() == ["1", "1", "3", "1"]


def test_the_file_is_saved_before_the_summary_can_fail(tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "x.npy", np.ones((5, 2)))

    def broken(*args):
        raise TypeError("a bug in the summary")

    monkeypatch.setattr(normalize_stats, "_summary", broken)
    monkeypatch.delenv("FASTGRAD_TRACEBACK", raising=False)
    assert _run(tmp_path / "x.npy", "-o", tmp_path / "n.npz") == 2
    assert "internal error: TypeError: a bug in the summary" in _one_error_line(capsys)
    assert _same(Normalizer.load(tmp_path / "n.npz"), Normalizer().fit(np.ones((5, 2))))


def test_a_closed_stdout_after_saving_is_success(tmp_path, capsys, monkeypatch):
    X = np.arange(6.0).reshape(3, 2)
    np.save(tmp_path / "x.npy", X)
    monkeypatch.setattr(sys, "stdout", C.ClosedPipe())
    assert _run(tmp_path / "x.npy", "-o", tmp_path / "n.npz") == 0
    assert _same(Normalizer.load(tmp_path / "n.npz"), Normalizer().fit(X))


def _count_batches(monkeypatch):
    calls = []
    real = Normalizer.partial_fit

    def counting(self, X, *args, **kwargs):
        calls.append(np.shape(X))
        return real(self, X, *args, **kwargs)

    monkeypatch.setattr(Normalizer, "partial_fit", counting)
    return calls


@pytest.mark.parametrize("output, words", [
    ("{tmp}/missing/x.npz", ["-o", "missing", "does not exist"]),
    ("{tmp}/sub", ["-o", "is a directory", "norm.npz"]),       # an existing directory
    ("{tmp}/sub/", ["-o", "is a directory"]),
    ("{tmp}/dir.npz", ["-o", "is a directory"]),               # the final name is a directory
    ("{tmp}/dir", ["-o", "is a directory"]),                   # ... once .npz is appended
    ("{tmp}/x.npy/n.npz", ["-o", "x.npy", "is not a directory"]),
    ("", ["-o is empty"]),
])
def test_output_is_checked_before_the_data_are_read(tmp_path, capsys, monkeypatch, output, words):
    np.save(tmp_path / "x.npy", np.ones((50, 2)))
    (tmp_path / "sub").mkdir()
    (tmp_path / "dir.npz").mkdir()
    calls = _count_batches(monkeypatch)
    assert _run(tmp_path / "x.npy", "-o", output.format(tmp=tmp_path)) == 2
    line = _one_error_line(capsys)
    assert line.startswith("fastgrad: error: -o") and "internal" not in line, line
    for word in words:
        assert word in line, line
    assert calls == []


def test_output_in_a_directory_that_is_not_writable(tmp_path, capsys, monkeypatch):
    # (The tests may run as root, whom no permission bit stops: os.access is
    # what the check asks, so it is what the test controls.)
    np.save(tmp_path / "x.npy", np.ones((50, 2)))
    (tmp_path / "ro").mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p).endswith("ro") else real(p, mode))
    calls = _count_batches(monkeypatch)
    assert _run(tmp_path / "x.npy", "-o", tmp_path / "ro" / "n.npz") == 2
    line = _one_error_line(capsys)
    assert line.startswith("fastgrad: error: -o") and "not writable" in line, line
    assert calls == []


def test_a_writable_file_in_a_read_only_directory_is_overwritten_in_place(tmp_path, capsys,
                                                                          monkeypatch):
    X = np.arange(8.0).reshape(4, 2)
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "n.npz").write_bytes(b"old")
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p).endswith("ro") else real(p, mode))
    assert _run(tmp_path / "x.npy", "-o", tmp_path / "ro" / "n.npz") == 0
    assert os.listdir(tmp_path / "ro") == ["n.npz"]
    assert _same(Normalizer.load(tmp_path / "ro" / "n.npz"), Normalizer().fit(X))


def test_the_temporary_file_cannot_be_planted_and_the_mode_is_kept(tmp_path, monkeypatch):
    X = np.arange(8.0).reshape(4, 2)
    np.save(tmp_path / "x.npy", X)
    # a symlink at every name the old scheme could use (.name.pid.tmp.npz)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    for name in ("n.npz", "m.npz"):
        os.symlink(victim, tmp_path / f".{name}.{os.getpid()}.tmp.npz")
    (tmp_path / "n.npz").write_bytes(b"old")
    os.chmod(tmp_path / "n.npz", 0o600)
    assert _run(tmp_path / "x.npy", "-o", tmp_path / "n.npz") == 0
    assert victim.read_text() == "keep me"
    assert oct(os.stat(tmp_path / "n.npz").st_mode & 0o777) == oct(0o600)
    assert _same(Normalizer.load(tmp_path / "n.npz"), Normalizer().fit(X))
    # a new file: 0666 less the umask, as open() would create it
    umask = os.umask(0o027)
    try:
        assert _run(tmp_path / "x.npy", "-o", tmp_path / "m.npz") == 0
    finally:
        os.umask(umask)
    assert oct(os.stat(tmp_path / "m.npz").st_mode & 0o777) == oct(0o640)
    leftovers = [p for p in os.listdir(tmp_path) if p.endswith(".tmp.npz") and
                 not os.path.islink(tmp_path / p)]
    assert leftovers == []


@pytest.mark.parametrize("given, written", [("n.npz", "n.npz"), ("n", "n.npz"), ("n.bin", "n.bin.npz")])
def test_output_name_gets_npz_like_np_savez(tmp_path, capsys, given, written):
    X = np.arange(8.0).reshape(4, 2)
    np.save(tmp_path / "x.npy", X)
    assert _run(tmp_path / "x.npy", "-o", tmp_path / given) == 0
    assert sorted(os.listdir(tmp_path)) == sorted(["x.npy", written])
    assert capsys.readouterr().out.rstrip().endswith(f"saved to {tmp_path / written}")
    assert _same(Normalizer.load(tmp_path / written), Normalizer().fit(X))


def test_a_failed_save_is_a_clean_error_and_keeps_the_old_file(tmp_path, capsys, monkeypatch):
    X = np.arange(8.0).reshape(4, 2)
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "n.npz"
    out.write_bytes(b"the previous file")

    def disk_full(self, path):
        with open(path, "wb") as fh:
            fh.write(b"PK half an arch")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Normalizer, "save", disk_full)
    assert _run(tmp_path / "x.npy", "-o", out) == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"fastgrad: error: -o {str(out)!r}") and "internal" not in line
    assert os.strerror(errno.ENOSPC) in line
    assert out.read_bytes() == b"the previous file"
    assert sorted(os.listdir(tmp_path)) == ["n.npz", "x.npy"]       # no temporary left


def test_output_through_a_symlink_replaces_its_target(tmp_path, capsys):
    X = np.arange(8.0).reshape(4, 2)
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "n.npz").write_bytes(b"old")
    (tmp_path / "link.npz").symlink_to(tmp_path / "real" / "n.npz")
    assert _run(tmp_path / "x.npy", "-o", tmp_path / "link.npz") == 0
    assert (tmp_path / "link.npz").is_symlink()
    assert _same(Normalizer.load(tmp_path / "real" / "n.npz"), Normalizer().fit(X))


def _header_only(path, shape, descr="<f8", fortran=False, data=b""):
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": descr, "fortran_order": fortran, "shape": shape})
        fh.write(data)


def _misuse_files(tmp):
    np.savez(tmp / "arch.npz", a=np.ones((3, 3)))
    (tmp / "text.csv").write_text("1,2\n3,4\n")
    (tmp / "empty_file.npy").write_bytes(b"")
    np.save(tmp / "vector.npy", np.ones(5))
    np.save(tmp / "scalar.npy", np.float64(3))
    np.save(tmp / "cube.npy", np.ones((2, 2, 2)))
    np.save(tmp / "no_rows.npy", np.empty((0, 3)))
    np.save(tmp / "no_cols.npy", np.empty((3, 0)))
    np.save(tmp / "objects.npy", np.array([[1, "a"], [2, 3]], dtype=object), allow_pickle=True)
    np.save(tmp / "complex.npy", np.ones((4, 3), complex))
    np.save(tmp / "strings.npy", np.array([["a", "b"]]))
    np.save(tmp / "records.npy", np.zeros((4, 3), dtype=[("a", "f8")]))
    for order in "CF":
        np.save(tmp / f"full_{order}.npy", np.ones((1000, 3), order=order))
        raw = (tmp / f"full_{order}.npy").read_bytes()
        (tmp / f"truncated_{order}.npy").write_bytes(raw[:-100])
    # A forged header: 24 TB of rows promised by a file of a few bytes.
    _header_only(tmp / "forged.npy", (3, 10**12), data=b"\0" * 64)
    X = np.ones((1000, 3))
    X[900, 1] = np.inf
    np.save(tmp / "infinity.npy", X)
    os.mkfifo(tmp / "pipe.npy")


@pytest.mark.parametrize("name, words", [
    ("arch.npz", [".npz archive", "np.save"]),
    ("text.csv", ["not a .npy file"]),
    ("empty_file.npy", ["not a .npy file"]),
    ("vector.npy", ["(5,)", "2-D"]),
    ("scalar.npy", ["()", "2-D"]),
    ("cube.npy", ["(2, 2, 2)", "2-D"]),
    ("no_rows.npy", ["empty", "(0, 3)"]),
    ("no_cols.npy", ["empty", "(3, 0)"]),
    ("objects.npy", ["object", "real numeric"]),
    ("complex.npy", ["complex128", "real numeric"]),
    ("strings.npy", ["<U1", "real numeric"]),
    ("records.npy", ["real numeric"]),
    ("truncated_C.npy", ["truncated", "24,000 bytes", "23,900"]),
    ("truncated_F.npy", ["truncated", "24,000 bytes", "23,900"]),
    ("forged.npy", ["truncated", "(3, 1000000000000)"]),
    ("infinity.npy", ["rows", "infinity", "feature(s) 1"]),
    ("missing.npy", ["No such file"]),
    (".", ["directory"]),
    ("pipe.npy", ["not a regular file"]),
])
def test_misuse_is_one_line_naming_path(tmp_path, capsys, name, words):
    _misuse_files(tmp_path)
    assert _run(tmp_path / name, "--batch-rows", "128") == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"fastgrad: error: PATH {str(tmp_path / name)!r}"), line
    for word in words:
        assert word in line, line


@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.uint64, np.bool_, np.float16, ">f8",
                                   np.longdouble])
def test_other_real_dtypes_have_the_bits_of_fit(tmp_path, capsys, dtype):
    X = (np.random.default_rng(3).standard_normal((300, 3)) * 50 + 100).astype(dtype)
    np.save(tmp_path / "x.npy", X)
    assert _run(tmp_path / "x.npy", "--batch-rows", "77", "-o", tmp_path / "n.npz") == 0
    assert _same(Normalizer.load(tmp_path / "n.npz"), Normalizer().fit(X))


def test_wide_rows_get_fewer_rows_per_batch_not_more_memory(tmp_path, monkeypatch):
    X = np.random.default_rng(5).standard_normal((40, 100))    # 800-byte rows
    np.save(tmp_path / "x.npy", X)
    monkeypatch.setattr(normalize_stats, "DEFAULT_BATCH_BYTES", 8000)
    calls = _count_batches(monkeypatch)
    norm = fit_npy(tmp_path / "x.npy", progress=False)
    assert calls == [(10, 100)] * 4                              # 8000 bytes a batch
    assert _same(norm, Normalizer().fit(X))


def test_out_of_memory_while_fitting_says_what_to_try(tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "x.npy", np.ones((5, 2)))

    def fail(self, X, *args, **kwargs):
        raise MemoryError("Unable to allocate 3.0 GiB")

    monkeypatch.setattr(Normalizer, "partial_fit", fail)
    assert _run(tmp_path / "x.npy") == 2
    line = _one_error_line(capsys)
    assert "PATH" in line and "3.0 GiB" in line and "--batch-rows" in line
    assert "network" not in line
