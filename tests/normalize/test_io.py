"""Issue 10, Normalizer.load: any damaged, inconsistent or forged file gives a
ValueError naming the file and what is wrong -- never EOFError,
NotImplementedError, RuntimeError, OSError or MemoryError, and never a large
allocation."""
import io
import json
import os
import tracemalloc
import zipfile

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastgrad import Normalizer


def _npy(arr=None, *, header=None, payload=None):
    """The bytes of a .npy entry; ``header`` / ``payload`` forge its parts."""
    buf = io.BytesIO()
    if header is None:
        np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
        return buf.getvalue()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + (payload or b"")


def _zip(path, entries, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, blob in entries.items():
            zf.writestr(name + ".npy", blob)
    return path


@pytest.fixture
def saved(tmp_path):
    rng = np.random.default_rng(3)
    norm = Normalizer().fit(rng.standard_normal((50, 2)) + 4)
    path = tmp_path / "good.npz"
    norm.save(path)
    with np.load(path) as data:
        contents = {k: data[k] for k in data.files}
    meta = json.loads(str(contents["meta"][()]))
    return norm, path, contents, meta


def _entries(contents, **override):
    out = {k: _npy(v) for k, v in contents.items()}
    for k, v in override.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v if isinstance(v, bytes) else _npy(v)
    return out


def _meta(meta, **changes):
    return np.array(json.dumps({**meta, **changes}))


def _cases(tmp_path, saved):
    norm, good, contents, meta = saved
    raw = good.read_bytes()
    d = 2
    cases = {}

    def add(name, reason, maker):
        path = tmp_path / f"{name}.npz"
        maker(path)
        cases[name] = (path, reason)

    for cut in (0, 1, 10, 60, len(raw) // 2, len(raw) - 1):
        add(f"truncated_{cut}", "", lambda p, c=cut: p.write_bytes(raw[:c]))
    add("wrong_magic", "", lambda p: p.write_bytes(b"XX" + raw[2:]))
    add("text", "ZIP", lambda p: p.write_text("mean,std\n1,2\n"))
    add("npy_not_npz", "ZIP", lambda p: p.write_bytes(_npy(np.ones(3))))
    add("entry_bad_magic", "", lambda p: _zip(p, _entries(
        contents, mean_=b"\x93NUMPX" + _npy(contents["mean_"])[6:])))
    # A 1 KB file whose header claims 2**40 float64 values.
    add("huge_header", "n_features_in_", lambda p: _zip(p, _entries(
        contents, meta=_meta(meta, n_features_in_=2**40),
        mean_=_npy(header={"descr": "<f8", "fortran_order": False, "shape": (2**40,)},
                   payload=b"\0" * 16))))
    add("huge_header_same_meta", "shape", lambda p: _zip(p, _entries(
        contents, mean_=_npy(header={"descr": "<f8", "fortran_order": False,
                                     "shape": (2**40,)}, payload=b"\0" * 16))))
    add("huge_meta_string", "bytes", lambda p: _zip(p, _entries(
        contents, meta=_npy(header={"descr": "<U100000000", "fortran_order": False,
                                    "shape": ()}, payload=b"\0" * 64))))
    add("huge_names", "", lambda p: _zip(p, _entries(
        contents, feature_names_in_=_npy(header={"descr": "<U100000000",
                                                 "fortran_order": False,
                                                 "shape": (d,)}, payload=b"\0" * 64))))
    add("short_payload", "truncated", lambda p: _zip(p, _entries(
        contents, var_=_npy(header={"descr": "<f8", "fortran_order": False,
                                    "shape": (d,)}, payload=b"\0" * 8))))
    add("n_seen_negative", "n_samples_seen_", lambda p: _zip(p, _entries(
        contents, meta=_meta(meta, n_samples_seen_=-4))))
    add("n_seen_zero", "n_samples_seen_", lambda p: _zip(p, _entries(
        contents, meta=_meta(meta, n_samples_seen_=0))))
    add("n_seen_string", "n_samples_seen_", lambda p: _zip(p, _entries(
        contents, meta=_meta(meta, n_samples_seen_="50"))))
    add("n_seen_bool", "n_samples_seen_", lambda p: _zip(p, _entries(
        contents, meta=_meta(meta, n_samples_seen_=True))))
    add("n_seen_nan", "n_samples_seen_", lambda p: _zip(p, _entries(
        contents, meta=np.array(json.dumps({**meta, "n_samples_seen_": float("nan")})))))
    add("n_seen_wrong_length", "n_samples_seen_", lambda p: _zip(p, _entries(
        contents, meta=_meta(meta, n_samples_seen_=[50, 50, 50]))))
    add("n_features_zero", "n_features_in_", lambda p: _zip(p, _entries(
        contents, meta=_meta(meta, n_features_in_=0))))
    add("n_features_mismatch", "shape", lambda p: _zip(p, _entries(
        contents, meta=_meta(meta, n_features_in_=3))))
    add("negative_var", "var_ has negative", lambda p: _zip(p, _entries(
        contents, var_=np.array([-1.0, 2.0]))))
    add("nan_var", "var_ has non-finite", lambda p: _zip(p, _entries(
        contents, var_=np.array([np.nan, 2.0]))))
    add("inconsistent_scale", "square root", lambda p: _zip(p, _entries(
        contents, scale_=contents["scale_"] * 1.5)))
    add("zero_scale", "scale_", lambda p: _zip(p, _entries(
        contents, scale_=np.zeros(2))))
    add("short_scale", "shape", lambda p: _zip(p, _entries(contents, scale_=np.ones(3))))
    add("mean_2d", "shape", lambda p: _zip(p, _entries(contents, mean_=np.ones((2, 1)))))
    add("mean_float32", "dtype", lambda p: _zip(p, _entries(
        contents, mean_=contents["mean_"].astype(np.float32))))
    add("names_wrong_length", "shape", lambda p: _zip(p, _entries(
        contents, feature_names_in_=np.array(["a", "b", "c"]))))
    add("names_numbers", "dtype", lambda p: _zip(p, _entries(
        contents, feature_names_in_=np.array([1.0, 2.0]))))
    add("missing_var", "var_ is missing", lambda p: _zip(p, _entries(contents, var_=None)))
    add("extra_var", "var_ is present", lambda p: _zip(p, _entries(
        contents, meta=_meta(meta, params={**meta["params"], "with_std": False}))))
    add("no_meta", "no 'meta'", lambda p: _zip(p, _entries(contents, meta=None)))
    add("meta_not_json", "not JSON", lambda p: _zip(p, _entries(
        contents, meta=np.array("{not json"))))
    add("meta_list", "format", lambda p: _zip(p, _entries(
        contents, meta=np.array(json.dumps([1, 2])))))
    add("other_format", "format", lambda p: _zip(p, _entries(
        contents, meta=_meta(meta, format="x"))))
    add("newer", "version", lambda p: _zip(p, _entries(contents, meta=_meta(meta, version=99))))
    add("meta_missing_keys", "lacks", lambda p: _zip(p, _entries(
        contents, meta=np.array(json.dumps({"format": meta["format"],
                                            "version": meta["version"]})))))
    add("bad_param_value", "parameters", lambda p: _zip(p, _entries(
        contents, meta=_meta(meta, params={**meta["params"], "n_threads": True}))))
    add("unknown_param", "parameters", lambda p: _zip(p, _entries(
        contents, meta=_meta(meta, params={**meta["params"], "scale": 2}))))
    add("params_list", "params", lambda p: _zip(p, _entries(
        contents, meta=_meta(meta, params=[1]))))
    add("pickled_meta", "dtype", lambda p: np.savez(p, meta=np.array(
        [{"format": "fastgrad.Normalizer"}], dtype=object)))
    add("unexpected_entry", "unexpected entry", lambda p: _zip(p, _entries(
        contents, extra=np.ones(2))))

    def unsupported_compression(p):
        _zip(p, _entries(contents))
        blob = bytearray(p.read_bytes())
        # Compression method 99 (AES) in every local and central header.
        for sig, off in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
            start = 0
            while (i := blob.find(sig, start)) >= 0:
                blob[i + off:i + off + 2] = (99).to_bytes(2, "little")
                start = i + 4
        p.write_bytes(bytes(blob))
    add("unsupported_compression", "", unsupported_compression)

    def encrypted(p):
        _zip(p, _entries(contents))
        blob = bytearray(p.read_bytes())
        for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            start = 0
            while (i := blob.find(sig, start)) >= 0:
                blob[i + off] |= 1
                start = i + 4
        p.write_bytes(bytes(blob))
    add("encrypted", "", encrypted)

    def bad_crc(p):
        _zip(p, _entries(contents))
        blob = bytearray(p.read_bytes())
        i = blob.find(contents["mean_"].tobytes())
        blob[i] ^= 0xFF
        p.write_bytes(bytes(blob))
    add("bad_crc", "", bad_crc)

    def zip_bomb_claim(p):
        _zip(p, _entries(contents), compression=zipfile.ZIP_DEFLATED)
        blob = bytearray(p.read_bytes())
        # Claim 2**31 uncompressed bytes for every entry.
        for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
            start = 0
            while (i := blob.find(sig, start)) >= 0:
                blob[i + off:i + off + 4] = (2**31).to_bytes(4, "little")
                start = i + 4
        p.write_bytes(bytes(blob))
    add("zip_bomb_claim", "", zip_bomb_claim)
    return cases


def test_load_refuses_every_damaged_file(tmp_path, saved):
    cases = _cases(tmp_path, saved)
    assert len(cases) >= 45
    tracemalloc.start()
    try:
        for name, (path, reason) in cases.items():
            before = path.read_bytes()
            tracemalloc.reset_peak()
            try:
                Normalizer.load(path)
            except ValueError as exc:
                msg = str(exc)
                assert str(path) in msg, (name, msg)
                assert "is not a fastgrad Normalizer file" in msg, (name, msg)
                assert reason in msg, (name, msg)
            except BaseException as exc:  # noqa: BLE001 - the point of the test
                pytest.fail(f"{name}: {type(exc).__name__}: {exc}")
            else:
                pytest.fail(f"{name}: loaded without error")
            peak = tracemalloc.get_traced_memory()[1]
            assert peak < 16 * 2**20, (name, peak)  # never a large allocation
            assert path.read_bytes() == before
    finally:
        tracemalloc.stop()


def test_good_files_still_load(tmp_path, saved):
    norm, path, contents, meta = saved
    twin = Normalizer.load(path)
    X = np.arange(10.0).reshape(5, 2)
    assert_array_equal(twin.transform(X), norm.transform(X))
    # A deflate-compressed archive of the same entries is a fine file too.
    comp = tmp_path / "compressed.npz"
    np.savez_compressed(comp, **contents)
    assert_array_equal(Normalizer.load(comp).transform(X), norm.transform(X))
    # Written on a big-endian machine: same values.
    big = _zip(tmp_path / "big_endian.npz", {**{k: _npy(v) for k, v in contents.items()},
                                             "mean_": _npy(contents["mean_"].astype(">f8"))})
    assert_array_equal(Normalizer.load(big).transform(X), norm.transform(X))


def test_round_trip_of_new_fitted_states(tmp_path):
    rng = np.random.default_rng(9)
    X = rng.standard_normal((60, 3))
    X[::4, 1] = np.nan
    X[:, 2] = np.nan
    w = rng.uniform(0.5, 2.0, 60)
    for est in (Normalizer().fit(X), Normalizer().fit(X, sample_weight=w),
                Normalizer(with_std=False).fit(X[:, :2], sample_weight=w)):
        path = tmp_path / "state.npz"
        est.save(path)
        twin = Normalizer.load(path)
        assert_array_equal(np.asarray(twin.n_samples_seen_), np.asarray(est.n_samples_seen_))
        for name in ("mean_", "var_", "scale_"):
            a, b = getattr(est, name), getattr(twin, name)
            assert (a is None and b is None) or np.array_equal(a, b, equal_nan=True)
        T = X[:10, :est.n_features_in_]
        assert_array_equal(twin.transform(T), est.transform(T))
        # partial_fit continues from a loaded object as from the original.
        more = rng.standard_normal((20, est.n_features_in_))
        a = est.partial_fit(more).mean_
        b = twin.partial_fit(more).mean_
        np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True)


def test_load_path_problems(tmp_path):
    with pytest.raises(FileNotFoundError):
        Normalizer.load(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="is a directory"):
        Normalizer.load(tmp_path)


# -- save appends .npz like np.savez -------------------------------------------------------


@pytest.mark.parametrize("kind", ["str", "path", "bytes"])
@pytest.mark.parametrize("name, written", [("norm2", "norm2.npz"), ("norm2.npz", "norm2.npz"),
                                           ("norm.v1", "norm.v1.npz")])
def test_save_appends_npz_like_np_savez(tmp_path, kind, name, written):
    # The reference: where np.savez puts a file of that name.
    np.savez(tmp_path / f"ref_{name}", a=np.zeros(1))
    assert (tmp_path / f"ref_{written}").exists()
    X = np.random.default_rng(2).standard_normal((30, 2))
    norm = Normalizer().fit(X)
    target = {"str": str(tmp_path / name), "path": tmp_path / name,
              "bytes": os.fsencode(tmp_path / name)}[kind]
    out = norm.save(target)
    assert os.fsdecode(out) == str(tmp_path / written)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("ref_")) == [written]
    loaded = Normalizer.load(tmp_path / written)
    assert np.array_equal(loaded.var_, norm.var_) and np.array_equal(loaded.mean_, norm.mean_)


def test_load_of_the_name_without_suffix_points_to_the_file(tmp_path):
    Normalizer().fit(np.arange(6.0).reshape(3, 2)).save(tmp_path / "norm2")
    with pytest.raises(FileNotFoundError, match=r"did you mean .*norm2\.npz"):
        Normalizer.load(tmp_path / "norm2")
