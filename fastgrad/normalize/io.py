"""Saving and loading a fitted :class:`fastgrad.Normalizer`.

The file is a ``.npz`` archive written by ``np.savez`` (uncompressed ZIP):
``meta.npy`` (a 0-d unicode array holding JSON: format, version, constructor
parameters, ``n_samples_seen_``, ``n_features_in_``) and one ``.npy`` entry
per fitted array (``mean_``, ``var_``, ``scale_``: float64;
``feature_names_in_``: unicode), and the canonical tree state of the
statistics (:mod:`fastgrad.normalize.tree_file`: ``tree_*`` entries and a
``tree`` record in the metadata) so that ``partial_fit`` after ``load``
gives the bits of never having saved. Nothing is pickled.

:func:`load` trusts nothing in the file: every ``.npy`` header is read and its
dtype, shape and byte count checked against the metadata and against the
entry's size *before* anything is allocated, and every value is checked for
consistency. Any damaged, inconsistent or forged file gives a ValueError
naming the file and what is wrong.
"""

import json
import math
import os
import zipfile

import numpy as np

from fastgrad.normalize import tree, tree_file
from fastgrad.normalize.stats import fitted_statistics, is_constant

__all__ = ["save", "load"]

FILE_FORMAT = "fastgrad.Normalizer"
FILE_VERSION = 1
_ARRAYS = ("mean_", "var_", "scale_")
_ENTRIES = {"meta", *_ARRAYS, "feature_names_in_", *tree_file.ENTRIES}
_META_MAX_BYTES = 1 << 20
# Deflate cannot expand data more than ~1032 times; an entry claiming more
# than this ratio to the file's size is forged.
_MAX_RATIO = 1100


def check_path(path):
    """A file-system path (str, bytes or os.PathLike) without NUL bytes."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {path!r} ({type(path).__name__})")
    text = os.fspath(path)
    if ("\0" if isinstance(text, str) else b"\0") in text:
        raise ValueError(f"path contains a NUL byte: {path!r}")
    return path


def npz_path(path):
    """``path`` with ``.npz`` appended unless it already ends so, as
    ``np.savez`` does for a file name (str, bytes or os.PathLike)."""
    text = os.fspath(path)
    suffix = b".npz" if isinstance(text, bytes) else ".npz"
    return text if text.endswith(suffix) else text + suffix


def save(est, path, tree_state=None):
    """Write ``est`` to ``path`` + ``.npz`` (unless it ends so); return the
    path written."""
    path = npz_path(check_path(path))
    params = est.get_params()
    params = {
        k: (bool(v) if isinstance(v, np.bool_) else int(v) if isinstance(v, np.integer) else v)
        for k, v in params.items()
    }
    n_seen = est.n_samples_seen_
    if np.ndim(n_seen):
        n_seen = np.asarray(n_seen).tolist()
    else:
        n_seen = float(n_seen) if isinstance(n_seen, (float, np.floating)) else int(n_seen)
    meta = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "params": params,
        "n_samples_seen_": n_seen,
        "n_features_in_": int(est.n_features_in_),
    }
    arrays = {"meta": np.array(json.dumps(meta))}
    for name in _ARRAYS:
        value = getattr(est, name)
        if value is not None:
            arrays[name] = np.asarray(value, dtype=np.float64)
    if hasattr(est, "feature_names_in_"):
        arrays["feature_names_in_"] = np.asarray(est.feature_names_in_, dtype=str)
    saved = tree_file.to_file(tree_state)
    if saved is not None:
        meta["tree"], tree_arrays = saved
        arrays["meta"] = np.array(json.dumps(meta))
        arrays.update(tree_arrays)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


class Persistence:
    """``save``/``load`` of a fitted :class:`fastgrad.Normalizer` (a mixin)."""

    def save(self, path):
        """Write the fitted Normalizer to ``path`` as a ``.npz`` archive.

        Arrays are stored bit for bit and the parameters as JSON text; nothing
        is pickled, so :meth:`load` never executes code from the file. The
        file holds the running state that lets a loaded Normalizer go on
        with :meth:`partial_fit` to the same bits: the moments of complete
        blocks of 256 rows and the rows of the last incomplete block as they
        were given (up to 255 training rows; so does a pickle).

        Parameters
        ----------
        path : str, bytes or os.PathLike
            Destination file name. As with ``np.savez``, ``.npz`` is appended
            unless the name already ends with ``.npz`` (``"norm"`` and
            ``"norm.npz"`` both write ``norm.npz``; ``"norm.fgn"`` writes
            ``norm.fgn.npz``), so ``load`` of the same name plus ``.npz``,
            or of the returned path, reads it back.

        Returns
        -------
        path : str or bytes
            The file written.
        """
        self.check_fitted()
        self.check_params()
        return save(self, path, getattr(self, "_tree_state", None))

    @classmethod
    def load(cls, path):
        """Read a Normalizer written by :meth:`save`.

        Every entry's header is checked before anything is allocated, and
        the values against each other (shapes, counts, ``var_ >= 0``,
        ``scale_`` the square root of ``var_``, feature names).

        Parameters
        ----------
        path : str, bytes or os.PathLike
            Read as given, as ``np.load`` does (no suffix is appended): the
            name :meth:`save` returned, ending with ``.npz``.

        Returns
        -------
        Normalizer
            Fitted, with transforms bitwise identical to the saved one.

        Raises
        ------
        ValueError
            If the file is not a Normalizer file written by fastgrad, or is
            damaged, truncated or inconsistent; the message names the file
            and what is wrong.
        FileNotFoundError, PermissionError
            If ``path`` cannot be opened at all.
        """
        return load(cls, path)

    def restore_fitted_state(
        self,
        *,
        mean_,
        var_,
        scale_,
        n_samples_seen_,
        n_features_in_,
        feature_names_in_=None,
        weighted=False,
        tree_state=None,
    ):
        """Set the fitted attributes at once (what :meth:`load` reads from a
        file); the running moments come from the canonical ``tree_state``
        when there is one, else are rebuilt from the attributes."""
        self.mean_, self.var_, self.scale_ = mean_, var_, scale_
        self.n_samples_seen_ = n_samples_seen_
        self._tree_state = tree_state
        self._moments_state = None if tree_state is None else tree.finalize(tree_state)
        self.n_features_in_ = n_features_in_
        self._weighted = weighted
        if feature_names_in_ is not None:
            self.feature_names_in_ = feature_names_in_


class _Bad(Exception):
    """Internal: a reason the file is refused."""


def _read_entry(zf, info, file_size, *, kinds, shape, max_bytes=None):
    """Read one ``.npy`` entry after checking its header.

    ``kinds``: allowed dtype kinds ('f' means float64 only); ``shape``: the
    required shape. Nothing larger than the header promises, nor than the
    entry can hold, is ever allocated.
    """
    name = info.filename[:-4]
    if info.file_size > _MAX_RATIO * max(file_size, 1) + (1 << 16):
        raise _Bad(
            f"entry {name!r} claims {info.file_size} bytes, impossible in "
            f"a file of {file_size} bytes"
        )
    if max_bytes is not None and info.file_size > max_bytes:
        raise _Bad(
            f"entry {name!r} is {info.file_size} bytes, more than its {max_bytes}-byte limit"
        )
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shp, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shp, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise _Bad(f"entry {name!r} has unsupported .npy version {version}")
        if (
            dtype.hasobject
            or dtype.kind not in kinds
            or (dtype.kind == "f" and dtype.itemsize != 8)
        ):  # either byte order
            raise _Bad(
                f"entry {name!r} has dtype {dtype}, expected "
                f"{'float64' if 'f' in kinds else 'unicode text'}"
            )
        if tuple(shp) != tuple(shape):
            raise _Bad(f"entry {name!r} has shape {tuple(shp)}, expected {tuple(shape)}")
        count = math.prod(shp)
        nbytes = count * dtype.itemsize
        if nbytes > info.file_size:
            raise _Bad(
                f"entry {name!r} claims {count} values ({nbytes} bytes) but "
                f"holds only {info.file_size} bytes"
            )
        raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise _Bad(f"entry {name!r} is truncated ({len(raw)} of {nbytes} bytes)")
    arr = np.frombuffer(raw, dtype=dtype).reshape(shp).copy()
    return arr.astype(arr.dtype.newbyteorder("=")) if not arr.dtype.isnative else arr


def _check_count(value, d):
    """``n_samples_seen_`` from the file: a positive number or d of them."""

    def number(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _Bad(f"n_samples_seen_ holds {v!r}, not a number")
        if not math.isfinite(v) or v < 0:
            raise _Bad(f"n_samples_seen_ holds {v!r}, not a non-negative finite number")
        return v

    if isinstance(value, list):
        if len(value) != d:
            raise _Bad(f"n_samples_seen_ has {len(value)} entries for {d} features")
        vals = [number(v) for v in value]
        if not any(v > 0 for v in vals):
            raise _Bad("n_samples_seen_ is 0 for every feature")
        weighted = any(isinstance(v, float) for v in vals)
        return np.asarray(vals, dtype=np.float64 if weighted else np.int64), weighted
    v = number(value)
    if v <= 0:
        raise _Bad(f"n_samples_seen_ is {value!r}; a fitted Normalizer has seen samples")
    return v, isinstance(v, float)


def load(cls, path):
    check_path(path)
    label = os.fspath(path) if isinstance(path, (str, bytes, os.PathLike)) else repr(path)

    def bad(reason):
        return ValueError(f"{label!s} is not a fastgrad Normalizer file: {reason}.")

    # A path that does not exist or cannot be opened is not a damaged file:
    # FileNotFoundError / PermissionError propagate as for any open().
    if isinstance(path, (str, bytes, os.PathLike)) and os.path.isdir(path):
        raise bad("it is a directory")
    try:
        fh = open(path, "rb")
    except FileNotFoundError as exc:
        # save("norm") wrote norm.npz, as np.savez does: point there.
        guess = npz_path(path)
        if guess != os.fspath(path) and os.path.isfile(guess):
            raise FileNotFoundError(
                exc.errno, f"{exc.strerror} (save() appends .npz: did you mean {guess!r}?)", path
            ) from None
        raise
    try:
        try:
            file_size = os.fstat(fh.fileno()).st_size
            with zipfile.ZipFile(fh) as zf:
                return _load_zip(cls, zf, file_size)
        except _Bad as exc:
            raise bad(str(exc)) from None
        except ValueError as exc:
            raise bad(f"it is damaged ({exc})") from exc
        except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
            raise bad(f"it is not a readable .npz (ZIP) archive ({exc})") from exc
        except Exception as exc:  # EOFError, OSError, NotImplementedError, ...
            raise bad(f"it is damaged ({type(exc).__name__}: {exc})") from exc
    finally:
        fh.close()


def _load_zip(cls, zf, file_size):
    infos = {}
    for info in zf.infolist():
        if not info.filename.endswith(".npy") or info.filename[:-4] not in _ENTRIES:
            raise _Bad(f"unexpected entry {info.filename!r}")
        if info.filename[:-4] in infos:
            raise _Bad(f"entry {info.filename!r} appears twice")
        infos[info.filename[:-4]] = info
    if "meta" not in infos:
        raise _Bad("there is no 'meta' entry")
    meta_arr = _read_entry(
        zf, infos["meta"], file_size, kinds="U", shape=(), max_bytes=_META_MAX_BYTES
    )
    try:
        meta = json.loads(str(meta_arr[()]))
    except ValueError as exc:
        raise _Bad(f"the 'meta' entry is not JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FILE_FORMAT:
        raise _Bad("the 'meta' entry does not name the format")
    if meta.get("version") != FILE_VERSION:
        raise _Bad(f"unsupported version {meta.get('version')!r}")
    missing = {"params", "n_samples_seen_", "n_features_in_"} - set(meta)
    if missing:
        raise _Bad(f"the 'meta' entry lacks {sorted(missing)}")
    params = meta["params"]
    if not isinstance(params, dict):
        raise _Bad("'params' is not a mapping")
    try:
        est = cls(**params)
        est.check_params()
    except (TypeError, ValueError) as exc:
        raise _Bad(f"bad parameters ({exc})") from None
    d = meta["n_features_in_"]
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise _Bad(f"n_features_in_ is {d!r}, not a positive int")
    if d > file_size and ("mean_" in infos or "feature_names_in_" in infos):
        raise _Bad(f"n_features_in_ is {d}, more than the file could hold")
    n_seen, weighted = _check_count(meta["n_samples_seen_"], d)

    expect = {"mean_": est.with_mean or est.with_std, "var_": est.with_std, "scale_": est.with_std}
    values = {}
    for name, present in expect.items():
        if present and name not in infos:
            raise _Bad(f"{name} is missing")
        if not present and name in infos:
            raise _Bad(f"{name} is present but the parameters say it cannot be")
        if present:
            values[name] = _read_entry(zf, infos[name], file_size, kinds="f", shape=(d,))
    # NaN statistics are legitimate only for a feature that was never seen
    # (all of its values missing); anything else must be finite. (d is
    # bounded by the arrays just read whenever this allocates.)
    n_vec = np.broadcast_to(np.asarray(n_seen, dtype=np.float64), (d,))
    seen = n_vec > 0 if values else None
    for name, value in values.items():
        if not np.isfinite(value[seen]).all():
            raise _Bad(f"{name} has non-finite values")
    if "var_" in values:
        var, scale = values["var_"], values["scale_"]
        if (var[seen] < 0).any():
            raise _Bad("var_ has negative values")
        if (scale[seen] <= 0).any():
            raise _Bad("scale_ has non-positive values")
        with np.errstate(invalid="ignore"):
            expected = np.where(is_constant(var, values["mean_"], n_vec), 1.0, np.sqrt(var))
        if not np.array_equal(expected[seen], scale[seen]):
            raise _Bad("scale_ is not the square root of var_ (inconsistent file)")
    names = None
    if "feature_names_in_" in infos:
        names = _read_entry(zf, infos["feature_names_in_"], file_size, kinds="U", shape=(d,))
    state = _read_tree(zf, infos, file_size, meta, d, est, values, n_seen, weighted)
    est.restore_fitted_state(
        **{name: values.get(name) for name in _ARRAYS},
        n_samples_seen_=n_seen,
        n_features_in_=d,
        feature_names_in_=None if names is None else names.astype(object),
        weighted=weighted,
        tree_state=state,
    )
    return est


def _read_tree(zf, infos, file_size, meta, d, est, values, n_seen, weighted):
    """The saved tree state (None if the file has none), refused unless it
    tiles its rows canonically and gives the file's statistics to the bit."""
    present = {name for name in tree_file.ENTRIES if name in infos}
    if "tree" not in meta:
        if present:
            raise _Bad(f"entry {sorted(present)[0]!r} without a 'tree' record")
        return None
    record = meta["tree"]
    try:
        tree_file.check_record(record)
        expected = tree_file.shapes(record, d)
        if present != set(expected):
            raise tree_file.BadTree(
                f"the tree entries are {sorted(present)}, not {sorted(expected)}"
            )
        arrays = {
            name: _read_entry(zf, infos[name], file_size, kinds="f", shape=shape)
            for name, shape in expected.items()
        }
        state = tree_file.from_file(record, arrays, d)
    except tree_file.BadTree as exc:
        raise _Bad(str(exc)) from None
    m = tree.finalize(state)
    got = fitted_statistics(m, weighted, est.with_mean, est.with_std)
    for name, value in zip(("mean_", "var_", "scale_"), got[:3]):
        if (value is None) != (name not in values) or (
            value is not None and value.tobytes() != values[name].tobytes()
        ):
            raise _Bad(f"the tree state does not give {name} (inconsistent file)")
    if np.asarray(got[3]).tobytes() != np.asarray(n_seen).tobytes():
        raise _Bad("the tree state does not give n_samples_seen_ (inconsistent file)")
    return state
