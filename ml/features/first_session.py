"""First sessions with the tutor's record at the time, for the first-session model.

    rows = first_session_rows(frames)                       # training: past rated ones
    rows = first_session_rows(frames, as_of=now)            # scoring: upcoming ones
    rows = first_session_rows(frames, as_of=now, until=now + pd.Timedelta(days=7))
    rows = first_session_rows(frames, sessions=ids_or_frame, as_of=now)

A first session is a session flagged ``first_session`` (the first between a student and
a tutor). One row per session (index ``session_id``):

- the tutor's record from data strictly before the row's *cut-off*, ``min(start_time,
  as_of)`` (``as_of`` defaults to ``frames.observed_until``): a past session sees what
  was known when it started, an upcoming one what is known now. Average rating, past
  first-session success (share of rated first sessions rated 4+), completed sessions,
  engagement score (14 days, :mod:`ml.engagement`), reschedule and no-show rates, tenure.
- the context: subject, hour and weekday in the *tutor's* time zone (``timezone`` of
  the tutor; UTC if missing or unknown), the student's age.
- the label (training): ``poor`` = 1.0 if rated below 4, 0.0 if rated 4-5, NaN when the
  session is not completed and rated before ``as_of`` (upcoming, unrated, no-show).

Missing data: ``tutor_rating_avg`` and ``tutor_first_session_success_rate`` are NaN with
no history (flagged by ``tutor_ratings``/``tutor_first_sessions_rated`` = 0); their
``*_smoothed`` twins are always defined (shrunk to :data:`RATING_PRIOR` and
:data:`SUCCESS_PRIOR`), for a logistic regression that cannot take NaN. Reschedule and
no-show rates are count / max(sessions due, 1): 0 for a tutor with no sessions yet.
``tutor_engagement_score`` is always defined for a tutor hired before the cut-off (the
window counts the days since hiring, at least one). ``student_age`` is NaN when unknown.

Everything is vectorised over the rows (binary searches in per-tutor sorted events), so
tens of thousands of sessions take well under a second.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ml.features._events import (
    NAT,
    US_PER_DAY,
    distinct_count,
    equals,
    group_median,
    positions,
    safe_div,
    to_bool,
    to_float,
    to_us,
)
from ml.features.info import FeatureInfo, info
from ml.features.tutor import TutorFeatureBuilder, engagement_scores
from ml.frames import MarketFrames

RATING_PRIOR = 4.3
RATING_PRIOR_WEIGHT = 3.0
SUCCESS_PRIOR = 0.75
SUCCESS_PRIOR_WEIGHT = 2.0

# fmt: off
_INFOS: list[FeatureInfo] = [
    info("tutor_rating_avg", "tutor's average rating", "tutor", "rating",
         "tutor's average rating {value}", -1, "the tutor has no ratings yet"),
    info("tutor_rating_smoothed", "tutor's average rating (smoothed)", "tutor", "rating",
         "tutor's rating {value} (smoothed)", -1),
    info("tutor_ratings", "ratings the tutor has received", "tutor", "count",
         "{value} rating{s} so far", 0),
    info("tutor_first_session_success_rate", "tutor's first sessions rated 4+", "tutor",
         "percent", "{value} of the tutor's first sessions went well", -1,
         "the tutor has no rated first session yet"),
    info("tutor_first_session_success_smoothed", "tutor's first-session success (smoothed)",
         "tutor", "percent", "{value} first-session success (smoothed)", -1),
    info("tutor_first_sessions_rated", "tutor's rated first sessions", "tutor", "count",
         "{value} rated first session{s} so far", 0),
    info("tutor_sessions_completed", "sessions the tutor has completed", "tutor", "count",
         "{value} session{s} completed so far", -1),
    info("tutor_engagement_score", "tutor's engagement score (14 days)", "tutor", "score",
         "tutor engagement {value}", -1),
    info("tutor_reschedule_rate", "share of sessions the tutor rescheduled", "tutor",
         "percent", "rescheduled {value} of sessions", 1),
    info("tutor_no_show_rate", "share of sessions the tutor missed", "tutor", "percent",
         "missed {value} of sessions", 1),
    info("tutor_tenure_days", "tutor's tenure", "tutor", "days", "tutor with us for {value}",
         -1, "hiring date unknown"),
    info("local_hour", "hour of the session (tutor's time)", "context", "number",
         "at {value}:00 the tutor's time", 0, decimals=0),
    info("local_weekday", "weekday (0 = Monday)", "context", "number",
         "on weekday {value} (0 = Monday)", 0, decimals=0),
    info("is_weekend", "on a weekend", "context", "flag", "on a weekend: {value}", 0),
    info("student_age", "student's age", "context", "number", "student aged {value}", 0,
         "age not given", decimals=0),
]
# fmt: on

FEATURE_INFO: dict[str, FeatureInfo] = {i.name: i for i in _INFOS}
# Numeric model inputs; ``subject`` (str) is the categorical one.
FEATURES: list[str] = list(FEATURE_INFO)
COLUMNS: list[str] = [
    "tutor_id",
    "customer_id",
    "start_time",
    "cutoff",
    "subject",
    *FEATURES,
    "rating",
    "poor",
]


def _local_hour_weekday(start_us: np.ndarray, tz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hour (0-23) and weekday (0 = Monday) of each start in its zone (UTC if unknown)."""
    hour = np.zeros(len(start_us), dtype=np.int64)
    weekday = np.zeros(len(start_us), dtype=np.int64)
    zones = pd.Series(tz, dtype=object).fillna("UTC").astype(str).to_numpy()
    for zone in np.unique(zones):
        rows = np.flatnonzero(zones == zone)
        utc = pd.DatetimeIndex(start_us[rows].view("datetime64[us]")).tz_localize("UTC")
        try:
            local = utc.tz_convert(zone)
        except Exception:  # an unknown zone name: UTC is the honest fallback
            local = utc
        hour[rows] = local.hour
        weekday[rows] = local.day_of_week
    return hour, weekday


def _pick(
    frames: MarketFrames,
    sessions: pd.DataFrame | Iterable[int] | None,
    as_of_us: int | None,
    until_us: int | None,
) -> pd.DataFrame:
    s = frames.sessions
    if sessions is not None:
        if isinstance(sessions, pd.DataFrame):
            return sessions
        wanted = pd.Series(np.asarray(list(sessions), dtype=np.int64))
        return s[s["id"].isin(wanted)]
    first = to_bool(s["first_session"])
    start = to_us(s["start_time"])
    if as_of_us is None:
        end = to_us(s["end_time"])
        limit = to_us(frames.observed_until)
        ok = (
            first
            & equals(s["status"], "completed")
            & np.isfinite(to_float(s["rating"]))
            & (end != NAT)
            & (end < limit)
        )
        return s[ok]
    ok = first & equals(s["status"], "scheduled") & (start != NAT) & (start >= as_of_us)
    if until_us is not None:
        ok &= start < until_us
    return s[ok]


def first_session_rows(
    frames: MarketFrames,
    sessions: pd.DataFrame | Iterable[int] | None = None,
    as_of: pd.Timestamp | None = None,
    *,
    until: pd.Timestamp | None = None,
    builder: TutorFeatureBuilder | None = None,
) -> pd.DataFrame:
    """First-session rows (see the module docstring); columns :data:`COLUMNS`.

    ``sessions``: rows of ``frames.sessions`` or session ids; None picks them: with
    ``as_of`` None, every first session completed, rated and ended before
    ``observed_until`` (training); with ``as_of``, the scheduled first sessions starting
    at or after it (and before ``until``, if given). ``builder``: a
    :class:`TutorFeatureBuilder` of the same frames, to reuse its indexes.
    """
    as_of_us = None if as_of is None else int(to_us(as_of))
    until_us = None if until is None else int(to_us(until))
    picked = _pick(frames, sessions, as_of_us, until_us)
    if builder is None:
        # Index only the tutors of these rows: scoring a week's sessions stays cheap.
        tutor_ids = to_float(picked["tutor_id"])
        builder = TutorFeatureBuilder(frames, only=np.unique(tutor_ids[np.isfinite(tutor_ids)]))
    b = builder
    D = US_PER_DAY
    n = len(picked)
    limit = as_of_us if as_of_us is not None else int(to_us(frames.observed_until))

    ids = to_float(picked["id"]).astype(np.int64) if n else np.zeros(0, np.int64)
    start = to_us(picked["start_time"]) if n else np.zeros(0, np.int64)
    end = to_us(picked["end_time"]) if n else np.zeros(0, np.int64)
    cut = np.where(start == NAT, limit, np.minimum(start, limit))
    tp = positions(b.ids, picked["tutor_id"]) if n else np.zeros(0, np.int64)
    known = tp >= 0
    tpk = np.where(known, tp, 0)

    def nan_unknown(values: np.ndarray) -> np.ndarray:
        out = np.asarray(values, dtype=np.float64)
        return np.where(known, out, np.nan)

    done, due = b.done, b.due
    if b.n == 0:
        zeros = np.zeros(n)
        completed = rated = rating_sum = f_rated = f_good = zeros
        resched = no_show = all_due = zeros
    else:
        completed = done.count(None, cut, tpk)
        rated = done.sum("rated", None, cut, tpk)
        rating_sum = done.sum("rating", None, cut, tpk)
        f_rated = done.sum("first_rated", None, cut, tpk)
        f_good = done.sum("first_good", None, cut, tpk)
        resched = due.sum("resched_tutor", None, cut, tpk)
        no_show = due.sum("no_show_tutor", None, cut, tpk)
        all_due = due.count(None, cut, tpk)
    hired = b.hired_us[tpk] if b.n else np.full(n, NAT, dtype=np.int64)
    hired = np.where(known, hired, NAT)

    # Engagement over the 14 days before each cut-off (per-row windows).
    if b.n:
        lpos, lrow = b.logins.gather(cut - 14 * D, cut, tpk)
        login_days = distinct_count(lrow, b.logins.times[lpos] // D, n)
        rpos, rrow = b.replies.gather(cut - 14 * D, cut, tpk)
        med = group_median(rrow, b.replies.columns["minutes"][rpos], n)
    else:
        login_days, med = np.zeros(n, dtype=np.int64), np.full(n, np.nan)
    since = np.where(hired == NAT, cut - 14 * D, np.maximum(hired, cut - 14 * D))
    window = np.clip(np.ceil((cut - since) / D), 1, 14)
    engagement = engagement_scores(login_days, window, med)

    tz = _tutor_zones(frames, tp)
    start_ok = np.where(start == NAT, cut, start)
    hour, weekday = _local_hour_weekday(start_ok, tz)

    ages = np.full(n, np.nan)
    if n and len(frames.customers):
        cust_ids = to_float(frames.customers["id"]).astype(np.int64)
        cpos = positions(cust_ids, picked["customer_id"])
        all_ages = to_float(frames.customers["student_age"])
        ages = np.where(cpos >= 0, all_ages[np.maximum(cpos, 0)], np.nan)

    rating = to_float(picked["rating"]) if n else np.zeros(0)
    labelled = (
        (equals(picked["status"], "completed") if n else np.zeros(0, bool))
        & np.isfinite(rating)
        & (end != NAT)
        & (end < limit)
    )
    poor = np.where(labelled, (rating < 4).astype(np.float64), np.nan)

    data = {
        "tutor_id": to_float(picked["tutor_id"]) if n else np.zeros(0),
        "customer_id": to_float(picked["customer_id"]) if n else np.zeros(0),
        "start_time": pd.DatetimeIndex(start.view("datetime64[us]")).tz_localize("UTC"),
        "cutoff": pd.DatetimeIndex(cut.view("datetime64[us]")).tz_localize("UTC"),
        "subject": (
            picked["subject"].astype(object).where(picked["subject"].notna(), "unknown").to_numpy()
            if n
            else np.zeros(0, dtype=object)
        ),
        "tutor_rating_avg": nan_unknown(safe_div(rating_sum, rated)),
        "tutor_rating_smoothed": nan_unknown(
            (rating_sum + RATING_PRIOR * RATING_PRIOR_WEIGHT) / (rated + RATING_PRIOR_WEIGHT)
        ),
        "tutor_ratings": np.where(known, rated, 0).astype(np.int64),
        "tutor_first_session_success_rate": nan_unknown(safe_div(f_good, f_rated)),
        "tutor_first_session_success_smoothed": nan_unknown(
            (f_good + SUCCESS_PRIOR * SUCCESS_PRIOR_WEIGHT) / (f_rated + SUCCESS_PRIOR_WEIGHT)
        ),
        "tutor_first_sessions_rated": np.where(known, f_rated, 0).astype(np.int64),
        "tutor_sessions_completed": np.where(known, completed, 0).astype(np.int64),
        "tutor_engagement_score": nan_unknown(engagement),
        "tutor_reschedule_rate": nan_unknown(resched / np.maximum(all_due, 1)),
        "tutor_no_show_rate": nan_unknown(no_show / np.maximum(all_due, 1)),
        "tutor_tenure_days": np.where(hired == NAT, np.nan, (cut - hired) / D),
        "local_hour": hour,
        "local_weekday": weekday,
        "is_weekend": (weekday >= 5).astype(np.int64),
        "student_age": ages,
        "rating": np.where(labelled, rating, np.nan),
        "poor": poor,
    }
    frame = pd.DataFrame(data, index=pd.Index(ids, name="session_id"))
    for col in ("tutor_id", "customer_id"):
        frame[col] = frame[col].astype("Int64")
    return frame[COLUMNS]


def _tutor_zones(frames: MarketFrames, tutor_pos: np.ndarray) -> np.ndarray:
    """Each row's tutor time zone (None where the tutor or the zone is unknown)."""
    zones = frames.tutors["timezone"].astype(object).to_numpy() if len(frames.tutors) else None
    out = np.full(len(tutor_pos), None, dtype=object)
    if zones is None:
        return out
    ok = tutor_pos >= 0
    picked = zones[tutor_pos[ok]]
    out[ok] = np.where(pd.isna(picked), None, picked)
    return out
