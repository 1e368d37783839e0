"""Customer features as of a date, for the customer churn model and the health score.

    X = customer_features(frames, as_of)                  # every customer active at as_of
    builder = CustomerFeatureBuilder(frames)              # prepare once, many as-of dates
    X = builder.at(as_of, customer_ids=[...])

One row per customer (index ``customer_id``), columns in :data:`FEATURE_INFO` order,
windows ``[as_of - k days, as_of)``. The same point-in-time rules as the tutor features
(:mod:`ml.features.tutor`): sessions count by ``end_time`` (outcome and rating only if
the session ended before ``as_of``), calls by ``call_time``, bookings by ``created_at``
(an *unfilled* booking only once its requested time has passed, which is after the
decision). Sessions booked ahead of ``as_of`` count if created before it; one is known to
be cancelled at ``as_of`` only if its record was last updated before ``as_of`` (a record
unchanged since then shows its state then); a cancellation after ``as_of`` is unknown, so
such a session still counts as booked.

Not point in time: ``goal_completed`` and ``goal_in_progress`` are the customer's goal
status *now* (the API keeps no history of it). They feed the health score's goal
component when scoring now, and are ``point_in_time=False`` so
:func:`ml.features.info.training_features` keeps them out of training. ``student_age``
is taken as fixed.

Missing data: counts are 0; averages and shares NaN when their denominator is empty,
with a count beside them and a ``missing`` sentence; "days since" features fall back to
the customer's tenure (nothing since signing up); ``student_age`` is NaN when unknown.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ml.features._events import (
    NAT,
    US_PER_DAY,
    US_PER_HOUR,
    Codes,
    EventIndex,
    entity_ids,
    equals,
    positions,
    rel_change,
    safe_div,
    to_bool,
    to_float,
    to_us,
)
from ml.features.info import FeatureInfo, info
from ml.features.tutor import booked_ahead
from ml.frames import MarketFrames

NEW_CUSTOMER_DAYS = 30

# fmt: off
_INFOS: list[FeatureInfo] = [
    # ---- session velocity (completed sessions, by end time)
    info("sessions_7d", "sessions in the last 7 days", "velocity", "count",
         "{value} session{s} in the last 7 days", -1),
    info("sessions_14d", "sessions in the last 14 days", "velocity", "count",
         "{value} session{s} in the last 14 days (was {prev})", -1,
         compare_to="sessions_prev_14d"),
    info("sessions_prev_14d", "sessions in the 14 days before that", "velocity", "count",
         "{value} session{s} in the 14 days before the last 14", 0),
    info("sessions_30d", "sessions in the last 30 days", "velocity", "count",
         "{value} session{s} in the last 30 days (was {prev})", -1,
         compare_to="sessions_prev_30d"),
    info("sessions_prev_30d", "sessions in the 30 days before that", "velocity", "count",
         "{value} session{s} in the 30 days before the last 30", 0),
    info("sessions_90d", "sessions in the last 90 days", "velocity", "count",
         "{value} session{s} in the last 90 days", -1),
    info("sessions_total", "sessions in total", "velocity", "count",
         "{value} session{s} in total", -1),
    info("sessions_per_week", "sessions per week (last 30 days)", "velocity", "number",
         "{value} sessions a week over the last 30 days", -1),
    info("velocity_change_14d", "change in sessions vs the previous 14 days", "velocity",
         "change", "sessions {value} vs the previous 14 days", -1,
         "no sessions in the previous 14 days to compare with"),
    info("velocity_change_30d", "change in sessions vs the previous 30 days", "velocity",
         "change", "sessions {value} vs the previous 30 days", -1,
         "no sessions in the previous 30 days to compare with"),
    info("sessions_first_7d", "sessions in the first 7 days", "velocity", "count",
         "{value} session{s} in the first 7 days after signing up", -1),
    info("days_since_last_session", "days since the last session", "velocity", "days",
         "{value} since the last session", 1),
    info("has_sessions", "has had a session", "velocity", "flag", "has had a session: {value}",
         -1),
    info("upcoming_sessions_14d", "sessions booked for the next 14 days", "velocity", "count",
         "{value} session{s} booked for the next 14 days", -1),
    info("cancelled_upcoming_14d", "booked sessions of the next 14 days already cancelled",
         "velocity", "count", "{value} session{s} of the next 14 days already cancelled", 1),
    info("bookings_30d", "booking requests (last 30 days)", "velocity", "count",
         "{value} booking request{s} in the last 30 days", -1),
    info("unfilled_bookings_30d", "requests no tutor could take (last 30 days)", "velocity",
         "count", "{value} request{s} no tutor could take in the last 30 days", 1),
    # ---- first sessions and ratings given
    info("first_sessions_total", "first sessions with a tutor", "first_sessions", "count",
         "{value} first session{s} with a tutor", 0),
    info("first_session_rating", "rating of the very first session", "first_sessions",
         "rating", "rated the very first session {value}", -1,
         "the first session was not rated"),
    info("first_session_success_rate", "first sessions rated 4+", "first_sessions", "percent",
         "{value} of first sessions rated 4 or 5", -1, "no rated first session"),
    info("poor_first_sessions_30d", "first sessions rated below 3 (last 30 days)",
         "first_sessions", "count", "{value} first session{s} rated below 3 in the last 30 days",
         1),
    info("ratings_given_30d", "ratings given (last 30 days)", "first_sessions", "count",
         "{value} rating{s} given in the last 30 days", 0),
    info("rating_avg_given_30d", "average rating given (last 30 days)", "first_sessions",
         "rating", "rated sessions {value} on average (last 30 days)", -1,
         "no ratings given in the last 30 days"),
    info("low_ratings_given_30d", "ratings below 3 given (last 30 days)", "first_sessions",
         "count", "{value} rating{s} below 3 in the last 30 days", 1),
    # ---- inbound calls
    info("calls_14d", "calls to support (last 14 days)", "calls", "count",
         "{value} call{s} to support in the last 14 days", 1),
    info("calls_30d", "calls to support (last 30 days)", "calls", "count",
         "{value} call{s} to support in the last 30 days", 1),
    info("calls_2plus_14d", "2+ calls in 14 days", "calls", "flag",
         "2 or more calls in 14 days: {value}", 1),
    info("negative_calls_30d", "calls with negative sentiment (last 30 days)", "calls", "count",
         "{value} unhappy call{s} in the last 30 days", 1),
    info("negative_call_share_30d", "share of calls with negative sentiment (last 30 days)",
         "calls", "percent", "{value} of calls unhappy (last 30 days)", 1,
         "no calls in the last 30 days"),
    info("cancellation_calls_30d", "calls asking to cancel (last 30 days)", "calls", "count",
         "{value} call{s} asking to cancel in the last 30 days", 1),
    info("days_since_last_call", "days since the last call", "calls", "days",
         "{value} since the last call", -1),
    # ---- experience: cancellations, no-shows, reschedules
    info("cancellations_30d", "cancelled sessions (last 30 days)", "experience", "count",
         "{value} cancelled session{s} in the last 30 days", 1),
    info("customer_no_shows_30d", "missed sessions (last 30 days)", "experience", "count",
         "missed {value} session{s} in the last 30 days", 1),
    info("tutor_no_shows_30d", "sessions the tutor missed (last 30 days)", "experience",
         "count", "the tutor missed {value} session{s} in the last 30 days", 1),
    info("tutor_reschedules_30d", "sessions the tutor moved (last 30 days)", "experience",
         "count", "the tutor moved {value} session{s} in the last 30 days", 1),
    # ---- tutor consistency
    info("unique_tutors_90d", "tutors seen (last 90 days)", "consistency", "count",
         "{value} tutor{s} in the last 90 days", 1),
    info("tutor_consistency_90d", "share of sessions with the usual tutor (last 90 days)",
         "consistency", "percent", "{value} of sessions with the usual tutor (last 90 days)",
         -1, "no sessions in the last 90 days"),
    info("tutor_switches_30d", "switches to a new tutor (last 30 days)", "consistency",
         "count", "switched to a new tutor {value} time{s} in the last 30 days", 1),
    # ---- tenure, spend, profile, goal
    info("tenure_days", "customer for", "profile", "days", "customer for {value}", -1,
         "signup date unknown"),
    info("is_new_customer", "new customer (under 30 days)", "profile", "flag",
         "new customer (under 30 days): {value}", 1),
    info("spend_30d", "spent (last 30 days)", "profile", "currency",
         "spent {value} in the last 30 days", -1),
    info("student_age", "student's age", "profile", "number", "student aged {value}", 0,
         "age not given", decimals=0),
    info("goal_completed", "learning goal completed", "goal", "flag",
         "learning goal completed: {value}", 1, point_in_time=False),
    info("goal_in_progress", "learning goal in progress", "goal", "flag",
         "learning goal in progress: {value}", -1, point_in_time=False),
]
# fmt: on

FEATURE_INFO: dict[str, FeatureInfo] = {i.name: i for i in _INFOS}
FEATURES: list[str] = list(FEATURE_INFO)


class CustomerFeatureBuilder:
    """Customers' events indexed once; :meth:`at` computes the rows of one as-of."""

    def __init__(self, frames: MarketFrames) -> None:
        c = frames.customers
        self.ids = entity_ids(c)
        n = self.n = len(self.ids)
        created = to_us(c["created_at"]) if n else np.zeros(0, np.int64)
        signup = to_us(c["signup_date"]) if n else np.zeros(0, np.int64)
        self.joined_us = np.where(created == NAT, signup, created)
        churned = to_us(c["churned_at"]) if n else np.zeros(0, np.int64)
        # churned_at counts with status churned (DOMAIN.md), as in ml.labels.
        self.churned_us = np.where(equals(c["status"], "churned"), churned, NAT) if n else churned
        self.age = to_float(c["student_age"]) if n else np.zeros(0)
        goal = c["goal_status"]
        self.goal_completed = equals(goal, "completed").astype(np.int64)
        self.goal_in_progress = equals(goal, "in_progress").astype(np.int64)

        s = frames.sessions
        cp = positions(self.ids, s["customer_id"])
        start = to_us(s["start_time"])
        end = to_us(s["end_time"])
        end = np.where(end == NAT, np.where(start == NAT, NAT, start + US_PER_HOUR), end)
        status = Codes(s["status"])
        completed = status.eq("completed")
        rating = to_float(s["rating"])
        rated = completed & np.isfinite(rating)
        r = np.where(rated, rating, 0.0)
        first = to_bool(s["first_session"])
        tutor = to_float(s["tutor_id"])
        tutor = np.where(np.isfinite(tutor), tutor, -1).astype(np.int64)
        self.due = EventIndex(
            cp,
            end,
            n,
            {
                "cancelled": status.eq("cancelled").astype(np.int64),
                "no_show_customer": status.eq("no_show_customer").astype(np.int64),
                "no_show_tutor": status.eq("no_show_tutor").astype(np.int64),
                "resched_tutor": equals(s["rescheduled_by"], "tutor").astype(np.int64),
            },
        )
        k = completed
        self.done = EventIndex(
            cp[k],
            end[k],
            n,
            {
                "rated": rated[k].astype(np.int64),
                "rating": r[k],
                "low": (rated & (rating < 3))[k].astype(np.int64),
                "first": first[k].astype(np.int64),
                "first_rated": (first & rated)[k].astype(np.int64),
                "first_good": (first & rated & (rating >= 4))[k].astype(np.int64),
                "poor_first": (first & rated & (rating < 3))[k].astype(np.int64),
                "spend": np.nan_to_num(to_float(s["price"]))[k],
                "tutor": tutor[k],
                "rating_or_nan": np.where(rated, rating, np.nan)[k],
            },
        )
        self.ahead = EventIndex(
            cp,
            start,
            n,
            {
                "created": to_us(s["created_at"]),
                "updated": to_us(s["updated_at"]),
                "cancelled": status.eq("cancelled"),
            },
        )

        calls = frames.calls
        sentiment = calls["sentiment"]
        self.calls = EventIndex(
            positions(self.ids, calls["customer_id"]),
            to_us(calls["call_time"]),
            n,
            {
                "negative": equals(sentiment, "negative").astype(np.int64),
                "cancel": equals(calls["reason_code"], "cancellation_request").astype(np.int64),
            },
        )
        b = frames.bookings
        self.bookings = EventIndex(
            positions(self.ids, b["customer_id"]),
            to_us(b["created_at"]),
            n,
            {
                "unfilled": equals(b["status"], "unfilled").astype(np.int64),
                "scheduled": to_us(b["scheduled_time"]),
            },
        )

    def active_at(self, as_of_us: int) -> np.ndarray:
        """Customers who signed up before ``as_of`` and had not churned by it (status
        churned, ``churned_at``)."""
        joined = (self.joined_us != NAT) & (self.joined_us < as_of_us)
        alive = (self.churned_us == NAT) | (self.churned_us > as_of_us)
        return np.flatnonzero(joined & alive)

    def _select(self, as_of_us: int, customer_ids: Iterable[int] | None) -> np.ndarray:
        if customer_ids is None:
            return self.active_at(as_of_us)
        wanted = np.asarray(list(customer_ids), dtype=np.int64)
        pos = positions(self.ids, pd.Series(wanted, dtype="int64"))
        if (pos < 0).any():
            raise KeyError(f"unknown customer ids {wanted[pos < 0][:10].tolist()}")
        return pos

    def at(self, as_of: pd.Timestamp, customer_ids: Iterable[int] | None = None) -> pd.DataFrame:
        T = int(to_us(as_of))
        ent = self._select(T, customer_ids)
        cols = self._compute(T, ent)
        frame = pd.DataFrame(cols, index=pd.Index(self.ids[ent], name="customer_id"))
        return frame[FEATURES]

    def _compute(self, T: int, ent: np.ndarray) -> dict[str, np.ndarray]:
        D = US_PER_DAY
        k = len(ent)
        done, due = self.done, self.due
        out: dict[str, np.ndarray] = {}
        joined = self.joined_us[ent]
        tenure = np.where(joined == NAT, np.nan, (T - joined) / D)
        tenure0 = np.nan_to_num(tenure)

        def ccount(days: float | None, until: float = 0) -> np.ndarray:
            lo = None if days is None else T - int(days * D)
            return done.count(lo, T - int(until * D), ent)

        def csum(col: str, days: float | None, until: float = 0) -> np.ndarray:
            lo = None if days is None else T - int(days * D)
            return done.sum(col, lo, T - int(until * D), ent)

        # ---- velocity
        s7, s14, s_prev14 = ccount(7), ccount(14), ccount(28, 14)
        s30, s_prev30, s90, total = ccount(30), ccount(60, 30), ccount(90), ccount(None)
        out["sessions_7d"], out["sessions_14d"], out["sessions_prev_14d"] = s7, s14, s_prev14
        out["sessions_30d"], out["sessions_prev_30d"] = s30, s_prev30
        out["sessions_90d"], out["sessions_total"] = s90, total
        out["sessions_per_week"] = s30 * 7.0 / np.clip(tenure0, 7.0, 30.0)
        out["velocity_change_14d"] = rel_change(s14, s_prev14)
        out["velocity_change_30d"] = rel_change(s30, s_prev30)
        first_week_end = np.where(joined == NAT, T, np.minimum(joined + 7 * D, T))
        lo_join = np.where(joined == NAT, T, joined)
        out["sessions_first_7d"] = done.count(lo_join, np.maximum(first_week_end, lo_join), ent)
        last = done.last_before(T, ent)
        out["days_since_last_session"] = np.where(last == NAT, tenure0, (T - last) / D)
        out["has_sessions"] = (total > 0).astype(np.int64)
        live, dropped = booked_ahead(self.ahead, T, 14, ent)
        out["upcoming_sessions_14d"], out["cancelled_upcoming_14d"] = live, dropped
        out["bookings_30d"] = self.bookings.count(T - 30 * D, T, ent)
        bpos, brow = self.bookings.gather(T - 30 * D, T, ent)
        if len(bpos):
            sched = self.bookings.columns["scheduled"][bpos]
            unfilled = (self.bookings.columns["unfilled"][bpos] > 0) & (sched != NAT) & (sched < T)
            out["unfilled_bookings_30d"] = np.bincount(brow[unfilled], minlength=k)
        else:
            out["unfilled_bookings_30d"] = np.zeros(k, dtype=np.int64)

        # ---- first sessions and ratings
        out["first_sessions_total"] = csum("first", None)
        out["first_session_rating"] = self._first_rating(T, ent)
        out["first_session_success_rate"] = safe_div(
            csum("first_good", None), csum("first_rated", None)
        )
        out["poor_first_sessions_30d"] = csum("poor_first", 30)
        n30 = csum("rated", 30)
        out["ratings_given_30d"] = n30
        out["rating_avg_given_30d"] = safe_div(csum("rating", 30), n30)
        out["low_ratings_given_30d"] = csum("low", 30)

        # ---- calls
        calls14 = self.calls.count(T - 14 * D, T, ent)
        calls30 = self.calls.count(T - 30 * D, T, ent)
        neg30 = self.calls.sum("negative", T - 30 * D, T, ent)
        out["calls_14d"], out["calls_30d"] = calls14, calls30
        out["calls_2plus_14d"] = (calls14 >= 2).astype(np.int64)
        out["negative_calls_30d"] = neg30
        out["negative_call_share_30d"] = safe_div(neg30, calls30)
        out["cancellation_calls_30d"] = self.calls.sum("cancel", T - 30 * D, T, ent)
        last_call = self.calls.last_before(T, ent)
        out["days_since_last_call"] = np.where(last_call == NAT, tenure0, (T - last_call) / D)

        # ---- experience
        out["cancellations_30d"] = due.sum("cancelled", T - 30 * D, T, ent)
        out["customer_no_shows_30d"] = due.sum("no_show_customer", T - 30 * D, T, ent)
        out["tutor_no_shows_30d"] = due.sum("no_show_tutor", T - 30 * D, T, ent)
        out["tutor_reschedules_30d"] = due.sum("resched_tutor", T - 30 * D, T, ent)

        # ---- tutor consistency
        out.update(self._consistency(T, ent, s90))
        first_pos = done.first_pos(ent)
        has_any = total > 0
        earliest = np.full(k, NAT, dtype=np.int64)
        earliest[has_any] = done.times[first_pos[has_any]]
        earliest_first = np.zeros(k, dtype=bool)
        earliest_first[has_any] = done.columns["first"][first_pos[has_any]] > 0
        own_start = has_any & earliest_first & (earliest >= T - 30 * D) & (earliest < T)
        out["tutor_switches_30d"] = np.maximum(csum("first", 30) - own_start, 0)

        # ---- profile
        out["tenure_days"] = tenure
        out["is_new_customer"] = (tenure0 < NEW_CUSTOMER_DAYS).astype(np.int64)
        out["spend_30d"] = csum("spend", 30)
        out["student_age"] = self.age[ent]
        out["goal_completed"] = self.goal_completed[ent]
        out["goal_in_progress"] = self.goal_in_progress[ent]
        return out

    def _first_rating(self, T: int, ent: np.ndarray) -> np.ndarray:
        """Rating of the customer's earliest completed first session before ``T``."""
        done = self.done
        k = len(ent)
        out = np.full(k, np.nan)
        if len(done) == 0:
            return out
        firsts = done.columns["first"]
        pos, owner = done.gather(None, T, ent)
        is_first = firsts[pos] > 0
        pos, owner = pos[is_first], owner[is_first]
        if len(pos) == 0:
            return out
        # positions are sorted by time within each owner: the first per owner is earliest
        uniq, idx = np.unique(owner, return_index=True)
        out[uniq] = done.columns["rating_or_nan"][pos[idx]]
        return out

    def _consistency(self, T: int, ent: np.ndarray, s90: np.ndarray) -> dict[str, np.ndarray]:
        done = self.done
        k = len(ent)
        pos, owner = done.gather(T - 90 * US_PER_DAY, T, ent)
        tutor = done.columns["tutor"][pos] if len(done) else np.zeros(0, np.int64)
        ok = tutor >= 0
        owner, tutor = owner[ok], tutor[ok]
        unique = np.zeros(k, dtype=np.int64)
        top = np.zeros(k, dtype=np.int64)
        if len(owner):
            span = int(tutor.max()) + 1
            keys, counts = np.unique(owner.astype(np.int64) * span + tutor, return_counts=True)
            who = keys // span
            unique = np.bincount(who, minlength=k)
            np.maximum.at(top, who, counts)
        return {
            "unique_tutors_90d": unique,
            "tutor_consistency_90d": safe_div(top, s90),
        }


def customer_features(
    frames: MarketFrames, as_of: pd.Timestamp, customer_ids: Iterable[int] | None = None
) -> pd.DataFrame:
    """Customer feature rows at ``as_of`` (see the module docstring and :data:`FEATURE_INFO`).

    ``customer_ids`` None: every customer who signed up before ``as_of`` and had not
    churned by it (status churned, ``churned_at``; paused customers are rows). Unknown ids
    raise KeyError.
    """
    return CustomerFeatureBuilder(frames).at(as_of, customer_ids)
