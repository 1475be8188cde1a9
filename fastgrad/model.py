"""The dense network fastgrad checks: forward, cost and reference backprop.

Layout follows the course: ``X`` is ``(n_x, m)`` with examples as columns,
``W[l]`` is ``(n_l, n_{l-1})``, ``b[l]`` is ``(n_l, 1)``. The cost is

    J = 1/m · Σ_i loss_i  +  l2/(2m) · Σ_l ‖W[l]‖²_F

with the loss chosen by the output layer: sigmoid → binary cross-entropy,
softmax → cross-entropy, linear → squared error ½‖a − y‖² (so the linear cost
is ``1/(2m)·Σ(a − y)²``). Losses are computed from the pre-activation ``Z[L]``
in a stable form (softplus / log-sum-exp), never as ``log(1 − sigmoid(z))``.
"""
import numbers
import warnings

import numpy as np
from scipy.special import expit, logsumexp, softmax

from fastgrad.activations import ACTIVATIONS, OUTPUT_CODES, check_name
from fastgrad.params import parameter_order

OUTPUTS = tuple(OUTPUT_CODES)


def _finite_float64(value, name, *, warn_downcast=False):
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if warn_downcast and arr.dtype.kind == "f" and arr.dtype.itemsize < 8:
        warnings.warn(
            f"{name} is {arr.dtype}; the check upcasts it to float64. A finite "
            "difference with epsilon=1e-7 needs float64: in float32 (7 digits) "
            "θ±ε rounds back to θ and the numerical gradient is noise.",
            UserWarning,
            stacklevel=4,
        )
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} contains NaN or inf (first at index {tuple(int(i) for i in bad)})")
    return arr


class MLP:
    """A fully connected network in the course's layout.

    Parameters
    ----------
    layer_dims : sequence of int
        ``[n_x, n_1, ..., n_L]``: input size, then each layer's units.
    hidden : str or sequence of str, default "relu"
        Hidden activation(s): one of relu, leaky_relu, tanh, sigmoid, linear,
        or one name per hidden layer (``len(layer_dims) - 2`` names).
    output : {"sigmoid", "softmax", "linear"}, default "sigmoid"
        Output activation; fixes the loss (BCE, cross-entropy, squared error).
    l2 : float, default 0.0
        L2 strength λ in ``λ/(2m)·Σ‖W‖²``.

    Examples
    --------
    >>> model = MLP([4, 5, 3, 1])
    >>> params = model.init_params(seed=0)
    >>> grads = model.backward(params, X, Y)  # doctest: +SKIP
    """

    def __init__(self, layer_dims, hidden="relu", output="sigmoid", l2=0.0):
        dims = [int(d) for d in layer_dims]
        if len(dims) < 2:
            raise ValueError(f"layer_dims needs at least 2 entries (input, output), got {dims}")
        if any(d < 1 for d in dims) or any(d != x for d, x in zip(dims, layer_dims)):
            raise ValueError(f"layer_dims must be positive integers, got {list(layer_dims)}")
        n_hidden = len(dims) - 2
        if isinstance(hidden, str):
            hidden = [hidden] * n_hidden
        hidden = [check_name(h, tuple(ACTIVATIONS), "hidden activation") for h in hidden]
        if len(hidden) != n_hidden:
            raise ValueError(
                f"hidden has {len(hidden)} activations but layer_dims has {n_hidden} hidden layers"
            )
        check_name(output, OUTPUTS, "output")
        if output == "softmax" and dims[-1] < 2:
            raise ValueError("a softmax output needs at least 2 units; use output='sigmoid'")
        if not isinstance(l2, numbers.Real) or not np.isfinite(l2) or l2 < 0:
            raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
        self.layer_dims = tuple(dims)
        self.hidden = tuple(hidden)
        self.output = output
        self.l2 = float(l2)

    # -- description -------------------------------------------------------
    @property
    def n_layers(self):
        """L, the number of weight layers."""
        return len(self.layer_dims) - 1

    @property
    def n_params(self):
        d = self.layer_dims
        return sum(d[i] * d[i - 1] + d[i] for i in range(1, len(d)))

    def param_shapes(self):
        """``{"W1": (n1, n0), "b1": (n1, 1), ...}`` in θ's order."""
        shapes = {}
        for l in range(1, self.n_layers + 1):
            shapes[f"W{l}"] = (self.layer_dims[l], self.layer_dims[l - 1])
            shapes[f"b{l}"] = (self.layer_dims[l], 1)
        return shapes

    def __repr__(self):
        hidden = self.hidden[0] if len(set(self.hidden)) == 1 else list(self.hidden)
        return (f"MLP({list(self.layer_dims)}, hidden={hidden!r}, "
                f"output={self.output!r}, l2={self.l2})")

    def init_params(self, method="he", *, seed=None, scale=1.0):
        """Fresh parameters from :func:`fastgrad.init.initialize_parameters`."""
        from fastgrad.init import initialize_parameters

        return initialize_parameters(self.layer_dims, method, seed=seed, scale=scale)

    # -- validation --------------------------------------------------------
    def check_params(self, params, name="params", *, prefix="", warn_downcast=False):
        """Validate a parameter (or, with ``prefix="d"``, gradient) dict.

        Returns a new dict of float64 arrays with ``b`` blocks as ``(n_l, 1)``.
        """
        if not isinstance(params, dict):
            raise TypeError(f"{name} must be a dict like {{'{prefix}W1': ..., '{prefix}b1': ...}}, "
                            f"got {type(params).__name__}")
        expected = [prefix + k for k in self.param_shapes()]
        missing = [k for k in expected if k not in params]
        extra = [k for k in params if k not in expected]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {missing}")
            if extra:
                parts.append(f"unexpected {extra}")
            raise KeyError(f"{name} keys do not match the model {list(self.layer_dims)}: "
                           + "; ".join(parts) + f" (expected exactly {expected})")
        out = {}
        for key, shape in self.param_shapes().items():
            full = prefix + key
            arr = _finite_float64(params[full], f"{name}[{full!r}]", warn_downcast=warn_downcast)
            if key.startswith("b") and arr.shape == shape[:1]:
                arr = arr.reshape(shape)
            if arr.shape != shape:
                hint = " (it looks transposed)" if arr.shape == shape[::-1] else ""
                raise ValueError(f"{name}[{full!r}] has shape {arr.shape}, expected {shape}{hint}")
            out[full] = arr
        return out

    def check_data(self, X, Y=None, *, warn_downcast=False):
        """Validate ``X`` of shape ``(n_x, m)`` and ``Y`` of shape ``(n_L, m)``.

        ``Y`` may also be ``(m,)``: 0/1 labels for one output unit, or integer
        class labels for a softmax output (turned into one-hot columns).
        """
        X = _finite_float64(X, "X", warn_downcast=warn_downcast)
        if X.ndim != 2 or X.shape[0] != self.layer_dims[0]:
            raise ValueError(f"X must have shape (n_x={self.layer_dims[0]}, m) with examples as "
                             f"columns, got {X.shape}")
        m = X.shape[1]
        if m == 0:
            raise ValueError("X has no examples (m = 0)")
        if Y is None:
            return X
        n_out = self.layer_dims[-1]
        Yarr = np.asarray(Y)
        if Yarr.ndim == 1 and Yarr.shape[0] == m:
            if n_out == 1:
                Yarr = Yarr.reshape(1, m)
            elif self.output == "softmax" and Yarr.dtype.kind in "iub":
                if Yarr.size and (Yarr.min() < 0 or Yarr.max() >= n_out):
                    raise ValueError(f"Y class labels must lie in [0, {n_out}), got "
                                     f"[{Yarr.min()}, {Yarr.max()}]")
                onehot = np.zeros((n_out, m))
                onehot[Yarr, np.arange(m)] = 1.0
                Yarr = onehot
        Yarr = _finite_float64(Yarr, "Y", warn_downcast=warn_downcast)
        if Yarr.shape != (n_out, m):
            raise ValueError(f"Y must have shape (n_L={n_out}, m={m}) to match X, got {Yarr.shape}")
        return X, Yarr

    # -- computation -------------------------------------------------------
    def _forward_cache(self, params, X):
        """Z[l] and A[l] for l = 0..L (Z[0] is None, A[0] is X)."""
        Zs, As = [None], [X]
        A = X
        L = self.n_layers
        for l in range(1, L + 1):
            Z = params[f"W{l}"] @ A + params[f"b{l}"]
            if l < L:
                A = ACTIVATIONS[self.hidden[l - 1]][0](Z)
            else:
                A = self._output_activation(Z)
            Zs.append(Z)
            As.append(A)
        return Zs, As

    def _output_activation(self, Z):
        if self.output == "sigmoid":
            return expit(Z)
        if self.output == "softmax":
            return softmax(Z, axis=0)
        return Z.copy()

    def forward(self, params, X, *, return_cache=False):
        """Output activations ``A[L]`` of shape ``(n_L, m)``.

        With ``return_cache=True`` also returns ``(Zs, As)``, lists indexed by
        layer (``Zs[0]`` is None, ``As[0]`` is ``X``).
        """
        params = self.check_params(params)
        X = self.check_data(X)
        Zs, As = self._forward_cache(params, X)
        return (As[-1], (Zs, As)) if return_cache else As[-1]

    def predict(self, params, X):
        """Class predictions: 0/1 rows for sigmoid, class index for softmax,
        the output itself for a linear output."""
        A = self.forward(params, X)
        if self.output == "sigmoid":
            return (A > 0.5).astype(np.int64)
        if self.output == "softmax":
            return np.argmax(A, axis=0)
        return A

    def _loss_per_example(self, ZL, Y):
        if self.output == "sigmoid":
            # BCE from the logit: softplus(z) − y·z, stable for any z.
            return np.sum(np.logaddexp(0.0, ZL) - Y * ZL, axis=0)
        if self.output == "softmax":
            return np.sum(Y, axis=0) * logsumexp(ZL, axis=0) - np.sum(Y * ZL, axis=0)
        return 0.5 * np.sum((ZL - Y) ** 2, axis=0)

    def _l2_term(self, params, m):
        if self.l2 == 0.0:
            return 0.0
        return self.l2 / (2.0 * m) * sum(
            float(np.sum(params[f"W{l}"] ** 2)) for l in range(1, self.n_layers + 1)
        )

    def cost(self, params, X, Y):
        """The cost ``J`` (a float) including the L2 term."""
        params = self.check_params(params)
        X, Y = self.check_data(X, Y)
        Zs, _ = self._forward_cache(params, X)
        m = X.shape[1]
        return float(np.sum(self._loss_per_example(Zs[-1], Y)) / m + self._l2_term(params, m))

    def backward(self, params, X, Y):
        """Reference backprop: ``{"dW1": (n1, n0), "db1": (n1, 1), ...}``.

        Plain vectorized NumPy, written to be read: this is what a hand-written
        backprop is compared with.
        """
        params = self.check_params(params)
        X, Y = self.check_data(X, Y)
        m = X.shape[1]
        Zs, As = self._forward_cache(params, X)
        L = self.n_layers
        if self.output == "softmax":
            dZ = (np.sum(Y, axis=0, keepdims=True) * As[L] - Y) / m
        else:  # sigmoid+BCE and linear+MSE share dJ/dZ = (A − Y)/m
            dZ = (As[L] - Y) / m
        grads = {}
        for l in range(L, 0, -1):
            W = params[f"W{l}"]
            grads[f"dW{l}"] = dZ @ As[l - 1].T + (self.l2 / m) * W
            grads[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True)
            if l > 1:
                dA = W.T @ dZ
                dZ = dA * ACTIVATIONS[self.hidden[l - 2]][1](Zs[l - 1], As[l - 1])
        return {k: grads[k] for k in parameter_order(grads, prefix="d")}
