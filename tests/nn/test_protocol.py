"""fastgrad.nn.protocol: MLP implements the whole protocol; a user's model
needs only what the table says (cost for the check, cost and backward for
training), shown with a model written here in plain NumPy."""
import numpy as np

from fastgrad import MLP, gradient_check
from fastgrad.nn.protocol import CostModel, Model
from fastgrad.optim import GradientDescent, fit


class LeastSquares:
    """J(w) = 1/(2m)·‖w·X − Y‖², with its gradient; nothing else."""

    def cost(self, params, X, Y):
        return float(0.5 * np.mean((params["W1"] @ X - Y) ** 2))

    def backward(self, params, X, Y):
        return {"dW1": (params["W1"] @ X - Y) @ X.T / X.shape[1]}


def test_mlp_implements_the_model_protocol():

    model = MLP([2, 3, 1])
    assert isinstance(model, Model) and isinstance(model, CostModel)
    assert not isinstance(object(), CostModel)
    assert isinstance(LeastSquares(), CostModel) and not isinstance(LeastSquares(), Model)


def test_a_cost_model_is_checked_and_trained_by_the_protocol_alone():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((3, 40)), rng.standard_normal((1, 40))
    model, params = LeastSquares(), {"W1": np.zeros((1, 3))}
    report = gradient_check(model, params, model.backward(params, X, Y), X, Y)
    assert report.passed
    result = fit(model, params, X, Y, optimizer=GradientDescent(0.5), num_epochs=30,
                 batch_size=None, progress=False)
    w = np.zeros((1, 3))
    for _ in range(30):                                  # the same steps, written out
        w = w - 0.5 * (w @ X - Y) @ X.T / 40
    np.testing.assert_allclose(result.params["W1"], w, rtol=1e-12)
