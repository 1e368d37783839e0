"""The world has causal structure a model can learn, not noise (checked on ``demo``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.engagement import engagement_score
from services.api.rails_time import US_PER_DAY, US_PER_HOUR
from services.sandbox.world.config import SCALES

from .conftest import ANCHOR_US, visible

D = US_PER_DAY


def _login_share(events: pd.DataFrame, tutor_ids: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Share of the 14 days before ``at`` with a login, per tutor."""
    logins = events[events.event_type == "login"]
    by_tutor = {k: g.occurred_at.to_numpy() for k, g in logins.groupby("tutor_id")}
    out = []
    for tid, t in zip(tutor_ids, at, strict=True):
        times = by_tutor.get(tid, np.zeros(0, dtype=np.int64))
        inside = times[(times >= t - 14 * D) & (times < t)]
        out.append(len(np.unique(inside // D)) / 14)
    return np.array(out)


def _completed_between(sessions: pd.DataFrame, tutor_ids, lo, hi) -> np.ndarray:
    done = sessions[sessions.status == "completed"]
    by_tutor = {k: g.start_time.to_numpy() for k, g in done.groupby("tutor_id")}
    out = []
    for tid, a, b in zip(tutor_ids, lo, hi, strict=True):
        t = by_tutor.get(tid, np.zeros(0, dtype=np.int64))
        out.append(((t >= a) & (t < b)).sum())
    return np.array(out)


@pytest.mark.parametrize("scale", ["tiny", "demo"])
def test_counts_at_the_anchor_follow_the_scale(scale, tiny_world, demo_world):
    world = tiny_world if scale == "tiny" else demo_world
    knobs = SCALES[scale]
    f = {n: visible(log, ANCHOR_US) for n, log in world.logs.items()}
    active_tutors = (f["tutors"].status == "active").sum()
    assert abs(active_tutors - knobs.active_tutors) <= 0.1 * knobs.active_tutors
    active_customers = (f["customers"].status == "active").sum()
    assert abs(active_customers - knobs.active_customers) <= 0.05 * knobs.active_customers
    start = f["sessions"].start_time
    per_day = ((start >= ANCHOR_US - 30 * D) & (start < ANCHOR_US)).sum() / 30
    # PRD: 3,000 sessions a day for 50,000 customers; the same rate at every scale.
    expected = 3000 * knobs.active_customers / 50_000
    assert 0.7 * expected < per_day < 1.3 * expected
    b = f["bookings"]
    booked_per_day = ((b.created_at >= ANCHOR_US - 30 * D) & (b.created_at < ANCHOR_US)).sum() / 30
    assert (
        0.6 * 4000 * knobs.active_customers / 50_000
        < booked_per_day
        < 1.2 * 4000 * (knobs.active_customers / 50_000)
    )
    calls = f["inbound_calls"].call_time
    calls_per_day = ((calls >= ANCHOR_US - 30 * D) & (calls < ANCHOR_US)).sum() / 30
    assert (
        0.5 * 500 * knobs.active_customers / 50_000
        < calls_per_day
        < 1.5 * 500 * (knobs.active_customers / 50_000)
    )
    # The future exists: scheduled sessions, open bookings, published slots.
    s = f["sessions"]
    assert ((s.status == "scheduled") & (s.start_time > ANCHOR_US + 7 * D)).sum() > 0
    assert ((b.status == "confirmed") & (b.scheduled_time > ANCHOR_US)).sum() > 0
    slots = f["availability_slots"]
    assert slots.starts_at.max() > ANCHOR_US + 13 * D


def test_history_is_long_and_hiring_keeps_the_active_count(demo_world, demo_frames):
    t = demo_frames["tutors"]
    assert (ANCHOR_US - t.hired_at).max() > 2 * 365 * D  # tenure reaches years back
    recent = t[t.hired_at > ANCHOR_US - 180 * D]
    assert len(recent) > 0.1 * SCALES["demo"].active_tutors  # hired all along the history
    hired_month = ((ANCHOR_US - recent.hired_at) // (30 * D)).value_counts()
    assert len(hired_month) >= 6
    active = demo_world.truth.tutors
    assert set(active.archetype) == {"high_performer", "steady", "new", "at_risk", "churner"}


def test_segments_are_about_30_40_20_10(demo_world, tiny_world):
    for world, tol in ((demo_world, 0.05), (tiny_world, 0.08)):
        seg = world.truth.customers.segment_at_anchor.dropna().value_counts(normalize=True)
        for name, share in (
            ("thriving", 0.3),
            ("healthy", 0.4),
            ("at_risk", 0.2),
            ("churned", 0.1),
        ):
            assert abs(seg[name] - share) < tol, (name, seg.to_dict())
    c = demo_world.truth.customers
    visible_c = visible(demo_world.logs["customers"], ANCHOR_US).set_index("id")
    churned = c.index[c.segment_at_anchor == "churned"]
    assert (visible_c.loc[churned].status == "churned").all()
    assert (visible_c.status == "paused").sum() > 0
    assert set(visible_c.goal_status) == {"none", "in_progress", "completed"}


def test_thriving_customers_book_more_than_at_risk_ones(demo_world, demo_frames):
    seg = demo_world.truth.customers.segment_at_anchor
    s = demo_frames["sessions"]
    month = s[
        (s.status == "completed")
        & (s.start_time >= ANCHOR_US - 30 * D)
        & (s.start_time < ANCHOR_US)
    ]
    per = month.customer_id.value_counts()
    rate = {
        k: per.reindex(seg.index[seg == k]).fillna(0).mean()
        for k in ("thriving", "healthy", "at_risk")
    }
    assert rate["thriving"] > 1.5 * rate["healthy"] > 1.5 * rate["at_risk"]


def test_churned_tutors_declined_before_leaving(demo_world, demo_frames):
    t, s, e = demo_frames["tutors"], demo_frames["sessions"], demo_frames["engagement_events"]
    origin = demo_world.origin_us
    left = t[
        t.churned_at.notna()
        & (t.churned_at > origin + 90 * D)
        & (t.churned_at - t.hired_at > 90 * D)
    ]
    stay = t[(t.status == "active") & (t.hired_at < ANCHOR_US - 90 * D)]
    assert len(left) > 25
    at_left = left.churned_at.to_numpy().astype(np.int64)
    at_stay = np.full(len(stay), ANCHOR_US)
    last_l = _completed_between(s, left.id, at_left - 30 * D, at_left)
    prev_l = _completed_between(s, left.id, at_left - 60 * D, at_left - 30 * D)
    last_s = _completed_between(s, stay.id, at_stay - 30 * D, at_stay)
    prev_s = _completed_between(s, stay.id, at_stay - 60 * D, at_stay - 30 * D)
    change_left = (last_l.sum() - prev_l.sum()) / prev_l.sum()
    change_stay = (last_s.sum() - prev_s.sum()) / prev_s.sum()
    assert change_left < change_stay - 0.1  # volume fell before they left
    assert _login_share(e, left.id, at_left).mean() < _login_share(e, stay.id, at_stay).mean() - 0.1
    # And the true hazard of leavers was higher on the day they left than survivors' today.
    truth = demo_world.truth
    day = ((at_left - truth.day_starts_us[0]) // D).astype(int)
    h_left = truth.hazard_daily[left.id.to_numpy() - 1, day]
    a = int((ANCHOR_US - truth.day_starts_us[0]) // D)
    h_stay = truth.hazard_daily[stay.id.to_numpy() - 1, a]
    assert np.median(h_left) > 3 * np.median(h_stay)


def test_churn_risk_follows_the_latent_decline(demo_world):
    t = demo_world.truth.tutors
    active = t[t.active_at_anchor]
    p = active[["p_churn_7d", "p_churn_14d", "p_churn_30d", "p_churn_90d"]].to_numpy()
    assert (np.diff(p, axis=1) >= 0).all()
    m = demo_world.truth.models["tutor_hazard"]

    def rise(x, mid, width):
        if width <= 0:
            return np.ones(len(x))
        r0 = 1 / (1 + np.exp(mid / width))
        return np.maximum(1 / (1 + np.exp(-(x - mid) / width)) - r0, 0) / (1 - r0)

    abrupt = 1 / (1 + np.exp(-(m["intercept"] + m["short_tenure"] * active.driver_short_tenure)))
    decline = (
        m["decline_max"]
        * active.driver_speed ** m["severity"]
        * (1 + m["struggle"] * (active.driver_struggle - 0.65))
        * rise(active.driver_depth, m["depth_mid"], m["depth_width"])
        * rise(active.driver_duration, m["ramp_days"], m["ramp_width"])
    )
    decline = np.clip(decline, 0, 0.95)
    assert np.allclose(1 - (1 - abrupt) * (1 - decline), active.base_hazard_at_anchor)
    # A realistic share is visibly declining; the High/Critical tiers are populated by
    # them (Sarah Chen among them); most tutors are Low.
    declining = active.declining_at_anchor & (active.decline_days_at_anchor >= 7)
    assert 0.03 < declining.mean() < 0.15
    assert (active.p_churn_30d >= 0.7).sum() >= 8
    assert (active.p_churn_30d < 0.25).mean() > 0.8
    assert active.p_churn_30d[declining].mean() > 10 * active.p_churn_30d[~declining].mean()
    by_type = active.groupby("archetype").p_churn_30d.mean()
    assert by_type["churner"] > 2 * by_type["steady"] > by_type["high_performer"]


def test_declines_persist_and_show_in_every_observable(demo_world, demo_frames):
    """A decline is a trend, not a wobble: depth keeps growing until the tutor leaves or
    recovers, and engagement, ratings and reliability all move with it."""
    truth = demo_world.truth
    depth = truth.decline_depth_daily
    a = int((ANCHOR_US - truth.day_starts_us[0]) // D)
    # Of tutors declining two weeks before the anchor and still active, the decline has
    # not reverted: most are deeper now or have recovered by choice, not by noise.
    t = truth.tutors
    active = t[t.active_at_anchor & (t.hired_at < ANCHOR_US - 30 * D)].index.to_numpy() - 1
    then, now = depth[active, a - 14], depth[active, a]
    was = then > 0.5
    assert was.sum() > 5
    assert np.mean(now[was] >= then[was] - 0.05) > 0.6
    # Latent engagement of decliners is far below others'; their ratings and
    # reliability are worse.
    e = truth.engagement_daily[active, a - 14 : a].mean(axis=1)
    deep = depth[active, a - 14 : a].mean(axis=1) > 0.7
    assert e[deep].mean() < e[~deep].mean() - 0.25
    s = demo_frames["sessions"]
    recent = s[(s.start_time >= ANCHOR_US - 30 * D) & (s.start_time < ANCHOR_US)]
    tid = recent.tutor_id.to_numpy() - 1
    day = np.clip(((recent.start_time.to_numpy() - truth.day_starts_us[0]) // D), 0, a)
    in_decline = depth[tid, day.astype(int)] > 0.7
    rated = recent.rating.notna().to_numpy()
    assert (
        recent.rating[in_decline & rated].mean() < recent.rating[~in_decline & rated].mean() - 0.2
    )
    moved = (recent.rescheduled_by == "tutor").to_numpy()
    assert moved[in_decline].mean() > 2.5 * moved[~in_decline].mean()


def test_true_churn_curves_match_what_happens_next(demo_world):
    """The truth's P(churn within 14 days) at the anchor, summed over active tutors, is
    what the simulated days after the anchor deliver (no manager acts after it)."""
    t = demo_world.truth.tutors
    act = t[t.active_at_anchor & t.persona.isna()]
    days = act.churn_days_after_anchor
    for h in (7, 14):
        expected = act[f"p_churn_{h}d"].sum()
        realized = ((days > 0) & (days <= h)).sum()
        assert abs(realized - expected) < 3 * np.sqrt(expected) + 2, (h, realized, expected)


def test_poor_first_sessions_follow_tutor_quality_and_bad_hours(demo_world, demo_frames):
    s = demo_frames["sessions"].set_index("id")
    fs = demo_world.truth.first_sessions.join(s[["rating"]], how="inner")
    fs = fs[fs.rating.notna()]
    poor = fs.rating < 4
    assert len(fs) > 1500
    quartile = pd.qcut(fs.tutor_quality, 4, labels=False)
    by_q = poor.groupby(quartile).mean()
    assert by_q[0] > by_q[3] + 0.15
    bad_hour = (fs.local_hour < 9) | (fs.local_hour >= 21)
    assert poor[bad_hour].mean() > poor[~bad_hour].mean()
    # The recorded probability is calibrated and separates outcomes.
    assert abs(fs.p_poor.mean() - poor.mean()) < 0.03
    assert fs.p_poor[poor].mean() > fs.p_poor[~poor].mean() + 0.08
    assert fs.p_poor.between(0, 1).all()
    # First sessions are the first of their pair: one per (customer, tutor) at most.
    all_s = demo_frames["sessions"]
    firsts = all_s[all_s.first_session.astype(bool)]
    assert not firsts.duplicated(["customer_id", "tutor_id"]).any()
    assert 0.05 < all_s.first_session.astype(bool).mean() < 0.35


def test_later_ratings_follow_quality(demo_world, demo_frames):
    s = demo_frames["sessions"]
    later = s[(s.status == "completed") & ~s.first_session.astype(bool) & s.rating.notna()]
    q = demo_world.truth.tutors.quality
    mean_by_tutor = later.groupby("tutor_id").rating.mean()
    assert np.corrcoef(q.loc[mean_by_tutor.index], mean_by_tutor)[0, 1] > 0.3
    assert 4.0 < later.rating.mean() < 4.6


def test_customers_with_two_calls_in_14_days_churn_more(demo_world, demo_frames):
    cu, calls = demo_frames["customers"], demo_frames["inbound_calls"]
    start = demo_world.origin_us + 60 * D
    rows = []
    for t in range(start, ANCHOR_US - 30 * D, 7 * D):
        live = cu[(cu.created_at < t) & (cu.churned_at.isna() | (cu.churned_at > t))]
        recent = calls[(calls.call_time >= t - 14 * D) & (calls.call_time < t)]
        n_calls = live.id.map(recent.customer_id.value_counts()).fillna(0)
        churned = live.churned_at.notna() & (live.churned_at < t + 30 * D)
        rows.append(pd.DataFrame({"two": n_calls.to_numpy() >= 2, "churn": churned.to_numpy()}))
    r = pd.concat(rows)
    rate = r.groupby("two").churn.mean()
    assert r.two.sum() > 200
    assert rate[True] > 2.5 * rate[False]
    assert rate[True] > 0.3  # training-data-summary.md: 2+ calls in 14 days, high risk
    reasons = set(calls.reason_code)
    expected = {"billing", "scheduling", "tutor_quality", "technical", "cancellation_request"}
    assert expected <= reasons
    assert calls.sentiment.isna().mean() < 0.15


def test_customers_lapse_before_they_churn(demo_world, demo_frames):
    """Churn is preceded by a decline over weeks: fewer sessions in the month before
    leaving than in the one before, and unhappy calls."""
    cu, s, calls = demo_frames["customers"], demo_frames["sessions"], demo_frames["inbound_calls"]
    origin = demo_world.origin_us
    left = cu[cu.churned_at.notna() & (cu.churned_at > origin + 90 * D)]
    left = left[left.churned_at - left.created_at > 90 * D]
    stay = cu[(cu.status == "active") & (cu.created_at < ANCHOR_US - 90 * D)]
    assert len(left) > 50
    done = s[s.status == "completed"]
    by_c = {k: g.start_time.to_numpy() for k, g in done.groupby("customer_id")}

    def count(ids, lo, hi):
        out = []
        for cid, a, b in zip(ids, lo, hi, strict=True):
            t = by_c.get(cid, np.zeros(0, dtype=np.int64))
            out.append(((t >= a) & (t < b)).sum())
        return np.array(out)

    at_l = left.churned_at.to_numpy().astype(np.int64)
    at_s = np.full(len(stay), ANCHOR_US)
    last_l, prev_l = (
        count(left.id, at_l - 30 * D, at_l),
        count(left.id, at_l - 60 * D, at_l - 30 * D),
    )
    last_s, prev_s = (
        count(stay.id, at_s - 30 * D, at_s),
        count(stay.id, at_s - 60 * D, at_s - 30 * D),
    )
    assert last_l.sum() / prev_l.sum() < last_s.sum() / prev_s.sum() - 0.15
    neg = calls[calls.sentiment == "negative"]
    by_call = {k: g.call_time.to_numpy() for k, g in neg.groupby("customer_id")}

    def called(ids, at):
        return np.mean(
            [
                (
                    (by_call.get(c, np.zeros(0)) >= a - 30 * D) & (by_call.get(c, np.zeros(0)) < a)
                ).any()
                for c, a in zip(ids, at, strict=True)
            ]
        )

    assert called(left.id, at_l - D) > 3 * called(stay.id, at_s)
    truth = demo_world.truth.customers
    assert truth.lapsing_at_anchor.mean() < 0.08


def test_demand_has_daily_weekly_and_yearly_seasonality(demo_frames):
    b = demo_frames["bookings"]
    eastern = b.scheduled_time - 5 * US_PER_HOUR  # US Eastern (standard time) is enough here
    hour = (eastern // US_PER_HOUR) % 24
    by_hour = hour.value_counts()
    assert by_hour.reindex([16, 17, 18]).sum() > 10 * by_hour.reindex([2, 3, 4, 5]).fillna(0).sum()
    assert by_hour[18] > 2 * by_hour[11]  # the after-school/evening peak
    weekday = ((eastern // D) + 3) % 7
    by_day = weekday.value_counts()
    assert by_day[4] < 0.7 * by_day[[0, 1, 2, 3]].mean()  # quiet Fridays
    created = pd.to_datetime(b.created_at, unit="us")
    per_day = created.dt.floor("D").value_counts()
    july = per_day[(per_day.index.month == 7)].mean()
    september = per_day[(per_day.index.month == 9)].mean()
    assert september > 1.4 * july  # back to school


def test_subjects_trend_and_supply_is_short_in_some(demo_world, demo_frames):
    b = demo_frames["bookings"]
    mult = demo_world.truth.demand_multiplier
    assert mult["computer_science"].iloc[-1] > mult["computer_science"].iloc[0] * 1.1
    assert mult["french"].iloc[-1] < mult["french"].iloc[0] * 0.95
    assert mult["sat_prep"].std() > mult["algebra"].std()  # the test calendar
    unfilled = b.groupby("subject").status.apply(lambda s: (s == "unfilled").mean())
    assert 0.03 < (b.status == "unfilled").mean() < 0.25
    short = unfilled[["physics", "calculus", "computer_science"]].mean()
    ample = unfilled[["algebra", "geometry", "history", "french"]].mean()
    assert short > 2 * ample
    # The shortage is concentrated: some subject-hours are mostly unfilled.
    hour = (b.scheduled_time // US_PER_HOUR) % 24
    cell = (
        b.assign(hour=hour)
        .groupby(["subject", "hour"])
        .status.agg(lambda s: (s == "unfilled").mean())
    )
    assert (cell > 0.3).sum() >= 3


def test_interventions_are_chosen_by_risk_with_a_random_share(demo_world):
    iv = demo_world.truth.interventions
    assert set(iv.intervention_type) == set(demo_world.truth.intervention_effects)
    random_share = (iv.selection == "random").mean()
    assert 0.15 < random_share < 0.35
    by = iv.groupby("selection").hazard_at_selection.median()
    assert by["risk"] > 2 * by["random"]
    t = demo_world.truth.tutors
    active = t[t.active_at_anchor]
    assert (active.intervention_multiplier_at_anchor < 1).sum() > 10
    effects = demo_world.truth.intervention_effects
    in_effect = iv[iv.effect_first_day_us.notna()]
    assert set(in_effect.multiplier) <= set(effects.values())
    assert (iv[iv.final_status == "cancelled"].multiplier == 1.0).all()
    assert demo_world.truth.intervention_effect_days == 45


def test_observed_engagement_tracks_the_latent_one(demo_world, demo_frames):
    e = demo_frames["engagement_events"]
    truth = demo_world.truth
    tutors = truth.tutors
    active = tutors[tutors.active_at_anchor & (tutors.hired_at < ANCHOR_US - 30 * D)]
    window = e[(e.occurred_at >= ANCHOR_US - 14 * D) & (e.occurred_at < ANCHOR_US)]
    groups = dict(list(window.groupby("tutor_id")))
    observed = []
    for tid in active.index:
        g = groups.get(tid)
        if g is None:
            observed.append(0.0)
            continue
        days = len(np.unique(g[g.event_type == "login"].occurred_at // D))
        replies = g[g.event_type == "message_reply"].response_minutes.to_numpy(float)
        observed.append(engagement_score(days, 14, replies))
    a = int((ANCHOR_US - truth.day_starts_us[0]) // D)
    latent = truth.engagement_daily[active.index.to_numpy() - 1, a - 14 : a].mean(axis=1)
    assert np.corrcoef(observed, latent)[0, 1] > 0.75
    assert abs(np.mean(observed) - np.mean(latent)) < 0.06
    kinds = set(e.event_type)
    assert kinds == {"login", "message_reply", "profile_update", "availability_update"}
    assert e.response_minutes[e.event_type == "message_reply"].notna().all()
    assert e.response_minutes[e.event_type != "message_reply"].isna().all()
