"""fastgrad.diagnostics.report: the table, summary and dict of a Diagnosis
built by hand here (no network), against the text written out."""
import json
import math

import numpy as np

from fastgrad.diagnostics.report import Diagnosis, LayerReport


def row(layer, verdict, **kw):
    base = dict(layer=layer, units=4, activation="relu", z_mean=0.5, z_std=2.0, a_mean=1.0,
                a_std=1.5, forward_scale=2.0, dead=0.25, saturated=None, grad_W_norm=0.125,
                grad_b_norm=0.0625, backward_scale=1.0, verdict=verdict)
    base.update(kw)
    return LayerReport(**base)


def test_summary_groups_layers_into_ranges():
    verdicts = ["exploding", "exploding", "exploding", "healthy", "vanishing", "healthy",
                "exploding"]
    d = Diagnosis([row(i + 1, v) for i, v in enumerate(verdicts)], 1.0, None, 100.0, "M")
    assert d.summary() == "exploding: layers 1-3, 7; vanishing: layers 5"
    assert d.verdicts == verdicts and not d.healthy
    assert Diagnosis([row(1, "healthy")], 1.0, None, 100.0, "M").summary() == "all 1 layers healthy"
    assert repr(d) == "<Diagnosis of M: exploding: layers 1-3, 7; vanishing: layers 5>"


def test_table_text():
    layers = [row(1, "healthy"), row(2, "vanishing", activation="sigmoid", dead=None,
                                     saturated=0.5, grad_W_norm=None, backward_scale=math.nan)]
    text = str(Diagnosis(layers, 0.64, 1.5, 100.0, "MLP([3, 4, 4, 1])")).splitlines()
    assert text[0] == "diagnosis of MLP([3, 4, 4, 1]) on a batch with rms(X) = 0.64, cost 1.5"
    assert text[1].split() == ["layer", "units", "act", "Z", "mean", "Z", "std", "A", "mean", "A",
                               "std", "fwd", "scale", "dead", "sat", "|dW|", "bwd", "scale",
                               "verdict"]
    assert text[3].split() == ["1", "4", "relu", "0.5", "2", "1", "1.5", "2", "25%", "-",
                               "0.125", "1", "healthy"]
    assert text[4].split() == ["2", "4", "sigmoid", "0.5", "2", "1", "1.5", "2", "-", "50%",
                               "-", "nan", "vanishing"]
    assert text[5] == ("fwd scale = rms(Z[l])/rms(X); bwd scale = |dZ[l]|/|dZ[L]|; "
                       "exploding if a scale > 100, vanishing if < 0.01")
    assert text[6] == "dead, sat: units dead or saturated on every example of the batch"
    assert text[7] == "verdict: vanishing: layers 2"


def test_to_dict_is_json_and_the_fields():
    d = Diagnosis([row(1, "healthy")], 2.0, None, 10.0, "M")
    data = d.to_dict()
    assert json.loads(json.dumps(data))["layers"][0]["grad_W_norm"] == 0.125
    assert data["threshold"] == 10.0 and data["cost"] is None
    assert list(d.forward_scales) == [2.0] and list(d.backward_scales) == [1.0]


def test_a_layer_that_overflowed_is_strict_json():
    nan, inf = float("nan"), float("inf")
    d = Diagnosis([row(1, "exploding", z_std=inf, a_std=nan, forward_scale=inf)], 2.0, nan,
                  10.0, "M")
    text = d.to_json(allow_nan=False)  # raised: NaN and Infinity are not JSON
    layer = json.loads(text)["layers"][0]
    assert layer["z_std"] is None and layer["a_std"] is None and layer["forward_scale"] is None
    assert layer["grad_W_norm"] == 0.125 and json.loads(text)["cost"] is None


def test_symmetric_layers_are_named_the_course_s_zero_init():
    from fastgrad import MLP, datasets, diagnose

    X, Y = datasets.make_circles(60, seed=0)
    model = MLP([2, 10, 5, 1])
    zeros = diagnose(model, model.init_params("zeros"), X, Y)
    assert zeros.symmetric == [1, 2]  # the output layer has one unit: nothing to break
    assert "symmetric: layers 1-2 have the same weights in and out of every unit" in str(zeros)
    he = model.init_params("he", seed=0)
    assert diagnose(model, he, X, Y).symmetric == []
    # a constant first layer: stuck only if the second layer's columns are
    # equal too (else each unit gets its own gradient; checked here)
    const = dict(he, W1=np.full_like(he["W1"], 0.3), b1=np.full_like(he["b1"], 0.1))
    assert diagnose(model, const, X, Y).symmetric == []
    dW1 = model.backward(const, X, Y)["dW1"]
    assert np.ptp(dW1, axis=0).max() > 1e-3
    stuck = dict(const, W2=np.full_like(he["W2"], 0.2))
    one = diagnose(model, stuck, X, Y)
    assert one.symmetric == [1] and "symmetric: layer 1 has the same" in str(one)
    dW1 = model.backward(stuck, X, Y)["dW1"]
    np.testing.assert_allclose(dW1, np.broadcast_to(dW1[:1], dW1.shape), rtol=1e-12)  # the claim
    assert diagnose(model, dict(stuck, b1=he["b1"] + np.arange(10)[:, None]), X, Y).symmetric == []
