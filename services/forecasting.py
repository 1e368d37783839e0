"""Daily demand forecasts on the local database, stored so their accuracy can be scored.

:func:`run_forecast` loads the synced bookings and availability slots, runs
:func:`ml.forecast.demand.forecast_demand` (every subject and the total, 7 days ahead
from 90 days of history, with rolling-origin backtests) and writes one
``forecast_runs`` row with its ``forecast_points`` in one transaction: the model
version, the creation time, the backtest figures, and the shortage/surplus slots.

Historical accuracy tracking: :func:`forecast_accuracy` scores every stored forecast
against the bookings that have since arrived for its hours (hours up to the data's
``observed_until``): WAPE, daily-total MAPE, interval coverage and bias per run and
series. :func:`shortage_slots` reads the newest run's shortage and surplus slots
(recomputed against a given ``now`` so lead times stay true as the day goes on).

The job ``forecast`` runs once a day (``DAILY``; DOMAIN.md "Schedules").
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, delete, func, insert, select

from ml.forecast import ForecastConfig, ForecastError
from ml.forecast.demand import DemandForecast, demand_history, forecast_demand, slots_from_points
from ml.forecast.supply import SLOT_COLUMNS, BalanceSettings
from ml.frames import MarketFrames
from services.db.engine import begin_write
from services.db.models import ForecastPoint, ForecastRun
from services.ml_data import load_frames

log = logging.getLogger(__name__)

HORIZON_HOURS = 7 * 24
HISTORY_DAYS = 90
BACKTEST_ORIGINS = 4
# Retention of the per-hour points (15 series x 168 hours = 2,520 rows a day): every run
# keeps them while recent (its week is scored, the accuracy of recent runs is what the
# page shows), then one run a week keeps them for the long-run accuracy trend, and past
# a year only the run's summary row (its backtest figures and slots) stays.
KEEP_ALL_POINTS_DAYS = 35
KEEP_WEEKLY_POINTS_DAYS = 365


class ForecastingError(RuntimeError):
    """Forecasting could not run (no data, too little history); the message says why."""


class ForecastingCancelledError(ForecastingError):
    pass


@dataclass
class ForecastRunResult:
    run_id: int
    as_of: pd.Timestamp
    created_at: datetime
    model_version: str
    series: list[str]
    backtest: dict[str, dict[str, float | None]]
    slots: pd.DataFrame
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def run_forecast(
    engine: Engine,
    *,
    trigger: str = "manual",
    progress: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    horizon: int = HORIZON_HOURS,
    history_days: int = HISTORY_DAYS,
    backtest_origins: int | None = None,
    config: ForecastConfig | None = None,
    balance: BalanceSettings | None = None,
    now: datetime | None = None,
    as_of: datetime | pd.Timestamp | None = None,
) -> ForecastRunResult:
    """Refit every series on the database's data and store the forecast as one run.

    ``as_of`` forecasts as if at an earlier time (a backfill): only bookings for hours
    before it and slots published before it are used, so the run can be scored against
    the hours that followed (:func:`forecast_accuracy`). ``now`` is the stored creation
    time (default: the wall clock)."""
    say = progress or (lambda _m: None)
    cancel = cancel or threading.Event()
    origins = BACKTEST_ORIGINS if backtest_origins is None else backtest_origins
    started = time.perf_counter()
    say("loading bookings and availability from the local database")
    frames = load_frames(engine, ("bookings", "availability"))
    if frames.bookings.empty:
        raise ForecastingError("no bookings to forecast from: sync the marketplace first")
    observed = frames.observed_until
    availability = frames.availability
    if as_of is not None:
        at = pd.Timestamp(as_of)
        observed = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
        # Only what was published by then (bookings are cut at the hour by the history).
        availability = availability[availability["created_at"] < observed]
    try:
        fc = forecast_demand(
            frames.bookings,
            availability,
            observed,
            horizon=horizon,
            history_days=history_days,
            backtest_origins=origins,
            config=config or ForecastConfig(history_days=history_days),
            balance=balance,
            progress=lambda m: _step(cancel, say, m),
            cancel=cancel,
        )
    except ForecastError as exc:
        if cancel.is_set():
            raise ForecastingCancelledError("forecasting cancelled") from None
        raise ForecastingError(f"cannot forecast: {exc}") from None
    if fc.points.empty:
        reasons = "; ".join(f"{k}: {v}" for k, v in fc.errors.items())
        raise ForecastingError(f"no series could be forecast ({reasons})")
    _step(cancel, say, "saving the forecast")
    created = now or datetime.now(UTC)
    seconds = time.perf_counter() - started
    run_id = _store(engine, fc, trigger, created, horizon, seconds, balance or BalanceSettings())
    pruned = prune_forecast_points(engine, now=created)
    if pruned:
        log.info("forecast points of %d older runs pruned", pruned)
    log.info("forecast run %d: %d series in %.1fs", run_id, fc.points["series"].nunique(), seconds)
    return ForecastRunResult(
        run_id=run_id,
        as_of=fc.as_of,
        created_at=created,
        model_version=fc.model_version,
        series=list(dict.fromkeys(fc.points["series"])),
        backtest=fc.backtest,
        slots=fc.slots,
        errors=fc.errors,
        seconds=seconds,
    )


def balance_from(alerts: Any) -> BalanceSettings:
    """The shortage/surplus thresholds of ``services.settings.AlertSettings``."""
    return BalanceSettings(
        shortage_below=float(alerts.shortage_coverage),
        surplus_above=float(alerts.surplus_coverage),
        min_lead_hours=float(alerts.shortage_lead_hours),
    )


def _step(cancel: threading.Event, say: Callable[[str], None], message: str) -> None:
    if cancel.is_set():
        raise ForecastingCancelledError("forecasting cancelled")
    say(message)


def _store(
    engine: Engine,
    fc: DemandForecast,
    trigger: str,
    created: datetime,
    horizon: int,
    seconds: float,
    balance: BalanceSettings,
) -> int:
    points = fc.points
    hours = [t.to_pydatetime() for t in pd.DatetimeIndex(points["hour"])]
    supply = points["supply"].to_numpy(dtype=float)
    rows = [
        {
            "series": s,
            "hour": h,
            "mean": float(m),
            "lower": float(lo),
            "upper": float(up),
            "supply": float(sp) if np.isfinite(sp) else None,
        }
        for s, h, m, lo, up, sp in zip(
            points["series"].tolist(),
            hours,
            points["mean"].to_numpy(dtype=float),
            points["lower"].to_numpy(dtype=float),
            points["upper"].to_numpy(dtype=float),
            supply,
            strict=True,
        )
    ]
    with begin_write(engine) as conn:
        run_id = conn.execute(
            insert(ForecastRun)
            .values(
                created_at=created,
                trigger=trigger,
                as_of=fc.as_of.to_pydatetime(),
                horizon_hours=horizon,
                model_version=fc.model_version,
                # The slots' thresholds too: the run's slots are re-derived with them.
                config=_json_safe(
                    {**dataclasses.asdict(fc.config), "balance": dataclasses.asdict(balance)}
                ),
                backtest=_json_safe(fc.backtest),
                slots=slots_json(fc.slots),
                errors=fc.errors or None,
                seconds=round(seconds, 3),
            )
            .returning(ForecastRun.id)
        ).scalar_one()
        for row in rows:
            row["run_id"] = run_id
        conn.execute(insert(ForecastPoint), rows)
    return run_id


def prune_forecast_points(
    engine: Engine,
    *,
    now: datetime | None = None,
    keep_all_days: int = KEEP_ALL_POINTS_DAYS,
    keep_weekly_days: int = KEEP_WEEKLY_POINTS_DAYS,
) -> int:
    """Delete the per-hour points of old runs; returns how many runs lost theirs.

    Runs created within ``keep_all_days`` of ``now`` keep their points; older ones keep
    them only if they are the first run of their ISO week and within
    ``keep_weekly_days``. The newest run always keeps its points (the page and the
    supply rule read it, however old). Run rows are never deleted."""
    now = now or datetime.now(UTC)
    now_ts = pd.Timestamp(now)
    now_ts = now_ts.tz_localize("UTC") if now_ts.tzinfo is None else now_ts.tz_convert("UTC")
    with engine.connect() as conn:
        runs = conn.execute(
            select(ForecastRun.id, ForecastRun.created_at).where(
                ForecastRun.id.in_(select(ForecastPoint.run_id).distinct())
            )
        ).all()
        newest = conn.execute(select(func.max(ForecastRun.id))).scalar()
    if not runs:
        return 0
    frame = pd.DataFrame(runs, columns=["id", "created_at"])
    frame["created_at"] = _utc(frame["created_at"])
    age = (now_ts - frame["created_at"]) / pd.Timedelta(days=1)
    week = frame["created_at"].dt.tz_convert(None).dt.to_period("W")
    first_of_week = frame.groupby(week)["created_at"].transform("min") == frame["created_at"]
    keep = (age <= keep_all_days) | (first_of_week & (age <= keep_weekly_days))
    keep |= frame["id"] == newest
    drop = [int(i) for i in frame.loc[~keep, "id"]]
    if not drop:
        return 0
    with begin_write(engine) as conn:
        for chunk in range(0, len(drop), 500):
            ids = drop[chunk : chunk + 500]
            conn.execute(delete(ForecastPoint).where(ForecastPoint.run_id.in_(ids)))
    return len(drop)


# ---------------------------------------------------------------------- reading


@contextmanager
def _connection(bind: Engine | Connection) -> Iterator[Connection]:
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


def latest_run_id(bind: Engine | Connection) -> int | None:
    with _connection(bind) as conn:
        return conn.execute(select(func.max(ForecastRun.id))).scalar()


def forecast_points(bind: Engine | Connection, run_id: int | None = None) -> pd.DataFrame:
    """A run's points (the newest run by default): series, hour (UTC), mean, lower,
    upper, supply. Empty before the first forecast."""
    run_id = run_id if run_id is not None else latest_run_id(bind)
    cols = ["series", "hour", "mean", "lower", "upper", "supply"]
    if run_id is None:
        return pd.DataFrame(columns=cols)
    fp = ForecastPoint
    with _connection(bind) as conn:
        rows = conn.execute(
            select(fp.series, fp.hour, fp.mean, fp.lower, fp.upper, fp.supply)
            .where(fp.run_id == run_id)
            .order_by(fp.series, fp.hour)
        ).all()
    out = pd.DataFrame(rows, columns=cols)
    out["hour"] = _utc(out["hour"])
    return out


def shortage_slots(
    engine: Engine | Connection,
    *,
    now: datetime | pd.Timestamp | None = None,
    run_id: int | None = None,
    settings: BalanceSettings | None = None,
) -> pd.DataFrame:
    """Shortage and surplus slots of the newest forecast (or ``run_id``) from ``now`` on
    (default: the run's first hour), with lead times from ``now``. Columns as
    :data:`ml.forecast.supply.SLOT_COLUMNS`."""
    run_id = run_id if run_id is not None else latest_run_id(engine)
    points = forecast_points(engine, run_id)
    if points.empty:
        return pd.DataFrame(columns=SLOT_COLUMNS)
    at = pd.Timestamp(now) if now is not None else points["hour"].min()
    at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
    return slots_from_points(points, at, settings or _stored_balance(engine, run_id))


def _stored_balance(bind: Engine | Connection, run_id: int | None) -> BalanceSettings:
    """The thresholds a run's slots were made with (the defaults for older runs)."""
    with _connection(bind) as conn:
        config = conn.execute(select(ForecastRun.config).where(ForecastRun.id == run_id)).scalar()
    stored = (config or {}).get("balance") if isinstance(config, dict) else None
    if not stored:
        return BalanceSettings()
    try:
        return BalanceSettings(**stored)
    except (TypeError, ForecastError):
        return BalanceSettings()


def forecast_accuracy(
    engine: Engine,
    *,
    until: datetime | pd.Timestamp | None = None,
    frames: MarketFrames | None = None,
) -> pd.DataFrame:
    """Every stored forecast scored against the bookings that arrived for its hours.

    One row per (run, series) with at least one hour before ``until`` (default: the
    data's ``observed_until``): ``run_id, created_at, model_version, series, hours``
    scored, ``actual`` and ``forecast`` totals, ``wape``, ``daily_mape`` (complete
    24-hour blocks from the run's first hour), ``coverage`` of the 95 % interval and
    ``bias`` (forecast / actual - 1). Newest runs first. ``frames``: bookings already
    loaded (else they are read here)."""
    cols = ["run_id", "created_at", "model_version", "series", "hours", "actual", "forecast",
            "wape", "daily_mape", "coverage", "bias"]  # fmt: skip
    frames = frames if frames is not None else load_frames(engine, ("bookings",))
    end = pd.Timestamp(until) if until is not None else frames.observed_until
    end = (end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")).floor("h")
    fp, fr = ForecastPoint, ForecastRun
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                fr.id,
                fr.created_at,
                fr.model_version,
                fr.as_of,
                fp.series,
                fp.hour,
                fp.mean,
                fp.lower,
                fp.upper,
            )
            .join(fr, fr.id == fp.run_id)
            .where(fp.hour < end.tz_convert(None).to_pydatetime())
        ).all()
    if not rows:
        return pd.DataFrame(columns=cols)
    pts = pd.DataFrame(rows, columns=["run_id", "created_at", "model_version", "as_of",
                                      "series", "hour", "mean", "lower", "upper"])  # fmt: skip
    pts["hour"] = _utc(pts["hour"])
    pts["as_of"] = _utc(pts["as_of"])
    first = pts["hour"].min()
    days = int(np.ceil((end - first) / pd.Timedelta(days=1))) + 1
    actual = demand_history(frames.bookings, end, days, sorted(set(pts["series"]) - {"total"}))
    long = actual.stack().rename("actual").rename_axis(["hour", "series"]).reset_index()
    pts = pts.merge(long, on=["hour", "series"], how="left")
    pts["actual"] = pts["actual"].fillna(0.0)
    pts["err"] = (pts["actual"] - pts["mean"]).abs()
    pts["inside"] = (pts["actual"] >= pts["lower"]) & (pts["actual"] <= pts["upper"])
    pts["day"] = (pts["hour"] - pts["as_of"]) // pd.Timedelta(days=1)
    out = []
    for (run_id, series), g in pts.groupby(["run_id", "series"], sort=False):
        total = float(g["actual"].sum())
        daily = g.groupby("day").agg(y=("actual", "sum"), f=("mean", "sum"), n=("actual", "size"))
        daily = daily[(daily["n"] == 24) & (daily["y"] > 0)]
        out.append(
            {
                "run_id": int(run_id),
                "created_at": g["created_at"].iloc[0],
                "model_version": g["model_version"].iloc[0],
                "series": series,
                "hours": len(g),
                "actual": total,
                "forecast": float(g["mean"].sum()),
                "wape": float(g["err"].sum() / total) if total > 0 else None,
                "daily_mape": float(((daily["y"] - daily["f"]).abs() / daily["y"]).mean())
                if len(daily)
                else None,
                "coverage": float(g["inside"].mean()),
                "bias": float(g["mean"].sum() / total - 1.0) if total > 0 else None,
            }
        )
    return pd.DataFrame(out, columns=cols).sort_values(["run_id", "series"],
                                                       ascending=[False, True],
                                                       ignore_index=True)  # fmt: skip


# ---------------------------------------------------------------------- the page


@dataclass
class SeriesView:
    """Everything the Forecast page shows for one series (a subject or ``total``)."""

    name: str
    history: pd.DataFrame  # hour, actual (the days before the forecast)
    forecast: pd.DataFrame  # hour, mean, lower, upper, supply
    slots: pd.DataFrame  # shortage/surplus slots (subjects only)
    backtest: dict[str, Any]
    accuracy: pd.DataFrame  # past runs scored: run_id, created_at, hours, wape, ...


@dataclass
class ForecastView:
    run_id: int | None
    created_at: datetime | None
    as_of: pd.Timestamp | None
    model_version: str
    series: dict[str, SeriesView] = field(default_factory=dict)


def forecast_view(engine: Engine, *, history_days: int = 14) -> ForecastView:
    """The newest forecast of every series with its recent history, slots, backtest and
    the accuracy of past runs: loaded at once, so the page switches series in memory."""
    run_id = latest_run_id(engine)
    if run_id is None:
        return ForecastView(None, None, None, "")
    with engine.connect() as conn:
        run = conn.execute(
            select(
                ForecastRun.created_at,
                ForecastRun.as_of,
                ForecastRun.model_version,
                ForecastRun.backtest,
            ).where(ForecastRun.id == run_id)
        ).one()
    as_of = pd.Timestamp(run.as_of)
    as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
    points = forecast_points(engine, run_id)
    slots = shortage_slots(engine, run_id=run_id)
    frames = load_frames(engine, ("bookings",))  # once, for the history and the accuracy
    accuracy = forecast_accuracy(engine, frames=frames)
    names = list(dict.fromkeys(points["series"]))
    history = demand_history(frames.bookings, as_of, history_days,
                             [n for n in names if n != "total"])  # fmt: skip
    view = ForecastView(run_id, run.created_at, as_of, run.model_version)
    backtests = run.backtest or {}
    for name in names:
        hist = history[name] if name in history else pd.Series(0, index=history.index)
        view.series[name] = SeriesView(
            name=name,
            history=hist.rename("actual").rename_axis("hour").reset_index(),
            forecast=points[points["series"] == name].drop(columns="series").reset_index(drop=True),
            slots=slots[slots["subject"] == name].reset_index(drop=True),
            backtest=backtests.get(name, {}),
            accuracy=accuracy[accuracy["series"] == name].reset_index(drop=True),
        )
    return view


# ---------------------------------------------------------------------- helpers


def slots_json(slots: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"shortage": [], "surplus": []}
    for rec in slots.to_dict("records"):
        out.setdefault(str(rec["kind"]), []).append(_json_safe(rec))
    return out


def _utc(values: pd.Series) -> pd.Series:
    out = pd.to_datetime(values)
    return out.dt.tz_localize("UTC") if out.dt.tz is None else out.dt.tz_convert("UTC")


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    return value


# ---------------------------------------------------------------------- scheduled job


def register_jobs(registry: Any) -> None:
    """Forecasts once a day (DOMAIN.md "Schedules")."""
    from services.jobs import DAILY

    registry.register(
        "forecast",
        forecast_job,
        title="Demand forecast",
        triggers={DAILY},
        description="bookings per hour per subject for 7 days, supply and shortages",
    )


def forecast_job(ctx: Any) -> dict[str, Any]:
    settings = getattr(ctx, "settings", None)
    balance = balance_from(settings.alerts) if settings is not None else None
    result = run_forecast(
        ctx.engine,
        trigger=ctx.trigger,
        progress=ctx.progress,
        cancel=ctx.cancel_event,
        balance=balance,
    )
    short = int((result.slots["kind"] == "shortage").sum()) if len(result.slots) else 0
    summary = f"{len(result.series)} series forecast 7 days ahead; {short} shortage slots"
    # The recommendations read this run (PRD: recruiting and spend follow the forecast).
    from services.recommendations import generate_recommendations

    ctx.progress("recommendations from the new forecast")
    recs = generate_recommendations(ctx.engine, run_id=result.run_id)
    return {
        "summary": f"{summary}; {recs.summary()}",
        "run_id": result.run_id,
        "errors": result.errors,
        "recommendations": {"open": len(recs.cards), "new": len(recs.created)},
    }
