"""Learning-rate decay (course, week 2) is a callable ``schedule(epoch) -> α``
that :func:`fit` calls at the start of every epoch (epoch 0 first, so the
first epoch uses ``α₀``):

====================  ====================================================
InverseTimeDecay      ``α₀ / (1 + decay_rate·epoch)``
StepDecay             ``α₀ / (1 + decay_rate·⌊epoch / time_interval⌋)``
ExponentialDecay      ``α₀ · rate^epoch``
====================  ====================================================
"""

from __future__ import annotations

from fastgrad import _argcheck as ac

# The smallest normal float64: where an exponential decay stops.
TINY = 2.2250738585072014e-308

__all__ = ["InverseTimeDecay", "StepDecay", "ExponentialDecay"]


class _Schedule:
    def __call__(self, epoch):
        epoch = ac.integer(epoch, "epoch", minimum=0)
        return self._rate(epoch)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class InverseTimeDecay(_Schedule):
    """``α(epoch) = α₀ / (1 + decay_rate·epoch)`` (the course's ``update_lr``).

    Parameters
    ----------
    learning_rate0 : float > 0
    decay_rate : float >= 0
    """

    def __init__(self, learning_rate0, decay_rate):
        self.learning_rate0 = ac.real(learning_rate0, "learning_rate0", low=0.0, low_open=True)
        self.decay_rate = ac.real(decay_rate, "decay_rate", low=0.0)

    def _rate(self, epoch):
        return self.learning_rate0 / (1.0 + self.decay_rate * epoch)


class StepDecay(_Schedule):
    """``α(epoch) = α₀ / (1 + decay_rate·⌊epoch / time_interval⌋)``.

    The course's ``schedule_lr_decay``: the rate drops only every
    ``time_interval`` epochs, so it does not fall to ~0 on a long run.

    Parameters
    ----------
    learning_rate0 : float > 0
    decay_rate : float >= 0
    time_interval : int >= 1, default 1000
    """

    def __init__(self, learning_rate0, decay_rate, time_interval=1000):
        self.learning_rate0 = ac.real(learning_rate0, "learning_rate0", low=0.0, low_open=True)
        self.decay_rate = ac.real(decay_rate, "decay_rate", low=0.0)
        self.time_interval = ac.integer(time_interval, "time_interval", minimum=1)

    def _rate(self, epoch):
        return self.learning_rate0 / (1.0 + self.decay_rate * (epoch // self.time_interval))


class ExponentialDecay(_Schedule):
    """``α(epoch) = α₀ · rate^epoch``, never below the smallest normal
    float64 (2.2e-308): ``rate^epoch`` underflows to 0 after enough epochs
    (epoch 14,438 for α₀ = 0.01 and the course's 0.95), and a learning rate
    of 0 would stop training with an error.

    Parameters
    ----------
    learning_rate0 : float > 0
    rate : float in (0, 1]
        The factor per epoch (the course's example is 0.95).
    """

    def __init__(self, learning_rate0, rate):
        self.learning_rate0 = ac.real(learning_rate0, "learning_rate0", low=0.0, low_open=True)
        self.rate = ac.real(rate, "rate", low=0.0, high=1.0, low_open=True)

    def _rate(self, epoch):
        return max(self.learning_rate0 * self.rate**epoch, min(self.learning_rate0, TINY))


# -- the training loop -----------------------------------------------------
