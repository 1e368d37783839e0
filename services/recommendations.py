"""Recommendation cards from the PRD's marketplace rules (DOMAIN.md "Marketplace").

After each daily forecast (:func:`services.forecasting.forecast_job`),
:func:`generate_recommendations` reads the newest stored forecast with its supply and the
synced bookings, sessions and tutors, and applies four rules per subject:

``recruit``      forecast demand above supply by 20 %        -> raise recruiting budget 15 %
``cut_spend``    supply above forecast demand by 30 %        -> cut spend 20 %
                 (unless its ROI is negative: short hours would lose more margin)
``priority``     bookings up 30 % week over week             -> make it a priority subject
``onboarding``   new tutors' first-session success below 60 % -> pause onboarding for review

Demand and supply are compared over the forecast's whole week (bookings vs tutor-hours
offered), not hour by hour: a budget is a weekly decision, and a single short hour is the
supply-shortage alert's job. That is also why a day yields a handful of cards (one per
subject and rule at most), not hundreds.

Each card has an action, a reason with the numbers, the expected impact, an ROI estimate
whose assumptions (:class:`RecommendationSettings`, plus the margin per booking measured
from the synced sessions) are stored on the card, a priority 1 (act first) to 5 from the
money at stake, and an expiry (the forecast's horizon). One open card per (rule,
subject): a new run refreshes an open card's numbers, expires it when its condition no
longer holds, and does not reopen a decided card before that card's expiry. "Implement"
and "Dismiss" (a reason is required) are audited in ``audit_log``;
:func:`acceptance_rate` gives implemented / decided per week.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, update

from ml.frames import MarketFrames
from services.db.engine import begin_write
from services.db.models import AuditEntry, ForecastRun, Recommendation
from services.labels import subject_label

RULES: dict[str, str] = {
    "recruit": "Raise recruiting budget",
    "cut_spend": "Cut supply spend",
    "priority": "Priority subject",
    "onboarding": "Pause onboarding for review",
}
STATES = ("open", "implemented", "dismissed", "expired")
DECISIONS = {"implement": "implemented", "dismiss": "dismissed"}


class RecommendationError(ValueError):
    """A request about recommendations cannot be done; the message says why."""


@dataclass(frozen=True)
class RecommendationSettings:
    """The PRD's thresholds and the ROI's assumptions; all stored with each card."""

    shortage_ratio: float = 1.20  # forecast demand / supply above this -> recruit
    recruit_raise: float = 0.15
    surplus_ratio: float = 1.30  # supply / forecast demand above this -> cut spend
    spend_cut: float = 0.20
    growth_wow: float = 0.30  # bookings last 7 days / the 7 before - 1
    min_weekly_bookings: int = 20  # growth of a tiny subject is noise
    first_session_target: float = 0.60
    min_first_sessions: int = 20  # rated first sessions of new tutors in the window
    first_session_days: int = 30
    new_tutor_days: int = 90  # "onboarding": tutors hired this recently
    # ROI assumptions (no spend data comes from the API; edit to the real figures).
    weekly_budget_per_subject: float = 1000.0  # recruiting/supply spend, USD a week
    cost_per_hire: float = 400.0  # USD
    hours_per_new_tutor: float = 6.0  # bookable hours a week
    payback_weeks: int = 12  # the horizon the ROI counts
    poor_first_session_churn: float = 0.30  # extra chance a customer leaves after one
    sessions_per_kept_customer: float = 10.0  # future sessions of a customer kept
    expiry_days: int = 7  # the forecast's horizon


@dataclass
class Card:
    """One recommendation before it is stored."""

    rule: str
    subject: str
    priority: int
    action: str
    reason: str
    impact: str
    roi: dict[str, Any]
    facts: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.subject}"


@dataclass
class GenerateResult:
    forecast_run_id: int | None
    created: list[int] = field(default_factory=list)
    refreshed: list[int] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.cards)} recommendations ({len(self.created)} new, "
            f"{len(self.refreshed)} refreshed, {len(self.expired)} expired)"
        )


# ---------------------------------------------------------------------- the rules


def priority_from_value(usd: float) -> int:
    """1 (act first) to 5 from the money at stake over the payback horizon."""
    for prio, floor in ((1, 10_000), (2, 5_000), (3, 2_000), (4, 500)):
        if usd >= floor:
            return prio
    return 5


def _margin_per_booking(frames: MarketFrames, as_of: pd.Timestamp) -> dict[str, float]:
    """Mean platform margin (price - tutor earnings) of completed sessions in the last 30
    days per subject, with ``"*"`` for all subjects (the fallback)."""
    s = frames.sessions
    done = s[(s["status"] == "completed") & (s["start_time"] >= as_of - pd.Timedelta(days=30))]
    margin = (done["price"].astype(float) - done["tutor_earnings"].astype(float)).dropna()
    out = margin.groupby(done.loc[margin.index, "subject"]).mean().to_dict()
    out["*"] = float(margin.mean()) if len(margin) else 0.0
    return {str(k): float(v) for k, v in out.items()}


def evaluate(
    points: pd.DataFrame,
    frames: MarketFrames,
    as_of: pd.Timestamp,
    settings: RecommendationSettings | None = None,
) -> list[Card]:
    """The cards the rules produce: ``points`` is a stored forecast (series, hour, mean,
    supply; ``total`` is ignored), ``frames`` the synced bookings, sessions and tutors,
    ``as_of`` the forecast's first hour (UTC). Pure: no database."""
    st = settings or RecommendationSettings()
    margins = _margin_per_booking(frames, as_of)
    cards: list[Card] = []
    subj = points[points["series"] != "total"]
    for subject, g in subj.groupby("series", sort=True):
        margin = margins.get(str(subject), margins["*"])
        cards += _balance_cards(str(subject), g, margin, st)
    cards += _growth_cards(frames, as_of, margins, st)
    cards += _onboarding_cards(frames, as_of, margins, st)
    return sorted(cards, key=lambda c: (c.priority, c.rule, c.subject))


def _balance_cards(
    subject: str, g: pd.DataFrame, margin: float, st: RecommendationSettings
) -> list[Card]:
    hours = len(g)
    weeks = hours / 168.0
    demand = float(g["mean"].sum())
    supply = float(g["supply"].fillna(0.0).sum())
    # Bookings the forecast expects in hours with fewer tutor-hours than bookings.
    unmet = float((g["mean"] - g["supply"].fillna(0.0)).clip(lower=0.0).sum())
    base = {
        "demand": round(demand, 1),
        "supply_hours": round(supply, 1),
        "unmet_bookings": round(unmet, 1),
        "forecast_hours": hours,
        "margin_per_booking": round(margin, 2),
    }
    budget, weeks_roi = st.weekly_budget_per_subject, st.payback_weeks
    if supply > 0 and demand > st.shortage_ratio * supply:
        extra = st.recruit_raise * budget
        spend = extra * weeks_roi
        hires = spend / st.cost_per_hire
        # Hires arrive evenly over the horizon, so on average each works half of it.
        hours_added = hires * st.hours_per_new_tutor * weeks_roi / 2.0
        recovered = min(hours_added, unmet / weeks * weeks_roi)
        value = recovered * margin
        ratio = (value - spend) / spend
        gap = demand / supply - 1.0
        return [
            Card(
                rule="recruit",
                subject=subject,
                priority=priority_from_value(value),
                action=f"Raise the {_name(subject)} recruiting budget by {st.recruit_raise:.0%} "
                f"(+${extra:,.0f} a week)",
                reason=f"{demand:,.0f} bookings forecast for the next {hours / 24:.0f} days "
                f"against {supply:,.0f} tutor-hours offered: demand {gap:.0%} above supply "
                f"(threshold {st.shortage_ratio - 1:.0%}); {unmet:,.0f} bookings fall in "
                "hours without enough tutors.",
                impact=f"About {hires:.1f} more hires in {weeks_roi} weeks, "
                f"{recovered:,.0f} bookings served that would be lost "
                f"(${value:,.0f} margin).",
                roi=_roi(
                    ratio,
                    value - spend,
                    spend,
                    value,
                    {
                        "weekly_budget_per_subject": budget,
                        "cost_per_hire": st.cost_per_hire,
                        "hours_per_new_tutor": st.hours_per_new_tutor,
                        "payback_weeks": weeks_roi,
                        "margin_per_booking": round(margin, 2),
                    },
                    "margin of the bookings recovered - extra spend, over the payback weeks",
                ),
                facts=base | {"demand_over_supply": round(gap, 4), "value_usd": round(value, 2)},
            )
        ]
    if demand > 0 and supply > st.surplus_ratio * demand:
        saving = st.spend_cut * budget * weeks_roi
        surplus = supply / demand - 1.0
        # The hires the cut forgoes, against the spare hours: bookings at risk.
        lost_hours = saving / st.cost_per_hire * st.hours_per_new_tutor * weeks_roi / 2.0
        at_risk = max(0.0, min(lost_hours, unmet / weeks * weeks_roi))
        lost = at_risk * margin
        if saving <= lost:
            # Surplus over the week but short in enough hours that the hires the cut
            # forgoes would have earned more than it saves: not worth recommending.
            return []
        return [
            Card(
                rule="cut_spend",
                subject=subject,
                priority=priority_from_value(saving - lost),
                action=f"Cut {_name(subject)} supply spend by {st.spend_cut:.0%} "
                f"(-${st.spend_cut * budget:,.0f} a week)",
                reason=f"{supply:,.0f} tutor-hours offered for {demand:,.0f} bookings "
                f"forecast in the next {hours / 24:.0f} days: supply {surplus:.0%} above "
                f"demand (threshold {st.surplus_ratio - 1:.0%}).",
                impact=f"Saves ${saving:,.0f} in {weeks_roi} weeks; about {at_risk:,.0f} "
                f"bookings at risk in short hours (${lost:,.0f} margin).",
                roi=_roi(
                    None,
                    saving - lost,
                    0.0,
                    saving,
                    {
                        "weekly_budget_per_subject": budget,
                        "cost_per_hire": st.cost_per_hire,
                        "hours_per_new_tutor": st.hours_per_new_tutor,
                        "payback_weeks": weeks_roi,
                        "margin_per_booking": round(margin, 2),
                    },
                    "spend saved - margin of the bookings the forgone hires would serve",
                ),
                facts=base | {"supply_over_demand": round(surplus, 4)},
            )
        ]
    return []


def _growth_cards(
    frames: MarketFrames,
    as_of: pd.Timestamp,
    margins: dict[str, float],
    st: RecommendationSettings,
) -> list[Card]:
    b = frames.bookings
    b = b[(b["status"] != "cancelled") & (b["scheduled_time"] < as_of)]
    week = pd.Timedelta(days=7)
    last = b[b["scheduled_time"] >= as_of - week].groupby("subject").size()
    prev = b[(b["scheduled_time"] >= as_of - 2 * week) & (b["scheduled_time"] < as_of - week)]
    prev = prev.groupby("subject").size()
    cards = []
    for subject, n_prev in prev.items():
        n_last = int(last.get(subject, 0))
        if n_prev < st.min_weekly_bookings or n_last <= (1.0 + st.growth_wow) * n_prev:
            continue
        growth = n_last / n_prev - 1.0
        margin = margins.get(str(subject), margins["*"])
        extra = n_last - int(n_prev)
        value = extra * margin * st.payback_weeks
        cards.append(
            Card(
                rule="priority",
                subject=str(subject),
                priority=priority_from_value(value),
                action=f"Make {_name(subject)} a priority subject: recruit and onboard for it "
                "first and ask its tutors to open more hours",
                reason=f"{n_last} bookings in the last 7 days against {int(n_prev)} the week "
                f"before: up {growth:.0%} (threshold {st.growth_wow:.0%}).",
                impact=f"{extra} more bookings a week; ${value:,.0f} margin over "
                f"{st.payback_weeks} weeks if the growth holds and is served.",
                roi=_roi(
                    None,
                    value,
                    0.0,
                    value,
                    {
                        "margin_per_booking": round(margin, 2),
                        "payback_weeks": st.payback_weeks,
                        "growth_holds": True,
                    },
                    "extra weekly bookings x margin x payback weeks",
                ),
                facts={
                    "bookings_last_7d": n_last,
                    "bookings_prev_7d": int(n_prev),
                    "growth": round(growth, 4),
                    "margin_per_booking": round(margin, 2),
                },
            )
        )
    return cards


def _onboarding_cards(
    frames: MarketFrames,
    as_of: pd.Timestamp,
    margins: dict[str, float],
    st: RecommendationSettings,
) -> list[Card]:
    s = frames.sessions
    since = as_of - pd.Timedelta(days=st.first_session_days)
    fs = s[
        s["first_session"].astype(bool)
        & s["rating"].notna()
        & (s["start_time"] >= since)
        & (s["start_time"] < as_of)
    ]
    hired = frames.tutors.set_index("id")["hired_at"]
    tenure = fs["start_time"] - fs["tutor_id"].map(hired)
    fs = fs[tenure < pd.Timedelta(days=st.new_tutor_days)]
    good = fs["rating"].astype(float) >= 4  # DOMAIN.md: successful = rated 4 or 5
    cards = []
    for subject, ok in good.groupby(fs["subject"]):
        n, rate = len(ok), float(ok.mean()) if len(ok) else 1.0
        if n < st.min_first_sessions or rate >= st.first_session_target:
            continue
        tutors = int(fs.loc[ok.index, "tutor_id"].nunique())
        per_week = n / (st.first_session_days / 7.0)
        # Poor first sessions a week beyond the target's share, each losing a customer
        # with the assumed extra probability.
        avoidable = (st.first_session_target - rate) * per_week
        kept = avoidable * st.poor_first_session_churn * st.payback_weeks
        margin = margins.get(str(subject), margins["*"])
        value = kept * st.sessions_per_kept_customer * margin
        cards.append(
            Card(
                rule="onboarding",
                subject=str(subject),
                priority=priority_from_value(value),
                action=f"Pause {_name(subject)} tutor onboarding and review its training",
                reason=f"First sessions of {tutors} {_name(subject)} tutors hired in the last "
                f"{st.new_tutor_days} days: {int(ok.sum())} of {n} rated 4+ in "
                f"{st.first_session_days} days ({rate:.0%}; target {st.first_session_target:.0%}).",
                impact=f"About {avoidable:.1f} fewer poor first sessions a week once fixed; "
                f"{kept:.1f} customers kept in {st.payback_weeks} weeks (${value:,.0f} margin).",
                roi=_roi(
                    None,
                    value,
                    0.0,
                    value,
                    {
                        "poor_first_session_churn": st.poor_first_session_churn,
                        "sessions_per_kept_customer": st.sessions_per_kept_customer,
                        "margin_per_booking": round(margin, 2),
                        "payback_weeks": st.payback_weeks,
                    },
                    "customers kept x their future sessions x margin",
                ),
                facts={
                    "first_sessions": n,
                    "successful": int(ok.sum()),
                    "success_rate": round(rate, 4),
                    "new_tutors": tutors,
                },
            )
        )
    return cards


def _name(subject: object) -> str:
    """A subject inside a card's sentence: "computer science", "French", "SAT prep"."""
    return subject_label(str(subject), capitalize=False)


def _roi(
    ratio: float | None,
    net: float,
    cost: float,
    value: float,
    assumptions: dict[str, Any],
    formula: str,
) -> dict[str, Any]:
    """The ROI as stored and shown: ``ratio`` is (value - cost) / cost where money is
    spent (None for a saving or a no-cost change), with every assumption used."""
    return {
        "ratio": round(ratio, 3) if ratio is not None else None,
        "net_usd": round(net, 2),
        "cost_usd": round(cost, 2),
        "value_usd": round(value, 2),
        "formula": formula,
        "assumptions": assumptions,
    }


def roi_text(roi: dict[str, Any] | None) -> str:
    """One line for the card: the estimate, then its assumptions."""
    if not roi:
        return ""
    head = f"net ${roi['net_usd']:,.0f}"
    if roi.get("ratio") is not None:
        head = f"ROI {roi['ratio']:.0%} ({head} on ${roi['cost_usd']:,.0f} spent)"
    parts = ", ".join(assumption_text(k, v) for k, v in roi.get("assumptions", {}).items())
    return f"{head}; {roi.get('formula', '')}; assuming {parts}"


# How each stored assumption reads: a sentence part with a slot and the value's unit.
# Unknown keys fall back to their words and the raw value, so a new assumption shows.
_ASSUMPTIONS: dict[str, tuple[str, str]] = {
    "weekly_budget_per_subject": ("a weekly budget per subject of {}", "usd"),
    "cost_per_hire": ("a cost per hire of {}", "usd"),
    "hours_per_new_tutor": ("new tutors offering {}", "hours_week"),
    "payback_weeks": ("a payback horizon of {}", "weeks"),
    "margin_per_booking": ("a margin per booking of {}", "usd"),
    "poor_first_session_churn": ("{} extra churn after a poor first session", "share"),
    "sessions_per_kept_customer": ("{} future sessions per kept customer", "number"),
}


def assumption_text(key: str, value: Any) -> str:
    """``("cost_per_hire", 400.0)`` -> ``"a cost per hire of $400"``."""
    if key == "growth_holds":
        return "the growth holds" if value else "the growth fades"
    template, unit = _ASSUMPTIONS.get(key, (key.replace("_", " ") + " {}", "number"))
    if not isinstance(value, int | float) or isinstance(value, bool):
        return template.format(value)
    if unit == "usd":
        shown = f"${value:,.0f}" if float(value).is_integer() else f"${value:,.2f}"
    elif unit == "share":
        shown = f"{value:.0%}"
    elif unit == "weeks":
        shown = f"{value:g} weeks"
    elif unit == "hours_week":
        shown = f"{value:g} h a week"
    else:
        shown = f"{value:,.4g}"
    return template.format(shown)


# ---------------------------------------------------------------------- storage


def _naive(t: datetime | pd.Timestamp) -> datetime:
    ts = pd.Timestamp(t)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def generate_recommendations(
    engine: Engine,
    *,
    run_id: int | None = None,
    frames: MarketFrames | None = None,
    settings: RecommendationSettings | None = None,
    now: datetime | None = None,
) -> GenerateResult:
    """Apply the rules to the newest forecast (or ``run_id``) and store the cards (module
    doc: de-duplication, refresh, expiry). ``frames``: the synced data if already loaded."""
    from services.forecasting import forecast_points, latest_run_id
    from services.ml_data import load_frames

    st = settings or RecommendationSettings()
    now = now or datetime.now(UTC)
    run_id = run_id if run_id is not None else latest_run_id(engine)
    result = GenerateResult(run_id)
    if run_id is None:
        return result
    with engine.connect() as conn:
        as_of = conn.execute(select(ForecastRun.as_of).where(ForecastRun.id == run_id))
        as_of_ts = pd.Timestamp(_naive(as_of.scalar_one()))
    points = forecast_points(engine, run_id)
    frames = frames or load_frames(engine, ("bookings", "sessions", "tutors"))
    result.cards = evaluate(points, frames, as_of_ts, st)
    thresholds = dataclasses.asdict(st)
    expires = now + timedelta(days=st.expiry_days)
    r = Recommendation
    with begin_write(engine) as conn:
        # Past their expiry: closed first, so their keys can open again below.
        gone = conn.execute(
            update(r)
            .where(r.state == "open", r.expires_at <= now)
            .values(state="expired", open_key=None, updated_at=now, decision_note="expired")
            .returning(r.id)
        ).scalars()
        result.expired += list(gone)
        open_by_key = dict(conn.execute(select(r.key, r.id).where(r.state == "open")).all())
        blocked = set(
            conn.execute(
                select(r.key).where(r.state.in_(("implemented", "dismissed")), r.expires_at > now)
            ).scalars()
        )
        fired = set()
        for card in result.cards:
            fired.add(card.key)
            values = {
                "priority": card.priority,
                "action": card.action,
                "reason": card.reason,
                "impact": card.impact,
                "roi": card.roi,
                "facts": card.facts,
                "thresholds": thresholds,
                "forecast_run_id": run_id,
                "updated_at": now,
                "expires_at": expires,
            }
            if card.key in open_by_key:
                rec_id = open_by_key[card.key]
                conn.execute(update(r).where(r.id == rec_id).values(**values))
                result.refreshed.append(rec_id)
            elif card.key not in blocked:
                new_id = conn.execute(
                    insert(r)
                    .values(
                        key=card.key,
                        open_key=card.key,
                        rule=card.rule,
                        subject=card.subject,
                        state="open",
                        created_at=now,
                        **values,
                    )
                    .returning(r.id)
                ).scalar_one()
                result.created.append(new_id)
        # The condition no longer holds: the open card goes (it would mislead).
        cleared = [i for k, i in open_by_key.items() if k not in fired]
        if cleared:
            conn.execute(
                update(r)
                .where(r.id.in_(cleared))
                .values(
                    state="expired",
                    open_key=None,
                    updated_at=now,
                    decision_note="condition no longer holds",
                )
            )
            result.expired += cleared
    return result


def decide(
    engine: Engine,
    rec_id: int,
    decision: str,
    *,
    actor: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> str:
    """Implement or dismiss an open card (dismissing needs a reason); audited. Returns
    the new state; raises :class:`RecommendationError` when it cannot be done."""
    if decision not in DECISIONS:
        raise RecommendationError(f"unknown decision {decision!r}: implement or dismiss")
    note = (reason or "").strip()
    if decision == "dismiss" and not note:
        raise RecommendationError("a dismissal needs a reason")
    if not actor:
        raise RecommendationError("who decides must be known (actor)")
    now = now or datetime.now(UTC)
    state = DECISIONS[decision]
    r = Recommendation
    with begin_write(engine) as conn:
        row = conn.execute(select(r.state, r.key).where(r.id == rec_id)).one_or_none()
        if row is None:
            raise RecommendationError(f"no recommendation {rec_id}")
        if row.state != "open":
            raise RecommendationError(f"recommendation {rec_id} is already {row.state}")
        conn.execute(
            update(r)
            .where(r.id == rec_id)
            .values(
                state=state,
                open_key=None,
                decided_at=now,
                decided_by=actor,
                decision_note=note or None,
                updated_at=now,
            )
        )
        conn.execute(
            insert(AuditEntry).values(
                at=now,
                actor=actor,
                action=f"recommendation.{decision}",
                entity_type="recommendation",
                entity_id=str(rec_id),
                details={"key": row.key, "state": state, "reason": note or None},
            )
        )
    return state


# ---------------------------------------------------------------------- reading


def list_recommendations(
    bind: Engine | Connection,
    *,
    states: Sequence[str] | None = ("open",),
    subject: str | None = None,
    max_priority: int | None = None,
) -> list[dict[str, Any]]:
    """Cards as plain dicts, most urgent first; ``states=None`` for all."""
    r = Recommendation
    q = select(r.__table__).order_by(r.priority, r.created_at.desc(), r.id)
    if states is not None:
        q = q.where(r.state.in_(list(states)))
    if subject:
        q = q.where(r.subject == subject)
    if max_priority is not None:
        q = q.where(r.priority <= max_priority)
    if isinstance(bind, Connection):
        rows = bind.execute(q).mappings().all()
    else:
        with bind.connect() as conn:
            rows = conn.execute(q).mappings().all()
    return [dict(row) for row in rows]


@dataclass
class Acceptance:
    implemented: int
    dismissed: int
    # week (Monday, UTC), implemented, dismissed, rate
    by_week: pd.DataFrame

    @property
    def rate(self) -> float | None:
        decided = self.implemented + self.dismissed
        return self.implemented / decided if decided else None


def acceptance_rate(bind: Engine | Connection) -> Acceptance:
    """Implemented / (implemented + dismissed), overall and per week of the decision."""
    r = Recommendation
    q = select(r.state, r.decided_at).where(r.state.in_(("implemented", "dismissed")))
    if isinstance(bind, Connection):
        rows = bind.execute(q).all()
    else:
        with bind.connect() as conn:
            rows = conn.execute(q).all()
    cols = ["week", "implemented", "dismissed", "rate"]
    if not rows:
        return Acceptance(0, 0, pd.DataFrame(columns=cols))
    df = pd.DataFrame(rows, columns=["state", "decided_at"])
    at = pd.to_datetime(df["decided_at"], utc=True)
    df["week"] = (at.dt.tz_localize(None).dt.to_period("W-SUN").dt.start_time).dt.tz_localize("UTC")
    wk = pd.crosstab(df["week"], df["state"]).reindex(
        columns=["implemented", "dismissed"], fill_value=0
    )
    wk["rate"] = wk["implemented"] / (wk["implemented"] + wk["dismissed"])
    by_week = wk.reset_index()[cols]
    imp, dis = int(wk["implemented"].sum()), int(wk["dismissed"].sum())
    return Acceptance(imp, dis, by_week)


def subjects(bind: Engine) -> list[str]:
    """Subjects that have cards, for the page's filter."""
    with bind.connect() as conn:
        found = conn.execute(select(Recommendation.subject).distinct()).scalars().all()
    return sorted(found)


def priority_label(priority: int) -> str:
    return f"P{priority}" if 1 <= priority <= 5 else "?"


__all__ = [
    "RULES",
    "Acceptance",
    "Card",
    "GenerateResult",
    "RecommendationError",
    "RecommendationSettings",
    "acceptance_rate",
    "decide",
    "evaluate",
    "generate_recommendations",
    "list_recommendations",
]
