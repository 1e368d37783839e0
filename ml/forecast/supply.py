"""Supply against forecast demand: coverage per hour, shortage and surplus slots.

Coverage of an hour = offered tutor-hours / forecast bookings (DOMAIN.md "Marketplace").
A *shortage* is coverage below 80 % in an hour at least 12 hours ahead (time enough to
act: ask tutors to open hours, raise pay); a *surplus* is coverage above 130 %. Adjacent
hours of one subject and kind merge into one slot, so an evening short of tutors is one
slot, not five. Hours whose forecast demand is below ``min_demand`` are not judged: a
night hour with 0.1 expected bookings and no tutor is not a shortage, and 3 tutors for
it are not a surplus worth acting on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.forecast.model import ForecastError

SHORTAGE, SURPLUS = "shortage", "surplus"
SLOT_COLUMNS = [
    "subject", "kind", "start", "end", "hours", "demand", "supply", "coverage",
    "worst_coverage", "lead_hours",
]  # fmt: skip


@dataclass(frozen=True)
class BalanceSettings:
    shortage_below: float = 0.80
    surplus_above: float = 1.30
    min_lead_hours: float = 12.0  # shortages nearer than this cannot be acted on
    min_demand: float = 1.0  # expected bookings in an hour before coverage is judged

    def __post_init__(self) -> None:
        if not 0 < self.shortage_below < self.surplus_above:
            raise ForecastError("need 0 < shortage_below < surplus_above")
        if self.min_lead_hours < 0 or self.min_demand < 0:
            raise ForecastError("min_lead_hours and min_demand cannot be negative")


def coverage_table(demand: pd.DataFrame, supply: pd.DataFrame) -> pd.DataFrame:
    """Long table ``hour, subject, demand, supply, coverage`` from two wide frames
    (hour x subject): forecast mean bookings and offered tutor-hours. A subject missing
    from ``supply`` has none; coverage is NaN where demand is 0."""
    if not isinstance(demand.index, pd.DatetimeIndex):
        raise ForecastError("demand needs an hourly DatetimeIndex")
    supply = supply.reindex(index=demand.index, columns=demand.columns).fillna(0.0)
    d = demand.stack().rename("demand")
    s = supply.stack().rename("supply")
    out = pd.concat([d, s], axis=1).reset_index()
    out.columns = ["hour", "subject", "demand", "supply"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["coverage"] = np.where(out["demand"] > 0, out["supply"] / out["demand"], np.nan)
    return out


def balance_slots(
    table: pd.DataFrame, now: pd.Timestamp, settings: BalanceSettings | None = None
) -> pd.DataFrame:
    """Shortage and surplus slots from :func:`coverage_table` rows after ``now``.

    One row per slot: ``subject, kind, start, end`` (end exclusive), ``hours``, summed
    ``demand`` and ``supply``, the slot's ``coverage`` (supply / demand over it), its
    ``worst_coverage`` hour, and ``lead_hours`` from ``now`` to its start. Shortages
    only from ``min_lead_hours`` ahead. Sorted by kind, then worst coverage first."""
    cfg = settings or BalanceSettings()
    now = pd.Timestamp(now)
    if now.tzinfo is None:
        raise ForecastError("now must be a UTC timestamp")
    rows = table[(table["hour"] >= now) & (table["demand"] >= cfg.min_demand)].copy()
    rows["lead_hours"] = (rows["hour"] - now) / pd.Timedelta(hours=1)
    short = (rows["coverage"] < cfg.shortage_below) & (rows["lead_hours"] >= cfg.min_lead_hours)
    rows["kind"] = np.where(short, SHORTAGE, np.where(rows["coverage"] > cfg.surplus_above,
                                                      SURPLUS, ""))  # fmt: skip
    rows = rows[rows["kind"] != ""].sort_values(["subject", "kind", "hour"])
    if rows.empty:
        return pd.DataFrame(columns=SLOT_COLUMNS)
    # A new slot starts where the subject or kind changes or an hour is skipped.
    gap = rows["hour"].diff() != pd.Timedelta(hours=1)
    changed = (rows["subject"] != rows["subject"].shift()) | (rows["kind"] != rows["kind"].shift())
    rows["slot"] = (gap | changed).cumsum()
    slots = rows.groupby("slot").agg(
        subject=("subject", "first"),
        kind=("kind", "first"),
        start=("hour", "min"),
        last=("hour", "max"),
        hours=("hour", "size"),
        demand=("demand", "sum"),
        supply=("supply", "sum"),
        best=("coverage", "max"),
        low=("coverage", "min"),
        lead_hours=("lead_hours", "min"),
    )
    slots["end"] = slots["last"] + pd.Timedelta(hours=1)
    slots["coverage"] = slots["supply"] / slots["demand"]
    slots["worst_coverage"] = np.where(slots["kind"] == SHORTAGE, slots["low"], slots["best"])
    slots["order"] = np.where(slots["kind"] == SHORTAGE, slots["worst_coverage"],
                              -slots["worst_coverage"])  # fmt: skip
    slots = slots.sort_values(["kind", "order"])
    return slots[SLOT_COLUMNS].reset_index(drop=True)
