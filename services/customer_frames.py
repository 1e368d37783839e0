"""Narrow frames of customers and their completed sessions, for the Customers page's
Velocity and Churn tabs (``services.customer_velocity``, ``services.customer_churn_view``).

Only the columns those tabs read, fetched with the raw driver cursor: at full scale
(55,000 customers, 450,000 completed sessions) SQLAlchemy Row objects and one datetime
per value would cost more than the analysis itself. On SQLite timestamps come back as
text and parse in one vectorised call; on PostgreSQL as datetimes.

Definitions shared with ``ml/`` (``ml.features.customer``, ``ml.labels``):

- a customer *joined* at ``created_at``, else midnight UTC of ``signup_date``;
- a customer *churned* at ``churned_at`` when their status is ``churned`` (``paused`` is
  not churn);
- a *session* is a completed session, placed at its ``start_time``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, func, select

from services.customers import latest_customer_run, raw_columns
from services.db.models import Customer, TutoringSession

SQLITE_TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
DAY = pd.Timedelta(days=1)


def to_utc(values: Any) -> pd.Series:
    """A column of timestamps or dates, as the driver returned them, as UTC datetimes
    (NaT for missing or unreadable values)."""
    values = np.asarray(values, dtype=object)
    first = next((v for v in values if v is not None), None)
    if isinstance(first, str):
        try:  # SQLite's naive UTC text: numpy parses ISO text in C, 20x faster than pandas
            stamps = np.array(values, dtype="datetime64[us]")
            return pd.Series(stamps).dt.tz_localize("UTC")
        except ValueError:
            out = pd.to_datetime(pd.Series(values), utc=True, errors="coerce", format="mixed")
    else:
        out = pd.to_datetime(pd.Series(values), utc=True, errors="coerce")
    return out.astype("datetime64[us, UTC]")


@dataclass(frozen=True)
class CustomerFrames:
    """What the tabs compute from, as of the data time."""

    as_of: pd.Timestamp  # the newest customer scoring run's as-of, else the newest session
    history_start: pd.Timestamp | None  # midnight before the first synced session
    customers: pd.DataFrame  # customer_id, joined, churned_at, status, channel
    sessions: pd.DataFrame  # customer_id, start: completed sessions before as_of


def data_time(conn: Connection) -> pd.Timestamp:
    """The instant every figure is relative to: the newest customer scoring run's as-of
    (so the tabs agree with the list's scores), else the newest completed session."""
    run = latest_customer_run(conn)
    at = run.as_of if run is not None else None
    if at is None:
        s = TutoringSession.__table__.c
        at = conn.execute(
            select(func.max(s.start_time)).where(s.status == "completed", s.deleted_at.is_(None))
        ).scalar()
    stamp = pd.Timestamp(at if at is not None else datetime.now(UTC))
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def load_customers(conn: Connection) -> pd.DataFrame:
    c = Customer.__table__.c
    cols = raw_columns(
        conn,
        select(
            c.id, c.created_at, c.signup_date, c.churned_at, c.status, c.acquisition_channel
        ).where(c.deleted_at.is_(None)),
        6,
    )
    created, signup = to_utc(cols[1]), to_utc(cols[2])
    return pd.DataFrame(
        {
            "customer_id": cols[0].astype(np.int64),
            "joined": created.where(created.notna(), signup),
            "churned_at": to_utc(cols[3]),
            "status": pd.Series(cols[4], dtype=object).fillna(""),
            "channel": pd.Series(cols[5], dtype=object).fillna(""),
        }
    )


def load_completed_sessions(conn: Connection, until: pd.Timestamp) -> pd.DataFrame:
    """Completed sessions of known customers that started before ``until``."""
    s = TutoringSession.__table__.c
    ids, start = raw_columns(
        conn,
        select(s.customer_id, s.start_time).where(
            s.status == "completed", s.deleted_at.is_(None), s.customer_id.is_not(None)
        ),
        2,
    )
    frame = pd.DataFrame({"customer_id": ids.astype(np.int64), "start": to_utc(start)})
    return frame[frame["start"].notna() & (frame["start"] < until)].reset_index(drop=True)


def history_start(conn: Connection) -> pd.Timestamp | None:
    """Midnight UTC before the first synced session (any status): what happened before
    it is unknown to this database, so a customer who joined earlier has an unseen
    start."""
    s = TutoringSession.__table__.c
    first = conn.execute(select(func.min(s.start_time)).where(s.deleted_at.is_(None))).scalar()
    if first is None:
        return None
    stamp = pd.Timestamp(first)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.floor("D")


def load_customer_frames(engine: Engine) -> CustomerFrames:
    with engine.connect() as conn:
        as_of = data_time(conn)
        return CustomerFrames(
            as_of=as_of,
            history_start=history_start(conn),
            customers=load_customers(conn),
            sessions=load_completed_sessions(conn, as_of),
        )


def active_at(customers: pd.DataFrame, at: pd.Timestamp) -> pd.Series:
    """Joined before ``at`` and not churned by it (``ml.features.customer.active_at``)."""
    joined = customers["joined"].notna() & (customers["joined"] < at)
    gone = (customers["status"] == "churned") & (customers["churned_at"] <= at)
    return joined & ~gone.fillna(False)


def churned_between(customers: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Churned in (start, end]: the customer churn model's label over that horizon."""
    churned = customers["status"] == "churned"
    at = customers["churned_at"]
    return (churned & (at > start) & (at <= end)).fillna(False)


def sessions_per_week(
    customers: pd.DataFrame, sessions: pd.DataFrame, at: pd.Timestamp
) -> pd.Series:
    """Sessions per week over the 30 days before ``at``, per customer (index aligned
    with ``customers``): the churn model's ``sessions_per_week`` feature, sessions in
    the window times 7 over the tenure clipped to 7-30 days (a customer who joined 10
    days ago and had 2 sessions books 1.4 a week, not 0.47)."""
    window = sessions[(sessions["start"] >= at - 30 * DAY) & (sessions["start"] < at)]
    counts = window["customer_id"].value_counts()
    n = customers["customer_id"].map(counts).fillna(0).to_numpy(dtype=float)
    tenure = ((at - customers["joined"]) / DAY).to_numpy(dtype=float, na_value=np.nan)
    days = np.clip(np.nan_to_num(tenure, nan=0.0), 7.0, 30.0)
    return pd.Series(n * 7.0 / days, index=customers.index)
