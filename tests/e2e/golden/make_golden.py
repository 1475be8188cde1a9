"""Golden reports: a fixed set of gradient checks, recorded to the bit.

Run ``python tests/e2e/golden/make_golden.py`` to (re)write ``golden.json``; only
do that on purpose, when a numerical change is intended and explained.
``tests/e2e/test_golden.py`` recomputes every case and asserts bit-identical
equality, so a restructuring that changes one bit of any report fails.

Every float is stored as ``float.hex`` (exact); timings and the thread count
(which depends on the machine) are dropped.

The bits also depend on the arithmetic underneath: NumPy's exp/log/log1p/
expm1 and its sums round differently (by an ulp or two) from one NumPy
version or CPU feature set (SIMD dispatch) to another, as may BLAS and libm.
``golden_env.json`` keeps a fingerprint of that arithmetic as it was when
``golden.json`` was written; ``test_golden.py`` asks for the same bits only
where the fingerprint is the same.
"""
import hashlib
import json
import math
import pathlib
import warnings

import numpy as np

import fastgrad

HERE = pathlib.Path(__file__).parent
GOLDEN = HERE / "golden.json"
GOLDEN_ENV = HERE / "golden_env.json"

HIDDEN = ("linear", "relu", "leaky_relu", "tanh", "sigmoid")
OUTPUTS = ("sigmoid", "softmax", "linear")
VARIANTS = ("plain", "l2", "dropout", "batchnorm")
MODES = ("full", "sampled", "directional")
DROPOUT_SEED = 7


def exact(x):
    """``x`` with every float as its exact hex string (arrays as nested lists)."""
    if isinstance(x, dict):
        return {str(k): exact(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [exact(v) for v in x]
    if isinstance(x, np.ndarray):
        return {"shape": list(x.shape), "dtype": str(x.dtype),
                "data": [exact(v) for v in x.ravel().tolist()]}
    if isinstance(x, (float, np.floating)):
        return float(x).hex()
    if isinstance(x, (np.integer,)):
        return int(x)
    return x


def report_numbers(report):
    """A report's content, exact: ``to_dict`` minus timing and thread count,
    plus the numerical gradients as arrays (NaN kept) and the directions."""
    d = report.to_dict()
    for key in ("seconds", "n_threads"):
        d.pop(key)
    d["numerical"] = {k: np.asarray(v) for k, v in report.numerical.items()}
    d["text"] = "\n".join(str(report).splitlines()[:1] + str(report).splitlines()[2:])
    if report.directions is not None:
        d["directions"] = {k: [np.asarray(a) for a in v] for k, v in report.directions.items()}
    return exact(d)


def _data(n_x, n_out, output, m, rng):
    X = rng.standard_normal((n_x, m))
    if output == "sigmoid":
        Y = (rng.random((n_out, m)) < 0.5).astype(float)
    elif output == "softmax":
        Y = np.eye(n_out)[:, rng.integers(0, n_out, m)]
    else:
        Y = rng.standard_normal((n_out, m))
    return X, Y


def _model(hidden, output, variant):
    kwargs = {}
    if variant == "l2":
        kwargs["l2"] = 0.7
    elif variant == "dropout":
        kwargs["keep_prob"] = 0.8
    elif variant == "batchnorm":
        kwargs["batchnorm"] = True
    return fastgrad.MLP([3, 4, 3, 2], hidden=hidden, output=output, **kwargs)


def mlp_cases():
    """(name, callable returning the numbers) for every MLP check."""
    cases = []
    for i, hidden in enumerate(HIDDEN):
        for j, output in enumerate(OUTPUTS):
            for v, variant in enumerate(VARIANTS):
                for mode in MODES:
                    if variant == "batchnorm" and mode == "directional":
                        continue
                    seed = 100 * i + 10 * j + v
                    cases.append((f"mlp/{hidden}/{output}/{variant}/{mode}",
                                  _mlp_case(hidden, output, variant, mode, seed)))
    return cases


def _mlp_case(hidden, output, variant, mode, seed):
    def run():
        rng = np.random.default_rng(seed)
        model = _model(hidden, output, variant)
        params = model.init_params("he", seed=seed, scale=1.5)
        X, Y = _data(3, 2, output, 5, rng)
        dseed = DROPOUT_SEED if variant == "dropout" else None
        cost, grads = model.cost_and_grads(params, X, Y, seed=dseed)
        out = {"cost": exact(cost), "grads": exact(grads)}
        check_seed = DROPOUT_SEED if variant == "dropout" else seed
        k = 3 if mode != "full" else None
        report = fastgrad.gradient_check(model, params, grads, X, Y, mode=mode, k=k,
                                         seed=check_seed, n_threads=2, progress=False)
        out["report"] = report_numbers(report)
        # A backprop bug: the check must point at dW2.
        bad = dict(grads)
        bad["dW2"] = 2 * grads["dW2"]
        report = fastgrad.gradient_check(model, params, bad, X, Y, mode=mode, k=k,
                                         seed=check_seed, n_threads=1, progress=False)
        out["buggy"] = report_numbers(report)
        return out
    return run


class _CostModel:
    """A user's model seen only through ``cost(params, X, Y)`` (the generic path)."""

    def __repr__(self):
        return "CostModel()"

    def cost(self, params, X, Y):
        Z = params["W1"] @ X + params["b1"]
        return float(np.mean((np.tanh(Z) - Y) ** 2))


def other_cases():
    def generic():
        rng = np.random.default_rng(5)
        X, Y = rng.standard_normal((3, 6)), rng.standard_normal((2, 6))
        params = {"W1": rng.standard_normal((2, 3)), "b1": rng.standard_normal((2, 1))}
        Z = params["W1"] @ X + params["b1"]
        T = np.tanh(Z)
        dZ = 2 * (T - Y) * (1 - T * T) / T.size
        grads = {"dW1": dZ @ X.T, "db1": dZ.sum(axis=1, keepdims=True)}
        out = {}
        for mode in MODES:
            report = fastgrad.gradient_check(_CostModel(), params, grads, X, Y, mode=mode,
                                             k=2 if mode != "full" else None, seed=1,
                                             progress=False)
            out[mode] = report_numbers(report)
        return out

    def check_grad():
        theta = np.linspace(-1.0, 2.0, 12).reshape(3, 4)

        def f(t):
            return float(np.sum(np.sin(t) * t ** 2))

        def g(t):
            return np.cos(t) * t ** 2 + 2 * t * np.sin(t)

        return {"good": report_numbers(fastgrad.check_grad(f, theta, g, progress=False)),
                "bad": report_numbers(fastgrad.check_grad(f, theta, g(theta) * 1.01,
                                                          progress=False)),
                "numerical_gradient": exact(fastgrad.numerical_gradient(f, theta))}

    def normalizer():
        rng = np.random.default_rng(11)
        X = rng.standard_normal((40, 5)) * [1, 10, 1e-3, 5, 1] + [0, 3, 1e6, -2, 0]
        X[:, 4] = 2.5  # a constant feature
        out = {}
        for layout in ("rows", "columns"):
            kwargs = {} if layout == "rows" else {"sample_axis": 1}
            data = X if layout == "rows" else X.T.copy()
            norm = fastgrad.Normalizer(**kwargs).fit(data)
            out[layout] = {"mean": exact(norm.mean_), "scale": exact(norm.scale_),
                           "transform": exact(norm.transform(data))}
        batched = fastgrad.Normalizer()
        for start in range(0, 40, 7):
            batched.partial_fit(X[start:start + 7])
        out["partial_fit"] = {"mean": exact(batched.mean_), "scale": exact(batched.scale_)}
        return out

    return [("generic", generic), ("check_grad", check_grad), ("normalizer", normalizer)]


def all_cases():
    return mlp_cases() + other_cases()


def arithmetic_fingerprint():
    """A hash of the bits that NumPy's and SciPy's elementwise functions, sums
    and BLAS, and the C library's math, give on fixed inputs here: the
    arithmetic every golden report goes through."""
    from scipy.linalg import blas
    from scipy.special import expit, logsumexp, softmax

    x = np.linspace(-20.0, 20.0, 4099)
    A = np.sin(np.arange(48.0)).reshape(6, 8)
    B = np.cos(np.arange(40.0)).reshape(8, 5)
    parts = [np.exp(x), np.log(np.abs(x) + 0.5), np.log1p(np.abs(x)), np.expm1(x / 4),
             np.tanh(x), np.sin(x), np.cos(x), np.sqrt(np.abs(x)),
             np.array([np.sum(x * 0.1), np.sum(np.exp(x / 8))]),
             expit(x), softmax(x), np.array([logsumexp(x)]),
             A @ B, blas.dgemm(1.0, A, B),
             np.array([[math.exp(v), math.log1p(abs(v)), math.expm1(v), math.tanh(v)]
                       for v in x[::7] / 4])]
    digest = hashlib.sha256()
    for part in parts:
        digest.update(np.ascontiguousarray(part, dtype=np.float64).tobytes())
    return digest.hexdigest()


def compute():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: run() for name, run in all_cases()}


if __name__ == "__main__":
    import scipy

    GOLDEN.write_text(json.dumps(compute(), indent=0, sort_keys=True) + "\n")
    GOLDEN_ENV.write_text(json.dumps({
        "fingerprint": arithmetic_fingerprint(), "numpy": np.__version__,
        "scipy": scipy.__version__}, indent=1) + "\n")
    print(f"wrote {GOLDEN} and {GOLDEN_ENV}")
