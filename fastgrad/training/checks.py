"""Gradient checks during training: ``fit(check_gradients=(0, N))`` checks
backprop at chosen epochs, always on one fixed mini-batch, so two reports of
a run differ only by the parameters they were taken at."""

from __future__ import annotations

import numbers
import warnings

from fastgrad import _argcheck as ac
from fastgrad.nn.spec import is_course_name


def check_epochs(check_gradients, num_epochs):
    """The sorted epochs ``check_gradients`` asks for (``()`` for none)."""
    if check_gradients is None or check_gradients is False:
        return ()
    if check_gradients is True:
        return (0, num_epochs)
    if isinstance(check_gradients, (numbers.Integral, str)):
        raise TypeError(
            f"check_gradients must be a sequence of epochs such as (0, "
            f"{num_epochs}) or True, got {check_gradients!r}"
        )
    epochs = sorted({ac.integer(e, "check_gradients epoch", minimum=0) for e in check_gradients})
    late = [e for e in epochs if e > num_epochs]
    if late:
        raise ValueError(f"check_gradients asks for epochs {late} but num_epochs={num_epochs}")
    return tuple(epochs)


def parameter_gradients(grads, params):
    """``grads`` without the course's cache entries (``dZ1``, ``dA1``, ...),
    which are not gradients of any parameter and are not checked."""
    if not isinstance(grads, dict):
        return grads
    return {
        k: v
        for k, v in grads.items()
        if not (
            isinstance(k, str)
            and k.startswith("d")
            and k[1:] not in params
            and not is_course_name(k[1:])
        )
    }


class TrainingChecks:
    """The checks of one :func:`~fastgrad.training.fit` run and their reports."""

    def __init__(self, model, check_gradients, num_epochs, check_options):
        self.epochs = check_epochs(check_gradients, num_epochs)
        if check_options is not None and not isinstance(check_options, dict):
            raise TypeError(f"check_options must be a dict, got {type(check_options).__name__}")
        self.model, self.options = model, dict(check_options or {})
        self.reports = {}
        self.batch = None

    def __call__(self, epoch, params, first_batch):
        """Run the check due at ``epoch`` (if any). At epoch 0 the check batch
        is fixed as ``first_batch()`` (called only when a check is asked for)."""
        if epoch == 0 and self.epochs:
            self.batch = first_batch()
        if epoch in self.epochs:
            self.check(epoch, params)

    def check(self, epoch, params):
        """Check the gradients on the check batch; warn when it fails."""
        from fastgrad.gradcheck import gradient_check  # training imports no checker at load

        model, (Xc, Yc) = self.model, self.batch
        options = dict(self.options)
        if getattr(model, "has_dropout", False) and options.get("dropout", True):
            # Frozen masks: the same int seed for backprop and the check.
            options.setdefault("seed", 0)
            grads = model.backward(params, Xc, Yc, seed=options["seed"])
        else:
            grads = model.backward(params, Xc, Yc)
        grads = parameter_gradients(grads, params)
        report = gradient_check(model, params, grads, Xc, Yc, **options)
        self.reports[epoch] = report
        if not getattr(report, "passed", True):
            warnings.warn(
                f"gradient check after {epoch} epochs failed:\n{report}", UserWarning, stacklevel=4
            )
