"""partial_fit after save/load continues the canonical tree: the same bits
as never saving (issue 13), and a forged tree state is refused."""

import json
import zipfile

import numpy as np
import pytest

from fastgrad import Normalizer


def data(seed=0):
    rng = np.random.default_rng(seed)
    X = 1e6 + rng.standard_normal((3000, 4)) * [1.0, 2.0, 3.0, 4.0]
    X[rng.random(X.shape) < 0.05] = np.nan
    return X, rng.random(3000) + 0.1


def same(a, b):
    for k in ("mean_", "var_", "scale_", "n_samples_seen_"):
        x, y = np.asarray(getattr(a, k)), np.asarray(getattr(b, k))
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), k


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cut", [1, 255, 256, 1234, 2999])
def test_continue_after_load_equals_never_saving(tmp_path, weighted, cut):
    X, w = data()
    w = w if weighted else None
    first = Normalizer().partial_fit(X[:cut], sample_weight=None if w is None else w[:cut])
    first.save(tmp_path / "n.npz")
    loaded = Normalizer.load(tmp_path / "n.npz")
    same(loaded, first)
    rest = None if w is None else w[cut:]
    loaded.partial_fit(X[cut:], sample_weight=rest)
    never = Normalizer().fit(X, sample_weight=w)
    same(loaded, never)
    # the independent reference: NaN-aware weighted moments in long double
    ww = np.ones(len(X)) if w is None else w
    valid = ~np.isnan(X)
    Wl = (ww[:, None] * valid).astype(np.longdouble).sum(0)
    mean = (ww[:, None] * np.where(valid, X, 0)).astype(np.longdouble).sum(0) / Wl
    np.testing.assert_allclose(loaded.mean_, mean.astype(float), rtol=1e-15, atol=0)


def _rewrite(src, dst, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            raw = zin.read(info)
            if info.filename == "meta.npy":
                arr = np.lib.format.read_array(__import__("io").BytesIO(raw))
                meta = json.loads(str(arr[()]))
                change(meta)
                buf = __import__("io").BytesIO()
                np.lib.format.write_array(buf, np.array(json.dumps(meta)))
                raw = buf.getvalue()
            zout.writestr(info.filename, raw)


@pytest.mark.parametrize(
    "change,reason",
    [
        (lambda m: m["tree"].update(stop=m["tree"]["stop"] + 1), "raw rows"),
        (lambda m: m["tree"]["ks"].__setitem__(0, 1), "tile"),
        (lambda m: m["tree"].update(full="yes"), "malformed|length|flags"),
        (lambda m: m.pop("tree"), "without a 'tree' record"),
    ],
)
def test_a_forged_tree_is_refused(tmp_path, change, reason):
    X, _ = data(1)
    Normalizer().fit(X[:1000]).save(tmp_path / "a.npz")
    _rewrite(tmp_path / "a.npz", tmp_path / "b.npz", change)
    with pytest.raises(ValueError, match=reason):
        Normalizer.load(tmp_path / "b.npz")
