"""``gradient_check`` on any object with a ``cost(params, X, Y)`` method: its
parameters as named blocks, a determinism check, then the callable machinery
of :mod:`fastgrad.gradcheck.generic` (kinks, float32 models, ``workers``,
the three modes: the same as :func:`fastgrad.check_grad`)."""

import time
import warnings

import numpy as np

from fastgrad._rng import as_generator
from fastgrad.gradcheck import directional, lowprec, options, structured
from fastgrad.gradcheck._generic_kernel import as_real_scalar
from fastgrad.gradcheck.calls import check_deterministic, left_at_theta
from fastgrad.gradcheck.generic import build_report, read_only
from fastgrad.gradcheck.inputs import check_dropout, check_generic_dicts, check_n_threads
from fastgrad.gradcheck.report import DEFAULT_THRESHOLDS


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
    """``gradient_check`` on any object with ``cost(params, X, Y)``.

    ``workers`` is validated by the front door (None, an int >= 2 or an
    Executor); the model, X and Y are shipped to the workers with cloudpickle.
    A float32 model (the cost returns float32, the gradients are float32, or
    the params are and the cost casts a step below float32's spacing away)
    gets the float32 step and, when ``thresholds`` is None (not given), the
    bands ``lowprec.THRESHOLDS``.
    """
    t0 = time.perf_counter()
    eps = options.epsilon(eps)
    raise_on_failure = options.flag(raise_on_failure, "raise_on_failure")
    mode = options.mode(mode)
    k = options.k(k, mode)
    check_n_threads(n_threads)
    check_dropout(dropout, model)
    progress = options.progress(progress)
    rng = as_generator(seed)
    given = (params, grads)
    params, grads = check_generic_dicts(params, grads, warn=False)
    st, flat, analytic, call, fname, raw, t_call = _cost_call(model, params, grads, X, Y)
    view = st.views(flat)
    # float32 params make a float32 model only when the cost casts a step
    # below float32's spacing away, as check_grad decides
    f32 = lowprec.is_float32_model(raw, given[1], dict(given[0]), (call, view, flat, fname))
    if not f32:
        _warn_upcast(*given)
    given_bands = thresholds is not None
    if thresholds is None:
        thresholds = lowprec.THRESHOLDS if f32 else DEFAULT_THRESHOLDS
    desc = "fastgrad gradient check"
    run = dict(call=call, flat=flat, view=view, eps=eps, blocks=st.blocks, fname=fname)
    pool = (workers, t_call, st)
    with left_at_theta(call, run["view"], flat, fname):
        if mode == "directional":
            found = directional.run_callable(
                analytic, k, rng, thresholds, desc, raw, f32, pool, progress=progress, **run
            )
        else:
            # kinks from the one-sided differences; f(θ) is the determinism check's
            from fastgrad.gradcheck.callable import coordinates_with_kinks

            found = coordinates_with_kinks(
                mode, k, rng, desc, analytic, raw, f32, pool, progress=progress, **run
            )
            found["kink_text"] = "sit on a kink of the cost (the one-sided slopes disagree)"
    upcast = [] if f32 else structured.low_precision(dict(given[0]), "params")
    return build_report(
        title=repr(model),
        analytic=analytic,
        blocks=st.blocks,
        prefix="d",
        eps=eps,
        thresholds=thresholds,
        seconds=time.perf_counter() - t0,
        raise_on_failure=raise_on_failure,
        cap_at_noise=not given_bands,
        caller=(fname, "params", upcast),
        **found,
    )


def _warn_upcast(params, grads):
    for what, value in (("params", params), ("grads", grads)):
        for label, dt in structured.low_precision(dict(value), what):
            warnings.warn(
                f"{label} is {dt}; upcast to float64 (a finite difference "
                "with epsilon=1e-7 needs double precision)",
                UserWarning,
                stacklevel=4,
            )


class CostCall:
    """``call(views)``: the model's cost at the parameter views, with X and Y
    read-only. A class (not a closure over the views) so that a worker
    process rebuilds the views over its own copy of θ."""

    def __init__(self, model, X, Y):
        self.model, self.X, self.Y = model, X, Y
        self._frozen = None

    def __getstate__(self):
        return {"model": self.model, "X": self.X, "Y": self.Y, "_frozen": None}

    def __call__(self, views):
        if self._frozen is None:
            self._frozen = tuple(
                read_only(a) if isinstance(a, np.ndarray) else a for a in (self.X, self.Y)
            )
        return self.model.cost(dict(views), *self._frozen)  # a dict of its own (FreshCall)


def _cost_call(model, params, grads, X, Y):
    """θ as named blocks (the names the cost reads), the analytic gradient,
    ``call`` and the cost at θ (as returned, with the time of one call). The
    cost must be deterministic and read only its names."""
    st, flat = structured.flatten(params, "params", warn=False)
    analytic = np.concatenate([g.ravel() for g in grads.values()])
    fname = getattr(model, "_fastgrad_cost_name", None) or f"{type(model).__name__}.cost"
    call = CostCall(model, X, Y)
    try:
        raw, t_call = check_deterministic(call, st.views(flat), fname, flat=flat)
        at_params = as_real_scalar(raw, fname)
        if not np.isfinite(at_params):
            raise ValueError(
                f"{fname} returned {at_params!r} at params itself: the cost must be finite"
            )
    except KeyError as e:  # any names are allowed, but they must be the cost's own
        raise KeyError(
            f"params: {fname} looked up {e} but params has {list(params)}; pass "
            "the parameters under the names the cost reads"
        ) from e
    return st, flat, analytic, call, fname, raw, t_call
