"""Progress output on a non-terminal: a few plain lines, never a tqdm bar."""
import io
import sys

import numpy as np
import pytest

import fastgrad._progress as progress
import fastgrad.gradcheck.mlp as mlp
from fastgrad import MLP, gradient_check


@pytest.fixture
def problem(ref):
    dims = [6, 30, 20, 2]
    params, X, Y = ref.problem(dims, 40, hidden="tanh", output="softmax", seed=4)
    model = MLP(dims, hidden="tanh", output="softmax")
    return model, params, model.backward(params, X, Y), X, Y


def test_non_terminal_gets_sparse_plain_lines(problem, capsys, monkeypatch):
    pytest.importorskip("tqdm")
    # Many pieces, so an old-style bar would redraw many times.
    monkeypatch.setattr(mlp, "PIECE_SECONDS", 1e-6)
    model, params, grads, X, Y = problem
    quiet = gradient_check(model, params, grads, X, Y, progress=False)
    shown = gradient_check(model, params, grads, X, Y, progress=True)
    for key in quiet.numerical:
        np.testing.assert_array_equal(quiet.numerical[key], shown.numerical[key])
    err = capsys.readouterr().err
    assert "\r" not in err and "coord/s" not in err and "it/s" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and "coordinates, about" in lines[0], err


def test_plain_lines_are_at_most_every_ten_seconds(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: clock[0])
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    bar = progress.Progress(1000, True, "check")
    for done in range(0, 1000, 10):    # one update per simulated second
        clock[0] += 1.0
        bar.update(done)
    bar.close()
    lines = buf.getvalue().splitlines()
    # 100 s of updates: the start line, then one per 10 s at most.
    assert 2 <= len(lines) <= 11, lines


def test_terminal_bar_rate_counts_from_the_bar_start(monkeypatch):
    tqdm_auto = pytest.importorskip("tqdm.auto")
    made = {}

    class FakeTqdm:
        def __init__(self, total, initial=0, **kw):
            made["initial"] = initial
            self.n = initial

        def update(self, k):
            self.n += k

        def close(self):
            pass

    class TTY(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(tqdm_auto, "tqdm", FakeTqdm)
    monkeypatch.setattr(sys, "stderr", TTY())
    bar = progress.Progress(1000, True, "check")
    bar.update(400)
    bar.update(500)
    bar.close()
    # The 400 coordinates done before the bar existed are not counted as
    # done in no time (that gave a first rate of 3e8 coord/s).
    assert made["initial"] == 400 and bar.bar.n == 500


def test_jupyter_stream_counts_as_interactive(monkeypatch):
    """A notebook's stderr is not a TTY, but tqdm.auto draws a widget there."""
    OutStream = type("OutStream", (io.StringIO,), {"__module__": "ipykernel.iostream"})
    monkeypatch.setattr(sys, "stderr", OutStream())
    assert progress.stderr_is_terminal()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not progress.stderr_is_terminal()
    monkeypatch.setattr(sys, "stderr", None)
    assert not progress.stderr_is_terminal()


def test_short_work_prints_nothing_to_a_log(monkeypatch):
    # A crude first estimate (set-up, cold caches) must not print a line for
    # work that is not long: with progress=None a log sees a line only once
    # the work has actually run PROGRESS_AFTER_SECONDS.
    clock = [0.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: clock[0])
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    p = progress.Progress(100_000, None, "check")
    clock[0] = 0.6
    p.update(64)  # the estimate says ~940 s left, but only 0.6 s have passed
    assert buf.getvalue() == ""
    clock[0] = 2.5
    p.update(300)
    assert buf.getvalue().count("\n") == 1 and "about" in buf.getvalue()


def test_a_fast_check_is_silent_on_a_log(capsys):
    model = MLP([784, 64, 1])
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((784, 32)), (rng.random((1, 32)) > 0.5).astype(float)
    params = model.init_params(seed=0)
    gradient_check(model, params, model.backward(params, X, Y), X, Y)
    assert capsys.readouterr().err == ""
