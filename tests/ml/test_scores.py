"""Scores and tiers of DOMAIN.md on hand-computed rows and at their boundaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml import scores
from ml.noshow import noshow_risk, tutor_noshow_risk
from ml.scores import (
    SessionsForecast,
    customer_health,
    customer_tier,
    health_segment,
    performance_tier,
    risk_tier,
    tutor_health,
    tutor_performance,
)


def test_risk_tier_boundaries():
    p = [0.70, 0.6999, 0.5, 0.4999, 0.25, 0.2499, 0.0, 1.0, np.nan]
    assert list(risk_tier(p)) == [
        "Critical", "High", "High", "Medium", "Medium", "Low", "Low", "Critical", "Unknown",
    ]  # fmt: skip
    # float noise at the boundary still reads the boundary's tier
    assert risk_tier([0.1 * 7])[0] == "Critical"  # 0.7000000000000001
    assert risk_tier([0.35 + 0.35])[0] == "Critical"


def test_performance_segment_and_customer_tier_boundaries():
    assert list(performance_tier([85, 84.99, 70, 69.99, 55, 54.99, np.nan])) == [
        "Platinum", "Gold", "Gold", "Silver", "Silver", "Bronze", "Unknown",
    ]  # fmt: skip
    assert list(health_segment([80.01, 80, 60, 59.99, 40, 39.99])) == [
        "Star", "Healthy", "Healthy", "At-Risk", "At-Risk", "Churning",
    ]  # fmt: skip
    assert list(customer_tier([40, 40.5, 41, 70, 71, 85, 86, 100, 0])) == [
        "Critical", "At Risk", "At Risk", "At Risk", "Healthy", "Healthy", "Thriving",
        "Thriving", "Critical",
    ]  # fmt: skip


def _tutor(**values) -> pd.DataFrame:
    return pd.DataFrame([values])


def test_performance_score_by_hand():
    row = _tutor(
        rating_avg_30d=4.0,
        first_session_success_rate=0.8,
        tutor_reschedule_rate_90d=0.05,
        no_show_rate_90d=0.05,
        engagement_score_14d=0.6,
    )
    out = tutor_performance(row).iloc[0]
    # 35 * 4/5 + 25 * 0.8 + 25 * (1 - 0.10) + 15 * 0.6
    assert out["performance_score"] == pytest.approx(28 + 20 + 22.5 + 9)
    assert out["performance_tier"] == "Gold"
    assert out["perf_rating"] == pytest.approx(28)
    assert not out["no_ratings"]


def test_performance_score_exactly_on_a_boundary():
    exact = _tutor(
        rating_avg_30d=5.0, first_session_success_rate=1.0, tutor_reschedule_rate_90d=0.0,
        no_show_rate_90d=0.0, engagement_score_14d=0.0,
    )  # fmt: skip
    assert tutor_performance(exact)["performance_tier"].iloc[0] == "Platinum"  # 85
    noisy = _tutor(
        rating_avg_30d=4.0, first_session_success_rate=0.6, tutor_reschedule_rate_90d=0.2,
        no_show_rate_90d=0.14, engagement_score_14d=0.7,
    )  # fmt: skip
    out = tutor_performance(noisy).iloc[0]
    assert out["performance_score"] == 70.0  # 28 + 15 + 16.5 + 10.5, float noise rounded
    assert out["performance_tier"] == "Gold"


def test_rating_falls_back_to_all_time_then_to_the_prior_with_a_flag():
    """30-day average only on 5+ ratings (2 here): else all time; nothing: the prior."""
    rows = pd.DataFrame(
        {
            "rating_avg_30d": [4.5, np.nan],
            "ratings_30d": [2, 0],
            "rating_avg_all": [3.0, np.nan],
            "first_session_success_rate": [np.nan, np.nan],
            "tutor_reschedule_rate_90d": [np.nan, np.nan],
            "no_show_rate_90d": [np.nan, np.nan],
            "engagement_score_14d": [np.nan, np.nan],
        },
        index=[11, 12],
    )
    out = tutor_performance(rows)
    assert out.index.tolist() == [11, 12]
    assert out.loc[11, "perf_rating"] == pytest.approx(35 * 3 / 5)
    assert not out.loc[11, "no_ratings"] and out.loc[12, "no_ratings"]
    # nothing known: the stated neutral values, never NaN
    assert out.loc[12, "performance_score"] == pytest.approx(
        35 * 4.3 / 5 + 25 * 0.75 + 25 * 0.93 + 15 * 0.5
    )
    assert out[["no_first_sessions", "no_sessions", "no_engagement"]].all().all()
    assert out["performance_score"].notna().all()


def test_a_frame_without_the_columns_still_scores():
    out = tutor_performance(pd.DataFrame(index=[1, 2, 3]))
    assert out["performance_score"].notna().all()
    assert out["no_ratings"].all()
    h = tutor_health(pd.DataFrame(index=[1, 2, 3]), [np.nan, 0.1, 0.9])
    assert h["health_score"].notna().all()
    assert list(h["no_churn_prediction"]) == [True, False, False]
    assert tutor_performance(pd.DataFrame()).empty


def test_tutor_health_by_hand():
    row = _tutor(
        rating_avg_30d=4.0,
        tutor_reschedule_rate_90d=0.05,
        no_show_rate_90d=0.05,
        engagement_score_14d=0.5,
        sessions_change_30d=-0.25,
        hours_offered_change_14d=0.0,
    )
    out = tutor_health(row, [0.2]).iloc[0]
    # 30 * 0.8 + 20 * 0.5 + 15 * 0.75 + 15 * 0.5 + 10 * 0.9 + 10 * 1
    assert out["health_score"] == pytest.approx(24 + 10 + 11.25 + 7.5 + 9 + 10)
    assert out["health_segment"] == "Healthy"
    assert not out["burnout"]


def test_burnout_needs_high_load_and_a_decline():
    base = dict(utilization_14d=0.9, sessions_7d=8, rating_trend_7d_vs_30d=-0.4,
                rating_change_30d=0.0, reply_minutes_14d=30, reply_minutes_30d=30)  # fmt: skip
    rows = pd.DataFrame(
        [
            base,  # high load + ratings falling
            {**base, "rating_trend_7d_vs_30d": 0.0, "reply_minutes_14d": 60},  # replies slower
            {**base, "rating_trend_7d_vs_30d": 0.0},  # high load, no decline
            {**base, "utilization_14d": 0.5},  # decline without high load
            {**base, "sessions_7d": np.nan, "utilization_14d": np.nan},  # unknown load
        ]
    )
    b = scores.burnout(rows)
    assert list(b["burnout"]) == [True, True, False, False, False]
    h = tutor_health(rows, np.full(5, 0.1))
    assert (h.loc[b["burnout"], "health_burnout_penalty"] == -10).all()
    assert (h.loc[~b["burnout"], "health_burnout_penalty"] == 0).all()


def test_sarah_chen_reads_at_risk_or_worse_on_health():
    sarah = _tutor(
        rating_avg_30d=4.1, sessions_change_30d=-0.4, engagement_score_14d=0.32,
        tutor_reschedule_rate_90d=0.12, no_show_rate_90d=0.0, hours_offered_change_14d=-0.3,
    )  # fmt: skip
    h = tutor_health(sarah, [0.72]).iloc[0]
    assert h["health_segment"] in ("At-Risk", "Churning")
    assert risk_tier([0.72])[0] == "Critical"


def test_customer_health_by_hand_and_the_five_parts():
    rows = pd.DataFrame(
        {
            "first_session_success_rate": [1.0, 0.5],
            "sessions_per_week": [0.5, 0.0],
            "sessions_30d": [4, 0],
            "sessions_prev_30d": [4, 0],
            "calls_14d": [1, 2],
            "goal_completed": [0, 1],
            "goal_in_progress": [1, 0],
            "tutor_consistency_90d": [0.9, 1.0],
        },
        index=[101, 102],
    )
    out = customer_health(rows)
    a = out.loc[101]
    assert [a["part_first_session"], a["part_velocity"], a["part_calls"], a["part_goal"],
            a["part_consistency"]] == pytest.approx([100, 50, 50, 70, 90])  # fmt: skip
    assert a["health_score"] == pytest.approx(72.0)
    assert a["health_tier"] == "Healthy"
    b = out.loc[102]
    assert b["health_score"] == pytest.approx(40.0)  # 0.3 * 50 + 0.15 * 100 + 0.10 * 100
    assert b["health_tier"] == "Critical"


def test_customer_health_velocity_halved_and_missing_data():
    rows = pd.DataFrame(
        {
            "sessions_per_week": [2.0, np.nan],
            "sessions_30d": [4, np.nan],
            "sessions_prev_30d": [10, np.nan],
            "calls_14d": [0, np.nan],
        }
    )
    out = customer_health(rows)
    assert out.loc[0, "velocity_halved"]
    assert out.loc[0, "part_velocity"] == pytest.approx(50)
    assert out["health_score"].notna().all()
    assert out.loc[1, "no_first_session"] and out.loc[1, "no_tutor_history"]
    assert out.loc[1, "part_first_session"] == pytest.approx(70)
    assert out.loc[1, "part_goal"] == pytest.approx(40)


def test_noshow_risk_weights_by_hand():
    r = noshow_risk([0.05], [0.10], [0.5]).iloc[0]
    # 0.4 * 0.05/0.10 + 0.2 * 0.10/0.25 + 0.2 * 0.15 + 0.2 * 0.5
    assert r["noshow_risk"] == pytest.approx(0.2 + 0.08 + 0.03 + 0.1)
    worst = noshow_risk([0.5], [0.6], [1.0]).iloc[0]
    assert worst["noshow_risk"] == pytest.approx(1.0)
    none = noshow_risk([np.nan], [np.nan], [np.nan]).iloc[0]
    assert none["no_history"] and none["no_churn_prediction"]
    assert 0 < none["noshow_risk"] < 0.3


def test_tutor_noshow_risk_from_features():
    X = pd.DataFrame({"no_show_rate_90d": [0.0, 0.1], "tutor_reschedule_rate_90d": [0.0, 0.25]},
                     index=[5, 6])  # fmt: skip
    out = tutor_noshow_risk(X, [0.0, 1.0])
    assert out.index.tolist() == [5, 6]
    assert out.loc[5, "noshow_risk"] == pytest.approx(0.0)
    assert out.loc[6, "noshow_risk"] == pytest.approx(0.4 + 0.2 + 0.2 * 0.35 + 0.2)


def test_sessions_forecast_beats_naive_on_count_data(tmp_path):
    rng = np.random.default_rng(0)

    def sample(n):
        rate = rng.gamma(2.0, 2.0, n)
        X = pd.DataFrame(
            {
                "upcoming_sessions_7d": rng.poisson(0.7 * rate),
                "sessions_7d": rng.poisson(rate),
                "sessions_14d": rng.poisson(2 * rate),
                "sessions_30d": rng.poisson(4.3 * rate),
                "sessions_prev_30d": rng.poisson(4.3 * rate),
                "hours_offered_14d": rng.poisson(2.5 * rate),
                "engagement_score_14d": rng.uniform(0.3, 0.9, n),
                "tenure_days": rng.integers(10, 900, n),
            }
        )
        # what is booked happens (but a tenth is cancelled), plus late bookings
        y = rng.binomial(X["upcoming_sessions_7d"], 0.9) + rng.poisson(0.3 * rate)
        return X, y.astype(float)

    X, y = sample(4000)
    Xt, yt = sample(2000)
    m = SessionsForecast().fit(X, y)
    ev = m.evaluate(Xt, yt)
    assert ev["mae"] < ev["mae_last_7d"]
    assert ev["mae"] < ev["mae_booked"]
    m.save(tmp_path)
    again = SessionsForecast.load(tmp_path)
    assert np.array_equal(again.predict(Xt), m.predict(Xt))
    Xt.loc[0, "sessions_7d"] = np.nan
    assert np.isfinite(m.predict(Xt)).all()


def test_every_demo_tutor_and_customer_gets_defined_scores(demo_frames, demo_world):
    from ml.features.customer import customer_features
    from ml.features.tutor import tutor_features

    now = demo_frames.observed_until
    X = tutor_features(demo_frames, now)
    p30 = np.linspace(0, 1, len(X))
    perf, health = tutor_performance(X), tutor_health(X, p30)
    for frame in (perf, health):
        assert not frame.isna().any().any()
    assert set(perf["performance_tier"]) <= {"Platinum", "Gold", "Silver", "Bronze"}
    assert set(health["health_segment"]) <= {"Star", "Healthy", "At-Risk", "Churning"}
    assert perf["performance_score"].between(0, 100).all()
    assert health["health_score"].between(0, 100).all()
    mike = demo_world.personas["mike_ross"]
    # 35 * 3.8/5 + 25 * 0.4 + 25 * reliability + 15 * 0.55
    assert perf.loc[mike, "perf_rating"] == pytest.approx(35 * 3.8 / 5)
    assert perf.loc[mike, "perf_first_session"] == pytest.approx(25 * 0.4)
    C = customer_features(demo_frames, now)
    ch = customer_health(C)
    assert not ch.isna().any().any() and len(ch) == len(C)
    assert set(ch["health_tier"]) <= {"Critical", "At Risk", "Healthy", "Thriving"}
