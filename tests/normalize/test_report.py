"""fastgrad.normalize.report: the train/test distribution report, checked
against plain NumPy statistics computed here."""

import numpy as np
import pytest

from fastgrad import Normalizer
from fastgrad.normalize.report import DistributionReport

rng = np.random.default_rng(11)
TRAIN = rng.standard_normal((2000, 4)) * [1.0, 2.0, 3.0, 0.0] + [0.0, 5.0, -1.0, 7.0]


def test_numbers_are_the_numpy_statistics_of_the_normalized_set():
    norm = Normalizer().fit(TRAIN)
    test = rng.standard_normal((500, 4)) * [1.0, 2.0, 6.0, 0.0] + [0.0, 7.0, -1.0, 7.0]
    rep = norm.report(test)
    mu, sd = TRAIN.mean(axis=0), TRAIN.std(axis=0)
    scale = np.where(sd == 0, 1.0, sd)
    np.testing.assert_allclose(rep.test_mean, test.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rep.test_std, test.std(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rep.mean_shift, (test.mean(0) - mu) / scale, atol=1e-12)
    np.testing.assert_allclose(rep.std_ratio, test.std(0) / scale, rtol=1e-12, atol=1e-12)
    # feature 1 moved by 1 σ, feature 2 doubled its spread; 3 is constant
    assert rep.flagged.tolist() == [False, True, True, False]
    assert rep.constant.tolist() == [False, False, False, True]
    assert not rep.ok and rep.n_train == 2000 and rep.n_test == 500


def test_the_table_lists_flagged_features_first_and_respects_max_rows():
    norm = Normalizer().fit(TRAIN)
    test = TRAIN[:300] + [0.0, 10.0, 0.0, 0.0]
    text = str(norm.report(test, max_rows=2))
    assert "1 of 4 feature(s) flagged" in text
    body = [line for line in text.splitlines() if line.startswith("|")]
    assert body[2].split("|")[1].strip() == "1" and "FLAG" in body[2]
    assert "(2 more feature(s) not shown)" in text
    assert repr(norm.report(test)).startswith("<DistributionReport: 1 of 4 features flagged")


def test_the_training_set_itself_is_not_flagged_and_names_are_used():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(TRAIN, columns=["a", "b", "c", "d"])
    norm = Normalizer().fit(df)
    rep = norm.report(df)
    assert rep.ok and "No feature flagged" in str(rep)
    assert np.abs(rep.mean_shift).max() < 1e-12
    assert rep.feature_names == ["a", "b", "c", "d"] and "| d " in str(rep)


def test_tolerances_are_validated_and_with_std_false_is_refused():
    norm = Normalizer().fit(TRAIN)
    with pytest.raises(ValueError, match="mean_tol"):
        norm.report(TRAIN, mean_tol=0)
    with pytest.raises(ValueError, match="std_tol"):
        norm.report(TRAIN, std_tol=1.0)
    with pytest.raises(ValueError, match="with_std=False"):
        Normalizer(with_std=False).fit(TRAIN).report(TRAIN)


def test_a_report_built_directly_flags_by_its_rule():
    rep = DistributionReport(
        train_mean=np.zeros(3),
        train_std=np.array([1.0, 1.0, 0.0]),
        scale=np.array([1.0, 1.0, 1.0]),
        constant=np.array([False, False, True]),
        test_mean=np.array([0.2, 0.0, 0.0]),
        test_std=np.array([1.0, 1.6, 0.3]),
        n_train=10,
        n_test=5,
        mean_tol=0.25,
        std_tol=1.5,
    )
    assert rep.flagged.tolist() == [False, True, True]


# -- report of a set where a feature has no values -----------------------------------------


def test_report_names_a_feature_with_no_values():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(3)
    train = rng.standard_normal((200, 3))
    test = rng.standard_normal((50, 3))
    test[:, 1] = np.nan
    before = test.tobytes()
    rep = Normalizer().fit(pd.DataFrame(train, columns=["p", "q", "r"])).report(
        pd.DataFrame(test, columns=["p", "q", "r"]))
    assert test.tobytes() == before
    assert rep.empty.tolist() == [False, True, False]
    assert rep.flagged[1] and not rep.ok
    assert rep.n_valid.tolist() == [50, 0, 50]
    text = str(rep)
    assert "nan" not in text.lower()
    assert "1 feature(s) have no values in X (every entry missing): q." in text
    row = next(line for line in text.splitlines() if line.startswith("| q "))
    assert "FLAG" in row and "no values in X" in row
    # The other features' numbers are plain NumPy statistics of the set.
    np.testing.assert_allclose(rep.test_mean[[0, 2]], test[:, [0, 2]].mean(axis=0), rtol=1e-12)


def test_a_weighted_fit_reports_its_weight_sum_not_a_fractional_count():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 3))
    w = rng.random(100)
    head = str(Normalizer().fit(X, sample_weight=w).report(X)).splitlines()[0]
    assert f"from a sample weight of {w.sum():.6g}, 3 features" in head
    head = str(Normalizer().fit(X).report(X)).splitlines()[0]
    assert "from 100 samples, 3 features" in head
    # whole-number weights are weights too: 100 rows of weight 2 are not 200 samples
    head = str(Normalizer().fit(X, sample_weight=np.full(100, 2.0)).report(X)).splitlines()[0]
    assert "from a sample weight of 200, 3 features" in head
