"""Reports as plain Python data: strict JSON has no NaN or infinity."""

import math


def finite_or_none(x):
    """``x``, or None for a float that is NaN or infinite (a layer that
    overflowed, a difference that could not be formed)."""
    return None if isinstance(x, float) and not math.isfinite(x) else x
