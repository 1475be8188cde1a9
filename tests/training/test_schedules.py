"""fastgrad.training.schedules (public as fastgrad.optim): each decay against
its formula, written here."""
import math

import numpy as np
import pytest

from fastgrad.optim import ExponentialDecay, InverseTimeDecay, StepDecay

EPOCHS = range(0, 3001, 7)


def test_inverse_time_decay():
    sched = InverseTimeDecay(0.5, decay_rate=0.3)
    for e in EPOCHS:
        assert sched(e) == pytest.approx(0.5 / (1 + 0.3 * e), rel=1e-15)
    assert sched(0) == 0.5


def test_step_decay():
    sched = StepDecay(0.1, decay_rate=1.0, time_interval=1000)
    for e in EPOCHS:
        assert sched(e) == pytest.approx(0.1 / (1 + 1.0 * math.floor(e / 1000)), rel=1e-15)
    # constant inside an interval, dropping at its end
    assert sched(0) == sched(999) == 0.1
    assert sched(1000) < sched(999)
    assert StepDecay(0.1, 0.5).time_interval == 1000


def test_exponential_decay():
    sched = ExponentialDecay(0.2, rate=0.95)
    for e in EPOCHS:
        assert sched(e) == pytest.approx(0.2 * 0.95 ** e, rel=1e-12)
    assert ExponentialDecay(0.2, rate=1.0)(500) == 0.2


@pytest.mark.parametrize("make, arg", [
    (lambda: InverseTimeDecay(0.0, 1.0), "learning_rate0"),
    (lambda: InverseTimeDecay(0.1, -1.0), "decay_rate"),
    (lambda: StepDecay(0.1, 1.0, time_interval=0), "time_interval"),
    (lambda: StepDecay(0.1, np.nan), "decay_rate"),
    (lambda: ExponentialDecay(0.1, rate=0.0), "rate"),
    (lambda: ExponentialDecay(0.1, rate=1.5), "rate"),
])
def test_bad_schedule_arguments(make, arg):
    with pytest.raises(ValueError, match=arg):
        make()


def test_schedule_epoch_must_be_a_non_negative_int():
    with pytest.raises(ValueError, match="epoch"):
        InverseTimeDecay(0.1, 1.0)(-1)
    with pytest.raises(TypeError, match="epoch"):
        InverseTimeDecay(0.1, 1.0)(1.5)


