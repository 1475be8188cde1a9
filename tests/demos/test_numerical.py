"""Demo numerical: the course's theta^3 example and the error-vs-epsilon table."""

import numpy as np
import pytest

import fastgrad.demos as demos
from fastgrad.demos import numerical


def test_registered():
    assert demos.available()["numerical"] is numerical


def test_course_example():
    ex = numerical.course_example()
    # closed forms: ((1+e)^3 - (1-e)^3)/2e = 3 + e^2 ; ((1+e)^3 - 1)/e = 3 + 3e + e^2
    assert ex["two_sided"] == pytest.approx(3.0001, abs=1e-12)
    assert ex["one_sided"] == pytest.approx(3.0301, abs=1e-12)
    assert ex["two_sided_error"] == pytest.approx(1e-4, rel=1e-8)
    assert ex["one_sided_error"] == pytest.approx(0.0301, rel=1e-10)


def test_error_table_slopes_floor_and_the_cancellation_free_column():
    rows = np.array(numerical.error_table())
    eps, one, two, free = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 6]
    big = eps >= 1e-4  # truncation dominates: O(eps) and O(eps^2)
    np.testing.assert_allclose(one[big] / eps[big], 3 + eps[big], rtol=1e-6)
    np.testing.assert_allclose(two[big] / eps[big] ** 2, 1.0, rtol=1e-3)
    # the rounding floor: at 1e-12 both are far worse than at their optimum
    assert two[-1] > 1e3 * two.min() and one[-1] > 1e3 * one.min()
    # the cancellation-free difference: eps^2 plus the rounding of the result only
    assert np.all(np.abs(free - eps**2) <= 4 * np.finfo(float).eps * 3)


def test_cli_prints_the_table(capsys):
    assert demos.main(["numerical"]) == 0
    out = capsys.readouterr().out
    assert "3.0001" in out and "3.0301" in out
    assert "1.00e-12" in out and "fastgrad" in out


def test_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "n.png"
    assert demos.main(["numerical", "--plot", str(path)]) == 0
    assert path.stat().st_size > 1000
