"""Top factors in words: direction, value, grouping with the previous period, fallbacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.explain import LOWERS, RAISES, factor_sentences, readable_label, top_factors
from ml.features.info import info

INFO = {
    "engagement_score_14d": info(
        "engagement_score_14d", "engagement (14 days)", "engagement", "score",
        "engagement {value} (was {prev})", -1, compare_to="engagement_score_prev14d",
    ),
    "engagement_score_prev14d": info(
        "engagement_score_prev14d", "engagement (previous 14 days)", "engagement", "score",
        "engagement {value} in the previous 14 days", 0,
    ),
    "sessions_change_30d": info(
        "sessions_change_30d", "change in sessions", "volume", "change",
        "sessions {value} vs the previous 30 days", -1,
    ),
    "reschedules_7d": info(
        "reschedules_7d", "reschedules (7 days)", "reliability", "count",
        "{value} reschedule{s} in the last 7 days", 1,
    ),
    "avg_rating_30d": info(
        "avg_rating_30d", "average rating", "ratings", "rating", "average rating {value}", -1,
        missing="no ratings in the last 30 days",
    ),
}  # fmt: skip


def _frames():
    values = pd.DataFrame(
        {
            "engagement_score_14d": [0.32, 0.9, 0.5],
            "engagement_score_prev14d": [0.75, 0.85, 0.5],
            "sessions_change_30d": [-0.4, 0.1, 0.0],
            "reschedules_7d": [3, 0, 1],
            "avg_rating_30d": [4.1, 4.8, np.nan],
        },
        index=[415, 7, 9],
    )
    # churn margin contributions (ln-days): negative = sooner churn = more risk
    contribs = pd.DataFrame(
        {
            "engagement_score_14d": [-0.50, 0.20, 0.0],
            "engagement_score_prev14d": [-0.10, 0.01, 0.0],
            "sessions_change_30d": [-0.45, 0.05, 0.0],
            "reschedules_7d": [-0.30, 0.02, -0.0001],
            "avg_rating_30d": [0.05, 0.30, -0.2],
            "bias": [7.0, 7.0, 7.0],
        },
        index=values.index,
    )
    return contribs, values


def test_top_factors_carry_direction_value_and_words():
    contribs, values = _frames()
    f = top_factors(contribs, values, INFO, k=3, risk_sign=-1)
    sarah = f[f["row"] == 415].sort_values("rank")
    assert list(sarah["feature"]) == [
        "engagement_score_14d",
        "sessions_change_30d",
        "reschedules_7d",
    ]
    assert list(sarah["text"]) == [
        "engagement 0.32 (was 0.75)",
        "sessions down 40 % vs the previous 30 days",
        "3 reschedules in the last 7 days",
    ]
    assert (sarah["direction"] == RAISES).all()
    # the previous-period feature joins its partner: -0.5 + -0.1 -> +0.6 risk
    assert sarah["contribution"].iloc[0] == pytest.approx(0.6)
    assert sarah["value"].iloc[0] == pytest.approx(0.32)
    assert "engagement_score_prev14d" not in set(f["feature"])
    good = f[f["row"] == 7].sort_values("rank")
    assert good["feature"].iloc[0] == "avg_rating_30d"
    assert good["direction"].iloc[0] == LOWERS
    assert good["text"].iloc[0] == "average rating 4.8"


def test_missing_values_and_tiny_contributions():
    contribs, values = _frames()
    f = top_factors(contribs, values, INFO, k=3, risk_sign=-1, min_abs=1e-3)
    row9 = f[f["row"] == 9]
    # only the rating factor is above min_abs; its value is missing
    assert list(row9["feature"]) == ["avg_rating_30d"]
    assert row9["text"].iloc[0] == "no ratings in the last 30 days"
    assert row9["direction"].iloc[0] == RAISES
    assert np.isnan(row9["value"].iloc[0])


def test_features_without_info_get_readable_labels():
    contribs = pd.DataFrame({"f17": [-0.4], "sessions_change_30d": [0.1], "bias": [1.0]})
    values = pd.DataFrame({"f17": [3.0], "sessions_change_30d": [-0.4]})
    f = top_factors(contribs, values, {}, k=5, risk_sign=-1)
    assert list(f["text"]) == ["feature 17: 3", "sessions change 30d: -0.40"]
    assert list(f["direction"]) == [RAISES, LOWERS]
    assert not any(t.startswith("f17") for t in f["text"])
    assert readable_label("days__since_last_login") == "days since last login"


def test_categories_are_shown_as_they_are():
    contribs = pd.DataFrame({"subject": [0.4, -0.2], "hour_band": [0.3, 0.0]}, index=[5, 6])
    values = pd.DataFrame({"subject": ["spanish", None], "hour_band": ["early morning", "x"]},
                          index=[5, 6])  # fmt: skip
    f = top_factors(contribs, values, {}, k=2, risk_sign=+1)
    assert list(f["text"]) == ["subject: spanish", "hour band: early morning", "subject: unknown"]
    assert list(f["direction"]) == [RAISES, RAISES, LOWERS]


def test_log_odds_models_use_a_positive_sign():
    contribs = pd.DataFrame({"reschedules_7d": [0.8]})
    values = pd.DataFrame({"reschedules_7d": [1]})
    f = top_factors(contribs, values, INFO, risk_sign=+1)
    assert f["direction"].iloc[0] == RAISES
    assert f["text"].iloc[0] == "1 reschedule in the last 7 days"
    sentences = factor_sentences(f)
    assert sentences.iloc[0] == "1 reschedule in the last 7 days (raises risk)"


def test_empty_input_gives_an_empty_frame():
    contribs, values = _frames()
    f = top_factors(contribs.iloc[:0], values.iloc[:0], INFO)
    assert f.empty and "text" in f.columns


def test_vectorised_over_many_rows():
    rng = np.random.default_rng(0)
    n, p = 50_000, 60
    names = [f"feat_{i}" for i in range(p)]
    contribs = pd.DataFrame(rng.normal(size=(n, p)), columns=names)
    values = pd.DataFrame(rng.integers(0, 20, size=(n, p)).astype(float), columns=names)
    f = top_factors(contribs, values, {}, k=3)
    assert len(f) == 3 * n
    # ranks ordered by magnitude within each row
    first = f[f["rank"] == 1]["contribution"].abs().to_numpy()
    third = f[f["rank"] == 3]["contribution"].abs().to_numpy()
    assert np.all(first >= third)


def test_explains_a_real_churn_model_the_right_way():
    from ml.churn import ChurnModel

    rng = np.random.default_rng(4)
    n = 4000
    X = pd.DataFrame({"reschedules_7d": rng.poisson(1.0, n).astype(float),
                      "noise": rng.normal(size=n)})  # fmt: skip
    lam = 200 * np.exp(-0.8 * X["reschedules_7d"].to_numpy())
    T = rng.exponential(lam)
    d, e = np.minimum(T, 90), T <= 90
    m = ChurnModel(distributions=("extreme",), scales=(1.0,), nthread=2)
    m.fit(X.iloc[:3000], d[:3000], e[:3000], valid=(X.iloc[3000:], d[3000:], e[3000:]))
    probe = pd.DataFrame({"reschedules_7d": [5.0, 0.0], "noise": [0.0, 0.0]})
    f = top_factors(m.contributions(probe), probe, INFO, k=1, risk_sign=-1)
    assert list(f["feature"]) == ["reschedules_7d", "reschedules_7d"]
    assert list(f["direction"]) == [RAISES, LOWERS]
    assert f["text"].iloc[0] == "5 reschedules in the last 7 days"


def test_a_part_joins_the_factor_it_belongs_to():
    # Two other measures of the same engagement fall: one fact to a reader, worded by
    # the head feature, their contributions added to it.
    part_info = {
        **INFO,
        "engagement_vs_usual": info(
            "engagement_vs_usual", "engagement vs usual", "engagement", "points",
            "engagement {value} vs the usual", -1, part_of="engagement_score_14d",
        ),
    }  # fmt: skip
    contribs, values = _frames()
    contribs.insert(0, "engagement_vs_usual", [-0.40, 0.0, 0.0])
    values["engagement_vs_usual"] = [-0.5, 0.0, 0.0]
    f = top_factors(contribs, values, part_info, k=3, risk_sign=-1)
    sarah = f[f["row"] == 415].sort_values("rank")
    assert sarah["feature"].iloc[0] == "engagement_score_14d"
    assert sarah["text"].iloc[0] == "engagement 0.32 (was 0.75)"
    assert sarah["contribution"].iloc[0] == pytest.approx(1.0)  # 0.5 + 0.1 + 0.4
    assert "engagement_vs_usual" not in set(f["feature"])
    # Without the link it would be a factor of its own.
    alone = top_factors(contribs, values, INFO, k=3, risk_sign=-1)
    assert "engagement_vs_usual" in set(alone["feature"])
