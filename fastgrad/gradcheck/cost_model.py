"""``gradient_check`` on any object with a ``cost(params, X, Y)`` method: its
parameters as named blocks, a determinism check, then the callable machinery
of :mod:`fastgrad.gradcheck.generic`."""

import time

import numpy as np

from fastgrad._rng import as_generator
from fastgrad.gradcheck import options
from fastgrad.gradcheck.generic import build_report, call_once, directional_run, read_only
from fastgrad.gradcheck.inputs import check_dropout, check_generic_dicts, check_n_threads
from fastgrad.nn.spec import ParamSpec


def check_generic_model(
    model,
    params,
    grads,
    X,
    Y,
    eps,
    thresholds,
    raise_on_failure,
    *,
    mode="full",
    k=None,
    seed=None,
    n_threads=None,
    dropout=True,
    progress=None,
    workers=None,
):
    """``gradient_check`` on any object with ``cost(params, X, Y)``."""
    t0 = time.perf_counter()
    eps = options.epsilon(eps)
    raise_on_failure = options.flag(raise_on_failure, "raise_on_failure")
    mode = options.mode(mode)
    k = options.k(k, mode)
    check_n_threads(n_threads)
    check_dropout(dropout, model)
    progress = options.progress(progress)
    options.workers(workers, "models with a cost method yet")
    rng = as_generator(seed)
    params, grads = check_generic_dicts(params, grads)
    blocks, flat, analytic, call, fname, f0 = _cost_call(model, params, grads, X, Y)
    desc = "fastgrad gradient check"
    run = dict(call=call, flat=flat, eps=eps, blocks=blocks, fname=fname, progress=progress)
    if mode == "directional":
        found = directional_run(analytic, k, rng, thresholds, desc, **run)
    else:
        # kinks from the one-sided differences; f(θ) is the determinism check's
        from fastgrad.gradcheck.callable import coordinates_with_kinks

        found = coordinates_with_kinks(
            mode, k, rng, desc, analytic, f0, False, (None, 0.0, None), view=None, **run
        )
        found["kink_text"] = "sit on a kink of the cost (the one-sided slopes disagree)"
    report = build_report(
        title=repr(model),
        analytic=analytic,
        blocks=blocks,
        prefix="d",
        eps=eps,
        thresholds=thresholds,
        seconds=time.perf_counter() - t0,
        raise_on_failure=raise_on_failure,
        **found,
    )
    return report


def _cost_call(model, params, grads, X, Y):
    """The flat working θ, the analytic gradient, and ``call``: the model's
    cost of the working θ, which it sees through read-only views (X and Y
    read-only too). The cost must be deterministic and read only its names."""
    blocks = ParamSpec.of(params).blocks
    flat = np.concatenate([p.ravel() for p in params.values()])
    analytic = np.concatenate([g.ravel() for g in grads.values()])
    views = {name: read_only(flat[sl].reshape(shape)) for name, sl, shape in blocks}
    Xv = read_only(X) if isinstance(X, np.ndarray) else X
    Yv = read_only(Y) if isinstance(Y, np.ndarray) else Y
    fname = f"{type(model).__name__}.cost"

    def call(_):
        return model.cost(views, Xv, Yv)

    try:
        f0 = check_deterministic(call, fname)
    except KeyError as e:  # any names are allowed, but they must be the cost's own
        raise KeyError(
            f"params: {fname} looked up {e} but params has {list(params)}; pass "
            "the parameters under the names the cost reads"
        ) from e
    return blocks, flat, analytic, call, fname, f0


def check_deterministic(call, fname):
    """Two evaluations at θ must agree: a cost that redraws dropout masks (or
    samples anything) at each call makes every difference noise."""
    a = call_once(call, None, fname)
    if not np.isfinite(a):
        raise ValueError(f"{fname} returned {a!r} at params itself: the cost must be finite")
    b = call_once(call, None, fname)
    if abs(a - b) > 1e-13 * max(abs(a), abs(b)):
        raise ValueError(
            f"{fname} is not deterministic: two calls with the same params gave {a!r} and "
            f"{b!r}. A cost that redraws dropout masks (or samples anything) at every call "
            "makes the check compare noise with noise; freeze the masks (a fixed seed) or "
            "turn dropout off inside the object"
        )
    return a
