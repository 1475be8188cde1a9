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


# -- ParamSpec ---------------------------------------------------------------
def test_param_spec_of_course_names_uses_the_course_order_and_any_names_their_own():
    from fastgrad.nn.spec import ParamSpec

    course = ParamSpec.of({"b2": np.zeros((1, 1)), "W1": np.zeros((2, 3)), "W2": np.zeros((1, 2)),
                           "b1": np.zeros((2, 1))})
    assert course.names == ["W1", "b1", "W2", "b2"] and course.size == 11
    assert [sl for _, sl, _ in course.blocks] == [slice(0, 6), slice(6, 8), slice(8, 10),
                                                  slice(10, 11)]
    mine = ParamSpec.of({"conv_w": np.zeros((2, 2)), "bias": np.zeros(3)})
    assert mine.names == ["conv_w", "bias"] and mine.shapes["bias"] == (3,)
    with pytest.raises(TypeError, match="parameter names must be strings"):
        ParamSpec.of({1: np.zeros(2)})


def test_param_spec_for_mlp_matches_the_models_and_layer_starts():
    from fastgrad.nn.spec import ParamSpec

    spec = ParamSpec.for_mlp([3, 4, 2], batchnorm=(1,))
    assert spec.shapes == {"W1": (4, 3), "gamma1": (4, 1), "beta1": (4, 1), "W2": (2, 4),
                           "b2": (2, 1)}
    assert spec.layer_starts() == [0, 4 * 3 + 8]


def test_sample_coordinates_takes_k_from_every_block():
    from fastgrad.nn.spec import ParamSpec, sample_coordinates

    spec = ParamSpec({"W": (10,), "b": (2,)})
    picked = sample_coordinates(spec.blocks, 3, np.random.default_rng(0))
    assert len(picked) == 5 and set(picked[3:]) == {10, 11}
    assert all(0 <= i < 10 for i in picked[:3]) and list(picked[:3]) == sorted(picked[:3])
