"""params_to_vector / vector_to_params: loose inputs get clear errors."""
import warnings

import numpy as np
import pytest

from fastgrad import params_to_vector, vector_to_params


def blocks():
    rng = np.random.default_rng(0)
    return {"b2": rng.standard_normal((1, 1)), "W1": rng.standard_normal((3, 2)),
            "W2": rng.standard_normal((1, 3)), "b1": rng.standard_normal((3, 1))}


def test_round_trip_in_the_course_order_against_numpy():
    p = blocks()
    before = {k: v.tobytes() for k, v in p.items()}
    theta = params_to_vector(p)
    ref = np.concatenate([p[k].ravel() for k in ("W1", "b1", "W2", "b2")])
    np.testing.assert_array_equal(theta, ref)
    back = vector_to_params(theta, p)
    for k in p:
        np.testing.assert_array_equal(back[k], p[k])
    assert {k: v.tobytes() for k, v in p.items()} == before
    shapes = vector_to_params(theta, {k: v.shape for k, v in p.items()}, prefix="d")
    assert set(shapes) == {"dW1", "db1", "dW2", "db2"}


@pytest.mark.parametrize("call,exc,words", [
    (lambda: params_to_vector([1, 2]), TypeError, "params must be a dict"),
    (lambda: params_to_vector({"W1": np.ones(2)}, prefix=3), TypeError, "prefix must be a str"),
    (lambda: params_to_vector({"W1": np.ma.masked_array([1.0, 2.0], mask=[0, 1])}),
     TypeError, "masked"),
    (lambda: params_to_vector({"W1": np.ones(2, dtype=complex)}), TypeError, "real numbers"),
    (lambda: params_to_vector({"weights": np.ones(2)}), ValueError, "unexpected key"),
    (lambda: vector_to_params(np.ones(2) + 1j, {"W1": (2,)}), TypeError, "theta must hold real"),
    (lambda: vector_to_params(np.array(["1", "2"]), {"W1": (2,)}), TypeError, "theta must hold"),
    (lambda: vector_to_params(np.ones(2), [1]), TypeError, "like must be a dict"),
    (lambda: vector_to_params(np.ones(2), {"W1": (-2,)}), ValueError, "shape tuple"),
    (lambda: vector_to_params(np.ones(2), {"W1": (2.0,)}), ValueError, "shape tuple"),
    (lambda: vector_to_params(np.ones(2), {"W1": (True, 2)}), ValueError, "shape tuple"),
    (lambda: vector_to_params(np.ones(2), {"W1": (2,)}, prefix=5), TypeError, "prefix"),
    (lambda: vector_to_params(np.ones(3), {"W1": (2,)}), ValueError, "3 entries"),
    (lambda: vector_to_params(np.ones((2, 2)), {"W1": (4,)}), ValueError, "shape"),
])
def test_loose_inputs(call, exc, words):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way to the error
        with pytest.raises(exc, match=words):
            call()
