"""Drop-in versions of the course's gradient-checking helpers.

The deep learning course's assignment defines ``dictionary_to_vector``,
``vector_to_dictionary``, ``gradients_to_vector`` and ``gradient_check_n``
for one fixed 3-layer network (and ``gradient_check(x, theta)``, its
one-dimensional warm-up). These take the same arguments and return the
same things, for any number of layers, and ``gradient_check_n`` runs
fastgrad's exact compiled check instead of the naive loop.

The network is the assignment's: LINEAR → RELU → … → LINEAR → SIGMOID with
the cross-entropy cost; ``X`` is ``(n_x, m)`` and ``parameters`` holds
``W1`` of shape ``(n1, n0)``, ``b1`` of shape ``(n1, 1)``, ….

:func:`gradient_check_n_test_case` rebuilds the assignment's worked example
and :func:`backward_propagation_n` its backprop, deliberate bugs included
(``dW2`` doubled, ``db1`` with ``4./m``), so the course's exercise runs as is.
"""

from collections.abc import Mapping

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad.gradcheck import gradient_check as _check_model
from fastgrad.gradcheck import lowprec
from fastgrad.nn.model import MLP
from fastgrad.nn.spec import parameter_order, params_to_vector, vector_to_params

# The assignment's network: theta has 47 entries.
COURSE_SHAPES = {"W1": (5, 4), "b1": (5, 1), "W2": (3, 5), "b2": (3, 1), "W3": (1, 3), "b3": (1, 1)}


def _check_dict(value, name, prefix=""):
    return ac.mapping(value, name, prefix, kinds=Mapping)


def dictionary_to_vector(parameters):
    """θ as a column ``(P, 1)`` and the list naming the block of each entry."""
    _check_dict(parameters, "parameters")
    keys = parameter_order([k for k in parameters if _is_param(k)])
    if not keys:
        raise ValueError(
            f"parameters holds no W1, b1, ... entries, got keys {list(parameters)[:10]}"
        )
    theta = params_to_vector({k: parameters[k] for k in keys})
    names = [k for k in keys for _ in range(np.size(parameters[k]))]
    return theta.reshape(-1, 1), names


def vector_to_dictionary(theta, like=None):
    """Split a ``(P, 1)`` or ``(P,)`` θ back into ``{"W1": ..., "b1": ...}``.

    ``like`` (a parameter dict or ``{"W1": shape, ...}``) gives the shapes;
    without it θ must be the course's 47-entry vector.
    """
    ac.not_masked(theta, "theta")
    arr = np.asarray(theta)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"theta must be a numeric vector, got {ac.got(theta)}")
    if like is None:
        if arr.size != 47:
            raise ValueError(
                "vector_to_dictionary needs like= (a parameter dict) unless "
                f"theta is the course's 47-entry vector; got {arr.size} entries"
            )
        like = COURSE_SHAPES
    _check_dict(like, "like")
    like = {k: v for k, v in like.items() if _is_param(k)}
    if not like:
        raise ValueError("like holds no W1, b1, ... entries")
    return {k: v.copy() for k, v in vector_to_params(theta, like).items()}


def gradients_to_vector(gradients):
    """The ``dW1, db1, ...`` entries of ``gradients`` as a ``(P, 1)`` column;
    other keys (the course's ``dZ1``, ``dA1``, ...) are ignored."""
    _check_dict(gradients, "gradients", "d")
    keys = [k for k in gradients if isinstance(k, str) and k.startswith("d") and _is_param(k[1:])]
    if not keys:
        raise ValueError(
            f"gradients holds no dW1, db1, ... entries, got keys {list(gradients)[:10]}"
        )
    grads = {k: gradients[k] for k in keys}
    vector = params_to_vector(grads, prefix="d").reshape(-1, 1)  # the values' errors first
    _complete(keys)
    return vector


def _complete(keys):
    """Every layer 1..L has its dW and either db or dgamma and dbeta: a
    missing block would shift every later entry of the vector silently."""
    layers = {}
    for k in keys:
        kind = k[1:].rstrip("0123456789")
        layers.setdefault(int(k[1 + len(kind) :]), set()).add(kind)
    biased = any("b" in have for have in layers.values())  # (a network may have none)
    for l in range(1, max(layers) + 1):
        have = layers.get(l, set())
        missing = [f"d{n}{l}" for n in ("W",) if n not in have]
        if have & {"gamma", "beta"}:
            missing += [f"d{n}{l}" for n in ("gamma", "beta") if n not in have]
        elif biased and "b" not in have:
            missing.append(f"db{l}")
        if missing:
            raise KeyError(
                f"gradients has no {', '.join(missing)} (layers 1 to {max(layers)} each need "
                "dW, and db or dgamma and dbeta when the network has them)"
            )


def _is_param(key):
    if not isinstance(key, str):
        return False
    try:
        parameter_order([key])
    except ValueError:
        return False
    return True


def model_for(parameters):
    """The course network (relu hidden layers, sigmoid output) matching ``parameters``.

    The layer sizes come from the ``W1, W2, ...`` entries, which must be 2-D
    and chain: ``W[l]`` has shape ``(n_l, n_{l-1})``.
    """
    _check_dict(parameters, "parameters")
    numbers_ = sorted(
        int(k[1:]) for k in parameters if isinstance(k, str) and k.startswith("W") and _is_param(k)
    )
    if not numbers_:
        raise ValueError(
            "parameters holds no W1, W2, ... entries (the course's layout: "
            f"W1 of shape (n1, n0), b1 of shape (n1, 1), ...); got keys "
            f"{list(parameters)[:10]}"
        )
    expected = list(range(1, len(numbers_) + 1))
    if numbers_ != expected:
        gap = min(set(expected) - set(numbers_))
        raise ValueError(
            f"parameters has {', '.join(f'W{l}' for l in numbers_)} but no W{gap}: "
            "weights are numbered from W1 without gaps"
        )
    dims = None
    for l in expected:
        W = parameters[f"W{l}"]
        ac.not_masked(W, f"parameters['W{l}']")
        arr = np.asarray(W)
        if arr.dtype.kind not in "iuf":
            raise TypeError(
                f"parameters['W{l}'] must be a numeric array (n{l}, n{l - 1}), got {ac.got(W)}"
            )
        shape = arr.shape
        if len(shape) != 2:
            raise ValueError(f"parameters['W{l}'] must be 2-D (n{l}, n{l - 1}), got shape {shape}")
        if dims is None:
            dims = [shape[1]]
        elif shape[1] != dims[-1]:
            raise ValueError(
                f"parameters['W{l}'] has shape {shape} but W{l - 1} has {dims[-1]} "
                f"rows: W{l} needs {dims[-1]} columns"
            )
        dims.append(shape[0])
    return MLP(dims, hidden="relu", output="sigmoid")


class _StudentForward:
    """The student's ``forward_propagation_n`` as an object with a cost method."""

    def __init__(self, forward):
        self.forward = forward

    def cost(self, params, X, Y):
        out = self.forward(X, Y, params)
        if isinstance(out, tuple):
            if not out:
                raise TypeError("forward returned an empty tuple; expected (cost, cache)")
            out = out[0]
        return out

    def __repr__(self):
        return f"your forward ({getattr(self.forward, '__name__', type(self.forward).__name__)})"

    @property
    def _fastgrad_cost_name(self):
        """How the check's messages name the function it calls."""
        return repr(self)


ASSUMED = (
    "fastgrad assumed the assignment's network: LINEAR -> RELU hidden layers, "
    "LINEAR -> SIGMOID output, cross-entropy cost"
)


def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
    """The assignment's one-dimensional warm-up: check ``dJ/dθ = x`` for
    ``J(θ) = θx`` by the two-sided difference, computed as the assignment
    does (so its expected output, 2.919335883291695e-10 for x = 2, θ = 4,
    comes out to the digit).

    Parameters
    ----------
    x, theta : real numbers
    epsilon : float, default 1e-7
    print_msg : bool, default False
        Print the course's message (a mistake above 2e-7).

    Returns
    -------
    difference : float
        ``|grad − gradapprox| / (|grad| + |gradapprox|)``.
    """
    x = _real_number(x, "x")
    theta = _real_number(theta, "theta")
    epsilon = _real_number(epsilon, "epsilon")
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon!r}")
    print_msg = ac.boolean(print_msg, "print_msg")
    j_plus, j_minus = (theta + epsilon) * x, (theta - epsilon) * x
    gradapprox = (j_plus - j_minus) / (2 * epsilon)
    denominator = abs(x) + abs(gradapprox)
    difference = abs(x - gradapprox) / denominator if denominator else 0.0
    if print_msg:
        if difference > 2e-7:
            print(f"There is a mistake in the backward propagation! difference = {difference}")
        else:
            print(f"Your backward propagation works perfectly fine! difference = {difference}")
    return difference


def _real_number(value, name):
    """A finite real number as a float (a 0-d or one-entry array is fine)."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{name} must be a real number, got {ac.got(value)}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {ac.got(value)}") from None
    if arr.size != 1:
        raise ValueError(
            f"{name} must be one number (the warm-up is one-dimensional; for a "
            f"network use gradient_check_n), got shape {arr.shape}"
        )
    number = float(arr.reshape(()))
    if not np.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number}")
    return number


def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False, forward=None):
    """The course's ``gradient_check_n``, computed exactly by fastgrad.

    Returns the relative difference ``‖grad − gradapprox‖ / (‖grad‖ + ‖gradapprox‖)``.
    ``gradients`` may hold the course's extra cache entries (``dZ3``, ``dA2``,
    ...): only ``dW*``/``db*`` are compared. With ``print_msg=True`` prints the
    course's message (a mistake above 2e-7) and fastgrad's report, which
    points at the blocks that hold the bug.

    ``forward``: the student's ``forward_propagation_n(X, Y, parameters) ->
    (cost, cache)``. Given, the cost differentiated is the student's own (any
    activations, as in the assignment's loop), through fastgrad's loop over
    a Python callable: ``forward`` sees read-only arrays and must be
    deterministic. Without it fastgrad assumes the assignment's network (relu
    hidden layers, sigmoid output) and uses its exact compiled check; the
    printed message says so, and suggests ``forward=`` when every block
    fails (the sign of a different network rather than of a bug).
    """
    _check_dict(parameters, "parameters")
    _check_dict(gradients, "gradients", "d")
    print_msg = ac.boolean(print_msg, "print_msg")
    if forward is not None and not callable(forward):
        raise TypeError(
            "forward must be your forward_propagation_n(X, Y, parameters) -> (cost, cache), "
            f"got {ac.got(forward)}"
        )
    params = {k: v for k, v in parameters.items() if _is_param(k)}
    grads = {
        k: v
        for k, v in gradients.items()
        if isinstance(k, str) and k.startswith("d") and _is_param(k[1:])
    }
    if forward is None:
        model = model_for(params)
        names = model.param_shapes()
    else:
        if not params:
            raise ValueError(
                "parameters holds no W1, b1, ... entries (the course's names); got keys "
                f"{list(parameters)[:10]}"
            )
        model = _StudentForward(forward)
        names = params
    missing = ["d" + k for k in names if "d" + k not in grads]
    if missing:
        raise ValueError(
            f"gradients has no {', '.join(missing)}: the backprop must return a "
            "gradient for every parameter"
        )
    report = _check_model(model, params, grads, X, Y, epsilon=epsilon)
    difference = report.difference
    if print_msg:
        limit, note = 2e-7, ""
        if tuple(report.thresholds) == lowprec.THRESHOLDS:  # a float32 forward pass
            # The course's 2e-7 is below float32's resolution: a mistake only
            # in fastgrad's float32 "bug" band; its "check" band is no verdict.
            great, limit = report.thresholds
            note = f" (a float32 check: a mistake above {limit:g}"
            if great <= difference < limit:
                note += "; this one is inconclusive in float32: check in float64 to be sure"
            note += ")"
        if difference > limit:
            print(
                "\033[93mThere is a mistake in the backward propagation! "
                f"difference = {difference}{note}\033[0m"
            )
        else:
            print(
                "\033[92mYour backward propagation works perfectly fine! "
                f"difference = {difference}{note}\033[0m"
            )
        if forward is None:
            print(ASSUMED + " (pass forward=forward_propagation_n to check your own).")
            great = report.thresholds[0]
            if any(b.hint and " holds an L2 term " in b.hint for b in report.blocks):
                print(
                    "Your dW blocks hold an L2 term that the assumed network's cost does "
                    "not have: pass forward= with your regularized cost (the "
                    "Regularization assignment's compute_cost_with_regularization)."
                )
            elif all(b.difference >= great for b in report.blocks):
                print(
                    "Every block fails: if your network is not the assignment's (other "
                    "activations, another cost), pass forward=forward_propagation_n so "
                    "the check uses your own forward pass."
                )
        print(report)
    return difference


def gradient_check_n_test_case():
    """The assignment's worked example: ``X (4, 3), Y (1, 3), parameters``.

    Drawn exactly as the assignment does (``np.random.seed(1)`` then ``randn``
    for X, W1, b1, W2, b2, W3, b3), from a private RandomState so NumPy's
    global RNG is left alone.
    """
    rs = np.random.RandomState(1)
    X = rs.randn(4, 3)
    Y = np.array([[1, 1, 0]])
    parameters = {}
    for key in ("W1", "b1", "W2", "b2", "W3", "b3"):
        parameters[key] = rs.randn(*COURSE_SHAPES[key])
    return X, Y, parameters


def _course_inputs(X, Y, parameters):
    """Validated float64 ``X, Y`` and the six parameter blocks of the
    assignment's 3-layer network (not copies: nothing here writes to them)."""
    model = model_for(parameters)
    if model.n_layers != 3:
        raise ValueError(
            "the assignment's forward/backward propagation is for its 3-layer "
            f"network (W1, W2, W3); parameters has {model.n_layers} layers. For "
            "other networks use fastgrad.MLP(layer_dims).cost / .backward"
        )
    params = model.check_params({k: v for k, v in parameters.items() if _is_param(k)}, "parameters")
    X, Y = model.check_data(X, Y)
    return X, Y, params


def forward_propagation_n(X, Y, parameters):
    """The assignment's forward pass: ``(cost, cache)``."""
    X, Y, parameters = _course_inputs(X, Y, parameters)
    m = X.shape[1]
    W1, b1, W2, b2, W3, b3 = (parameters[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    Z1 = W1 @ X + b1
    A1 = np.maximum(0, Z1)
    Z2 = W2 @ A1 + b2
    A2 = np.maximum(0, Z2)
    Z3 = W3 @ A2 + b3
    A3 = 1 / (1 + np.exp(-Z3))
    cost = 1.0 / m * np.sum(-Y * np.log(A3) - (1 - Y) * np.log(1 - A3))
    return cost, (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)


def backward_propagation_n(X, Y, cache, *, bugs=True):
    """The assignment's backprop. With ``bugs=True`` (as shipped) ``dW2`` is
    doubled and ``db1`` uses ``4./m``; ``bugs=False`` is the fixed version."""
    bugs = ac.boolean(bugs, "bugs")
    if not isinstance(cache, tuple) or len(cache) != 12:
        raise TypeError(
            f"cache must be the 12-tuple forward_propagation_n returns, got {ac.got(cache)}"
        )
    (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3) = cache
    params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    X, Y, _ = _course_inputs(X, Y, params)
    m = X.shape[1]
    dZ3 = A3 - Y
    dW3 = 1.0 / m * dZ3 @ A2.T
    db3 = 1.0 / m * np.sum(dZ3, axis=1, keepdims=True)
    dA2 = W3.T @ dZ3
    dZ2 = dA2 * (A2 > 0)
    dW2 = 1.0 / m * dZ2 @ A1.T * (2 if bugs else 1)
    db2 = 1.0 / m * np.sum(dZ2, axis=1, keepdims=True)
    dA1 = W2.T @ dZ2
    dZ1 = dA1 * (A1 > 0)
    dW1 = 1.0 / m * dZ1 @ X.T
    db1 = (4.0 if bugs else 1.0) / m * np.sum(dZ1, axis=1, keepdims=True)
    return {
        "dZ3": dZ3,
        "dW3": dW3,
        "db3": db3,
        "dA2": dA2,
        "dZ2": dZ2,
        "dW2": dW2,
        "db2": db2,
        "dA1": dA1,
        "dZ1": dZ1,
        "dW1": dW1,
        "db1": db1,
    }
