"""User-written NumPy code for ``bench/user_code.py``: what a user of
``check_grad``/``check_vjp`` brings, each with its own backward pass, and
the same function in torch for ``torch.autograd.gradcheck``.

* ``network``: a 3-layer tanh network 10-16-8-1, squared error, parameters in
  a dict (checked with ``check_grad``);
* ``conv``: a 2-D convolution layer by im2col (stride 1, no padding),
  ``conv(x, w, b)`` (checked with ``check_vjp``);
* ``attention``: single-head softmax self-attention
  ``softmax(x Wq (x Wk)ᵀ/√d) x Wv`` (checked with ``check_vjp``).

Each case is a :class:`Case`: the inputs as named blocks, ``f`` (scalar for
the network, array-valued for the layers), the correct gradients, and for
the scalar tools (a bare loop, SciPy, numdifftools) ``J(theta)`` of one flat
vector: the network's cost, or ``Σ upstream·f`` for a layer. Nothing here
imports torch at module level.
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Case:
    name: str
    inputs: dict  # name -> array (the order of f's arguments)
    f: object  # network: f(dict) -> float; layers: f(*arrays) -> array
    grads: dict  # name -> the correct gradient
    upstream: np.ndarray | None = None  # layers only
    torch_f: object = None  # builds the torch function (imports torch when called)
    keys: list = field(init=False)
    theta: np.ndarray = field(init=False)

    def __post_init__(self):
        self.keys = list(self.inputs)
        self.theta = np.concatenate([self.inputs[k].ravel() for k in self.keys])

    @property
    def analytic(self):
        return np.concatenate([self.grads[k].ravel() for k in self.keys])

    def unflat(self, t):
        out, i = {}, 0
        for k in self.keys:
            n = self.inputs[k].size
            out[k] = t[i : i + n].reshape(self.inputs[k].shape)
            i += n
        return out

    def J(self, t):
        """The scalar every tool differentiates, of one flat θ."""
        p = self.unflat(t)
        if self.upstream is None:
            return self.f(p)
        return float(np.sum(self.upstream * self.f(*p.values())))


# -- a 3-layer tanh network --------------------------------------------------


def network(m=2000, seed=0):
    r = np.random.default_rng(seed)
    X, Y = r.standard_normal((10, m)), r.standard_normal((1, m))
    sizes = [10, 16, 8, 1]
    p = {}
    for l in range(1, 4):
        p[f"W{l}"] = r.standard_normal((sizes[l], sizes[l - 1])) / np.sqrt(sizes[l - 1])
        p[f"b{l}"] = r.standard_normal((sizes[l], 1)) * 0.1

    def cost(p):
        A1 = np.tanh(p["W1"] @ X + p["b1"])
        A2 = np.tanh(p["W2"] @ A1 + p["b2"])
        out = p["W3"] @ A2 + p["b3"]
        return 0.5 * float(np.mean((out - Y) ** 2))

    A1 = np.tanh(p["W1"] @ X + p["b1"])
    A2 = np.tanh(p["W2"] @ A1 + p["b2"])
    d3 = (p["W3"] @ A2 + p["b3"] - Y) / m
    d2 = p["W3"].T @ d3 * (1 - A2**2)
    d1 = p["W2"].T @ d2 * (1 - A1**2)
    g = {"W1": d1 @ X.T, "b1": d1.sum(1, keepdims=True), "W2": d2 @ A1.T,
         "b2": d2.sum(1, keepdims=True), "W3": d3 @ A2.T, "b3": d3.sum(1, keepdims=True)}

    def torch_f():
        import torch

        Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)

        def f(W1, b1, W2, b2, W3, b3):
            A1 = torch.tanh(W1 @ Xt + b1)
            A2 = torch.tanh(W2 @ A1 + b2)
            return 0.5 * torch.mean((W3 @ A2 + b3 - Yt) ** 2)

        return f

    return Case(f"3-layer tanh network 10-16-8-1, m={m}", p, cost, g, None, torch_f)


# -- a convolution layer (im2col) ---------------------------------------------


def _cols(x, kh, kw):
    """(N, C·kh·kw, Ho·Wo) patches of x (N, C, H, W), stride 1."""
    N, C, H, W = x.shape
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    Ho, Wo = H - kh + 1, W - kw + 1  # win: (N, C, Ho, Wo, kh, kw)
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * kh * kw, Ho * Wo), Ho, Wo


def conv_forward(x, w, b):
    F, C, kh, kw = w.shape
    cols, Ho, Wo = _cols(x, kh, kw)
    out = np.einsum("fk,nkp->nfp", w.reshape(F, -1), cols) + b[None, :, None]
    return out.reshape(x.shape[0], F, Ho, Wo)


def conv_backward(dout, x, w):
    F, C, kh, kw = w.shape
    N = x.shape[0]
    cols, Ho, Wo = _cols(x, kh, kw)
    d = dout.reshape(N, F, Ho * Wo)
    db = d.sum(axis=(0, 2))
    dw = np.einsum("nfp,nkp->fk", d, cols).reshape(w.shape)
    dcols = np.einsum("fk,nfp->nkp", w.reshape(F, -1), d).reshape(N, C, kh, kw, Ho, Wo)
    dx = np.zeros_like(x)
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i : i + Ho, j : j + Wo] += dcols[:, :, i, j]
    return dx, dw, db


def conv(N=2, C=3, H=10, F=6, k=3, seed=1):
    r = np.random.default_rng(seed)
    inp = {"x": r.standard_normal((N, C, H, H)), "w": r.standard_normal((F, C, k, k)) * 0.3,
           "b": r.standard_normal(F)}
    u = r.standard_normal((N, F, H - k + 1, H - k + 1))
    dx, dw, db = conv_backward(u, inp["x"], inp["w"])

    def torch_f():
        import torch.nn.functional as tf

        return tf.conv2d

    name = f"conv layer x {N}x{C}x{H}x{H}, w {F}x{C}x{k}x{k} (im2col)"
    return Case(name, inp, conv_forward, {"x": dx, "w": dw, "b": db}, u, torch_f)


# -- softmax attention ----------------------------------------------------------


def attention_forward(x, Wq, Wk, Wv):
    s = 1 / np.sqrt(Wq.shape[1])
    S = (x @ Wq) @ (x @ Wk).T * s
    A = np.exp(S - S.max(axis=1, keepdims=True))
    A /= A.sum(axis=1, keepdims=True)
    return A @ (x @ Wv)


def attention_backward(dout, x, Wq, Wk, Wv):
    s = 1 / np.sqrt(Wq.shape[1])
    Q, K, V = x @ Wq, x @ Wk, x @ Wv
    S = Q @ K.T * s
    A = np.exp(S - S.max(axis=1, keepdims=True))
    A /= A.sum(axis=1, keepdims=True)
    dA = dout @ V.T
    dV = A.T @ dout
    dS = A * (dA - np.sum(dA * A, axis=1, keepdims=True)) * s
    dQ, dK = dS @ K, dS.T @ Q
    dx = dQ @ Wq.T + dK @ Wk.T + dV @ Wv.T
    return dx, x.T @ dQ, x.T @ dK, x.T @ dV


def attention(T=24, d=8, seed=2):
    r = np.random.default_rng(seed)
    inp = {"x": r.standard_normal((T, d))}
    for k in ("Wq", "Wk", "Wv"):
        inp[k] = r.standard_normal((d, d)) / np.sqrt(d)
    u = r.standard_normal((T, d))
    g = dict(zip(inp, attention_backward(u, *inp.values())))

    def torch_f():
        import torch

        def f(x, Wq, Wk, Wv):
            S = (x @ Wq) @ (x @ Wk).T / np.sqrt(Wq.shape[1])
            return torch.softmax(S, dim=1) @ (x @ Wv)

        return f

    return Case(f"softmax attention T={T}, d={d}", inp, attention_forward, g, u, torch_f)
