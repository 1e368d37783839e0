"""Tutor features as of a date, for the churn model, the scores and the profile.

    X = tutor_features(frames, as_of)                 # every tutor active at as_of
    X = tutor_features(frames, as_of, tutor_ids=[...])
    builder = TutorFeatureBuilder(frames)             # prepare once, then many as-of dates
    X1, X2 = builder.at(as_of_1), builder.at(as_of_2)

One row per tutor (index ``tutor_id``), columns in :data:`FEATURE_INFO` order. Windows
are ``[as_of - k days, as_of)``. No record created at or after ``as_of`` is read; the
only features that look ahead of ``as_of`` (``upcoming_sessions_7d``,
``hours_offered_next_*``, ``utilization_next_7d``) read what was booked or published
before it.

Point in time. Only the current version of each record exists, so time comes from event
columns, never from mutable state:

- a session counts by its ``end_time``: held, no-show, cancelled, rescheduled and its
  rating count only if it ended before ``as_of`` (a rating can arrive up to a day after
  the end; the rating itself was decided by then). A reschedule or cancellation happens
  before the start, so a session that ended before ``as_of`` shows it already.
- engagement by ``occurred_at``; availability by ``starts_at`` (a slot that started
  before ``as_of`` was published before it); interventions by ``created_at``.
- ``upcoming_sessions_7d`` counts sessions *created* before ``as_of`` that start in the
  next 7 days and were not known to be cancelled at ``as_of``: a session counts as
  cancelled only if its record was last updated before ``as_of`` (a record unchanged
  since then shows its state then), so one cancelled later (say, because the tutor left)
  still counts. A tutor reschedule after ``as_of`` can move one out of the window: a
  small, accepted imprecision.
- a tutor's ``status`` and ``churned_at`` are never features. ``hourly_rate``,
  ``certification_count`` and ``instant_book_enabled`` are the values *now* and
  ``hours_offered_next_7d/14d`` and ``utilization_next_7d`` read slots ahead of ``as_of``
  that are deleted when a tutor leaves: all five are ``point_in_time=False`` (scoring and
  display only; :func:`ml.features.info.training_features` leaves them out).
  ``years_experience`` and ``subject_count`` do not change over a tutor's life.

Missing data. Counts are 0, never NaN. Averages and rates are NaN when their
denominator is empty (no ratings, no sessions, nothing offered), each with a count or a
``has_*`` flag beside it and a ``missing`` sentence in :data:`FEATURE_INFO`; XGBoost
routes NaN natively. ``rating_smoothed_30d`` is always defined (shrunk to 4.3).
"Days since" features fall back to the tutor's tenure when the event never happened
(a tutor never seen since hiring). Engagement scores are NaN only for a window before
the tutor's hiring. A tutor hired after ``as_of`` is not a row of the default set; asked
for explicitly, it gets a negative tenure. An empty frame set gives an empty frame with
every column.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property

import numpy as np
import pandas as pd

from ml.engagement import LOGIN_WEIGHT, REPLY_SCALE_MINUTES, REPLY_WEIGHT
from ml.features._events import (
    NAT,
    US_PER_DAY,
    US_PER_HOUR,
    Codes,
    EventIndex,
    distinct_count,
    entity_ids,
    equals,
    group_median,
    positions,
    rel_change,
    safe_div,
    to_bool,
    to_float,
    to_us,
)
from ml.features.info import FeatureInfo, info
from ml.frames import MarketFrames

RATING_PRIOR = 4.3
RATING_PRIOR_WEIGHT = 3.0

# fmt: off
_INFOS: list[FeatureInfo] = [
    # ---- session volume (completed sessions, by end time)
    info("sessions_7d", "sessions in the last 7 days", "volume", "count",
         "{value} session{s} in the last 7 days", -1),
    info("sessions_14d", "sessions in the last 14 days", "volume", "count",
         "{value} session{s} in the last 14 days", -1),
    info("sessions_30d", "sessions in the last 30 days", "volume", "count",
         "{value} session{s} in the last 30 days (was {prev})", -1,
         compare_to="sessions_prev_30d"),
    info("sessions_prev_30d", "sessions in the 30 days before that", "volume", "count",
         "{value} session{s} in the 30 days before the last 30", 0),
    info("sessions_90d", "sessions in the last 90 days", "volume", "count",
         "{value} session{s} in the last 90 days", -1),
    info("sessions_total", "sessions completed in total", "volume", "count",
         "{value} session{s} completed in total", -1),
    info("sessions_change_30d", "change in sessions vs the previous 30 days", "volume", "change",
         "sessions {value} vs the previous 30 days", -1,
         "no sessions in the previous 30 days to compare with"),
    info("sessions_change_14d", "change in sessions vs the previous 14 days", "volume", "change",
         "sessions {value} vs the previous 14 days", -1,
         "no sessions in the previous 14 days to compare with"),
    info("sessions_vs_usual_14d", "sessions (last 14 days) vs the usual fortnight",
         "volume", "change", "sessions {value} vs the usual (90 to 28 days ago)", -1,
         "not with us long enough to know the usual volume"),
    info("sessions_per_week", "sessions per week (last 30 days)", "volume", "number",
         "{value} sessions a week over the last 30 days", -1),
    info("upcoming_sessions_7d", "sessions booked for the next 7 days", "volume", "count",
         "{value} session{s} booked for the next 7 days", -1),
    info("completion_rate_30d", "share of sessions held (last 30 days)", "volume", "percent",
         "{value} of sessions held in the last 30 days", -1,
         "no sessions due in the last 30 days"),
    info("avg_session_minutes_30d", "average session length (last 30 days)", "volume",
         "minutes", "sessions of {value} on average (last 30 days)", 0,
         "no sessions in the last 30 days"),
    info("has_sessions", "has completed a session", "volume", "flag",
         "has completed a session: {value}", -1),
    info("days_since_last_session", "days since the last session", "volume", "days",
         "{value} since the last session", 1),
    # ---- ratings
    info("rating_avg_7d", "average rating (last 7 days)", "ratings", "rating",
         "average rating {value} in the last 7 days", -1, "no ratings in the last 7 days"),
    info("rating_avg_30d", "average rating (last 30 days)", "ratings", "rating",
         "average rating {value} in the last 30 days (was {prev})", -1,
         "no ratings in the last 30 days", compare_to="rating_avg_prev_30d"),
    info("rating_avg_prev_30d", "average rating (the 30 days before)", "ratings", "rating",
         "average rating {value} in the 30 days before the last 30", 0,
         "no ratings in the 30 days before the last 30"),
    info("rating_avg_all", "average rating (all time)", "ratings", "rating",
         "average rating {value} overall", -1, "no ratings yet"),
    info("rating_smoothed_30d", "rating of the last 30 days, smoothed", "ratings", "rating",
         "rating {value} in the last 30 days (smoothed)", -1),
    info("rating_trend_7d_vs_30d", "rating of the last 7 days vs the last 30", "ratings",
         "points", "rating {value} in the last 7 days vs the last 30", -1,
         "not enough recent ratings to see a trend", decimals=1),
    info("rating_change_30d", "rating change vs the previous 30 days", "ratings", "points",
         "rating {value} vs the previous 30 days", -1,
         "not enough ratings to compare with the previous 30 days", decimals=1),
    info("rating_volatility_90d", "spread of ratings (last 90 days)", "ratings", "number",
         "ratings vary by {value} stars (last 90 days)", 1,
         "fewer than 2 ratings in the last 90 days", decimals=2),
    info("low_rating_share_30d", "share of ratings below 3 (last 30 days)", "ratings", "percent",
         "{value} of ratings below 3 in the last 30 days", 1, "no ratings in the last 30 days"),
    info("low_ratings_30d", "ratings below 3 (last 30 days)", "ratings", "count",
         "{value} rating{s} below 3 in the last 30 days", 1),
    info("ratings_30d", "ratings received (last 30 days)", "ratings", "count",
         "{value} rating{s} in the last 30 days", 0),
    info("has_ratings", "has been rated", "ratings", "flag", "has been rated: {value}", 0),
    # ---- reliability
    info("tutor_reschedules_7d", "reschedules by the tutor (last 7 days)", "reliability",
         "count", "{value} reschedule{s} in the last 7 days", 1),
    info("tutor_reschedules_30d", "reschedules by the tutor (last 30 days)", "reliability",
         "count", "{value} reschedule{s} in the last 30 days", 1),
    info("tutor_reschedule_rate_30d", "share of sessions the tutor rescheduled (last 30 days)",
         "reliability", "percent", "{value} of sessions rescheduled by the tutor (last 30 days)",
         1, "no sessions due in the last 30 days"),
    info("tutor_reschedule_rate_90d", "share of sessions the tutor rescheduled (last 90 days)",
         "reliability", "percent", "{value} of sessions rescheduled by the tutor (last 90 days)",
         1, "no sessions due in the last 90 days"),
    info("tutor_no_shows_30d", "tutor no-shows (last 30 days)", "reliability", "count",
         "{value} no-show{s} in the last 30 days", 1),
    info("tutor_no_shows_90d", "tutor no-shows (last 90 days)", "reliability", "count",
         "{value} no-show{s} in the last 90 days", 1),
    info("no_show_rate_90d", "share of sessions the tutor missed (last 90 days)", "reliability",
         "percent", "missed {value} of sessions in the last 90 days", 1,
         "no sessions due in the last 90 days"),
    info("cancellations_30d", "cancelled sessions (last 30 days)", "reliability", "count",
         "{value} cancelled session{s} in the last 30 days", 1),
    info("cancellation_rate_30d", "share of sessions cancelled (last 30 days)", "reliability",
         "percent", "{value} of sessions cancelled in the last 30 days", 1,
         "no sessions due in the last 30 days"),
    info("customer_no_shows_30d", "student no-shows (last 30 days)", "reliability", "count",
         "{value} student no-show{s} in the last 30 days", 0),
    info("technical_issues_30d", "sessions with technical issues (last 30 days)",
         "reliability", "count", "{value} session{s} with technical issues in the last 30 days",
         1),
    info("reliability_events_14d", "reschedules + 2 x no-shows (last 14 days)", "reliability",
         "count", "{value} reliability incident{s} in the last 14 days "
         "(reschedules + 2 x no-shows)", 1),
    # ---- first sessions
    info("first_sessions_total", "first sessions with new students", "first_sessions", "count",
         "{value} first session{s} with new students", 0),
    info("first_sessions_30d", "first sessions (last 30 days)", "first_sessions", "count",
         "{value} first session{s} in the last 30 days", -1),
    info("first_sessions_rated", "rated first sessions", "first_sessions", "count",
         "{value} rated first session{s}", 0),
    info("first_session_success_rate", "first sessions rated 4+ (all time)", "first_sessions",
         "percent", "{value} of first sessions rated 4 or 5", -1, "no rated first sessions yet"),
    info("first_session_success_90d", "first sessions rated 4+ (last 90 days)",
         "first_sessions", "percent", "{value} of first sessions rated 4 or 5 (last 90 days)",
         -1, "no rated first sessions in the last 90 days"),
    # ---- engagement
    info("logins_7d", "days with a login (last 7 days)", "engagement", "count",
         "logged in on {value} of the last 7 days", -1),
    info("logins_14d", "days with a login (last 14 days)", "engagement", "count",
         "logged in on {value} of the last 14 days", -1),
    info("logins_30d", "days with a login (last 30 days)", "engagement", "count",
         "logged in on {value} of the last 30 days", -1),
    info("days_since_last_login", "days since the last login", "engagement", "days",
         "{value} since the last login", 1),
    info("login_streak_days", "current login streak", "engagement", "days",
         "logged in {value} in a row", -1),
    info("longest_login_streak_30d", "longest login streak (last 30 days)", "engagement",
         "days", "longest login streak {value} (last 30 days)", -1),
    info("replies_14d", "messages answered (last 14 days)", "engagement", "count",
         "{value} message{s} answered in the last 14 days", -1),
    info("reply_minutes_14d", "median reply time (last 14 days)", "engagement", "minutes",
         "replies in {value} (median, last 14 days)", 1, "no replies in the last 14 days"),
    info("reply_minutes_30d", "median reply time (last 30 days)", "engagement", "minutes",
         "replies in {value} (median, last 30 days)", 1, "no replies in the last 30 days"),
    info("engagement_score_14d", "engagement score (last 14 days)", "engagement", "score",
         "engagement {value} (was {prev})", -1, "engagement not measured yet",
         compare_to="engagement_score_prev_14d"),
    info("engagement_score_prev_14d", "engagement score (the 14 days before)", "engagement",
         "score", "engagement {value} in the 14 days before the last 14", 0,
         "not with us 14 days ago"),
    info("engagement_change_14d", "engagement change vs the previous 14 days", "engagement",
         "points", "engagement {value} vs the previous 14 days", -1,
         "not with us long enough to compare engagement", part_of="engagement_score_14d"),
    info("engagement_vs_usual", "engagement change vs the usual (last 14 days)", "engagement",
         "points", "engagement {value} vs the usual", -1,
         "not with us long enough to know the usual engagement",
         part_of="engagement_score_14d"),
    info("profile_updates_30d", "profile updates (last 30 days)", "engagement", "count",
         "{value} profile update{s} in the last 30 days", -1),
    info("availability_updates_30d", "availability updates (last 30 days)", "engagement",
         "count", "{value} availability update{s} in the last 30 days", -1),
    # ---- availability and utilisation
    info("hours_offered_14d", "hours offered (last 14 days)", "availability", "hours",
         "{value} offered in the last 14 days (was {prev})", -1,
         compare_to="hours_offered_prev_14d"),
    info("hours_offered_prev_14d", "hours offered (the 14 days before)", "availability",
         "hours", "{value} offered in the 14 days before the last 14", 0),
    info("hours_offered_change_14d", "change in hours offered vs the previous 14 days",
         "availability", "change", "hours offered {value} vs the previous 14 days", -1,
         "no hours offered in the previous 14 days"),
    info("hours_booked_14d", "hours taught or booked (last 14 days)", "availability", "hours",
         "{value} of sessions in the last 14 days", -1),
    info("utilization_14d", "booked / offered hours (last 14 days)", "availability", "percent",
         "{value} of offered hours booked (last 14 days)", 0,
         "no hours offered in the last 14 days"),
    info("days_since_last_slot", "days since the last offered hour", "availability", "days",
         "{value} since the last offered hour", 1),
    info("hours_offered_next_7d", "hours offered for the next 7 days", "availability", "hours",
         "{value} offered for the next 7 days", -1, point_in_time=False),
    info("hours_offered_next_14d", "hours offered for the next 14 days", "availability",
         "hours", "{value} offered for the next 14 days", -1, point_in_time=False),
    info("utilization_next_7d", "booked / offered hours (next 7 days)", "availability",
         "percent", "{value} of the next 7 days' hours booked", 0,
         "no hours offered for the next 7 days", point_in_time=False),
    # ---- students
    info("unique_students_30d", "students taught (last 30 days)", "students", "count",
         "{value} student{s} in the last 30 days", -1),
    info("unique_students_90d", "students taught (last 90 days)", "students", "count",
         "{value} student{s} in the last 90 days", -1),
    info("returning_students_30d", "returning students (last 30 days)", "students", "count",
         "{value} returning student{s} in the last 30 days", -1),
    info("returning_student_share_30d", "share of students who came back (last 30 days)",
         "students", "percent", "{value} of recent students came back for more", -1,
         "no students in the last 30 days"),
    info("sessions_per_student_90d", "sessions per student (last 90 days)", "students",
         "number", "{value} sessions per student (last 90 days)", -1,
         "no students in the last 90 days"),
    # ---- earnings
    info("earnings_30d", "earnings (last 30 days)", "earnings", "currency",
         "earned {value} in the last 30 days (was {prev})", -1, compare_to="earnings_prev_30d"),
    info("earnings_prev_30d", "earnings (the 30 days before)", "earnings", "currency",
         "earned {value} in the 30 days before the last 30", 0),
    info("earnings_change_30d", "earnings change vs the previous 30 days", "earnings", "change",
         "earnings {value} vs the previous 30 days", -1,
         "no earnings in the previous 30 days to compare with"),
    info("earnings_per_session_90d", "earnings per session (last 90 days)", "earnings",
         "currency", "{value} per session (last 90 days)", 0, "no sessions in the last 90 days"),
    # ---- tenure and profile
    info("tenure_days", "tenure", "profile", "days", "with us for {value}", -1,
         "hiring date unknown"),
    info("is_new_tutor", "new tutor (under 60 days)", "profile", "flag",
         "new tutor (under 60 days): {value}", 1),
    info("years_experience", "years of teaching experience", "profile", "number",
         "{value} years of experience", -1, "experience not given", decimals=0),
    info("subject_count", "subjects taught", "profile", "count", "teaches {value} subject{s}",
         0),
    info("certification_count", "certifications", "profile", "count",
         "{value} certification{s}", -1, point_in_time=False),
    info("hourly_rate", "hourly rate", "profile", "currency", "charges {value} an hour", 0,
         "rate not given", point_in_time=False),
    info("instant_book_enabled", "instant booking on", "profile", "flag",
         "instant booking: {value}", -1, point_in_time=False),
    info("interventions_90d", "interventions (last 90 days)", "profile", "count",
         "{value} intervention{s} in the last 90 days", 1),
]
# fmt: on

FEATURE_INFO: dict[str, FeatureInfo] = {i.name: i for i in _INFOS}
FEATURES: list[str] = list(FEATURE_INFO)


def engagement_scores(
    login_days: np.ndarray, window_days: np.ndarray, median_reply: np.ndarray
) -> np.ndarray:
    """Vectorised :func:`ml.engagement.engagement_score` (NaN where ``window_days`` is 0).

    ``median_reply`` NaN means no reply in the window: the login share stands alone.
    """
    window = np.asarray(window_days, dtype=np.float64)
    share = safe_div(np.minimum(np.maximum(login_days, 0), window), window)
    reply = np.exp(-np.maximum(np.nan_to_num(median_reply), 0.0) / REPLY_SCALE_MINUTES)
    return np.where(np.isnan(median_reply), share, LOGIN_WEIGHT * share + REPLY_WEIGHT * reply)


def _list_len(values: pd.Series) -> np.ndarray:
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values.tolist()):
        if isinstance(v, list | tuple | set | np.ndarray):
            out[i] = len(v)
        elif isinstance(v, str):
            out[i] = len([p for p in v.strip("{}[]").split(",") if p.strip()])
    return out


class TutorFeatureBuilder:
    """Tutors' events indexed once; :meth:`at` computes the feature rows of one as-of."""

    def __init__(self, frames: MarketFrames, only: Iterable[int] | None = None) -> None:
        """``only``: tutor ids whose events are indexed (default all); rows of other
        tutors then read as tutors without events. Indexes are built on first use."""
        self.frames = frames
        t = frames.tutors
        self.ids = entity_ids(t)
        n = self.n = len(self.ids)
        hired = to_us(t["hired_at"]) if n else np.zeros(0, np.int64)
        created = to_us(t["created_at"]) if n else np.zeros(0, np.int64)
        self.hired_us = np.where(hired == NAT, created, hired)
        churned = to_us(t["churned_at"]) if n else np.zeros(0, np.int64)
        gone = (equals(t["status"], "churned") | equals(t["status"], "inactive")) if n else None
        # churned_at counts with a churned/inactive status (DOMAIN.md), as in ml.labels.
        self.churned_us = np.where(gone, churned, NAT) if n else churned
        self.years = to_float(t["years_experience"]) if n else np.zeros(0)
        self.subject_count = np.nan_to_num(_list_len(t["subjects"])) if n else np.zeros(0)
        self.cert_count = np.nan_to_num(_list_len(t["certifications"])) if n else np.zeros(0)
        self.rate = to_float(t["hourly_rate"]) if n else np.zeros(0)
        self.instant = to_bool(t["instant_book_enabled"]).astype(np.int64) if n else np.zeros(0)
        self._only: np.ndarray | None = None
        if only is not None:
            keep = np.zeros(n, dtype=bool)
            pos = positions(self.ids, pd.Series(np.asarray(list(only), dtype=np.int64)))
            keep[pos[pos >= 0]] = True
            self._only = keep

    def _positions(self, values: pd.Series) -> np.ndarray:
        pos = positions(self.ids, values)
        if self._only is not None:
            pos = np.where((pos >= 0) & self._only[np.maximum(pos, 0)], pos, -1)
        return pos

    @cached_property
    def _sessions(self) -> dict[str, np.ndarray]:
        s = self.frames.sessions
        start = to_us(s["start_time"])
        end = to_us(s["end_time"])
        end = np.where(end == NAT, np.where(start == NAT, NAT, start + US_PER_HOUR), end)
        status = Codes(s["status"])
        completed = status.eq("completed")
        rating = to_float(s["rating"])
        no_show_tutor = status.eq("no_show_tutor")
        no_show_customer = status.eq("no_show_customer")
        cust = to_float(s["customer_id"])
        return {
            "tutor": self._positions(s["tutor_id"]),
            "start": start,
            "end": end,
            "created": to_us(s["created_at"]),
            "updated": to_us(s["updated_at"]),
            "completed": completed,
            "cancelled": status.eq("cancelled"),
            "no_show_tutor": no_show_tutor,
            "no_show_customer": no_show_customer,
            "held": completed | no_show_tutor | no_show_customer,
            "rating": rating,
            "rated": completed & np.isfinite(rating),
            "first": to_bool(s["first_session"]),
            "resched_tutor": equals(s["rescheduled_by"], "tutor"),
            "technical": to_bool(s["technical_issue"]),
            "customer": np.where(np.isfinite(cust), cust, -1).astype(np.int64),
            "hours": np.maximum(end - start, 0) / US_PER_HOUR,
            "earnings": np.nan_to_num(to_float(s["tutor_earnings"])),
        }

    @cached_property
    def due(self) -> EventIndex:
        """Every session by its end time, any status."""
        x = self._sessions
        held = x["held"]
        return EventIndex(
            x["tutor"],
            x["end"],
            self.n,
            {
                "all": np.ones(len(held), dtype=np.int64),
                "held": held.astype(np.int64),
                "resched_tutor": x["resched_tutor"].astype(np.int64),
                "no_show_tutor": x["no_show_tutor"].astype(np.int64),
                "no_show_customer": x["no_show_customer"].astype(np.int64),
                "cancelled": x["cancelled"].astype(np.int64),
                "technical": (held & x["technical"]).astype(np.int64),
                "booked_hours": np.where(held, x["hours"], 0.0),
            },
        )

    @cached_property
    def done(self) -> EventIndex:
        """Completed sessions by their end time."""
        x = self._sessions
        c = x["completed"]
        rated, rating, first = x["rated"], x["rating"], x["first"]
        r = np.where(rated, rating, 0.0)
        good = rated & (rating >= 4)
        return EventIndex(
            x["tutor"][c],
            x["end"][c],
            self.n,
            {
                "rated": rated[c].astype(np.int64),
                "rating": r[c],
                "rating_sq": (r * r)[c],
                "low": (rated & (rating < 3))[c].astype(np.int64),
                "first": first[c].astype(np.int64),
                "first_rated": (first & rated)[c].astype(np.int64),
                "first_good": (first & good)[c].astype(np.int64),
                "earnings": x["earnings"][c],
                "minutes": (x["hours"] * 60.0)[c],
                "customer": x["customer"][c],
            },
        )

    @cached_property
    def ahead(self) -> EventIndex:
        """Every session by its start time (for what is booked ahead of an as-of)."""
        x = self._sessions
        return EventIndex(
            x["tutor"],
            x["start"],
            self.n,
            {
                "created": x["created"],
                "updated": x["updated"],
                "hours": x["hours"],
                "cancelled": x["cancelled"],
            },
        )

    @cached_property
    def _events(self) -> dict[str, np.ndarray]:
        e = self.frames.engagement
        kind = Codes(e["event_type"])
        return {
            "tutor": self._positions(e["tutor_id"]),
            "at": to_us(e["occurred_at"]),
            "login": kind.eq("login"),
            "reply": kind.eq("message_reply"),
            "profile": kind.eq("profile_update"),
            "avail": kind.eq("availability_update"),
            "minutes": to_float(e["response_minutes"]),
        }

    @cached_property
    def logins(self) -> EventIndex:
        x = self._events
        m = x["login"]
        return EventIndex(x["tutor"][m], x["at"][m], self.n)

    @cached_property
    def replies(self) -> EventIndex:
        x = self._events
        m = x["reply"] & np.isfinite(x["minutes"])
        return EventIndex(x["tutor"][m], x["at"][m], self.n, {"minutes": x["minutes"][m]})

    @cached_property
    def other(self) -> EventIndex:
        x = self._events
        m = x["profile"] | x["avail"]
        return EventIndex(
            x["tutor"][m],
            x["at"][m],
            self.n,
            {
                "profile": x["profile"][m].astype(np.int64),
                "avail": x["avail"][m].astype(np.int64),
            },
        )

    @cached_property
    def slots(self) -> EventIndex:
        """Availability slots by their start time."""
        a = self.frames.availability
        start = to_us(a["starts_at"])
        end = to_us(a["ends_at"])
        hours = np.where(end == NAT, 0.0, np.maximum(end - start, 0) / US_PER_HOUR)
        return EventIndex(
            self._positions(a["tutor_id"]),
            start,
            self.n,
            {"hours": hours, "created": to_us(a["created_at"])},
        )

    @cached_property
    def interventions(self) -> EventIndex:
        iv = self.frames.interventions
        return EventIndex(self._positions(iv["tutor_id"]), to_us(iv["created_at"]), self.n)

    # ------------------------------------------------------------------ selection

    def active_at(self, as_of_us: int) -> np.ndarray:
        """Positions of tutors hired before ``as_of`` and not churned by it (``churned_at``
        of a tutor whose status is churned or inactive)."""
        hired = (self.hired_us != NAT) & (self.hired_us < as_of_us)
        alive = (self.churned_us == NAT) | (self.churned_us > as_of_us)
        return np.flatnonzero(hired & alive)

    def _select(self, as_of_us: int, tutor_ids: Iterable[int] | None) -> np.ndarray:
        if tutor_ids is None:
            return self.active_at(as_of_us)
        wanted = np.asarray(list(tutor_ids), dtype=np.int64)
        pos = positions(self.ids, pd.Series(wanted, dtype="int64"))
        if (pos < 0).any():
            missing = wanted[pos < 0][:10].tolist()
            raise KeyError(f"unknown tutor ids {missing}")
        return pos

    # ------------------------------------------------------------------ features

    def at(self, as_of: pd.Timestamp, tutor_ids: Iterable[int] | None = None) -> pd.DataFrame:
        """Feature rows (index ``tutor_id``) of ``tutor_ids`` (default: active) at ``as_of``."""
        T = int(to_us(as_of))
        ent = self._select(T, tutor_ids)
        cols = self._compute(T, ent)
        frame = pd.DataFrame(cols, index=pd.Index(self.ids[ent], name="tutor_id"))
        return frame[FEATURES]

    def _compute(self, T: int, ent: np.ndarray) -> dict[str, np.ndarray]:
        D = US_PER_DAY
        due, done = self.due, self.done

        def w(days: float, until: float = 0) -> tuple[int, int]:
            return T - int(days * D), T - int(until * D)

        def dsum(col: str, days: float, until: float = 0) -> np.ndarray:
            lo, hi = w(days, until)
            return due.sum(col, lo, hi, ent)

        def csum(col: str, days: float | None, until: float = 0) -> np.ndarray:
            lo = None if days is None else T - int(days * D)
            return done.sum(col, lo, T - int(until * D), ent)

        def ccount(days: float | None, until: float = 0) -> np.ndarray:
            lo = None if days is None else T - int(days * D)
            return done.count(lo, T - int(until * D), ent)

        out: dict[str, np.ndarray] = {}
        hired = self.hired_us[ent]
        tenure = np.where(hired == NAT, np.nan, (T - hired) / D)
        tenure_or_zero = np.nan_to_num(tenure)

        # ---- volume
        s7, s14, s30 = ccount(7), ccount(14), ccount(30)
        s_prev14, s_prev30, s90 = ccount(28, 14), ccount(60, 30), ccount(90)
        total = ccount(None)
        out["sessions_7d"], out["sessions_14d"], out["sessions_30d"] = s7, s14, s30
        out["sessions_prev_30d"], out["sessions_90d"], out["sessions_total"] = s_prev30, s90, total
        out["sessions_change_30d"] = rel_change(s30, s_prev30)
        out["sessions_change_14d"] = rel_change(s14, s_prev14)
        out["sessions_per_week"] = s30 * 7.0 / np.clip(tenure_or_zero, 7.0, 30.0)
        # The usual fortnight, from days 90 to 28 before (a decline of a few weeks is
        # already in the previous fortnight that sessions_change_14d compares with).
        usual_days = np.clip(tenure_or_zero - 28.0, 0.0, 62.0)
        usual = ccount(90, 28) * 14.0 / np.where(usual_days >= 14.0, usual_days, np.nan)
        out["sessions_vs_usual_14d"] = rel_change(s14, usual)
        out["upcoming_sessions_7d"] = booked_ahead(self.ahead, T, 7, ent)[0]
        due30, held30 = dsum("all", 30), dsum("held", 30)
        out["completion_rate_30d"] = safe_div(s30, held30)
        out["avg_session_minutes_30d"] = safe_div(csum("minutes", 30), s30)
        out["has_sessions"] = (total > 0).astype(np.int64)
        last = done.last_before(T, ent)
        out["days_since_last_session"] = np.where(last == NAT, tenure_or_zero, (T - last) / D)

        # ---- ratings
        n7, n30, n_prev30 = csum("rated", 7), csum("rated", 30), csum("rated", 60, 30)
        n90, n_all = csum("rated", 90), csum("rated", None)
        r7, r30, r_prev30 = csum("rating", 7), csum("rating", 30), csum("rating", 60, 30)
        r90, r_all, sq90 = csum("rating", 90), csum("rating", None), csum("rating_sq", 90)
        avg7, avg30, avg_prev30 = safe_div(r7, n7), safe_div(r30, n30), safe_div(r_prev30, n_prev30)
        out["rating_avg_7d"], out["rating_avg_30d"] = avg7, avg30
        out["rating_avg_prev_30d"] = avg_prev30
        out["rating_avg_all"] = safe_div(r_all, n_all)
        out["rating_smoothed_30d"] = (r30 + RATING_PRIOR * RATING_PRIOR_WEIGHT) / (
            n30 + RATING_PRIOR_WEIGHT
        )
        out["rating_trend_7d_vs_30d"] = avg7 - avg30
        out["rating_change_30d"] = avg30 - avg_prev30
        mean90 = safe_div(r90, n90)
        var90 = safe_div(sq90 - n90 * np.nan_to_num(mean90) ** 2, n90 - 1)
        out["rating_volatility_90d"] = np.where(n90 >= 2, np.sqrt(np.maximum(var90, 0.0)), np.nan)
        low30 = csum("low", 30)
        out["low_rating_share_30d"] = safe_div(low30, n30)
        out["low_ratings_30d"] = low30
        out["ratings_30d"] = n30
        out["has_ratings"] = (n_all > 0).astype(np.int64)

        # ---- reliability
        rs7, rs30, rs90 = (
            dsum("resched_tutor", 7),
            dsum("resched_tutor", 30),
            dsum("resched_tutor", 90),
        )
        due90, held90 = dsum("all", 90), dsum("held", 90)
        out["tutor_reschedules_7d"], out["tutor_reschedules_30d"] = rs7, rs30
        out["tutor_reschedule_rate_30d"] = safe_div(rs30, due30)
        out["tutor_reschedule_rate_90d"] = safe_div(rs90, due90)
        ns30, ns90 = dsum("no_show_tutor", 30), dsum("no_show_tutor", 90)
        out["tutor_no_shows_30d"], out["tutor_no_shows_90d"] = ns30, ns90
        out["no_show_rate_90d"] = safe_div(ns90, held90)
        canc30 = dsum("cancelled", 30)
        out["cancellations_30d"] = canc30
        out["cancellation_rate_30d"] = safe_div(canc30, due30)
        out["customer_no_shows_30d"] = dsum("no_show_customer", 30)
        out["technical_issues_30d"] = dsum("technical", 30)
        out["reliability_events_14d"] = dsum("resched_tutor", 14) + 2 * dsum("no_show_tutor", 14)

        # ---- first sessions
        out["first_sessions_total"] = csum("first", None)
        out["first_sessions_30d"] = csum("first", 30)
        f_rated = csum("first_rated", None)
        out["first_sessions_rated"] = f_rated
        out["first_session_success_rate"] = safe_div(csum("first_good", None), f_rated)
        out["first_session_success_90d"] = safe_div(csum("first_good", 90), csum("first_rated", 90))

        # ---- engagement
        eng = _engagement(self.logins, self.replies, T, ent, hired)
        out.update(eng)
        out["profile_updates_30d"] = self.other.sum("profile", T - 30 * D, T, ent)
        out["availability_updates_30d"] = self.other.sum("avail", T - 30 * D, T, ent)
        out["days_since_last_login"] = np.where(
            eng["_last_login"] == NAT, tenure_or_zero, (T - eng["_last_login"]) / D
        )
        del out["_last_login"]

        # ---- availability and utilisation
        off14 = self.slots.sum("hours", T - 14 * D, T, ent)
        off_prev14 = self.slots.sum("hours", T - 28 * D, T - 14 * D, ent)
        booked14 = dsum("booked_hours", 14)
        out["hours_offered_14d"], out["hours_offered_prev_14d"] = off14, off_prev14
        out["hours_offered_change_14d"] = rel_change(off14, off_prev14)
        out["hours_booked_14d"] = booked14
        out["utilization_14d"] = safe_div(booked14, off14)
        last_slot = self.slots.last_before(T, ent)
        out["days_since_last_slot"] = np.where(
            last_slot == NAT, tenure_or_zero, (T - last_slot) / D
        )
        next7 = _published(self.slots, T, 7, ent, "hours")
        out["hours_offered_next_7d"] = next7
        out["hours_offered_next_14d"] = _published(self.slots, T, 14, ent, "hours")
        booked7 = booked_ahead(self.ahead, T, 7, ent, "hours")[0]
        out["utilization_next_7d"] = safe_div(booked7, next7)

        # ---- students
        out.update(_students(done, T, ent))
        out["sessions_per_student_90d"] = safe_div(s90, out["unique_students_90d"])

        # ---- earnings
        e30, e_prev30 = csum("earnings", 30), csum("earnings", 60, 30)
        out["earnings_30d"], out["earnings_prev_30d"] = e30, e_prev30
        out["earnings_change_30d"] = rel_change(e30, e_prev30)
        out["earnings_per_session_90d"] = safe_div(csum("earnings", 90), s90)

        # ---- tenure and profile
        out["tenure_days"] = tenure
        out["is_new_tutor"] = (tenure_or_zero < 60).astype(np.int64)
        out["years_experience"] = self.years[ent]
        out["subject_count"] = self.subject_count[ent].astype(np.int64)
        out["certification_count"] = self.cert_count[ent].astype(np.int64)
        out["hourly_rate"] = self.rate[ent]
        out["instant_book_enabled"] = self.instant[ent].astype(np.int64)
        out["interventions_90d"] = self.interventions.count(T - 90 * D, T, ent)
        return out


def _published(index: EventIndex, T: int, days: int, ent: np.ndarray, weight: str) -> np.ndarray:
    """Per entity, the sum of ``weight`` over events in ``[T, T + days)`` created before
    ``T`` (availability published ahead)."""
    pos, row = index.gather(T, T + days * US_PER_DAY, ent)
    if len(pos) == 0:
        return np.zeros(len(ent))
    made = index.columns["created"][pos]
    ok = (made != NAT) & (made < T)
    return np.bincount(row[ok], weights=index.columns[weight][pos][ok], minlength=len(ent))


def booked_ahead(
    index: EventIndex, T: int, days: int, ent: np.ndarray, weight: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sessions starting in ``[T, T + days)`` booked before ``T``: (still on as known at
    ``T``, known cancelled at ``T``), counted or summed over ``weight``.

    ``index``: sessions by start time with ``created``, ``updated`` (µs) and
    ``cancelled`` columns. A session is known cancelled at ``T`` only if its record was
    last updated before ``T``: a record unchanged since then shows its state then. A
    cancellation after ``T`` (say, the tutor left later) is unknown at ``T``.
    """
    k = len(ent)
    pos, row = index.gather(T, T + days * US_PER_DAY, ent)
    if len(pos) == 0:
        zero = np.zeros(k, dtype=np.float64 if weight else np.int64)
        return zero, zero.copy()
    made = index.columns["created"][pos]
    updated = index.columns["updated"][pos]
    booked = (made != NAT) & (made < T)
    gone = index.columns["cancelled"][pos] & (updated != NAT) & (updated < T)
    w = None if weight is None else index.columns[weight][pos]

    def tally(mask: np.ndarray) -> np.ndarray:
        if w is None:
            return np.bincount(row[mask], minlength=k)
        return np.bincount(row[mask], weights=w[mask], minlength=k)

    return tally(booked & ~gone), tally(booked & gone)


def _engagement(
    logins: EventIndex, replies: EventIndex, T: int, ent: np.ndarray, hired: np.ndarray
) -> dict[str, np.ndarray]:
    """Login days, streaks, reply times and the engagement scores of one as-of."""
    D = US_PER_DAY
    k = len(ent)
    out: dict[str, np.ndarray] = {}
    # Login days are UTC calendar days with a login, within the window (as ml.engagement's
    # score and the simulator count them); a 14-day window touches up to 15 of them, the
    # share is capped at 1.
    pos, owner = logins.gather(T - 31 * D, T, ent)
    upos, uowner = logins.gather(T - 90 * D, T - 28 * D, ent)
    day = logins.times[pos] // D
    ref_day = (T - 1) // D
    back = ref_day - day  # 0 = the as-of's own day
    grid = np.zeros((k, 32), dtype=bool)
    grid[owner, back] = True

    def days_in(lo: int, hi: int) -> np.ndarray:
        sel = (logins.times[pos] >= lo) & (logins.times[pos] < hi)
        return distinct_count(owner[sel], day[sel], k)

    out["logins_7d"] = np.minimum(days_in(T - 7 * D, T), 7)
    l14 = days_in(T - 14 * D, T)
    out["logins_14d"] = np.minimum(l14, 14)
    out["logins_30d"] = np.minimum(days_in(T - 30 * D, T), 30)
    out["_last_login"] = logins.last_before(T, ent)
    # Current streak: consecutive days back from today (or yesterday if no login yet today).
    from_today = np.argmin(np.concatenate([grid, np.zeros((k, 1), bool)], axis=1), axis=1)
    from_yesterday = np.argmin(
        np.concatenate([grid[:, 1:], np.zeros((k, 1), bool)], axis=1), axis=1
    )
    out["login_streak_days"] = np.where(grid[:, 0], from_today, from_yesterday).astype(np.int64)
    run = np.zeros(k, dtype=np.int64)
    best = np.zeros(k, dtype=np.int64)
    for col in range(30, -1, -1):  # oldest to newest, within the last 30 days
        run = (run + 1) * grid[:, col]
        best = np.maximum(best, run)
    out["longest_login_streak_30d"] = best

    out["replies_14d"] = replies.count(T - 14 * D, T, ent)
    med = {}
    windows = {14: (T - 14 * D, T), 28: (T - 28 * D, T - 14 * D), 30: (T - 30 * D, T)}
    windows[90] = (T - 90 * D, T - 28 * D)
    for days, (lo, hi) in windows.items():
        rpos, rowner = replies.gather(lo, hi, ent)
        med[days] = group_median(rowner, replies.columns["minutes"][rpos], k)
    out["reply_minutes_14d"], out["reply_minutes_30d"] = med[14], med[30]

    # Engagement scores (ml.engagement): the window counts the days the tutor was hired.
    def observed(lo: int, hi: int) -> np.ndarray:
        since = np.where(hired == NAT, lo, np.maximum(hired, lo))
        return np.clip(np.ceil((hi - since) / D), 0, (hi - lo) // D)

    l_prev = days_in(T - 28 * D, T - 14 * D)
    score = engagement_scores(l14, observed(T - 14 * D, T), med[14])
    prev = engagement_scores(l_prev, observed(T - 28 * D, T - 14 * D), med[28])
    out["engagement_score_14d"] = score
    out["engagement_score_prev_14d"] = prev
    out["engagement_change_14d"] = score - prev
    # A tutor's own normal: 0.3 is steady for some and a collapse for others.
    usual_days = distinct_count(uowner, logins.times[upos] // D, k)
    usual = engagement_scores(usual_days, observed(T - 90 * D, T - 28 * D), med[90])
    out["engagement_vs_usual"] = score - usual
    return out


def _students(done: EventIndex, T: int, ent: np.ndarray) -> dict[str, np.ndarray]:
    """Unique and returning students from completed sessions of the last 90 days."""
    D = US_PER_DAY
    k = len(ent)
    pos, owner = done.gather(T - 90 * D, T, ent)
    cust = done.columns["customer"][pos] if len(done) else np.zeros(0, np.int64)
    ok = cust >= 0
    pos, owner, cust = pos[ok], owner[ok], cust[ok]
    out = {
        "unique_students_30d": np.zeros(k, dtype=np.int64),
        "unique_students_90d": np.zeros(k, dtype=np.int64),
        "returning_students_30d": np.zeros(k, dtype=np.int64),
    }
    if len(pos):
        span = int(cust.max()) + 1
        key = owner.astype(np.int64) * span + cust
        uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        last = np.full(len(uniq), NAT, dtype=np.int64)
        np.maximum.at(last, inverse, done.times[pos])
        who = uniq // span
        recent = last >= T - 30 * D
        out["unique_students_90d"] = np.bincount(who, minlength=k)
        out["unique_students_30d"] = np.bincount(who[recent], minlength=k)
        out["returning_students_30d"] = np.bincount(who[recent & (counts >= 2)], minlength=k)
    out["returning_student_share_30d"] = safe_div(
        out["returning_students_30d"], out["unique_students_30d"]
    )
    return out


def tutor_features(
    frames: MarketFrames, as_of: pd.Timestamp, tutor_ids: Iterable[int] | None = None
) -> pd.DataFrame:
    """Tutor feature rows at ``as_of`` (see the module docstring and :data:`FEATURE_INFO`).

    ``tutor_ids`` None: every tutor hired before ``as_of`` and not churned by it
    (``churned_at``, status churned or inactive; a tutor churned only by inactivity per
    :mod:`ml.labels` is still a row: pass ids to choose). Unknown ids raise KeyError.
    """
    return TutorFeatureBuilder(frames).at(as_of, tutor_ids)
