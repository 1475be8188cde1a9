"""What a user would run instead of fastgrad, and the cases the benchmark uses.

Kept out of ``gradcheck.py`` so the harness reads as "time this, report
that". Nothing here imports torch or jax at module level: the torch and jax
wrappers import them when called, so the NumPy parts (and the test that checks
them, ``tests/e2e/test_bench_baselines.py``) need neither.

Every network is LINEAR→RELU→…→LINEAR→SIGMOID (or tanh / sigmoid hidden
layers, or batch norm on some, for the in-place loop) with the binary cross-entropy
cost ``J = 1/m · Σ (softplus(z) − y·z)`` (the course's
``−1/m Σ (y log a + (1−y) log(1−a))`` in the course loop), no L2 term, in the
course's layout: ``X`` is ``(n_x, m)``, ``W[l]`` is ``(n_l, n_{l-1})``,
``b[l]`` is ``(n_l, 1)``, and θ is W1, b1, W2, b2, … each in C order.

The NumPy loops take ``indices``: the coordinates of θ to perturb (all of them
by default). The harness times a sample of coordinates to extrapolate a slow
tool's full time; the loops then do exactly the per-coordinate work of a full
run, only for fewer coordinates.
"""
import numpy as np

from fastgrad import MLP, params_to_vector, vector_to_params

EPSILON = 1e-7

# The course's gradient-checking assignment: np.random.seed(1), then randn
# draws in this order, Y fixed.
COURSE_LAYER_DIMS = (4, 5, 3, 1)
_COURSE_DRAWS = (("X", (4, 3)), ("W1", (5, 4)), ("b1", (5, 1)), ("W2", (3, 5)),
                 ("b2", (3, 1)), ("W3", (1, 3)), ("b3", (1, 1)))


# -- cases -----------------------------------------------------------------

def course_example():
    """The course's 47-parameter case: ``(model, params, X, Y)``.

    Draws the same numbers as ``np.random.seed(1); np.random.randn(...)`` in
    the course's order, from a private ``RandomState(1)`` so NumPy's global
    RNG is left alone.
    """
    rs = np.random.RandomState(1)
    drawn = {name: rs.randn(*shape) for name, shape in _COURSE_DRAWS}
    X = drawn.pop("X")
    Y = np.array([[1.0, 1.0, 0.0]])
    return MLP(COURSE_LAYER_DIMS), drawn, X, Y


def random_case(layer_dims, m, seed=0, hidden="relu", batchnorm=()):
    """``(model, params, X, Y)`` with X ~ N(0, 1), Y ∈ {0, 1}.

    The parameters come from ``MLP.init_params(init, seed=seed)`` (biases are
    zero; γ = 1, β = 0 on the ``batchnorm`` layers), He-initialized for ReLU
    hidden layers and Xavier for tanh and sigmoid (each one's recommended
    scheme); ``X`` and ``Y`` from ``default_rng(seed + 1)``.
    """
    model = MLP(layer_dims, hidden=hidden, batchnorm=list(batchnorm))
    init = "he" if hidden in ("relu", "leaky_relu") else "xavier"
    params = model.init_params(init, seed=seed)
    rng = np.random.default_rng(seed + 1)
    X = rng.standard_normal((layer_dims[0], m))
    Y = rng.integers(0, 2, size=(layer_dims[-1], m)).astype(np.float64)
    return model, params, X, Y


def analytic_vector(model, params, X, Y):
    """``model.backward`` flattened into θ's order: the gradient every tool is
    compared with."""
    return params_to_vector(model.backward(params, X, Y), prefix="d")


def relative_difference(analytic, numerical):
    """The course's ``‖a − n‖₂ / (‖a‖₂ + ‖n‖₂)`` (0 when both are 0)."""
    a = np.asarray(analytic, dtype=np.float64).ravel()
    n = np.asarray(numerical, dtype=np.float64).ravel()
    denominator = np.linalg.norm(a) + np.linalg.norm(n)
    if denominator == 0.0:
        return 0.0
    return float(np.linalg.norm(a - n) / denominator)


def forward_memory_bytes(layer_dims, m):
    """Bytes of one forward pass's cache: ``Z[l]`` and ``A[l]`` for l = 1..L,
    float64."""
    return int(sum(2 * n * m * 8 for n in layer_dims[1:]))


def _indices(indices, n_params):
    if indices is None:
        return np.arange(n_params)
    return np.asarray(indices, dtype=np.intp).ravel()


# -- 1. the course's loop -------------------------------------------------

def _course_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def course_forward_cost(X, Y, parameters, n_layers):
    """The course's ``forward_propagation_n`` for any depth: ReLU hidden
    layers, sigmoid output, ``cost = 1/m Σ (−log(A)·Y − log(1−A)·(1−Y))``.
    Returns ``(cost, cache)`` as the course does."""
    m = X.shape[1]
    A = X
    cache = []
    for l in range(1, n_layers + 1):
        W, b = parameters[f"W{l}"], parameters[f"b{l}"]
        Z = np.dot(W, A) + b
        A = np.maximum(0, Z) if l < n_layers else _course_sigmoid(Z)
        cache += [Z, A, W, b]
    logprobs = np.multiply(-np.log(A), Y) + np.multiply(-np.log(1 - A), 1 - Y)
    cost = 1.0 / m * np.sum(logprobs)
    return cost, tuple(cache)


def course_loop(model, params, X, Y, epsilon=EPSILON, indices=None):
    """The course's ``gradient_check_n`` loop; returns ``gradapprox`` at
    ``indices`` (all of θ by default), shape ``(len(indices),)``.

    For each coordinate: copy θ, add ε, rebuild the dict, full forward; copy
    θ, subtract ε, rebuild, full forward; ``(J⁺ − J⁻) / 2ε``. θ is the
    course's ``(P, 1)`` column.
    """
    parameters_values = params_to_vector(params).reshape(-1, 1)
    idx = _indices(indices, parameters_values.shape[0])
    L = model.n_layers
    gradapprox = np.zeros((idx.size, 1))
    for k, i in enumerate(idx):
        theta_plus = np.copy(parameters_values)
        theta_plus[i][0] = theta_plus[i][0] + epsilon
        J_plus, _ = course_forward_cost(X, Y, vector_to_params(theta_plus, params), L)
        theta_minus = np.copy(parameters_values)
        theta_minus[i][0] = theta_minus[i][0] - epsilon
        J_minus, _ = course_forward_cost(X, Y, vector_to_params(theta_minus, params), L)
        gradapprox[k] = (J_plus - J_minus) / (2 * epsilon)
    return gradapprox[:, 0]


# -- 2. the best in-place NumPy loop --------------------------------------

class InPlaceCost:
    """``J(θ)`` with preallocated buffers over a parameter dict of *views*
    into ``theta``: writing ``theta[i]`` changes the network it evaluates.

    The forward pass is fully vectorized with no allocation per layer
    (``matmul(out=)``, in-place bias add, activation — ReLU, tanh or
    sigmoid — and batch norm with batch statistics) and the stable logit BCE
    ``Σ (logaddexp(0, z) − y·z) / m``.
    """

    def __init__(self, model, theta, like, X, Y):
        self.X, self.Y, self.m = X, Y, X.shape[1]
        self.L = model.n_layers
        self.eps = model.bn_epsilon
        views = vector_to_params(theta, like)
        self.layers = [
            (views[f"W{l}"], views[f"gamma{l}"], views[f"beta{l}"]) if l in model.batchnorm
            else (views[f"W{l}"], views[f"b{l}"])
            for l in range(1, self.L + 1)
        ]
        self.acts = [a.name for a in model.activations]
        self.buffers = [np.empty((n, self.m)) for n in model.layer_dims[1:]]
        self.stat = [np.empty((n, 1)) for n in model.layer_dims[1:]]

    def __call__(self):
        A = self.X
        for l, (p, Z, s) in enumerate(zip(self.layers, self.buffers, self.stat), start=1):
            np.matmul(p[0], A, out=Z)
            if len(p) == 3:  # batch norm: γ·(U − μ)/sqrt(σ² + ε) + β
                np.mean(Z, axis=1, keepdims=True, out=s)
                Z -= s
                np.sqrt(np.mean(Z * Z, axis=1, keepdims=True) + self.eps, out=s)
                Z /= s
                Z *= p[1]
                Z += p[2]
            else:
                Z += p[1]
            if l < self.L:
                _activate(self.acts[l - 1], Z)
            A = Z
        z = A
        return float(np.sum(np.logaddexp(0.0, z) - self.Y * z) / self.m)


def _activate(name, Z):
    """The hidden activation, in place."""
    if name == "relu":
        np.maximum(Z, 0.0, out=Z)
    elif name == "tanh":
        np.tanh(Z, out=Z)
    elif name == "sigmoid":
        from scipy.special import expit

        expit(Z, out=Z)
    else:
        raise ValueError(f"the in-place loop has no {name!r} activation")


def inplace_loop(model, params, X, Y, epsilon=EPSILON, indices=None):
    """Two-sided differences with θ perturbed in place; returns the numerical
    gradient at ``indices`` (all of θ by default).

    ``theta[i]`` is set to ``θᵢ + ε``, then ``θᵢ − ε``, then restored to the
    saved value exactly (no ``+ε − ε`` round trip), so one θ serves every
    coordinate and nothing is copied.
    """
    theta = params_to_vector(params)            # a private copy; params untouched
    J = InPlaceCost(model, theta, params, X, Y)
    idx = _indices(indices, theta.size)
    out = np.empty(idx.size)
    two_eps = 2.0 * epsilon
    for k, i in enumerate(idx):
        saved = theta[i]
        theta[i] = saved + epsilon
        j_plus = J()
        theta[i] = saved - epsilon
        j_minus = J()
        theta[i] = saved
        out[k] = (j_plus - j_minus) / two_eps
    return out


# -- 3. a flat J(θ) and ∇J(θ) for scipy ------------------------------------

def flat_cost_and_grad(model, params, X, Y):
    """``(f, grad)`` of a flat θ, as a scipy user would write them: ``f``
    rebuilds the dict (views) and runs a vectorized forward with the stable
    BCE, ``grad`` runs ``model.backward``."""
    like = {k: np.shape(v) for k, v in params.items()}
    L, m = model.n_layers, X.shape[1]

    def f(theta):
        p = vector_to_params(theta, like)
        A = X
        for l in range(1, L + 1):
            Z = p[f"W{l}"] @ A + p[f"b{l}"]
            A = np.maximum(Z, 0.0) if l < L else Z
        return float(np.sum(np.logaddexp(0.0, A) - Y * A) / m)

    def grad(theta):
        return params_to_vector(model.backward(vector_to_params(theta, like), X, Y), prefix="d")

    return f, grad


def restrict(f, theta, indices):
    """``f`` as a function of ``theta[indices]`` only, the other coordinates
    held at ``theta``: ``f_S(x) = f(θ with θ[indices] = x)``.

    One private work vector is updated in place (O(len(indices)) per call),
    so a tool run on ``f_S`` does the same per-coordinate work as on ``f``.
    """
    work = np.array(theta, dtype=np.float64)
    idx = np.asarray(indices, dtype=np.intp)

    def f_restricted(x):
        work[idx] = x
        return f(work)

    return f_restricted


# -- 4. torch and jax ------------------------------------------------------

def torch_cost(model, X, Y):
    """A float64 torch function ``fn(theta)`` of a flat θ: the same network and
    cost (``Σ (logaddexp(0, z) − y·z) / m``)."""
    import torch

    dims, L, m = model.layer_dims, model.n_layers, X.shape[1]
    Xt = torch.from_numpy(np.ascontiguousarray(X))
    Yt = torch.from_numpy(np.ascontiguousarray(Y))
    blocks, start = [], 0
    for l in range(1, L + 1):
        n_out, n_in = dims[l], dims[l - 1]
        blocks.append((start, (n_out, n_in), start + n_out * n_in, n_out))
        start += n_out * n_in + n_out

    def fn(theta):
        A = Xt
        for l, (w0, w_shape, b0, n_out) in enumerate(blocks, start=1):
            W = theta[w0:b0].reshape(w_shape)
            b = theta[b0:b0 + n_out].reshape(n_out, 1)
            Z = W @ A + b
            A = torch.relu(Z) if l < L else Z
        # logaddexp(0, z), not F.softplus: softplus switches to z above
        # z = 20, a kink the finite difference could see.
        return torch.sum(torch.logaddexp(torch.zeros_like(A), A) - Yt * A) / m

    return fn


def torch_restrict(fn, theta, indices):
    """``fn`` as a function of ``theta[indices]`` only (differentiable):
    ``index_put`` writes the sampled coordinates into a copy of θ."""
    import torch

    base = torch.as_tensor(np.asarray(theta, dtype=np.float64))
    idx = torch.as_tensor(np.asarray(indices, dtype=np.int64))

    def fn_restricted(x):
        return fn(base.index_put((idx,), x))

    return fn_restricted


def torch_numerical_gradient(fn, x, epsilon=EPSILON):
    """torch's own central-difference gradient of a scalar ``fn`` at ``x``
    through ``get_numerical_jacobian`` (deprecated but public in
    ``torch.autograd.gradcheck``); ``None`` if this torch does not have it."""
    import importlib
    import warnings

    module = importlib.import_module("torch.autograd.gradcheck")
    getter = getattr(module, "get_numerical_jacobian", None)
    if getter is None:
        return None
    # Only inputs that require grad get a Jacobian.
    x = x.detach().clone().requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # It calls fn with the inputs packed in one tuple.
        jac = getter(lambda inputs: fn(*inputs), (x,), eps=epsilon)
    return jac[0].detach().numpy().ravel().copy()


def jax_cost(model, X, Y):
    """A jax function ``f(theta)`` of a flat θ: the same network and cost.

    Call ``jax.config.update("jax_enable_x64", True)`` before this, or θ is
    float32 and ε = 1e-7 vanishes.
    """
    import jax.numpy as jnp

    dims, L, m = model.layer_dims, model.n_layers, X.shape[1]
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
    blocks, start = [], 0
    for l in range(1, L + 1):
        n_out, n_in = dims[l], dims[l - 1]
        blocks.append((start, (n_out, n_in), start + n_out * n_in, n_out))
        start += n_out * n_in + n_out

    def f(theta):
        A = Xj
        for l, (w0, w_shape, b0, n_out) in enumerate(blocks, start=1):
            W = theta[w0:b0].reshape(w_shape)
            b = theta[b0:b0 + n_out].reshape(n_out, 1)
            Z = W @ A + b
            A = jnp.maximum(Z, 0.0) if l < L else Z
        return jnp.sum(jnp.logaddexp(0.0, A) - Yj * A) / m

    return f
