"""The dense network fastgrad checks: forward, cost and reference backprop.

Layout follows the course: ``X`` is ``(n_x, m)`` with examples as columns,
``W[l]`` is ``(n_l, n_{l-1})``, ``b[l]`` is ``(n_l, 1)``. The cost is

    J = 1/m · Σ_i loss_i  +  l2/(2m) · Σ_l ‖W[l]‖²_F

with the loss chosen by the output layer: sigmoid → binary cross-entropy,
softmax → cross-entropy, linear → squared error ½‖a − y‖² (so the linear cost
is ``1/(2m)·Σ(a − y)²``). Losses are computed from the pre-activation ``Z[L]``
in a stable form (softplus / log-sum-exp), never as ``log(1 − sigmoid(z))``.

Training-mode extras: inverted dropout on hidden layers (``keep_prob``) and
batch normalization of chosen hidden layers (``batchnorm``); see :class:`MLP`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from fastgrad import _argcheck as ac
from fastgrad._rng import as_generator
from fastgrad._typing import ArrayLike, Params, Seed
from fastgrad.nn import activations, outputs, passes, validation
from fastgrad.nn.init import initialize_parameters
from fastgrad.nn.spec import ParamSpec, parameter_order

OUTPUTS = tuple(outputs.OUTPUTS)


# check_data(X) validates X alone; check_data(X, None) is a missing Y.
_NO_TARGETS = object()


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
        L2 strength λ in ``λ/(2m)·Σ‖W‖²`` (weights only; not b, γ, β).
    keep_prob : float or sequence of float, default 1.0
        Inverted dropout: the probability of keeping each hidden unit, one
        value for every hidden layer or one per hidden layer, in (0, 1].
        Kept activations are divided by ``keep_prob`` so their expectation is
        unchanged; at inference (``forward``, ``predict``) nothing is dropped.
        Masks are drawn from the ``seed`` given to ``cost``/``backward``/
        ``cost_and_grads`` (see :meth:`dropout_masks`), so the same seed gives
        the same masks: that is how ``gradient_check`` checks backprop with
        dropout on.
    batchnorm : iterable of int or True, default ()
        Hidden layers (1-based, ``1 .. L-1``) whose pre-activations are batch
        normalized; True means all of them. Such a layer has ``W``, ``gamma``
        and ``beta`` (shape ``(n_l, 1)``) but no ``b``: β takes its place.
    bn_momentum : float, default 0.9
        Running statistics for inference follow
        ``running = momentum·running + (1 − momentum)·batch`` (an
        exponentially weighted average over mini-batches, the course's β).
        PyTorch's ``momentum=0.1`` is this 0.9. The variance folded in is the
        batch's population (1/m) variance, the one the layer normalized with.
    bn_epsilon : float, default 1e-5
        The ε of ``(z − μ)/sqrt(σ² + ε)`` (PyTorch's default).

    Attributes
    ----------
    running_mean, running_var : dict of int -> ndarray (n_l, 1)
        Per batch-normalized layer; start at 0 and 1, updated by
        ``cost_and_grads(..., update_running=True)`` (``optim.fit`` does).
        They belong to the model, not to a parameter dict: call
        :meth:`reset_running_stats` when training a fresh set of parameters.
        ``optim.fit`` returns the ones that go with its parameters
        (``result.running_mean``, ``result.running_var``); assign them back
        (``model.running_mean = result.running_mean``) to predict with
        those parameters after the model was trained again.

    Examples
    --------
    >>> model = MLP([4, 5, 3, 1])
    >>> params = model.init_params(seed=0)
    >>> grads = model.backward(params, X, Y)  # doctest: +SKIP
    >>> model = MLP([4, 5, 3, 1], keep_prob=0.8, batchnorm=[1])
    >>> grads = model.backward(params, X, Y, seed=7)  # doctest: +SKIP
    >>> report = fastgrad.gradient_check(model, params, grads, X, Y, seed=7)  # doctest: +SKIP
    """

    def __init__(
        self,
        layer_dims: Sequence[int],
        hidden: str | Sequence[str] = "relu",
        output: str = "sigmoid",
        l2: float = 0.0,
        *,
        keep_prob: float | Sequence[float] = 1.0,
        batchnorm: Iterable[int] | bool = (),
        bn_momentum: float = 0.9,
        bn_epsilon: float = 1e-5,
    ) -> None:
        dims = ac.sizes(layer_dims, "layer_dims")
        n_hidden = len(dims) - 2
        if isinstance(hidden, str):
            hidden = [hidden] * n_hidden
        elif isinstance(hidden, (bytes, dict, set, frozenset)) or not hasattr(hidden, "__iter__"):
            raise TypeError(
                "hidden must be an activation name or a list of names (one per "
                f"hidden layer), got {ac.got(hidden)}"
            )
        hidden = [activations.get(h).name for h in hidden]
        if len(hidden) != n_hidden:
            raise ValueError(
                f"hidden has {len(hidden)} activations but layer_dims has {n_hidden} hidden layers"
            )
        out = outputs.get(output)
        if dims[-1] < out.min_units:
            raise ValueError(
                f"a {out.name} output needs at least {out.min_units} units, "
                f"layer_dims={dims} ends with {dims[-1]}; use output='sigmoid' "
                "for one unit"
            )
        l2 = ac.real(l2, "l2", low=0)
        self.layer_dims = tuple(dims)
        self.hidden = tuple(hidden)
        self.output = out.name
        self.l2 = float(l2)
        self.keep_prob = validation.keep_prob(keep_prob, n_hidden)
        self.batchnorm = validation.batchnorm_layers(batchnorm, n_hidden)
        bn_momentum = ac.real(bn_momentum, "bn_momentum", low=0, high=1, high_open=True)
        bn_epsilon = ac.real(bn_epsilon, "bn_epsilon", low=0, low_open=True)
        self.bn_momentum = float(bn_momentum)
        self.bn_epsilon = float(bn_epsilon)
        self.reset_running_stats()

    def reset_running_stats(self):
        """Running mean 0 and variance 1 for every batch-normalized layer."""
        self.running_mean = {l: np.zeros((self.layer_dims[l], 1)) for l in self.batchnorm}
        self.running_var = {l: np.ones((self.layer_dims[l], 1)) for l in self.batchnorm}

    def running_stats(self, l):
        """``(running mean, running variance)`` of batch-normalized layer
        ``l``: 0 and 1 for a layer that ``batchnorm`` gained after the model
        was built (as :meth:`reset_running_stats` starts them)."""
        n = self.layer_dims[l]
        mean, var = self.running_mean.get(l), self.running_var.get(l)
        return (
            np.zeros((n, 1)) if mean is None else mean,
            np.ones((n, 1)) if var is None else var,
        )

    # The registry entries every computation reads, made from ``hidden`` and
    # ``output`` as they are now (a reassigned ``hidden`` is computed, not
    # only printed), and kept while those stay the same.
    @property
    def hidden(self):
        """The hidden activations' names, one per hidden layer (a tuple;
        one name given is every hidden layer's)."""
        return self.__dict__["_hidden"]

    @hidden.setter
    def hidden(self, value):
        if isinstance(value, str):
            value = (value,) * (len(self.layer_dims) - 2)
        self.__dict__["_hidden"] = tuple(value)

    @property
    def activations(self):
        """The hidden layers' activations (registry entries), from ``hidden``;
        assigning registry entries sets ``hidden`` to their names."""
        key = self.hidden
        n_hidden = len(self.layer_dims) - 2
        kept = self.__dict__.get("_activations")
        if kept is None or kept[0] != key:
            acts = tuple(activations.get(h) for h in key)
            if len(acts) != n_hidden:
                raise ValueError(
                    f"hidden has {len(acts)} activations but layer_dims has {n_hidden} "
                    "hidden layers"
                )
            kept = self.__dict__["_activations"] = (key, acts)
        return kept[1]

    @activations.setter
    def activations(self, value):
        acts = tuple(value)
        self.hidden = tuple(a.name for a in acts)
        self.__dict__["_activations"] = (self.hidden, acts)

    @property
    def output_layer(self):
        """The output layer (registry entry), from ``output``; assigning one
        sets ``output`` to its name."""
        kept = self.__dict__.get("_output_layer")
        if kept is None or kept[0] != self.output:
            out = outputs.get(self.output)
            if self.layer_dims[-1] < out.min_units:
                raise ValueError(
                    f"a {out.name} output needs at least {out.min_units} units, "
                    f"layer_dims={list(self.layer_dims)} ends with {self.layer_dims[-1]}"
                )
            kept = self.__dict__["_output_layer"] = (self.output, out)
        return kept[1]

    @output_layer.setter
    def output_layer(self, value):
        self.output = value.name
        self.__dict__["_output_layer"] = (value.name, value)

    def __getstate__(self):
        # the registry entries hold lambdas: rebuilt from the names on load
        state = dict(self.__dict__)
        for key in ("_activations", "_output_layer", "_spec", "activations", "output_layer"):
            state.pop(key, None)
        return state

    def __setstate__(self, state):
        state = dict(state)
        if "hidden" in state:  # pickled before hidden was a property
            state["_hidden"] = tuple(state.pop("hidden"))
        for key in ("activations", "output_layer"):
            state.pop(key, None)
        self.__dict__.update(state)

    @property
    def has_dropout(self):
        return any(p < 1.0 for p in self.keep_prob)

    # -- description -------------------------------------------------------
    @property
    def n_layers(self):
        """L, the number of weight layers."""
        return len(self.layer_dims) - 1

    @property
    def spec(self):
        """The :class:`~fastgrad.nn.spec.ParamSpec`: names, shapes, θ slices.

        Made once per architecture (a check asks for it several times, at
        ~60 µs each) and kept with the model; a model whose ``layer_dims``
        or ``batchnorm`` were reassigned gets a new one."""
        key = (self.layer_dims, tuple(self.batchnorm))
        kept = self.__dict__.get("_spec")
        if kept is None or kept[0] != key:
            kept = self.__dict__["_spec"] = (key, ParamSpec.for_mlp(*key))
        return kept[1]

    def param_shapes(self):
        """``{"W1": (n1, n0), "b1": (n1, 1), ...}`` in θ's order.

        A batch-normalized layer l has ``W{l}``, ``gamma{l}``, ``beta{l}``.
        """
        return dict(self.spec.shapes)

    @property
    def n_params(self):
        return sum(int(np.prod(s)) for s in self.param_shapes().values())

    def __repr__(self):
        hidden = self.hidden[0] if len(set(self.hidden)) == 1 else list(self.hidden)
        extra = ""
        if self.has_dropout:
            kp = self.keep_prob[0] if len(set(self.keep_prob)) == 1 else list(self.keep_prob)
            extra += f", keep_prob={kp}"
        if self.batchnorm:
            extra += f", batchnorm={list(self.batchnorm)}"
        return (
            f"MLP({list(self.layer_dims)}, hidden={hidden!r}, "
            f"output={self.output!r}, l2={self.l2}{extra})"
        )

    def init_params(self, method: str = "he", *, seed: Seed = None, scale: float = 1.0) -> dict:
        """Fresh parameters from :func:`fastgrad.init.initialize_parameters`;
        batch-normalized layers get γ = 1, β = 0 instead of b."""
        params = initialize_parameters(self.layer_dims, method, seed=seed, scale=scale)
        for l in self.batchnorm:
            n = self.layer_dims[l]
            del params[f"b{l}"]
            params[f"gamma{l}"] = np.ones((n, 1))
            params[f"beta{l}"] = np.zeros((n, 1))
        return {k: params[k] for k in parameter_order(params)}

    def dropout_masks(self, m: int, seed: Seed) -> dict:
        """The dropout masks for a batch of ``m`` examples, drawn from ``seed``.

        Returns ``{l: bool array (n_l, m)}`` for every hidden layer with
        ``keep_prob < 1``, drawn in layer order as ``rng.random((n_l, m)) <
        keep_prob`` (the course's recipe) from ``np.random.default_rng(seed)``
        (or from ``seed`` itself when it is a Generator). An int seed always
        gives the same masks.
        """
        m = ac.integer(m, "m", minimum=1, what="a positive number of examples")
        if len(self.keep_prob) != self.n_layers - 1:  # layer_dims reassigned alone
            raise ValueError(
                f"keep_prob has {len(self.keep_prob)} values but layer_dims has "
                f"{self.n_layers - 1} hidden layers: set model.keep_prob to match"
            )
        rng = as_generator(seed)
        return {
            l: rng.random((self.layer_dims[l], m)) < self.keep_prob[l - 1]
            for l in range(1, self.n_layers)
            if self.keep_prob[l - 1] < 1.0
        }

    def dropout_scales(self, m, seed, dropout=True):
        """``{l: mask / keep_prob}`` as floats, or None when nothing is dropped."""
        if seed is not None and not isinstance(seed, np.random.Generator):
            as_generator(seed)  # the seed is checked even when nothing is dropped
        if not dropout or not self.has_dropout:
            return None
        return {l: mask / self.keep_prob[l - 1] for l, mask in self.dropout_masks(m, seed).items()}

    # -- validation --------------------------------------------------------
    def check_params(self, params, name="params", *, prefix="", warn_downcast=False):
        """Validate a parameter (or, with ``prefix="d"``, gradient) dict.

        Returns a new dict of float64 arrays with ``b`` blocks as ``(n_l, 1)``.
        """
        return validation.param_dict(
            params,
            self.spec,
            name,
            prefix=prefix,
            warn_downcast=warn_downcast,
            layer_dims=self.layer_dims,
            batchnorm=self.batchnorm,
        )

    def check_data(self, X, Y=_NO_TARGETS, *, warn_downcast=False):
        """Validate ``X`` of shape ``(n_x, m)`` and ``Y`` of shape ``(n_L, m)``.

        ``Y`` may also be ``(m,)``: 0/1 labels for one output unit, or integer
        class labels for a softmax output (turned into one-hot columns).
        """
        X = validation.inputs(X, self.layer_dims[0], warn_downcast=warn_downcast)
        if Y is _NO_TARGETS:
            return X
        return X, validation.targets(
            Y, self.layer_dims[-1], X.shape[1], self.output, warn_downcast=warn_downcast
        )

    # -- computation -------------------------------------------------------
    def forward_cache(self, params, X, *, scales=None, training=True):
        """Every intermediate of one forward pass, lists indexed by layer 0..L.

        ``Z[l]`` is the pre-activation fed to the activation (after batch
        norm), ``G[l]`` the activation before dropout, ``A[l]`` after it
        (``A[0]`` is X). Batch-normalized layers also keep ``Zn[l]``,
        ``centered[l]`` (U − μ), ``inv_std[l]``, ``mean[l]``, ``var[l]``. ``scales`` are the dropout
        factors from :meth:`dropout_scales`; at inference (``training=False``)
        nothing is dropped and batch norm uses the running statistics.
        """
        return passes.forward(self, params, X, scales=scales, training=training)

    def forward(
        self,
        params: Params,
        X: ArrayLike,
        *,
        training: bool = False,
        seed: Seed = None,
        return_cache: bool = False,
    ):
        """Output activations ``A[L]`` of shape ``(n_L, m)``.

        Inference by default: no dropout, batch norm with the running
        statistics. ``training=True`` uses batch statistics and dropout masks
        drawn from ``seed``. With ``return_cache=True`` also returns
        ``(Zs, As)``, lists indexed by layer (``Zs[0]`` is None, ``As[0]`` is
        ``X``).
        """
        training = ac.boolean(training, "training")
        params = self.check_params(params)
        X = self.check_data(X)
        scales = self.dropout_scales(X.shape[1], seed, training)
        c = self.forward_cache(params, X, scales=scales, training=training)
        return (c.A[-1], (c.Z, c.A)) if return_cache else c.A[-1]

    def predict(self, params: Params, X: ArrayLike) -> np.ndarray:
        """Class predictions at inference: 0/1 rows for sigmoid, class index
        for softmax, the output itself for a linear output."""
        return self.output_layer.predict(self.forward(params, X))

    def loss_per_example(self, ZL: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """The output loss of every example, ``(m,)``, from ``Z[L]``."""
        return self.output_layer.loss(ZL, Y)

    def regularization(self, params: Params, m: int) -> float:
        """The L2 term ``λ/(2m)·Σ‖W‖²`` of the cost (0.0 without L2)."""
        if self.l2 == 0.0:
            return 0.0
        return (
            self.l2
            / (2.0 * m)
            * sum(float(np.sum(params[f"W{l}"] ** 2)) for l in range(1, self.n_layers + 1))
        )

    def objective(self, params, cache, Y):
        """The cost ``J`` of a forward ``cache`` (from :meth:`forward_cache`)."""
        m = Y.shape[1]
        return float(
            np.sum(self.loss_per_example(cache.Z[-1], Y)) / m + self.regularization(params, m)
        )

    def cost(
        self,
        params: Params,
        X: ArrayLike,
        Y: ArrayLike,
        *,
        seed: Seed = None,
        dropout: bool = True,
        training: bool = True,
    ) -> float:
        """The cost ``J`` (a float) including the L2 term.

        By default the training objective, the one :meth:`backward`
        differentiates: batch norm with batch statistics, dropout masks drawn
        from ``seed`` (``dropout=False`` keeps every unit); with dropout and
        no seed every call draws new masks, so the value is random.
        ``training=False`` gives the inference cost (no dropout, running
        statistics): the one to report on a validation set.
        """
        dropout, training = ac.boolean(dropout, "dropout"), ac.boolean(training, "training")
        params = self.check_params(params)
        X, Y = self.check_data(X, Y)
        scales = self.dropout_scales(X.shape[1], seed, dropout and training)
        cache = self.forward_cache(params, X, scales=scales, training=training)
        return self.objective(params, cache, Y)

    def backward(
        self, params: Params, X: ArrayLike, Y: ArrayLike, *, seed: Seed = None, dropout: bool = True
    ) -> dict:
        """Reference backprop: ``{"dW1": (n1, n0), "db1": (n1, 1), ...}``.

        Gradient of the training-mode cost. With dropout the masks come from
        ``seed`` (pass the same int to :func:`fastgrad.gradient_check` to
        check with the same masks; None draws fresh ones); ``dropout=False``
        keeps every unit. Plain vectorized NumPy, written to be read: this is
        what a hand-written backprop is compared with.
        """
        return self.cost_and_grads(params, X, Y, seed=seed, dropout=dropout)[1]

    def cost_and_grads(
        self,
        params: Params,
        X: ArrayLike,
        Y: ArrayLike,
        *,
        seed: Seed = None,
        dropout: bool = True,
        update_running: bool = False,
    ) -> tuple[float, dict]:
        """``(cost, grads)`` of the training objective from one forward pass.

        ``update_running=True`` also folds this batch's means and variances
        into the batch-norm running statistics (what a training step does).
        """
        dropout = ac.boolean(dropout, "dropout")
        update_running = ac.boolean(update_running, "update_running")
        params = self.check_params(params)
        X, Y = self.check_data(X, Y)
        if update_running and self.batchnorm and X.shape[1] < 2:
            raise ValueError(
                "batch norm needs at least 2 examples per training batch (the "
                "variance of one example is 0); got m=1"
            )
        scales = self.dropout_scales(X.shape[1], seed, dropout)
        cache = self.forward_cache(params, X, scales=scales)
        grads, _ = self.backprop(params, cache, Y, scales)
        if update_running:
            # New dicts, not updated in place: a dict handed out before (a
            # FitResult's, or one the user assigned back) never changes.
            k = self.bn_momentum
            mean, var = dict(self.running_mean), dict(self.running_var)
            for l in self.batchnorm:
                old_mean, old_var = self.running_stats(l)
                mean[l] = k * old_mean + (1 - k) * cache.mean[l]
                var[l] = k * old_var + (1 - k) * cache.var[l]
            self.running_mean, self.running_var = mean, var
        return self.objective(params, cache, Y), grads

    def backprop(self, params, c, Y, scales=None):
        """Backprop through a forward cache: ``(grads, deltas)``.

        ``deltas[l]`` is ``∂J/∂U[l]`` for l = 1..L (index 0 unused), where
        ``U[l] = W[l]·A[l−1] (+ b[l])`` is the layer's linear output (the
        input of batch norm on a normalized layer): the error signal whose
        growth or decay with depth :func:`fastgrad.diagnose` reports.
        """
        return passes.backward(self, params, c, Y, scales)
