"""services.analytics on constructed data: every figure the Analytics tab shows is
checked against a hand count, a pandas group-by or scipy/statsmodels on known data."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from services.analytics.cohorts import retention_curves
from services.analytics.first_session_drivers import first_session_drivers
from services.analytics.risk_heatmap import BANDS, risk_heatmap
from services.analytics.star_lagging import DEFINING, split_top_bottom, star_vs_lagging
from services.analytics.stats import benjamini_hochberg, cliff_delta, cohen_d, compare, welch

T = pd.Timestamp


# ---------------------------------------------------------------------- retention


def test_retention_is_a_hand_count_and_stops_where_the_cohort_stops():
    starts = pd.Series(
        {
            1: T("2026-06-01", tz="UTC"),
            2: T("2026-06-10", tz="UTC"),
            3: T("2026-06-20", tz="UTC"),
            4: T("2026-06-30", tz="UTC"),
            5: T("2026-07-05", tz="UTC"),  # July: one member
            6: T("2026-08-25", tz="UTC"),  # August: hired a week before the settled end
            7: T("2026-04-15", tz="UTC"),  # April: before the history starts
        }
    )
    churned = pd.Series(
        {
            1: T("2026-06-20", tz="UTC"),  # 19 days in: gone by week 3
            2: pd.NaT,
            3: T("2026-07-25", tz="UTC"),  # 35 days in: gone by week 5
            4: T("2026-10-15", tz="UTC"),  # after the settled end: still active here
            5: pd.NaT,
            6: pd.NaT,
            7: pd.NaT,
        }
    )
    r = retention_curves(
        starts,
        churned.dt.tz_convert("UTC"),
        observed_until=T("2026-09-30", tz="UTC"),
        history_start=T("2026-05-10", tz="UTC"),
    )
    assert r.settled_until == T("2026-08-31", tz="UTC")
    by = {c.label: c for c in r.cohorts}
    # April is older than the history (survivors only); August's last member has not
    # been followed a full week by the settled end (Aug 25 + 7 d > Aug 31).
    assert set(by) == {"Jun 2026", "Jul 2026"}
    assert r.skipped_before == 1
    june = by["Jun 2026"]
    assert june.size == 4
    # Every member followed: (Aug 31 - Jun 30) // 7 = 8 weeks, no further.
    assert june.weeks == tuple(range(9))
    hand = []
    for k in june.weeks:
        active = sum(
            1
            for t in (1, 2, 3, 4)
            if pd.isna(churned[t]) or churned[t] > starts[t] + pd.Timedelta(weeks=k)
        )
        hand.append(active)
    assert list(june.still_active) == hand == [4, 4, 4, 3, 3, 2, 2, 2, 2]
    assert june.retained == tuple(a / 4 for a in hand)
    july = by["Jul 2026"]
    assert july.weeks[-1] == (T("2026-08-31") - T("2026-07-05")).days // 7


# ---------------------------------------------------------------------- heatmap


def test_heatmap_cells_are_a_groupby_and_small_cells_are_hidden():
    rng = np.random.default_rng(3)
    n = 400
    ids = np.arange(1, n + 1)
    subjects_pool = ["algebra", "physics", "reading", "spanish"]
    subjects = pd.Series(
        [list(rng.choice(subjects_pool, size=rng.integers(1, 3), replace=False)) for _ in ids],
        index=ids,
    )
    tenure = pd.Series(rng.choice([10, 45, 120, 300, 800, 2000], size=n), index=ids, dtype=float)
    risk = pd.Series(rng.random(n), index=ids)
    risk.iloc[:5] = np.nan  # unscored tutors are left out
    h = risk_heatmap(risk, subjects, tenure, min_n=10)

    long = pd.DataFrame({"risk": risk, "subject": subjects, "tenure": tenure}).dropna()
    long = long.explode("subject")
    long["band"] = pd.cut(
        long["tenure"], [b[1] for b in BANDS] + [np.inf], right=False, labels=False
    )
    expected = long.groupby(["subject", "band"])["risk"].agg(["mean", "size"])
    assert h.subjects == tuple(subjects_pool)
    checked = hidden = 0
    for i, s in enumerate(h.subjects):
        for b in range(len(BANDS)):
            if (s, b) not in expected.index:
                assert h.count[i][b] == 0 and h.mean[i][b] is None
                continue
            m, size = expected.loc[(s, b)]
            assert h.count[i][b] == size
            if size >= 10:
                assert h.mean[i][b] == pytest.approx(m)
                checked += 1
            else:
                assert h.mean[i][b] is None
                hidden += 1
    assert checked >= 10
    assert h.tutors == n - 5
    assert h.overall == pytest.approx(risk.mean())
    # A cell of 3 tutors keeps its count but shows no mean.
    three = risk.index[5:8]
    few = risk_heatmap(risk[three], pd.Series([["x"]] * 3, index=three), tenure)
    assert sum(few.count[0]) == 3
    assert all(m is None for m in few.mean[0])


# ---------------------------------------------------------------------- statistics


def test_welch_effect_sizes_and_bh_match_scipy_and_statsmodels():
    rng = np.random.default_rng(11)
    a = rng.normal(1.0, 1.0, 40)
    b = rng.normal(0.4, 2.0, 70)
    t, p = welch(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert t == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)
    pooled = math.sqrt((39 * a.var(ddof=1) + 69 * b.var(ddof=1)) / 108)
    assert cohen_d(a, b) == pytest.approx((a.mean() - b.mean()) / pooled)
    pairs = [np.sign(x - y) for x, y in itertools.product(a, b)]
    assert cliff_delta(a, b) == pytest.approx(np.mean(pairs))
    ps = [0.001, 0.04, 0.03, 0.2, np.nan, 0.012]
    adjusted = benjamini_hochberg(ps)
    ref_adj = multipletests([x for x in ps if np.isfinite(x)], method="fdr_bh")[1]
    assert np.isnan(adjusted[4])
    np.testing.assert_allclose(np.delete(adjusted, 4), ref_adj)
    # A NaN in the data is dropped, not propagated.
    assert welch(np.append(a, np.nan), b)[1] == pytest.approx(ref.pvalue)


def test_compare_sorts_by_effect_and_says_it_in_words():
    rng = np.random.default_rng(2)
    rows = compare(
        [
            ("noise", "Noise", rng.normal(0, 1, 50), rng.normal(0, 1, 50)),
            ("big", "Big", rng.normal(3, 1, 50), rng.normal(0, 1, 50)),
        ],
        names=("stars", "lagging"),
        fmt={"big": "{:.1f}"},
    )
    assert [r.feature for r in rows] == ["big", "noise"]
    assert rows[0].significant and rows[0].meaning.startswith("Stars higher in")
    assert "(large)" in rows[0].meaning
    assert rows[1].meaning == "No real difference"


# ---------------------------------------------------------------------- stars vs lagging


def test_star_vs_lagging_finds_a_planted_difference_and_nothing_else():
    rng = np.random.default_rng(7)
    n = 400
    score = pd.Series(rng.uniform(20, 100, n), index=np.arange(1000, 1000 + n))
    frame = pd.DataFrame({"performance_score": score})
    # Planted: utilization follows the score; the rest is independent noise.
    frame["utilization_14d"] = 0.3 + 0.005 * score + rng.normal(0, 0.05, n)
    for col in ("sessions_30d", "tenure_days", "hourly_rate", "years_experience"):
        frame[col] = rng.gamma(2.0, 10.0, n)
    frame["rating_avg_30d"] = 3 + score / 50  # in the score: marked, not a finding
    out = star_vs_lagging(frame)
    assert out is not None
    assert out.n_star == out.n_lagging == 40
    top, bottom = split_top_bottom(frame["performance_score"])
    assert out.star_cutoff == pytest.approx(score.sort_values().iloc[-40])
    assert out.lagging_cutoff == pytest.approx(score.sort_values().iloc[39])
    by = {r.feature: r for r in out.rows}
    planted = by["utilization_14d"]
    ref = stats.ttest_ind(
        frame.loc[top, "utilization_14d"], frame.loc[bottom, "utilization_14d"], equal_var=False
    )
    assert planted.p == pytest.approx(ref.pvalue)
    assert planted.p_adjusted < 1e-6 and planted.cohen_d > 2
    assert by["rating_avg_30d"].in_definition and "rating_avg_30d" in DEFINING
    findings = [r for r in out.rows if not r.in_definition]
    assert findings[0].feature == "utilization_14d"
    for col in ("sessions_30d", "tenure_days", "hourly_rate", "years_experience"):
        assert not by[col].significant, col
    # Too few tutors: no split.
    assert star_vs_lagging(frame.iloc[:10]) is None


# ---------------------------------------------------------------------- first sessions


def _first_session_rows(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = np.arange(1, n + 1)
    rating = rng.normal(4.3, 0.3, n)
    poor = (rng.random(n) < np.clip(0.9 - 0.18 * rating, 0.02, 0.9)).astype(float)
    subject = rng.choice(["algebra", "physics", "reading"], n)
    poor[subject == "physics"] = np.maximum(poor[subject == "physics"], rng.random(
        (subject == "physics").sum()) < 0.3)  # fmt: skip
    rows = pd.DataFrame(
        {
            "tutor_rating_avg": rating,
            "tutor_first_session_success_rate": rng.uniform(0.5, 1, n),
            "tutor_sessions_completed": rng.poisson(40, n),
            "tutor_engagement_score": rng.uniform(0, 1, n),
            "tutor_reschedule_rate": rng.uniform(0, 0.1, n),
            "tutor_no_show_rate": rng.uniform(0, 0.05, n),
            "tutor_tenure_days": rng.uniform(10, 900, n),
            "student_age": rng.integers(8, 19, n).astype(float),
            "local_hour": rng.integers(0, 24, n),
            "is_weekend": rng.integers(0, 2, n),
            "tutor_first_sessions_rated": rng.integers(0, 12, n),
            "subject": subject,
            "poor": poor,
        },
        index=pd.Index(ids, name="session_id"),
    )
    sessions = pd.DataFrame(
        {
            "id": ids,
            "technical_issue": rng.random(n) < 0.05,
            "reschedule_count": rng.integers(0, 2, n),
        }
    )
    return rows, sessions


def test_first_session_t_tests_and_rates_match_scipy_and_a_groupby():
    rng = np.random.default_rng(5)
    rows, sessions = _first_session_rows(3000, rng)
    end = T("2026-11-20", tz="UTC")
    out = first_session_drivers(rows, sessions, start=end - pd.Timedelta(days=90), end=end)
    assert out is not None
    poor = rows["poor"] > 0.5
    assert out.sessions == 3000 and out.poor == int(poor.sum())
    by = {r.feature: r for r in out.numeric}
    ref = stats.ttest_ind(
        rows.loc[~poor, "tutor_rating_avg"], rows.loc[poor, "tutor_rating_avg"], equal_var=False
    )
    rating = by["tutor_rating_avg"]
    assert rating.p == pytest.approx(ref.pvalue) and rating.t == pytest.approx(ref.statistic)
    assert rating.mean_a == pytest.approx(rows.loc[~poor, "tutor_rating_avg"].mean())
    assert out.numeric[0].feature == "tutor_rating_avg"  # the planted driver leads
    assert rating.significant and rating.cliff_delta > 0
    subject = [f for f in out.factors if f.factor == "Subject"]
    expected = rows.groupby("subject")["poor"].agg(["mean", "size"])
    for f in subject:
        assert f.poor_rate == pytest.approx(expected.loc[f.level, "mean"])
        assert f.sessions == expected.loc[f.level, "size"]
    chi = stats.chi2_contingency(pd.crosstab(rows["subject"], poor).to_numpy(), correction=False)
    assert subject[0].p == pytest.approx(chi.pvalue)
    physics = next(f for f in subject if f.level == "physics")
    assert physics.vs_overall > 0.05 and physics.p_adjusted < 0.001
    # Too few sessions: nothing to compare.
    assert first_session_drivers(rows.iloc[:10], sessions, start=end, end=end) is None
