"""Ctrl-C while the Taylor jets are built stops the check promptly: the
build runs in pieces of about 0.2 s (one nogil region each), like the
coordinates. The child's jets alone take tens of seconds."""

import sys
import textwrap

import pytest


CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from fastgrad.gradcheck.mlp import KernelInputs
    from fastgrad import MLP
    model = MLP([8, 400, 400, 400, 1], hidden="tanh")
    params = model.init_params("xavier", seed=0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 1000))
    Y = (rng.random((1, 1000)) < 0.5).astype(float)
    net = KernelInputs(model, params, X, Y, 1e-7)
    coords = np.arange(sum(v.size for v in params.values()))
    plan = net.plan(coords)
    assert plan.jets, plan
    print("start", flush=True)
    try:
        net.run(coords, 2, False, "")
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(3)
    print("finished", flush=True)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_ctrl_c_stops_the_jets_build(interrupted_child):
    interrupted_child(CHILD, "the jets build")
