"""Found by a trial against torch.optim and autograd: a model whose
``hidden``/``output``/``batchnorm`` were reassigned after construction, an
exponential decay over a long run, and an optimizer given the same blocks
in another key order."""

import numpy as np
import pytest

from fastgrad import MLP
from fastgrad.optim import Adam, ExponentialDecay, GradientDescent, Momentum, fit

X = np.random.default_rng(0).standard_normal((3, 6))
Y = (X[:1] > 0) * 1.0


def test_batchnorm_switched_on_after_construction_trains_and_predicts():
    model = MLP([3, 4, 4, 1])
    model.batchnorm = (1,)
    params = model.init_params(seed=0)
    assert "gamma1" in params
    result = fit(model, params, X, Y, optimizer=Adam(0.1), num_epochs=3, progress=False)
    assert list(result.running_mean) == [1]
    # the first update starts from mean 0, variance 1, as a fresh model's
    fresh = MLP([3, 4, 4, 1], batchnorm=(1,))
    again = fit(fresh, params, X, Y, optimizer=Adam(0.1), num_epochs=3, progress=False)
    np.testing.assert_array_equal(result.running_var[1], again.running_var[1])
    np.testing.assert_array_equal(model.predict(result.params, X), fresh.predict(again.params, X))


def test_a_reassigned_hidden_activation_is_the_one_computed():
    m = MLP([3, 4, 1])
    p = m.init_params(seed=0)
    m.hidden = ("tanh",)
    W1, b1, W2, b2 = p["W1"], p["b1"], p["W2"], p["b2"]
    expect = 1 / (1 + np.exp(-(W2 @ np.tanh(W1 @ X + b1) + b2)))  # written here
    np.testing.assert_allclose(m.forward(p, X), expect, rtol=1e-14)
    assert "tanh" in repr(m) and m.activations[0].name == "tanh"
    m.hidden = "relu"  # one name for every hidden layer, as the constructor takes
    assert m.activations[0].name == "relu"
    m.hidden = ("tanh", "relu")
    with pytest.raises(ValueError, match="hidden has 2 activations"):
        m.forward(p, X)
    m.hidden = ("nope",)
    with pytest.raises(ValueError, match="nope"):
        m.forward(p, X)


def test_a_reassigned_output_is_the_one_computed():
    m = MLP([3, 4, 2], output="softmax")
    m.output = "sigmoid"
    assert m.output_layer.name == "sigmoid"
    m = MLP([3, 4, 1])
    m.output = "softmax"
    with pytest.raises(ValueError, match="softmax output needs at least 2 units"):
        m.output_layer


def test_exponential_decay_stops_at_the_smallest_normal_float():
    sched = ExponentialDecay(0.01, 0.5)
    assert sched(1068) > 0 and sched(1069) == 2.2250738585072014e-308 == sched(10**6)
    assert ExponentialDecay(1e-310, 0.5)(10) == 1e-310  # a start below the floor stays
    model = MLP([2, 2, 1])
    params = model.init_params(seed=0)
    Xs = np.random.default_rng(0).standard_normal((2, 4))
    Ys = np.array([[0.0, 1.0, 0.0, 1.0]])
    r = fit(model, params, Xs, Ys, optimizer=GradientDescent(0.01), num_epochs=1100,
            batch_size=None, schedule=sched, progress=False)
    assert len(r.costs) >= 1


@pytest.mark.parametrize("opt", [Adam, Momentum, GradientDescent])
def test_an_optimizer_pairs_blocks_by_name_not_by_key_order(opt):
    p = {"W1": np.ones((2, 2)), "b1": np.zeros((2, 1))}
    g = {"dW1": np.full((2, 2), 0.5), "db1": np.ones((2, 1))}
    a_opt, b_opt = opt(0.1), opt(0.1)
    a = a_opt.step(p, g)
    a = a_opt.step({"b1": a["b1"], "W1": a["W1"]}, {"db1": g["db1"], "dW1": g["dW1"]})
    b = b_opt.step(b_opt.step(p, g), g)
    assert list(a) == ["b1", "W1"]  # the caller's order back
    np.testing.assert_array_equal(a["W1"], b["W1"])
    np.testing.assert_array_equal(a["b1"], b["b1"])
    with pytest.raises(ValueError, match="set up for blocks"):
        a_opt.step({"W1": np.ones((3, 2)), "b1": np.zeros((2, 1))},
                   {"dW1": np.ones((3, 2)), "db1": np.ones((2, 1))})


def test_hidden_given_as_one_name_is_every_layers():
    import fastgrad

    m = MLP([3, 4, 4, 1])
    m.hidden = "tanh"
    assert m.hidden == ("tanh", "tanh") and "hidden='tanh'" in repr(m)
    p = m.init_params(seed=0)
    d = fastgrad.diagnose(m, p, X, Y)
    assert [r.activation for r in d.layers][:2] == ["tanh", "tanh"]


def test_a_subclass_may_set_the_registry_entries():
    from fastgrad.nn import activations, outputs

    class Mine(MLP):
        def __init__(self, dims):
            super().__init__(dims)
            self.output_layer = outputs.get("linear")
            self.activations = (activations.get("tanh"),)

    m = Mine([2, 3, 1])
    assert m.output == "linear" and m.hidden == ("tanh",)
    assert m.output_layer.name == "linear" and m.activations[0].name == "tanh"


def test_a_used_model_pickles():
    import pickle

    m = MLP([3, 4, 1], hidden="tanh", batchnorm=(1,))
    p = m.init_params(seed=0)
    m.cost_and_grads(p, X, Y, update_running=True)
    back = pickle.loads(pickle.dumps(m))
    assert repr(back) == repr(m)
    np.testing.assert_array_equal(back.predict(p, X), m.predict(p, X))
    np.testing.assert_array_equal(back.running_var[1], m.running_var[1])


def test_layer_dims_reassigned_without_keep_prob_is_named():
    m = MLP([3, 4, 1], keep_prob=0.8)
    m.layer_dims = (3, 4, 4, 1)
    m.hidden = ("relu", "relu")
    p = m.init_params(seed=0)
    with pytest.raises(ValueError, match="keep_prob has 1 values but layer_dims has 2"):
        m.cost_and_grads(p, X, Y, seed=0)
    m.keep_prob = (0.8, 0.9)
    cost, _ = m.cost_and_grads(p, X, Y, seed=0)
    assert np.isfinite(cost)
