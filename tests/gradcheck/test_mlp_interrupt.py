"""Ctrl-C during a check without a progress bar stops it promptly.

The check used to run as one long nogil region when no bar was shown, so
SIGINT waited for the whole check (11 s here for a 13 s check). The child
below runs a check that takes tens of seconds; the parent interrupts it
after 1.5 s and gives it 10 s to raise KeyboardInterrupt (it needs ~0.2 s).
"""
import sys
import textwrap

import pytest


CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from fastgrad import MLP, gradient_check
    # Batch norm on the last hidden layer (tanh): every coordinate of the
    # first layer is propagated through it (no jets, no linear maps).
    model = MLP([200, 200, 200, 1], hidden="tanh", batchnorm=[2])
    params = model.init_params("he", seed=0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 300))
    Y = (rng.random((1, 300)) < 0.5).astype(float)
    grads = model.backward(params, X, Y)
    print("start", flush=True)
    try:
        gradient_check(model, params, grads, X, Y, progress=False)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(3)
    print("finished", flush=True)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_ctrl_c_stops_a_check_without_progress_bar(interrupted_child):
    interrupted_child(CHILD, "the check")
