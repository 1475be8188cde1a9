"""check_grad on a dict / list / tuple of named blocks (issue 12)."""

from types import MappingProxyType

import numpy as np
import pytest

from fastgrad import check_grad

rng0 = np.random.default_rng(0)
X = rng0.standard_normal((4, 7))
Y = rng0.standard_normal((2, 7))


def net_params():
    r = np.random.default_rng(1)
    return {
        "enc_w": r.standard_normal((5, 4)) * 0.5,
        "enc_b": r.standard_normal((5, 1)) * 0.1,
        "head_w": r.standard_normal((2, 5)) * 0.5,
        "head_b": r.standard_normal((2, 1)) * 0.1,
    }


def cost(p):
    h = np.tanh(p["enc_w"] @ X + p["enc_b"])
    out = p["head_w"] @ h + p["head_b"]
    return 0.5 * float(np.sum((out - Y) ** 2)) / X.shape[1]


def backprop(p):
    m = X.shape[1]
    h = np.tanh(p["enc_w"] @ X + p["enc_b"])
    d_out = (p["head_w"] @ h + p["head_b"] - Y) / m
    dh = p["head_w"].T @ d_out * (1 - h**2)
    return {
        "enc_w": dh @ X.T,
        "enc_b": dh.sum(axis=1, keepdims=True),
        "head_w": d_out @ h.T,
        "head_b": d_out.sum(axis=1, keepdims=True),
    }


def ref_central(p, eps=1e-7):
    """Independent reference: a plain loop over copies of every block."""
    out = {}
    for key, v in p.items():
        g = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            hi = {k: a.copy() for k, a in p.items()}
            lo = {k: a.copy() for k, a in p.items()}
            hi[key][idx] += eps
            lo[key][idx] -= eps
            g[idx] = (cost(hi) - cost(lo)) / (hi[key][idx] - lo[key][idx])
        out[key] = g
    return out


def test_dict_with_own_names_is_great_and_matches_the_reference():
    p = net_params()
    before = {k: v.tobytes() for k, v in p.items()}
    rep = check_grad(cost, p, backprop(p))
    assert rep.verdict == "great"
    assert [b.name for b in rep.blocks] == list(p)
    ref = ref_central(p)
    for k in p:
        np.testing.assert_allclose(rep.numerical[k], ref[k], rtol=1e-6, atol=1e-9)
    assert {k: v.tobytes() for k, v in p.items()} == before


def test_any_mapping_is_a_dict_of_blocks():
    # a read-only mapping (a frozen config, a class __dict__) is a structure
    # like a dict: the same blocks and bits, f and grad see a dict
    p = net_params()
    seen = []

    def f(t):
        seen.append(type(t))
        return cost(t)

    rep = check_grad(f, MappingProxyType(p), MappingProxyType(backprop(p)))
    assert rep.verdict == "great" and set(seen) == {dict}
    ref = check_grad(cost, p, backprop(p))
    for k in p:
        assert rep.numerical[k].tobytes() == ref.numerical[k].tobytes()


@pytest.mark.parametrize("theta, what", [
    (None, "NoneType"), (object(), "object"), (MappingProxyType, "type"),
])
def test_a_theta_numpy_cannot_read_is_named_by_its_type(theta, what):
    with pytest.raises(TypeError, match=rf"^theta must hold real numbers, got {what}$"):
        check_grad(lambda t: 0.0, theta, np.zeros(3))


@pytest.mark.parametrize("bad", ["enc_b", "head_w"])
def test_injected_bug_is_flagged_in_exactly_that_block(bad):
    p = net_params()
    g = backprop(p)
    g[bad] = 2 * g[bad]
    rep = check_grad(cost, p, g)
    assert rep.verdict == "bug"
    flagged = [b.name for b in rep.blocks if b.difference >= 1e-6]
    assert flagged == [bad]
    assert any("2.00x" in h and bad in h for h in rep.hints)
    assert any(h == f"look at the backprop of: {bad}" for h in rep.hints)


def test_sign_and_transpose_hints_name_the_block():
    r = np.random.default_rng(3)
    A = r.standard_normal((3, 3))
    theta = {"sq": r.standard_normal((3, 3)), "v": r.standard_normal(4)}

    def f(t):
        return float(np.sum(A * t["sq"]) + np.sum(t["v"] ** 2))

    rep = check_grad(f, theta, {"sq": A.T, "v": -2 * theta["v"]})
    assert "sq looks transposed" in " ".join(rep.hints)
    assert "v has the wrong sign" in " ".join(rep.hints)


@pytest.mark.parametrize("kind", [list, tuple])
def test_list_and_tuple_blocks_named_by_position(kind):
    p = net_params()
    keys = list(p)
    theta = kind(p[k] for k in keys)

    def f(t):
        assert isinstance(t, kind)
        return cost(dict(zip(keys, t)))

    g = backprop(p)
    grads = kind(g[k] for k in keys)
    rep = check_grad(f, theta, grads)
    assert rep.verdict == "great"
    assert [b.name for b in rep.blocks] == [f"theta[{i}]" for i in range(4)]


def test_grad_callable_receives_the_structure():
    p = net_params()
    rep = check_grad(cost, p, backprop)
    assert rep.verdict == "great"


@pytest.mark.parametrize("mode", ["sampled", "directional"])
def test_cheap_modes_on_blocks(mode):
    p = net_params()
    ok = check_grad(cost, p, backprop(p), mode=mode, k=3, seed=0)
    assert ok.verdict == "great" and ok.mode == mode
    g = backprop(p)
    g["head_b"] = g["head_b"] + 0.1
    bad = check_grad(cost, p, g, mode=mode, k=3, seed=0)
    assert bad.verdict == "bug"
    assert [b.name for b in bad.blocks if b.difference >= 1e-6] == ["head_b"]
    if mode == "sampled":
        assert bad.n_checked == sum(min(3, v.size) for v in p.values())


def test_sampled_is_reproducible_with_a_seed():
    p = net_params()
    a = check_grad(cost, p, backprop(p), mode="sampled", k=2, seed=5)
    b = check_grad(cost, p, backprop(p), mode="sampled", k=2, seed=5)
    for k in p:
        np.testing.assert_array_equal(a.numerical[k], b.numerical[k])


def test_f_cannot_write_into_a_block():
    p = net_params()

    def f(t):
        t["enc_w"][0, 0] = 1.0
        return cost(t)

    with pytest.raises(ValueError, match="wrote into its argument"):
        check_grad(f, p, backprop(p))


def test_grad_keys_and_shapes_are_checked():
    p = net_params()
    g = backprop(p)
    with pytest.raises(KeyError, match="grad keys"):
        check_grad(cost, p, {k: v for k, v in g.items() if k != "enc_b"})
    g["head_w"] = g["head_w"].T
    with pytest.raises(ValueError, match="grad block 'head_w'.*transposed"):
        check_grad(cost, p, g)
    with pytest.raises(TypeError, match="grad must be a dict"):
        check_grad(cost, p, [g[k] for k in g])


@pytest.mark.parametrize(
    "kw, exc",
    [
        ({"workers": 0}, ValueError),
        ({"workers": 2.0}, TypeError),
        ({"workers": "2"}, TypeError),
        ({"mode": "fast"}, ValueError),
        ({"k": 0, "mode": "sampled"}, ValueError),
        ({"seed": -1, "mode": "sampled"}, ValueError),
        ({"progress": "yes"}, TypeError),
        ({"raise_on_failure": 1}, TypeError),
        ({"thresholds": (1e-3, 1e-6)}, ValueError),
        ({"epsilon": "1e-7"}, TypeError),
    ],
)
def test_bad_options_are_refused_naming_them(kw, exc):
    p = net_params()
    name = next(iter(kw)) if "mode" not in kw or len(kw) == 1 else next(iter(kw))
    with pytest.raises(exc, match=name):
        check_grad(cost, p, backprop(p), **kw)


def test_raise_on_failure_and_thresholds_are_honoured():
    from fastgrad import GradientCheckError

    p = net_params()
    g = backprop(p)
    g["enc_b"] = g["enc_b"] * 1.0001
    rep = check_grad(cost, p, g)
    assert rep.verdict == "check"
    assert check_grad(cost, p, g, thresholds=(1e-3, 1e-2)).verdict == "great"
    with pytest.raises(GradientCheckError):
        check_grad(cost, p, g, raise_on_failure=True)


def test_empty_dict_and_empty_block_are_refused():
    with pytest.raises(ValueError, match="theta"):
        check_grad(lambda t: 0.0, {}, {})
    with pytest.raises(ValueError, match="theta block 'a'"):
        check_grad(lambda t: 0.0, {"a": np.zeros(0)}, {"a": np.zeros(0)})


def test_course_named_grads_get_a_hint():
    p = net_params()
    g = {"d" + k: v for k, v in backprop(p).items()}
    with pytest.raises(KeyError, match=r"unexpected \['denc_w'.*key them like theta"):
        check_grad(cost, p, g)
    with pytest.raises(KeyError, match=r"key them like theta"):  # with the cache's dZ1 too
        check_grad(cost, p, dict(g, dZ1=np.zeros(3)))
