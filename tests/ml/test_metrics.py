"""ml.metrics against scikit-learn where it has the same metric, else brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from ml import metrics


@pytest.fixture
def scored():
    rng = np.random.default_rng(3)
    n = 2000
    score = rng.uniform(size=n)
    y = (rng.uniform(size=n) < score**2).astype(int)
    # ties on purpose
    score = np.round(score, 2)
    return y, score


def test_auc_matches_sklearn_with_ties_and_weights(scored):
    y, s = scored
    assert metrics.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    w = np.random.default_rng(0).uniform(0.1, 3, size=len(y))
    assert metrics.roc_auc(y, s, sample_weight=w) == pytest.approx(
        skm.roc_auc_score(y, s, sample_weight=w), abs=1e-12
    )
    assert np.isnan(metrics.roc_auc(np.ones(5), np.arange(5)))


def test_precision_recall_at_threshold_matches_sklearn(scored):
    y, s = scored
    at = metrics.precision_recall_at(y, s, 0.6)
    pred = (s >= 0.6).astype(int)
    assert at["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert at["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert np.isnan(metrics.precision_recall_at(y, s, 2.0)["precision"])


def test_threshold_for_recall_reaches_the_target_with_the_highest_threshold(scored):
    y, s = scored
    r = metrics.threshold_for_recall(y, s, 0.80)
    assert r["recall"] >= 0.80
    # a hair higher and recall falls below the target
    higher = np.unique(s[s > r["threshold"]])
    if len(higher):
        assert metrics.precision_recall_at(y, s, higher[0])["recall"] < 0.80
    prec, rec, thr = skm.precision_recall_curve(y, s)
    ok = rec[:-1] >= 0.80
    assert r["threshold"] == pytest.approx(thr[ok].max())
    assert r["precision"] == pytest.approx(prec[:-1][ok][np.argmax(thr[ok])])


def test_brier_accuracy_logloss_mae_match_sklearn(scored):
    y, s = scored
    assert metrics.brier(y, s) == pytest.approx(skm.brier_score_loss(y, s))
    assert metrics.accuracy(y, s) == pytest.approx(skm.accuracy_score(y, s >= 0.5))
    assert metrics.log_loss(y, s) == pytest.approx(skm.log_loss(y, np.clip(s, 1e-15, 1 - 1e-15)))
    f = s * 3
    assert metrics.mae(y, f) == pytest.approx(skm.mean_absolute_error(y, f))
    assert metrics.wape([1, 2, 3], [1, 1, 5]) == pytest.approx(3 / 6)
    assert np.isnan(metrics.wape([0, 0], [1, 1]))


def test_reliability_table_matches_sklearn_calibration_curve(scored):
    y, s = scored
    t = metrics.reliability_table(y, s, bins=10, strategy="uniform")
    prob_true, prob_pred = calibration_curve(y, s, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(t["observed_rate"], prob_true)
    np.testing.assert_allclose(t["mean_predicted"], prob_pred)
    q = metrics.reliability_table(y, s, bins=10)
    assert q["n"].sum() == len(y)
    assert len(q) >= 9  # deciles (ties may merge one)
    assert metrics.expected_calibration_error(y, s) < 0.35


def _brute_c(t, e, r):
    num = den = 0.0
    for i in range(len(t)):
        if not e[i]:
            continue
        for j in range(len(t)):
            if t[i] < t[j] or (t[i] == t[j] and not e[j] and i != j):
                den += 1
                num += 1.0 if r[i] > r[j] else 0.5 if r[i] == r[j] else 0.0
    return num / den


def test_concordance_matches_brute_force_with_ties():
    rng = np.random.default_rng(1)
    n = 300
    t = rng.integers(1, 40, size=n).astype(float)
    e = rng.uniform(size=n) < 0.6
    r = np.round(rng.normal(size=n) - 0.05 * t, 1)
    assert metrics.concordance_index(t, e, r) == pytest.approx(_brute_c(t, e, r), abs=1e-12)
    assert metrics.concordance_index(t, e, -t) > 0.95
    assert metrics.concordance_index(t, e, t) < 0.05
    assert np.isnan(metrics.concordance_index(t, np.zeros(n), r))


def test_ipcw_brier_is_unbiased_under_random_censoring():
    """With censoring independent of everything, the IPCW Brier and AUC of the true
    probability match those on the uncensored outcomes."""
    rng = np.random.default_rng(7)
    n = 40_000
    rate = rng.uniform(0.002, 0.05, size=n)
    T = rng.exponential(1 / rate)
    C = rng.uniform(0, 60, size=n)
    d, e = np.minimum(T, C), T <= C
    h = 30.0
    p = 1 - np.exp(-rate * h)
    churned = h >= T
    truth = metrics.brier(churned, p)
    assert metrics.horizon_brier(d, e, p, h) == pytest.approx(truth, rel=0.03)
    auc_true = metrics.roc_auc(churned, p)
    assert metrics.horizon_auc(d, e, p, h) == pytest.approx(auc_true, abs=0.01)


def test_reliability_table_handles_empty_input():
    t = metrics.reliability_table(np.array([]), np.array([]))
    assert isinstance(t, pd.DataFrame) and t.empty
