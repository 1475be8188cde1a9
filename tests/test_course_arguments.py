"""Bad arguments to the course helpers: TypeError/ValueError naming the
argument (never KeyError/IndexError/AttributeError from inside); inputs are
never written."""
import numpy as np
import pytest

from fastgrad import course


def snapshot(d):
    return {k: (np.shape(v), np.asarray(v).tobytes()) for k, v in d.items()}


@pytest.fixture
def example():
    return course.gradient_check_n_test_case()


@pytest.mark.parametrize("parameters, exc, match", [
    ({}, ValueError, r"parameters holds no W1, W2, \.\.\. entries"),
    ({"b1": np.zeros((2, 1))}, ValueError, r"parameters holds no W1"),
    (None, TypeError, r"parameters must be a dict .*None \(NoneType\)"),
    ([], TypeError, r"parameters must be a dict"),
    ([("W1", np.ones((2, 3)))], TypeError, r"parameters must be a dict"),
    ("W1", TypeError, r"parameters must be a dict"),
    ({"W1": None}, TypeError, r"parameters\['W1'\] must be a numeric array"),
    ({"W1": "abc"}, TypeError, r"parameters\['W1'\] must be a numeric array"),
    ({"W1": np.ones(3)}, ValueError, r"parameters\['W1'\] must be 2-D .*\(3,\)"),
    ({"W1": np.ones((2, 3, 4))}, ValueError, r"parameters\['W1'\] must be 2-D"),
    ({"W1": np.ones((2, 3)) + 0j}, TypeError, r"parameters\['W1'\] must be a numeric array"),
    ({"W1": np.ma.masked_array(np.ones((2, 3)))}, TypeError, r"masked array"),
    ({"W2": np.ones((3, 3))}, ValueError, r"parameters has W2 but no W1"),
    ({"W1": np.ones((3, 4)), "W3": np.ones((1, 3))}, ValueError, r"no W2"),
    ({"W1": np.ones((3, 4)), "W2": np.ones((1, 5))}, ValueError,
     r"parameters\['W2'\] has shape \(1, 5\) but W1 has 3 rows: W2 needs 3 columns"),
    ({"W1": np.ones((0, 4))}, ValueError, r"layer_dims\[1\] must be a positive"),
])
def test_model_for_bad(parameters, exc, match):
    with pytest.raises(exc, match=match):
        course.model_for(parameters)


def test_model_for_ignores_other_keys(example):
    X, Y, params = example
    model = course.model_for(dict(params, dZ1=None, cache=object(), **{"7": 1}))
    assert model.layer_dims == (4, 5, 3, 1)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: course.dictionary_to_vector(None), TypeError, r"parameters must be a dict"),
    (lambda: course.dictionary_to_vector({}), ValueError, r"parameters holds no W1, b1"),
    (lambda: course.dictionary_to_vector({1: 2}), ValueError, r"parameters holds no W1"),
    (lambda: course.vector_to_dictionary(None), TypeError, r"theta must be a numeric vector"),
    (lambda: course.vector_to_dictionary("abc"), TypeError, r"theta must be a numeric vector"),
    (lambda: course.vector_to_dictionary(np.ma.masked_array(np.zeros(47))), TypeError, r"theta is a numpy masked array"),
    (lambda: course.vector_to_dictionary(np.zeros(46)), ValueError, r"needs like= .* 46 entries"),
    (lambda: course.vector_to_dictionary(np.zeros(6), like=[("W1", (2, 3))]), TypeError, r"like must be a dict"),
    (lambda: course.vector_to_dictionary(np.zeros(6), like={}), ValueError, r"like holds no W1"),
    (lambda: course.gradients_to_vector(None), TypeError, r"gradients must be a dict like \{'dW1'"),
    (lambda: course.gradients_to_vector({1: 2}), ValueError, r"gradients holds no dW1"),
    (lambda: course.gradients_to_vector({"dZ1": np.ones(3)}), ValueError, r"gradients holds no dW1"),
    # a missing block would shift every later entry of the vector silently
    (lambda: course.gradients_to_vector({"dW1": np.ones((2, 2)), "db1": np.ones((2, 1)),
                                         "dW2": np.ones((1, 2))}), KeyError, r"no db2"),
    (lambda: course.gradients_to_vector({"dW1": np.ones((2, 2)), "db1": np.ones((2, 1)),
                                         "db2": np.ones((1, 1))}), KeyError, r"no dW2"),
    (lambda: course.gradients_to_vector({"dW1": np.ones((2, 2)), "dgamma1": np.ones((2, 1)),
                                         "dW2": np.ones((1, 2)), "db2": np.ones((1, 1))}),
     KeyError, r"no dbeta1"),
    (lambda: course.gradients_to_vector({"dW2": np.ones((1, 2))}), KeyError, r"no dW1"),
    (lambda: course.forward_propagation_n(None, None, None), TypeError, r"parameters must be a dict"),
    (lambda: course.backward_propagation_n(None, None, None, bugs="no"), TypeError, r"bugs must be True or False"),
    (lambda: course.backward_propagation_n(None, None, None), TypeError, r"cache must be the 12-tuple"),
    (lambda: course.backward_propagation_n(None, None, (1, 2)), TypeError, r"cache must be the 12-tuple"),
])
def test_helpers_bad(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_forward_backward_bad_data(example):
    X, Y, params = example
    before = snapshot(dict(params, X=X, Y=Y))
    with pytest.raises(ValueError, match=r"X must have shape \(n_x=4, m\)"):
        course.forward_propagation_n(X.T, Y, params)
    with pytest.raises(ValueError, match=r"X contains NaN"):
        course.forward_propagation_n(X * np.nan, Y, params)
    with pytest.raises(TypeError, match=r"X is a numpy masked array"):
        course.forward_propagation_n(np.ma.masked_array(X), Y, params)
    with pytest.raises(ValueError, match=r"Y must have shape"):
        course.forward_propagation_n(X, Y[:, :2], params)
    with pytest.raises(ValueError, match=r"3-layer network .* 2 layers"):
        course.forward_propagation_n(X, Y, {"W1": params["W1"], "b1": params["b1"],
                                            "W2": np.ones((1, 5)), "b2": np.ones((1, 1))})
    with pytest.raises(KeyError, match=r"parameters keys .*missing \['b2'\]"):
        course.forward_propagation_n(X, Y, {k: v for k, v in params.items() if k != "b2"})
    _, cache = course.forward_propagation_n(X, Y, params)
    with pytest.raises(ValueError, match=r"X must have shape"):
        course.backward_propagation_n(X[:3], Y, cache)
    assert snapshot(dict(params, X=X, Y=Y)) == before


def test_forward_backward_on_read_only_inputs_match_plain_numpy(example):
    X, Y, params = example
    ro = {k: v.copy() for k, v in params.items()}
    Xr, Yr = X.copy(), Y.copy()
    for a in (*ro.values(), Xr, Yr):
        a.flags.writeable = False
    cost, cache = course.forward_propagation_n(Xr, Yr, ro)
    grads = course.backward_propagation_n(Xr, Yr, cache, bugs=False)
    # independent reference: the assignment's formulas written out here
    A1 = np.maximum(0, params["W1"] @ X + params["b1"])
    A2 = np.maximum(0, params["W2"] @ A1 + params["b2"])
    A3 = 1 / (1 + np.exp(-(params["W3"] @ A2 + params["b3"])))
    ref = np.mean(-Y * np.log(A3) - (1 - Y) * np.log(1 - A3))
    assert cost == pytest.approx(ref, rel=1e-14)
    dZ3 = (A3 - Y)
    assert np.allclose(grads["dW3"], dZ3 @ A2.T / 3, rtol=1e-14, atol=0)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(print_msg="yes"), TypeError, r"print_msg must be True or False"),
])
def test_gradient_check_n_bad(example, kwargs, exc, match):
    X, Y, params = example
    _, cache = course.forward_propagation_n(X, Y, params)
    grads = course.backward_propagation_n(X, Y, cache)
    with pytest.raises(exc, match=match):
        course.gradient_check_n(params, grads, X, Y, **kwargs)


def test_gradient_check_n_missing_gradients(example):
    X, Y, params = example
    _, cache = course.forward_propagation_n(X, Y, params)
    grads = course.backward_propagation_n(X, Y, cache)
    del grads["db2"]
    with pytest.raises(ValueError, match=r"gradients has no db2"):
        course.gradient_check_n(params, grads, X, Y)
    with pytest.raises(TypeError, match=r"gradients must be a dict"):
        course.gradient_check_n(params, list(grads.values()), X, Y)
    with pytest.raises(TypeError, match=r"parameters must be a dict"):
        course.gradient_check_n(None, grads, X, Y)


def test_gradient_check_n_does_not_write(example):
    X, Y, params = example
    _, cache = course.forward_propagation_n(X, Y, params)
    grads = course.backward_propagation_n(X, Y, cache)
    before = snapshot(dict(params, X=X, Y=Y, **grads))
    course.gradient_check_n(params, grads, X, Y)
    assert snapshot(dict(params, X=X, Y=Y, **grads)) == before
