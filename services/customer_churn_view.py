"""The Customers page's Churn tab (issue 8): where the churn risk sits, and where new
customers drop off.

- **risk distribution**: every customer's P(churn 30 d) from the newest scoring run that
  scored customers (the list's figure), in 5-point bins, with the run's risk-tier
  cut-offs.
- **risk by group**: mean P(churn 30 d), the number of customers and the share at High or
  Critical, by acquisition channel, main subject (the subject of most of the customer's
  sessions, any status: a booking says what they study, as on the list), tutor
  consistency (the model's ``tutor_consistency_90d`` figure kept with the prediction:
  the share of the last 90 days' sessions with the usual tutor) and velocity (sessions
  per week over the last 30 days from the same figures, the Velocity tab's segments).
- **drop-off funnel**: of the customers who joined since the synced session history
  began (an older customer's first sessions are not in this database), how many reached
  their 1st, 2nd, 3rd, 5th and 10th completed session by the data time, with the share
  of sign-ups and of the stage before. Recent sign-ups are still on their way; the
  funnel is a snapshot, not a cohort outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, select

from services.customer_frames import (
    CustomerFrames,
    data_time,
    history_start,
    load_completed_sessions,
    load_customers,
    raw_columns,
)
from services.customer_velocity import SEGMENTS
from services.customers import latest_customer_run, score_settings, session_mix
from services.db.models import CustomerPrediction

RISK_BIN = 0.05
FUNNEL_STAGES = (1, 2, 3, 5, 10)
DIMENSIONS = ("Channel", "Subject", "Tutor consistency", "Velocity")
# (label, lower bound inclusive, upper bound exclusive) of tutor_consistency_90d
CONSISTENCY_BANDS: tuple[tuple[str, float, float], ...] = (
    ("under 50 %", 0.0, 0.5),
    ("50–79 %", 0.5, 0.8),
    ("80–99 %", 0.8, 1.0),
    ("100 % (one tutor)", 1.0, 1.01),
)
NO_SESSIONS_90D = "no sessions in 90 days"


@dataclass(frozen=True, slots=True)
class RiskGroup:
    dimension: str
    group: str
    customers: int
    mean_risk: float
    high_share: float  # share at High or Critical, the run's cut-offs
    order: int  # position within its dimension (bands in their natural order)


@dataclass(frozen=True, slots=True)
class FunnelStage:
    label: str
    sessions: int  # completed sessions reached; 0 for "Signed up"
    customers: int
    share_of_signups: float | None
    share_of_previous: float | None


@dataclass(frozen=True)
class CustomerChurnView:
    as_of: datetime | None  # the scoring run's as-of; None: never scored
    run_id: int | None
    scored: int
    risk_edges: tuple[float, ...]
    risk_counts: tuple[int, ...]
    cutoffs: tuple[tuple[str, float], ...]  # ("Medium", 0.25), ("High", 0.5), ...
    groups: tuple[RiskGroup, ...]
    funnel: tuple[FunnelStage, ...]
    funnel_since: datetime | None
    funnel_as_of: datetime

    def dimension(self, name: str) -> tuple[RiskGroup, ...]:
        return tuple(sorted((g for g in self.groups if g.dimension == name), key=lambda g: g.order))


def _predictions(conn: Connection, run_id: int) -> pd.DataFrame:
    p = CustomerPrediction.__table__.c
    figures = p.components["figures"]
    cols = raw_columns(
        conn,
        select(
            p.customer_id,
            p.p_churn_30d,
            # Extracted by the database: decoding 50,000 JSON documents in Python costs
            # more than the rest of the tab.
            figures["sessions_30d"].as_float(),
            figures["tenure_days"].as_float(),
            figures["tutor_consistency_90d"].as_float(),
        ).where(p.run_id == run_id),
        5,
    )
    names = ["customer_id", "p", "sessions_30d", "tenure_days", "consistency"]
    frame = pd.DataFrame(
        {n: pd.to_numeric(c, errors="coerce") for n, c in zip(names, cols, strict=True)}
    )
    frame["customer_id"] = frame["customer_id"].astype(np.int64)
    return frame


def main_subjects(conn: Connection) -> pd.Series:
    """customer_id -> the subject of most of their sessions (ties alphabetical): the
    first of the list's subjects (``services.customers``), the same definition."""
    mix = session_mix(conn)
    ids = [cid for cid, (subjects, _tutor) in mix.items() if subjects]
    return pd.Series(
        [mix[cid][0][0] for cid in ids], index=np.asarray(ids, dtype=np.int64), dtype=object
    )


def _band(
    values: pd.Series, bands: tuple[tuple[str, float, float], ...], missing: str
) -> pd.Series:
    out = pd.Series(missing, index=values.index, dtype=object)
    for label, lo, hi in bands:
        out[(values >= lo) & (values < hi)] = label
    return out


def risk_groups(preds: pd.DataFrame, high_cut: float) -> tuple[RiskGroup, ...]:
    """Mean risk, n and share at High+ per group of each dimension (``preds`` carries
    ``p`` and one column per dimension, already labelled)."""
    scored = preds[preds["p"].notna()]
    out: list[RiskGroup] = []
    for dim, orders in (
        ("Channel", None),
        ("Subject", None),
        ("Tutor consistency", [b[0] for b in CONSISTENCY_BANDS] + [NO_SESSIONS_90D]),
        ("Velocity", [s[0] for s in SEGMENTS]),
    ):
        grouped = scored.groupby(dim, sort=True)["p"]
        stats = pd.DataFrame(
            {
                "n": grouped.size(),
                "mean": grouped.mean(),
                "high": grouped.apply(lambda p: float((p >= high_cut).mean())),
            }
        )
        if orders is None:  # most customers first
            keys = sorted(stats.index, key=lambda k: (-int(stats.at[k, "n"]), str(k)))
        else:
            keys = [k for k in orders if k in stats.index]
        for i, key in enumerate(keys):
            r = stats.loc[key]
            out.append(RiskGroup(dim, str(key), int(r["n"]), float(r["mean"]), float(r["high"]), i))
    return tuple(out)


def funnel(frames: CustomerFrames) -> tuple[FunnelStage, ...]:
    """Customers who joined since the history began, by completed sessions reached."""
    c, start = frames.customers, frames.history_start
    if start is None:
        return ()
    joined = c[c["joined"].notna() & (c["joined"] >= start) & (c["joined"] < frames.as_of)]
    counts = frames.sessions["customer_id"].value_counts()
    n = joined["customer_id"].map(counts).fillna(0).to_numpy()
    total = len(joined)
    stages = [FunnelStage("Signed up", 0, total, 1.0 if total else None, None)]
    for k in FUNNEL_STAGES:
        reached = int((n >= k).sum())
        prev = stages[-1].customers
        stages.append(
            FunnelStage(
                f"{k}{'st' if k == 1 else 'nd' if k == 2 else 'rd' if k == 3 else 'th'} session",
                k,
                reached,
                reached / total if total else None,
                reached / prev if prev else None,
            )
        )
    return tuple(stages)


def customer_churn_view(engine: Engine) -> CustomerChurnView:
    """The Churn tab's figures from the local database (module doc)."""
    with engine.connect() as conn:
        run = latest_customer_run(conn)
        as_of = data_time(conn)
        customers = load_customers(conn)
        frames = CustomerFrames(
            as_of=as_of,
            history_start=history_start(conn),
            customers=customers,
            sessions=load_completed_sessions(conn, as_of),
        )
        preds = _predictions(conn, run.id) if run is not None else None
        subjects = main_subjects(conn) if run is not None else None
    settings = score_settings(run.thresholds if run is not None else None)
    cutoffs = (
        ("Medium", settings.risk_medium),
        ("High", settings.risk_high),
        ("Critical", settings.risk_critical),
    )
    edges = tuple(float(x) for x in np.round(np.arange(0, 1 + RISK_BIN / 2, RISK_BIN), 4))
    counts: tuple[int, ...] = (0,) * (len(edges) - 1)
    groups: tuple[RiskGroup, ...] = ()
    scored = 0
    if preds is not None and subjects is not None:
        live = set(customers["customer_id"].tolist())
        preds = preds[preds["customer_id"].isin(live)].copy()
        p = preds["p"].dropna().clip(0, 1).to_numpy()
        scored = len(p)
        hist, _ = np.histogram(p, bins=np.array(edges))
        counts = tuple(int(x) for x in hist)
        channel = customers.set_index("customer_id")["channel"]
        preds["Channel"] = (
            preds["customer_id"]
            .map(channel)
            .fillna("")
            .replace("", "unknown")
            .str.replace("_", " ")
        )
        preds["Subject"] = (
            preds["customer_id"].map(subjects).fillna("no sessions").str.replace("_", " ")
        )
        preds["Tutor consistency"] = _band(preds["consistency"], CONSISTENCY_BANDS, NO_SESSIONS_90D)
        days = np.clip(preds["tenure_days"].fillna(0).to_numpy(), 7.0, 30.0)
        rate = pd.Series(preds["sessions_30d"].fillna(0).to_numpy() * 7.0 / days, preds.index)
        preds["Velocity"] = _band(rate, SEGMENTS, SEGMENTS[0][0])
        high_cut = float(settings.risk_high)
        groups = risk_groups(preds, high_cut)
    return CustomerChurnView(
        as_of=run.as_of if run is not None else None,
        run_id=int(run.id) if run is not None else None,
        scored=scored,
        risk_edges=edges,
        risk_counts=counts,
        cutoffs=cutoffs,
        groups=groups,
        funnel=funnel(frames),
        funnel_since=(
            frames.history_start.to_pydatetime() if frames.history_start is not None else None
        ),
        funnel_as_of=as_of.to_pydatetime(),
    )
