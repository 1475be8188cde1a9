"""The depth demo: scales and verdicts through a deep net at short settings,
and its command."""
import numpy as np
import pytest

import fastgrad.demos as demos
from fastgrad.demos import depth as depth_demo


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def test_depth_demo_verdicts():
    L = 20
    result = depth_demo.depth_profile(depth=L, width=40, m=100, seed=0)
    assert set(result["zeros (relu)"].verdicts) == {"vanishing"}
    assert not result["zeros (relu)"].forward_scales.any()
    assert set(result["random N(0,1) (relu)"].verdicts) == {"exploding"}
    # Xavier under ReLU halves Var(Z) per layer: rms × 1/sqrt(2) per layer.
    xr = result["xavier (relu)"]
    slope = np.polyfit(np.arange(1, L), np.log10(xr.forward_scales[:-1]), 1)[0]
    assert slope == pytest.approx(np.log10(np.sqrt(0.5)), abs=0.05)
    assert xr.verdicts[-2] == "vanishing" and xr.verdicts[0] == "vanishing"   # signal / gradient
    assert result["he (relu)"].healthy
    for w in (0.5, 1.5):
        d = result[f"{w}*I (linear)"]
        np.testing.assert_allclose(d.forward_scales, [w ** l for l in range(1, L)] + [w ** (L - 1)], rtol=1e-12)
        np.testing.assert_allclose(d.backward_scales, [w ** (L - 1 - l) for l in range(1, L)] + [1.0],
                                   rtol=1e-10)


def test_depth_demo_cli(capsys, tmp_path):
    png = tmp_path / "depth.png"
    assert demos.main(["depth", "--depth", "12", "--width", "20", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "he (relu)" in out and "layer 12" in out and "1.5*I (linear)" in out
    assert png.stat().st_size > 0
