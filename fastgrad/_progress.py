"""The one progress reporter: which tqdm to draw with, where, and the plain
text fallback.

:class:`Progress` counts items (the gradient checks' coordinates);
:func:`epoch_bar` is the training loop's bar over epochs. Both draw with
:func:`tqdm_class`: ``tqdm.auto`` (a widget in Jupyter, the console bar
elsewhere), except in a notebook without ipywidgets, where the widget would
fail and the console bar is used instead.
"""

from __future__ import annotations

import sys
import time
import warnings

# A check expected to take longer than this shows a progress bar / ETA.
PROGRESS_AFTER_SECONDS = 2.0
# An estimate from the first few items (set-up, cold caches) is noise: with
# progress=None nothing is shown before the work has run this long.
ESTIMATE_AFTER_SECONDS = 0.5


def stderr_is_terminal():
    """Whether a redrawn bar on stderr will be seen as one: a terminal, or a
    Jupyter kernel's stream (where tqdm.auto draws a widget)."""
    err = sys.stderr
    if err is None:
        return False
    if type(err).__module__.startswith("ipykernel"):
        return True
    try:
        return bool(err.isatty())
    except (AttributeError, ValueError, OSError):  # replaced, closed or detached stream
        return False


def tqdm_class():
    """The tqdm class to draw with, or None when tqdm is not installed."""
    try:
        from tqdm import tqdm as console
        from tqdm.auto import tqdm
    except ImportError:
        return None
    err = sys.stderr
    if err is not None and type(err).__module__.startswith("ipykernel"):
        try:
            import ipywidgets  # noqa: F401  (the notebook bar needs it)
        except ImportError:
            return console
    return tqdm


class Progress:
    """A progress display for work expected to take more than a couple of
    seconds (always with ``progress=True``, never with ``False``).

    On a terminal: a tqdm bar when tqdm is installed (its rate counted from
    the bar's start, not from the work's), else ETA lines. On anything else
    (CI logs, pipes, a captured stderr): sparse plain lines, one at the start
    and then at most one every ``TEXT_EVERY`` seconds, so a log is not flooded
    with carriage-return updates.
    """

    TEXT_EVERY = 10.0

    def __init__(self, total, progress, desc):
        self.total, self.progress, self.desc = total, progress, desc
        self.bar = None
        self.start = time.perf_counter()
        self.last_print = self.start

    @property
    def shown(self):
        """Whether a bar or ETA line has appeared."""
        return self.bar is not None

    def update(self, done):
        """``done`` of ``total`` items are finished."""
        if self.progress is False:
            return
        now = time.perf_counter()
        elapsed = now - self.start
        eta = elapsed / max(done, 1) * (self.total - done)
        if self.bar is None:
            self._open(done, now, elapsed, eta)
        elif isinstance(self.bar, str):
            if now - self.last_print >= self.TEXT_EVERY and done < self.total:
                self.last_print = now
                self._say(f"{done:,}/{self.total:,}, about {eta:.0f} s left")
        else:
            self.bar.update(done - self.bar.n)

    def _open(self, done, now, elapsed, eta):
        terminal = stderr_is_terminal()
        if self.progress is not True and (
            done >= self.total
            or elapsed < ESTIMATE_AFTER_SECONDS
            or elapsed + eta <= PROGRESS_AFTER_SECONDS
            # a log (not a terminal) gets a line only for work that is already long
            or (not terminal and elapsed < PROGRESS_AFTER_SECONDS)
        ):
            return
        self.bar = "text"
        tqdm = tqdm_class() if terminal else None
        if tqdm is not None:
            # initial=done: tqdm's rate counts what is done from now on, not
            # the items finished before the bar existed.
            self.bar = tqdm(
                total=self.total, initial=done, desc=self.desc, unit="coord", leave=False
            )
            return
        self.last_print = now
        self._say(f"{done:,}/{self.total:,} coordinates, about {eta:.0f} s left")

    def _say(self, text):
        print(f"{self.desc}: {text}", file=sys.stderr, flush=True)

    def close(self):
        """Remove the bar (text lines stay)."""
        if self.bar is not None and not isinstance(self.bar, str):
            self.bar.close()


# Below this many mini-batch steps a run is short: progress=None shows no bar.
LONG_RUN_STEPS = 20_000
# ...and even on a long run, a bar appears only once this many seconds have passed.
EPOCH_BAR_DELAY = 2.0


def epoch_bar(progress, num_epochs, steps):
    """The training loop's bar over epochs, or None (tqdm is optional)."""
    if progress is False or (progress is None and steps < LONG_RUN_STEPS):
        return None
    tqdm = tqdm_class()
    if tqdm is None:
        if progress:
            warnings.warn(
                "progress=True needs tqdm (pip install tqdm); training without a progress bar",
                UserWarning,
                stacklevel=4,
            )
        return None
    if progress is None:  # long run: appear after a while, and only on a terminal
        return tqdm(
            total=num_epochs, unit="epoch", delay=EPOCH_BAR_DELAY, disable=None, leave=False
        )
    return tqdm(total=num_epochs, unit="epoch")
