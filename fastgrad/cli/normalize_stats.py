"""``fastgrad normalize-stats PATH``: fit a Normalizer on an ``.npy`` file
that may be larger than memory.

The file is read in batches of whole rows into one reused buffer (C-order
files; a Fortran-order file is read through a memory map), each batch goes
to :meth:`fastgrad.Normalizer.partial_fit`, so memory stays at one batch,
and the statistics are bitwise those of ``Normalizer().fit`` on the whole
array (the Normalizer's statistics do not depend on the batching). NaN is a
missing value, ignored per feature. A progress bar (tqdm, when installed, on
a terminal; plain lines otherwise) shows the rows read. ``-o FILE`` saves
the fitted Normalizer (:meth:`fastgrad.Normalizer.save`) to ``FILE``, with
``.npz`` appended when missing (as ``np.savez`` does); the file is replaced
only by a complete one.

Every problem with ``PATH`` or ``-o`` is a :class:`UsageError` naming it
(``-o`` is checked before the data are read); any other exception escaping
:func:`run` is a bug, and the command says so.
"""

import contextlib
import os
import stat
import sys
import tempfile
import time
from typing import NamedTuple

import numpy as np

from fastgrad._argtypes import UsageError, positive_int, threads

__all__ = ["add_parser", "run", "fit_npy", "read_header", "output_path", "NpyHeader"]

DEFAULT_BATCH_BYTES = 64 << 20
SHOWN_FEATURES = 10


class NpyHeader(NamedTuple):
    """What the header of a 2-D ``.npy`` file promises."""

    shape: tuple
    fortran: bool
    dtype: np.dtype
    offset: int  # where the data start


def read_header(path):
    """The header of the 2-D real-valued ``.npy`` file ``path``, checked
    against the file's size; a ValueError names ``PATH`` and what is wrong."""
    # Before open(), which waits forever on a pipe with no writer: the file is
    # opened twice and sized, which only a regular file allows.
    if os.path.exists(path) and not os.path.isdir(path) and not os.path.isfile(path):
        raise ValueError(
            f"PATH {path!r} is not a regular file (a pipe or a device?); save the array to a file"
        )
    with open(path, "rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        except ValueError as exc:
            fh.seek(0)
            if fh.read(4) == b"PK\x03\x04":  # what np.savez writes (a ZIP archive)
                raise ValueError(
                    f"PATH {path!r} is an .npz archive, not a .npy file; save the one "
                    "2-D array with np.save"
                ) from None
            raise ValueError(f"PATH {path!r} is not a .npy file: {exc}") from None
        offset = fh.tell()
        size = os.fstat(fh.fileno()).st_size
    if len(shape) != 2:
        raise ValueError(
            f"PATH {path!r} holds an array of shape {shape}; expected 2-D (n_samples, n_features)."
        )
    if dtype.hasobject or dtype.kind not in "biuf":
        raise ValueError(f"PATH {path!r} holds dtype {dtype}; expected a real numeric dtype.")
    n, d = shape
    if n == 0 or d == 0:
        raise ValueError(f"PATH {path!r} holds an empty array of shape {shape}.")
    # Checked now, not when the read comes up short: a truncated copy is
    # refused before a pass over it (and before a forged shape sizes a buffer).
    need = n * d * dtype.itemsize
    if size - offset < need:
        raise ValueError(
            f"PATH {path!r} is truncated: its header promises {shape} {dtype} "
            f"({need:,} bytes of data), the file holds {max(size - offset, 0):,}."
        )
    return NpyHeader(tuple(shape), bool(fortran), dtype, offset)


def fit_npy(path, batch_rows=None, n_threads=None, progress=None):
    """A Normalizer fitted on the 2-D ``.npy`` file ``path`` (samples are
    rows), reading at most ``batch_rows`` rows at a time."""
    return _fit(path, read_header(path), batch_rows, n_threads, progress)


def _fit(path, header, batch_rows, n_threads, progress):
    from fastgrad import Normalizer
    from fastgrad._progress import stderr_is_terminal, tqdm_class

    (n, d), fortran, dtype, offset = header
    row_bytes = d * dtype.itemsize
    if batch_rows is None:
        # About DEFAULT_BATCH_BYTES, in whole multiples of 256 rows; a row
        # wider than DEFAULT_BATCH_BYTES / 256 gets fewer rows, not more memory.
        batch_rows = DEFAULT_BATCH_BYTES // row_bytes
        batch_rows = max(1, batch_rows // 256 * 256 if batch_rows >= 256 else batch_rows)
    norm = Normalizer(n_threads=n_threads)
    bar, last = None, time.perf_counter()
    show = progress if progress is not None else True
    tqdm = tqdm_class() if show and stderr_is_terminal() else None
    if tqdm is not None:
        bar = tqdm(total=n, unit="row", unit_scale=True, desc="normalize-stats", leave=False)
    mm = np.load(path, mmap_mode="r") if fortran else None
    buf = None if fortran else np.empty((min(batch_rows, n), d), dtype=dtype)
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            for r0 in range(0, n, batch_rows):
                r1 = min(r0 + batch_rows, n)
                if fortran:
                    batch = np.array(mm[r0:r1])
                else:
                    batch = buf[: r1 - r0]
                    got = fh.readinto(memoryview(batch).cast("B"))
                    if got != batch.nbytes:
                        raise ValueError(
                            f"PATH {path!r} is truncated (row {r0 + got // row_bytes} of {n})."
                        )
                try:
                    norm.partial_fit(batch)
                except ValueError as exc:  # infinity, overflow: say where
                    raise ValueError(f"PATH {path!r}, rows {r0:,} to {r1 - 1:,}: {exc}") from exc
                if bar is not None:
                    bar.update(r1 - r0)
                elif show and time.perf_counter() - last >= 10.0:
                    last = time.perf_counter()
                    print(f"normalize-stats: {r1:,}/{n:,} rows", file=sys.stderr, flush=True)
    finally:
        if bar is not None:
            bar.close()
    return norm


def output_path(text):
    """The file ``-o TEXT`` writes: ``TEXT``, with ``.npz`` appended when
    missing (as ``np.savez`` does). Checked before any data are read: a
    UsageError naming ``-o`` if it names a directory, or its directory is
    missing or not writable."""
    if not text:
        raise UsageError("-o is empty; give a file name such as norm.npz")
    if "\0" in text:
        raise UsageError(f"-o {text!r} contains a NUL byte")
    seps = tuple(s for s in (os.sep, os.altsep) if s)
    final = text if text.endswith(".npz") else text + ".npz"
    if text.endswith(seps) or os.path.isdir(text) or os.path.isdir(final):
        hint = os.path.join(text.rstrip("".join(seps)) or text, "norm.npz")
        raise UsageError(f"-o {text!r} is a directory; give a file name such as {hint!r}")
    folder = os.path.dirname(final) or os.curdir
    if not os.path.isdir(folder):
        if os.path.exists(folder):
            raise UsageError(f"-o {text!r}: {folder!r} is not a directory")
        raise UsageError(f"-o {text!r}: the directory {folder!r} does not exist")
    exists = os.path.exists(final)
    if exists and not os.access(final, os.W_OK):
        raise UsageError(f"-o {text!r}: {final!r} exists and is not writable")
    # A writable file in a read-only directory is overwritten in place.
    if not exists and not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"-o {text!r}: the directory {folder!r} is not writable")
    return final


def _save(norm, final):
    """Save ``norm`` as ``final``: written beside it under a fresh temporary
    name, then renamed over it, so a full disk or a crash never leaves a
    truncated file nor destroys the previous one; the file keeps the mode
    it had (a new one gets the umask's). In a directory we may not write to,
    an existing file is overwritten in place. An OSError is a UsageError
    naming the file."""
    # The file a symlink points to is replaced, not the link.
    target = os.path.realpath(final)
    folder, name = os.path.split(target)
    try:
        if not os.access(folder, os.W_OK | os.X_OK):
            norm.save(target)
            return
        # mkstemp: a name nobody can plant a symlink at beforehand, created
        # 0600. Ends in .npz, so Normalizer.save writes exactly there.
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp.npz", dir=folder)
        os.close(fd)
        try:
            norm.save(tmp)
            os.chmod(tmp, _mode_for(target))
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
    except OSError as exc:
        raise UsageError(f"-o {final!r}: cannot save: {exc.strerror or exc}") from None


def _mode_for(path):
    """The permission bits ``path`` has, or a new file's (0666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _plural(count, noun):
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _summary(norm, n_rows):
    """The lines printed after the fit: counts, then the first features."""
    d = norm.n_features_in_
    counts = np.asarray(norm.n_samples_seen_)
    head = f"{_plural(n_rows, 'sample')}, {_plural(d, 'feature')}"
    # n_samples_seen_ is one number, or one per feature when NaN (missing
    # values) left features with different counts.
    per_feature = counts.ndim > 0
    if per_feature:
        lo, hi = int(counts.min()), int(counts.max())
        head += f"; values per feature (NaN ignored): {lo:,} to {hi:,}"
        empty = int((counts == 0).sum())
        if empty:
            head += f"; {_plural(empty, 'feature')} with no values (mean and scale NaN)"
    elif int(counts) != n_rows:
        head += f"; values per feature (NaN ignored): {int(counts):,}"
    lines = [head]
    shown = min(d, SHOWN_FEATURES)
    count_col = f" {'values':>12}" if per_feature else ""
    lines.append(f"{'feature':>8}{count_col} {'mean':>24} {'scale':>24}")
    for j in range(shown):
        count = f" {int(counts[j]):>12,}" if per_feature else ""
        lines.append(f"{j:>8}{count} {norm.mean_[j]:>24.17g} {norm.scale_[j]:>24.17g}")
    if shown < d:
        lines.append(f"... ({d - shown:,} more features; -o FILE saves them all)")
    return lines


def add_parser(sub):
    p = sub.add_parser(
        "normalize-stats",
        help="fit Normalizer statistics on an .npy file larger than memory",
        description="Fit the per-feature mean and standard deviation of a 2-D .npy "
        "array (samples are rows; NaN is a missing value, ignored) in batches, with "
        "bounded memory and a progress bar. The result is bitwise that of "
        "Normalizer().fit on the whole array.",
    )
    p.add_argument("path", metavar="PATH", help="a 2-D .npy file")
    p.add_argument(
        "--batch-rows",
        type=positive_int,
        default=None,
        help="rows per batch (default: about 64 MB)",
    )
    p.add_argument(
        "--threads", type=threads, default=None, help="OpenMP threads (default: all cores)"
    )
    p.add_argument(
        "-o",
        "--output",
        default=None,
        help="save the fitted Normalizer here (.npz appended when missing)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    # run() reports every problem with PATH or -o as a UsageError, so main()
    # reports a ValueError or TypeError escaping it as the bug it is.
    p.set_defaults(func=run, checks_input=True)
    return p


def run(args):
    try:
        header = read_header(args.path)
    except OSError as exc:
        raise UsageError(f"PATH {args.path!r}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    final = None if args.output is None else output_path(args.output)
    try:
        norm = _fit(
            args.path,
            header,
            args.batch_rows,
            args.threads,
            False if args.no_progress else None,
        )
    except OSError as exc:
        raise UsageError(f"PATH {args.path!r}: {exc.strerror or exc}") from None
    except ValueError as exc:  # the file's values (infinity, overflow), worded by the fit
        raise UsageError(str(exc)) from None
    except MemoryError as exc:
        raise UsageError(
            f"out of memory fitting PATH {args.path!r} ({str(exc) or 'MemoryError'}); "
            "try a smaller --batch-rows"
        ) from None
    # Saving is the job: it comes before anything cosmetic that could fail.
    if final is not None:
        _save(norm, final)
    # The job is done: a reader of stdout that goes away (| head) is no error.
    args.status = 0
    for line in _summary(norm, header.shape[0]):
        print(line)
    if final is not None:
        print(f"saved to {final}")
    return 0
