"""Anomalies on the marketplace's metric streams (DOMAIN.md "Marketplace").

Six hourly streams, from the synced data: bookings made (``created_at``), cancellation
rate and no-show rate of sessions (by start hour), average rating (by end hour), inbound
calls, tutor logins. Each is kept as numerator and denominator per hour, so a rate over
any window is sum/sum, not a mean of noisy hourly rates.

Three checks at an instant ``at`` (the last complete hour ends there), thresholds per
metric (:class:`MetricThresholds`, overridable in Settings):

``zscore``  the last hours against the same hour of day over the previous 14 days:
            beyond ``z`` SDs in at least 2 of the last 3 hours, the same way. One hour
            alone is not enough: at 2 SD one hour in 44 is "anomalous" by chance, which
            would be several false alarms a day across six streams.
``wow``     the last 24 hours against the same 24 hours a week before: a change above
            ``wow`` (20 %) that is also beyond 2 SD of sampling noise (a 20 % move of a
            rate measured on 30 sessions is noise).
``drops``   ``drops`` (3) days in a row each worse than the same weekday a week before
            (by more than 1 SD of noise and half of ``wow``): a slide, judged against
            last week so a normal Friday-Saturday-Sunday decline does not count.

SD floors: a count's SD is at least Poisson's sqrt(mean), a rate's at least the
binomial one, a rating's at least ``RATING_SD``/sqrt(n): 14 history points alone can
understate the noise.

:func:`detect` is pure (frames in, anomalies out); the alert rule ``metric_anomaly``
(services.alerts.anomaly_rules) loads the last five weeks from the database after each
sync's scoring run. :func:`inject_anomaly` (used by the sandbox and the tests) changes
the frames so a metric misbehaves for a few hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ml.frames import MarketFrames

HISTORY_DAYS = 14
WINDOW_DAYS = 36  # history + a week for week over week + the 3 days of drops, with room
RATING_SD = 1.0  # assumed spread of single ratings (1-5 scale) for the rating's noise


@dataclass(frozen=True)
class Metric:
    name: str
    title: str
    kind: str  # count / rate / mean
    bad: int  # +1 when a rise is bad (cancellations), -1 when a fall is (bookings)
    look_at: str  # where to look, shown in the alert
    view: str  # the page that shows it
    min_den: int = 1  # hours with fewer units in the denominator are not judged


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("bookings", "Bookings per hour", "count", -1,
               "the booking flow: sync errors, checkout, marketing campaigns", "forecast"),
        Metric("cancellation_rate", "Cancellation rate", "rate", +1,
               "sessions cancelled in the window: which subjects and tutors", "tutors", 5),
        Metric("average_rating", "Average rating", "mean", -1,
               "the sessions rated in the window: tutors and subjects with low ratings",
               "tutors", 3),
        Metric("no_show_rate", "No-show rate", "rate", +1,
               "no-shows in the window: tutors or customers, reminders", "tutors", 5),
        Metric("inbound_calls", "Inbound calls", "count", +1,
               "the calls' reason codes: a product or billing problem", "customers"),
        Metric("logins", "Tutor logins", "count", -1,
               "the tutor app: login errors, an outage, a release", "tutors"),
    )
}  # fmt: skip


@dataclass(frozen=True)
class MetricThresholds:
    z: float = 2.0
    wow: float = 0.20
    drops: int = 3


def thresholds_for(
    overrides: dict[str, dict[str, Any]] | None = None,
) -> dict[str, MetricThresholds]:
    """Defaults with Settings' per-metric overrides (``{"bookings": {"z": 3}}``)."""
    out = {}
    for name in METRICS:
        extra = (overrides or {}).get(name, {})
        out[name] = MetricThresholds(
            z=float(extra.get("z", 2.0)),
            wow=float(extra.get("wow", 0.20)),
            drops=int(extra.get("drops", 3)),
        )
    return out


@dataclass
class Anomaly:
    metric: str
    check: str  # zscore / wow / drops
    at: pd.Timestamp  # end of the window judged
    current: float
    expected_low: float
    expected_high: float
    direction: int  # +1 up, -1 down
    score: float  # z (or the slide's weakest z)
    text: str
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def bad(self) -> bool:
        return self.direction == METRICS[self.metric].bad


# ---------------------------------------------------------------------- streams


def metric_streams(frames: MarketFrames, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Hourly ``<metric>_num`` and ``<metric>_den`` columns for every hour in
    [start, end), zeros where nothing happened."""
    hours = pd.date_range(start.floor("h"), end.floor("h"), freq="h", inclusive="left")
    out = pd.DataFrame(index=hours)

    def count(times: pd.Series, weights: pd.Series | None = None) -> pd.Series:
        t = times.dt.floor("h")
        keep = (t >= hours[0]) & (t <= hours[-1]) if len(hours) else t.isna()
        w = weights[keep] if weights is not None else pd.Series(1.0, index=t[keep].index)
        return w.groupby(t[keep]).sum().reindex(hours, fill_value=0.0).astype(float)

    b = frames.bookings
    out["bookings_num"] = count(b["created_at"])
    out["bookings_den"] = 1.0
    s = frames.sessions
    done = s[s["status"] != "scheduled"]
    out["cancellation_rate_num"] = count(done["start_time"], (done["status"] == "cancelled") * 1.0)
    out["cancellation_rate_den"] = count(done["start_time"])
    no_show = done["status"].astype(str).str.startswith("no_show") * 1.0
    held = done[done["status"] != "cancelled"]
    out["no_show_rate_num"] = count(held["start_time"], no_show[held.index])
    out["no_show_rate_den"] = count(held["start_time"])
    rated = s[s["rating"].notna()]
    out["average_rating_num"] = count(rated["end_time"], rated["rating"].astype(float))
    out["average_rating_den"] = count(rated["end_time"])
    out["inbound_calls_num"] = count(frames.calls["call_time"])
    out["inbound_calls_den"] = 1.0
    e = frames.engagement
    logins = e[e["event_type"] == "login"]
    out["logins_num"] = count(logins["occurred_at"])
    out["logins_den"] = 1.0
    return out


# ---------------------------------------------------------------------- checks


def _value(num: float, den: float, kind: str) -> float:
    if kind == "count":
        return num
    return num / den if den > 0 else float("nan")


def _noise(kind: str, value: float, den: float) -> float:
    """The SD a single window's value has from sampling alone."""
    if kind == "count":
        return float(np.sqrt(max(value, 1.0)))
    if kind == "rate":
        p = min(max(value, 0.01), 0.99)
        return float(np.sqrt(p * (1 - p) / max(den, 1.0)))
    return RATING_SD / float(np.sqrt(max(den, 1.0)))


def _clip(metric: Metric, lo: float, hi: float) -> tuple[float, float]:
    """An expected range a value can have: counts and rates not below 0, rates not
    above 1, ratings within 1-5."""
    bounds = {"count": (0.0, np.inf), "rate": (0.0, 1.0), "mean": (1.0, 5.0)}[metric.kind]
    return max(lo, bounds[0]), min(hi, bounds[1])


def _fmt(metric: Metric, v: float) -> str:
    if metric.kind == "rate":
        return f"{100 * v:.1f} %"
    if metric.kind == "mean":
        return f"{v:.2f}"
    return f"{v:,.0f}"


def detect(
    streams: pd.DataFrame,
    at: pd.Timestamp,
    thresholds: dict[str, MetricThresholds] | None = None,
) -> list[Anomaly]:
    """Every anomaly at ``at`` (the hour before ``at`` is the last complete one)."""
    th = thresholds or thresholds_for()
    out: list[Anomaly] = []
    for name, metric in METRICS.items():
        num, den = streams[f"{name}_num"], streams[f"{name}_den"]
        t = th[name]
        found = [
            _zscore(metric, num, den, at, t),
            _wow(metric, num, den, at, t),
            _drops(metric, num, den, at, t),
        ]
        out += [a for a in found if a is not None]
    return out


def _zscore(
    metric: Metric, num: pd.Series, den: pd.Series, at: pd.Timestamp, t: MetricThresholds
) -> Anomaly | None:
    # (z, value, usual, sd, hour) of each of the last three hours, oldest first.
    hours: list[tuple[float, float, float, float, pd.Timestamp] | None] = []
    for k in (3, 2, 1):
        h = at - pd.Timedelta(hours=k)
        past = [h - pd.Timedelta(days=d) for d in range(1, HISTORY_DAYS + 1)]
        if h not in num.index or past[-1] not in num.index:
            return None
        if den[h] < metric.min_den:
            hours.append(None)
            continue
        v = _value(num[h], den[h], metric.kind)
        hist = np.array(
            [_value(num[p], den[p], metric.kind) for p in past if den[p] >= metric.min_den]
        )
        if len(hist) < HISTORY_DAYS // 2:
            hours.append(None)
            continue
        mu = float(hist.mean())
        sd = max(float(hist.std(ddof=1)), _noise(metric.kind, mu, float(den[h])))
        hours.append(((v - mu) / sd, v, mu, sd, h))
    zs = [0.0 if x is None else x[0] for x in hours]
    for sign in (+1, -1):
        beyond = [x for x in hours if x is not None and sign * x[0] > t.z]
        if len(beyond) >= 2:
            # Report the latest hour that is beyond the range, so the value shown lies
            # outside the range shown (the very last hour may have come back inside).
            _z, v, mu, sd, h = beyond[-1]
            lo, hi = _clip(metric, mu - t.z * sd, mu + t.z * sd)
            word = "above" if sign > 0 else "below"
            return Anomaly(
                metric.name, "zscore", at, v, lo, hi, sign, max(abs(z) for z in zs),
                f"{metric.title} {_fmt(metric, v)} at {h:%a %H:00} UTC, {word} the usual "
                f"{_fmt(metric, lo)}-{_fmt(metric, hi)} for that hour "
                f"({len(beyond)} of the last 3 hours beyond {t.z:g} SD)",
                {"z_last_3h": [round(z, 2) for z in zs], "mean": mu, "sd": sd},
            )  # fmt: skip
    return None


def _window(num: pd.Series, den: pd.Series, end: pd.Timestamp, kind: str) -> tuple[float, float]:
    sl = slice(end - pd.Timedelta(hours=24), end - pd.Timedelta(hours=1))
    n, d = float(num.loc[sl].sum()), float(den.loc[sl].sum())
    return _value(n, d, kind), d


def _compare(
    metric: Metric, num: pd.Series, den: pd.Series, end: pd.Timestamp
) -> tuple[float, float, float, float] | None:
    """(value now, value a week before, relative change, z of the difference) of the
    24 hours ending at ``end``."""
    week = pd.Timedelta(days=7)
    if end - week - pd.Timedelta(hours=24) < num.index[0] or end > num.index[-1] + pd.Timedelta(
        hours=1
    ):
        return None
    v1, d1 = _window(num, den, end, metric.kind)
    v0, d0 = _window(num, den, end - week, metric.kind)
    if not (np.isfinite(v1) and np.isfinite(v0)) or v0 <= 0:
        return None
    if metric.kind != "count" and min(d1, d0) < 4 * metric.min_den:
        return None
    noise = float(np.hypot(_noise(metric.kind, v1, d1), _noise(metric.kind, v0, d0)))
    return v1, v0, v1 / v0 - 1.0, (v1 - v0) / noise if noise > 0 else 0.0


def _wow(
    metric: Metric, num: pd.Series, den: pd.Series, at: pd.Timestamp, t: MetricThresholds
) -> Anomaly | None:
    c = _compare(metric, num, den, at)
    if c is None:
        return None
    v1, v0, rel, z = c
    if abs(rel) <= t.wow or abs(z) <= 2.0:
        return None
    sign = 1 if rel > 0 else -1
    lo, hi = _clip(metric, v0 * (1 - t.wow), v0 * (1 + t.wow))
    return Anomaly(
        metric.name, "wow", at, v1, lo, hi, sign, abs(z),
        f"{metric.title} {_fmt(metric, v1)} in the 24 hours to {at:%a %H:00} UTC against "
        f"{_fmt(metric, v0)} a week before ({rel:+.0%}; threshold {t.wow:.0%})",
        {"previous": v0, "change": rel, "z": z},
    )  # fmt: skip


def _drops(
    metric: Metric, num: pd.Series, den: pd.Series, at: pd.Timestamp, t: MetricThresholds
) -> Anomaly | None:
    days = []
    for k in range(t.drops):
        c = _compare(metric, num, den, at - pd.Timedelta(days=k))
        if c is None:
            return None
        days.append(c)
    # Each day worse than the same weekday a week before, beyond 1 SD of noise and by
    # half the week-over-week threshold: at full scale 1 SD of Poisson noise is ~2 %,
    # and the market's own drift of a few percent would be a "slide" every other day.
    if not all(metric.bad * z > 1.0 and metric.bad * rel > t.wow / 2 for _v1, _v0, rel, z in days):
        return None
    v1, v0, rel, _z = days[0]
    lo, hi = _clip(metric, v0 * (1 - t.wow), v0 * (1 + t.wow))
    return Anomaly(
        metric.name, "drops", at, v1, lo, hi, metric.bad,
        min(abs(d[3]) for d in days),
        f"{metric.title} worse than the week before for {t.drops} days in a row, "
        f"{_fmt(metric, v1)} in the last 24 hours against {_fmt(metric, v0)} ({rel:+.0%})",
        {"changes": [round(d[2], 4) for d in days]},
    )  # fmt: skip


# ---------------------------------------------------------------------- sandbox


def inject_anomaly(
    frames: MarketFrames,
    metric: str,
    start: pd.Timestamp,
    hours: int,
    *,
    keep: float = 0.3,
    seed: int = 0,
) -> MarketFrames:
    """A copy of ``frames`` in which ``metric`` misbehaves for ``hours`` from ``start``:
    for count metrics only ``keep`` of the records of those hours remain (an outage);
    for ``cancellation_rate``/``no_show_rate`` that share of held sessions turns
    cancelled/no-show; for ``average_rating`` those hours' ratings drop to 1-2."""
    import dataclasses

    rng = np.random.default_rng(seed)
    end = start + pd.Timedelta(hours=hours)
    f = dataclasses.replace(frames)

    def thin(df: pd.DataFrame, col: str) -> pd.DataFrame:
        inside = (df[col] >= start) & (df[col] < end)
        drop = inside & (rng.random(len(df)) > keep)
        return df[~drop]

    if metric == "bookings":
        f.bookings = thin(frames.bookings, "created_at")
    elif metric == "inbound_calls":  # a flood of calls: each call of the window x (1/keep)
        c = frames.calls
        inside = c[(c["call_time"] >= start) & (c["call_time"] < end)]
        f.calls = pd.concat([c] + [inside] * max(1, round(1 / keep) - 1), ignore_index=True)
    elif metric == "logins":
        e = frames.engagement
        logins = e["event_type"] == "login"
        f.engagement = pd.concat([e[~logins], thin(e[logins], "occurred_at")])
    elif metric in ("cancellation_rate", "no_show_rate", "average_rating"):
        s = frames.sessions.copy()
        time_col = "end_time" if metric == "average_rating" else "start_time"
        inside = (s[time_col] >= start) & (s[time_col] < end) & (s["status"] == "completed")
        hit = inside & (rng.random(len(s)) > keep)
        if metric == "average_rating":
            rated = hit & s["rating"].notna()
            s.loc[rated, "rating"] = rng.integers(1, 3, int(rated.sum()))
        else:
            s.loc[hit, "status"] = "cancelled" if metric == "cancellation_rate" else "no_show_tutor"
        f.sessions = s
    else:
        raise ValueError(f"unknown metric {metric!r}: one of {', '.join(METRICS)}")
    return f


# ---------------------------------------------------------------------- database


def load_window(conn: Any, start: pd.Timestamp, end: pd.Timestamp) -> MarketFrames:
    """The records the streams need, from ``start`` to ``end`` only (five weeks, not
    the whole history: the alert evaluation runs after every sync)."""
    from sqlalchemy import and_, select

    from services.db.models import Booking, EngagementEvent, InboundCall, TutoringSession

    lo, hi = start.to_pydatetime(), end.to_pydatetime()

    def frame(cols: list[Any], time_col: Any, table: Any) -> pd.DataFrame:
        q = select(*cols).where(and_(table.deleted_at.is_(None), time_col >= lo, time_col < hi))
        # The raw driver's tuples and one vectorised parse (as services.ml_data does):
        # SQLAlchemy's per-row datetime processing and Row objects took 4 s for the
        # 400,000 records of five weeks at full scale; the rule runs after every sync.
        sql = str(q.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute(sql)
            rows = cursor.fetchall()
        finally:
            cursor.close()
        df = pd.DataFrame.from_records(rows, columns=[c.key for c in cols])
        for c in df.columns:
            if c.endswith(("_at", "_time")):
                df[c] = _to_utc(df[c])
        if "rating" in df:
            df["rating"] = pd.to_numeric(df["rating"], errors="coerce")
        return df

    f = MarketFrames.empty(end)
    b, s, c, e = Booking, TutoringSession, InboundCall, EngagementEvent
    f.bookings = frame([b.created_at], b.created_at, b)
    f.sessions = frame([s.start_time, s.end_time, s.status, s.rating], s.start_time, s)
    f.calls = frame([c.call_time], c.call_time, c)
    f.engagement = frame([e.event_type, e.occurred_at], e.occurred_at, e)
    return f


def _to_utc(values: pd.Series) -> pd.Series:
    from services.ml_data import SQLITE_TS_FORMAT

    if len(values) and isinstance(values.iloc[0], str):  # SQLite keeps timestamps as text
        return pd.to_datetime(values, format=SQLITE_TS_FORMAT, utc=True, errors="coerce")
    return pd.to_datetime(values, utc=True)
