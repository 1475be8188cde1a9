"""`fastgrad demo optimizers` end to end.

Needs ``fastgrad.datasets.moons`` (the datasets branch) merged; not skipped
when it is missing.
"""
import re

import fastgrad.demos as demos


def test_registered():
    assert "optimizers" in demos.available()


def test_short_run_orders_the_optimizers(capsys, tmp_path):
    png = tmp_path / "optimizers.png"
    rc = demos.main(["optimizers", "--epochs", "300", "--print-every", "100",
                     "--plot", str(png)])
    out = capsys.readouterr().out
    assert rc == 0
    assert out.count("Cost after epoch 0:") == 3
    assert out.count("Cost after epoch 200:") == 3
    rows = {}
    for name in ("Gradient descent", "Momentum", "Adam"):
        line = next(l for l in out.splitlines() if l.startswith(name) and "%" in l)
        cost, accuracy = re.findall(r"(\d+\.\d+)(%?)", line)[:2]
        rows[name] = (float(cost[0]), float(accuracy[0]))
    assert rows["Adam"][0] < rows["Gradient descent"][0]
    assert rows["Adam"][0] < rows["Momentum"][0]
    assert png.stat().st_size > 0
