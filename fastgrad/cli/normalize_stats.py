"""``fastgrad normalize-stats PATH``: fit a Normalizer on an ``.npy`` file
that may be larger than memory.

The file is read in batches of whole rows into one reused buffer (C-order
files; a Fortran-order file is read through a memory map), each batch goes
to :meth:`fastgrad.Normalizer.partial_fit`, so memory stays at one batch,
and the statistics are bitwise those of ``Normalizer().fit`` on the whole
array (the Normalizer's statistics do not depend on the batching). A
progress bar (tqdm, when installed, on a terminal; plain lines otherwise)
shows the rows read. ``-o FILE`` saves the fitted Normalizer
(:meth:`fastgrad.Normalizer.save`).
"""

import sys
import time

import numpy as np

from fastgrad._argtypes import UsageError, positive_int, threads

__all__ = ["add_parser", "run", "fit_npy"]

DEFAULT_BATCH_BYTES = 64 << 20


def fit_npy(path, batch_rows=None, n_threads=None, progress=None):
    """A Normalizer fitted on the 2-D ``.npy`` file ``path`` (samples are
    rows), reading at most ``batch_rows`` rows at a time."""
    from fastgrad import Normalizer
    from fastgrad._progress import stderr_is_terminal, tqdm_class

    with open(path, "rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        except ValueError as exc:
            raise ValueError(f"PATH {path!r} is not a .npy file: {exc}") from None
        offset = fh.tell()
    if len(shape) != 2:
        raise ValueError(
            f"PATH {path!r} holds an array of shape {shape}; expected 2-D (n_samples, n_features)."
        )
    if dtype.hasobject or dtype.kind not in "biuf":
        raise ValueError(f"PATH {path!r} holds dtype {dtype}; expected a real numeric dtype.")
    n, d = shape
    if n == 0 or d == 0:
        raise ValueError(f"PATH {path!r} holds an empty array of shape {shape}.")
    row_bytes = d * dtype.itemsize
    if batch_rows is None:
        batch_rows = max(256, (DEFAULT_BATCH_BYTES // max(row_bytes, 1)) // 256 * 256)
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
                norm.partial_fit(batch)
                if bar is not None:
                    bar.update(r1 - r0)
                elif show and time.perf_counter() - last >= 10.0:
                    last = time.perf_counter()
                    print(f"normalize-stats: {r1:,}/{n:,} rows", file=sys.stderr, flush=True)
    finally:
        if bar is not None:
            bar.close()
    return norm


def add_parser(sub):
    p = sub.add_parser(
        "normalize-stats",
        help="fit Normalizer statistics on an .npy file larger than memory",
        description="Fit the per-feature mean and standard deviation of a 2-D .npy "
        "array (samples are rows) in batches, with bounded memory and a progress bar. "
        "The result is bitwise that of Normalizer().fit on the whole array.",
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
    p.add_argument("-o", "--output", default=None, help="save the fitted Normalizer (.npz) here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args):
    try:
        norm = fit_npy(
            args.path,
            batch_rows=args.batch_rows,
            n_threads=args.threads,
            progress=False if args.no_progress else None,
        )
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        raise UsageError(f"PATH {args.path!r}: {exc.strerror or exc}") from None
    d = norm.n_features_in_
    print(f"{norm.n_samples_seen_:,} samples, {d:,} features")
    show = min(d, 10)
    print(f"{'feature':>8} {'mean':>24} {'scale':>24}")
    for j in range(show):
        print(f"{j:>8} {norm.mean_[j]:>24.17g} {norm.scale_[j]:>24.17g}")
    if show < d:
        print(f"... ({d - show:,} more features; -o FILE saves them all)")
    if args.output:
        norm.save(args.output)
        print(f"saved to {args.output}")
    return 0
