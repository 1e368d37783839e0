"""What the Analytics tab reads: ``ml.frames.MarketFrames`` cut down to what its
sections use, so a full-scale database (half a million sessions, a million engagement
events) is read in a couple of seconds instead of ``load_frames``' seven.

- tutors: every column (a few thousand rows);
- sessions: the columns ``ml.labels`` and the tutor's record read, for every session;
  subject, customer, reschedule count and technical issue only for the window's first
  sessions (the rest, and prices, earnings, bookings, the record's own timestamps, stay
  empty);
- engagement: logins and replies from ``since`` on (the first-session rows look 14 days
  back from sessions inside the window, the reply median 30 days back from the run);
- availability: one row per tutor, its last slot published before ``observed_until``.
  That is all ``ml.labels.tutor_churn_us`` reads of availability (the latest slot end
  among published slots), so the churn times are the same as from every slot; a test
  checks it on the demo database;
- customers: the student's age;
- observed_until: from the sync cursors when there are any (see ``_observed``);
- calls, bookings and interventions: empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from ml.frames import COLUMNS, TIMESTAMP_COLUMNS, MarketFrames
from services.api.contract import RESOURCES
from services.db.models import SyncState, resource_table
from services.ml_data import SOURCES, _frame, _observed_until, _to_utc

# What the churn labels and the tutor's record before each first session read ...
SESSION_COLUMNS = (
    "id", "tutor_id", "start_time", "end_time", "status", "rating", "first_session",
    "rescheduled_by",
)  # fmt: skip
# ... and what only the window's first sessions need besides (their own context).
FIRST_SESSION_COLUMNS = ("id", "customer_id", "subject", "reschedule_count", "technical_issue")


def load_analytics_frames(
    engine: Engine,
    first_session_days: int,
    engagement_days: int,
    also_since: pd.Timestamp | None = None,
) -> MarketFrames:
    """The frames of the module docstring: sessions' subject, customer, reschedule
    count and technical issue only for first sessions that started in the last
    ``first_session_days`` (None elsewhere); engagement from ``engagement_days`` before
    ``observed_until`` (or from ``also_since``, if earlier)."""
    empty = MarketFrames.empty()
    with engine.connect() as conn:
        observed = _observed(conn, engine)
    since = observed - pd.Timedelta(days=engagement_days)
    if also_since is not None:
        since = min(since, also_since)
    with engine.connect() as conn:
        sessions = _read(conn, engine, "sessions", SESSION_COLUMNS)
        engagement = _engagement(conn, engine, since)
        tutors = _read(conn, engine, "tutors", COLUMNS["tutors"])
    firsts, customers, availability = _side_reads(engine, observed, first_session_days)
    # Reading half a million rows' subjects and customers to use 50,000 of them would
    # double the read: the window's first sessions bring theirs.
    context = firsts.set_index("id").reindex(sessions["id"].to_numpy())
    for col in FIRST_SESSION_COLUMNS[1:]:
        sessions[col] = context[col].to_numpy()
    return MarketFrames(
        tutors=tutors,
        sessions=_complete(sessions, "sessions"),
        engagement=engagement,
        availability=availability,
        customers=_complete(customers, "customers"),
        calls=empty.calls,
        bookings=empty.bookings,
        interventions=empty.interventions,
        observed_until=observed,
    ).validate()


def _side_reads(
    engine: Engine, observed: pd.Timestamp, first_session_days: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The window's first sessions' context, the customers' ages, the last slots."""
    s = resource_table("sessions")
    start = (observed - pd.Timedelta(days=first_session_days)).to_pydatetime()
    with engine.connect() as conn:
        firsts = _read(
            conn,
            engine,
            "sessions",
            FIRST_SESSION_COLUMNS,
            s.c.first_session.is_(True),
            s.c.start_time >= start,
        )
        customers = _read(conn, engine, "customers", ("id", "student_age"))
        availability = _last_slots(conn, engine, observed)
    return firsts, customers, availability


def _observed(conn: Any, engine: Engine) -> pd.Timestamp:
    """``load_frames``' observed_until (the newest ``updated_at`` of sessions, engagement
    and bookings) from the sync cursors, which hold exactly that after a sync: three
    primary-key reads instead of three full scans (a second at full scale). A database
    filled some other way (no cursors) gets the scans."""
    names = ("sessions", "engagement_events", "bookings")
    cursors = dict(
        conn.execute(
            select(SyncState.resource, SyncState.cursor_updated_at).where(
                SyncState.resource.in_(names)
            )
        ).all()
    )
    if len(cursors) < len(names) or any(v is None for v in cursors.values()):
        return _observed_until(conn, engine)
    newest = pd.Timestamp(max(cursors.values()))
    return newest.tz_localize("UTC") if newest.tzinfo is None else newest.tz_convert("UTC")


def _read(conn: Any, engine: Engine, name: str, cols: Sequence[str], *where: Any) -> pd.DataFrame:
    """Like ``services.ml_data.load_frames`` for one frame: the raw driver's tuples and
    one vectorised conversion per column, soft-deleted rows left out."""
    resource = SOURCES[name]
    table = resource_table(resource)
    q = select(*(table.c[c] for c in cols))
    if "deleted_at" in table.c:
        q = q.where(table.c.deleted_at.is_(None))
    for clause in where:
        q = q.where(clause)
    rows = _fetch(conn, engine, q)
    return _frame(rows, tuple(cols), RESOURCES[resource])


def _fetch(conn: Any, engine: Engine, query: Any) -> list[Any]:
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


def _engagement(conn: Any, engine: Engine, since: pd.Timestamp) -> pd.DataFrame:
    """Logins and replies since ``since``, one query per type: the type is then known
    without reading 400,000 copies of the word "login" (and ids are not needed)."""
    e = resource_table("engagement_events")
    parts = []
    for kind, cols in (("login", ("tutor_id", "occurred_at")), ("message_reply", _REPLY)):
        q = select(*(e.c[c] for c in cols)).where(
            e.c.deleted_at.is_(None),
            e.c.event_type == kind,
            e.c.occurred_at >= since.to_pydatetime(),
        )
        rows = _fetch(conn, engine, q)
        part = pd.DataFrame.from_records(rows, columns=list(cols))
        part["event_type"] = kind
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out.insert(0, "id", np.arange(1, len(out) + 1, dtype=np.int64))
    out["tutor_id"] = pd.to_numeric(out["tutor_id"], errors="coerce").astype("Int64")
    out["occurred_at"] = _to_utc(out["occurred_at"])
    out["response_minutes"] = pd.to_numeric(out.get("response_minutes"), errors="coerce")
    return out[list(COLUMNS["engagement"])]


_REPLY = ("tutor_id", "occurred_at", "response_minutes")


def _last_slots(conn: Any, engine: Engine, observed: pd.Timestamp) -> pd.DataFrame:
    """Per tutor, the end of their last slot published before ``observed``, as a
    one-slot frame (see the module docstring)."""
    a = resource_table("availability_slots")
    published = func.coalesce(a.c.created_at, a.c.starts_at)
    q = (
        select(a.c.tutor_id, func.max(func.coalesce(a.c.ends_at, a.c.starts_at)))
        .where(
            a.c.deleted_at.is_(None),
            a.c.tutor_id.is_not(None),
            published < observed.to_pydatetime(),
        )
        .group_by(a.c.tutor_id)
    )
    rows = _fetch(conn, engine, q)
    tutor = np.asarray([r[0] for r in rows], dtype=np.int64)
    end = _to_utc(pd.Series([r[1] for r in rows], dtype=object))
    return pd.DataFrame(
        {
            "id": np.arange(1, len(rows) + 1, dtype=np.int64),
            "tutor_id": tutor,
            "subject": pd.Series([None] * len(rows), dtype=object),
            "starts_at": end,
            "ends_at": end,
            # Published just before the censoring instant: counted, as the slot was.
            "created_at": pd.Series(
                [observed - pd.Timedelta(microseconds=1)] * len(rows), dtype="datetime64[us, UTC]"
            ),
        }
    )


def _complete(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The frame's other columns, empty: NaT timestamps, None otherwise."""
    n = len(frame)
    for col in COLUMNS[name]:
        if col not in frame.columns:
            frame[col] = (
                pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
                if col in TIMESTAMP_COLUMNS
                else pd.Series([None] * n, index=frame.index, dtype=object)
            )
    return frame
