"""The simulator: state of the marketplace and the day loop that moves it forward.

One call of :meth:`Simulator.step` simulates one UTC day, in this order: tutors' declines
start, deepen or end and engagement follows; tutors churn (hazard from their latent
state) and are replaced by hires; availability is published 14 days ahead; customers
relax, their lapses start, deepen or end, they churn, pause or resume, and new ones sign
up; managers intervene (history only); customers book and bookings are matched;
declining tutors call off some booked sessions; session events of the day run; calls,
logins and replies happen; profile changes, deletions and the bulk backfill are
written. Every day draws from its own RNG streams (``SeedSequence([seed, component,
day])``), so a world extended day by day is identical to one generated in one go, and
changing one component leaves the others' draws alone.
"""

from __future__ import annotations

import math

import numpy as np

from services.api.contract import (
    BOOKING_STATUSES,
    CUSTOMER_STATUSES,
    ENGAGEMENT_EVENT_TYPES,
    GOAL_STATUSES,
    INTERVENTION_STATUSES,
    INTERVENTION_TYPES,
    RESCHEDULED_BY,
    RESOURCES,
    SENTIMENTS,
    SESSION_STATUSES,
    TUTOR_STATUSES,
)
from services.api.rails_time import US_PER_DAY, US_PER_HOUR
from services.sandbox.store import VersionLog
from services.sandbox.world import calls as calls_mod
from services.sandbox.world import demand, engagement, interventions, sessions, supply
from services.sandbox.world.config import (
    ACQUISITION_CHANNELS,
    CALL_REASONS,
    CERTIFICATIONS,
    LEGACY_CHANNEL,
    SUBJECT_DEMAND_SHARE,
    SUBJECTS,
    TIMEZONES,
    WARMUP_DAYS,
    TutorDeclineModel,
    WorldConfig,
)
from services.sandbox.world.customers import (
    ACTIVE as C_ACTIVE,
)
from services.sandbox.world.customers import (
    CHURNED as C_CHURNED,
)
from services.sandbox.world.customers import (
    GOAL_COMPLETED,
    GOAL_IN_PROGRESS,
    GOAL_NONE,
    GRADES,
    INITIAL_SEGMENT_MIX,
    PAUSED,
    SIGNUP_SEGMENT_MIX,
    CustomerPool,
    draw_customers,
    initial_signup_days,
    signup_times,
    velocity_per_week,
)
from services.sandbox.world.emit import NULL, Chunks, finalize, with_none
from services.sandbox.world.names import draw_names
from services.sandbox.world.personas import PersonaPlan, PersonaTutor
from services.sandbox.world.timeline import US_PER_MINUTE, Timeline
from services.sandbox.world.tutors import (
    CHURNED,
    DECLINING,
    HIRE_MIX,
    HORIZON_DAYS,
    INACTIVE,
    INITIAL_MIX,
    MAX_BLOCKS,
    MAX_SUBJECTS,
    NO_ONSET,
    NORMAL,
    TutorPool,
    churn_curves,
    draw_certifications,
    draw_tutors,
    hire_time_us,
    initial_hire_times,
)

# Stable stream keys: adding a component never renumbers the others.
COMPONENTS = {
    "managers": 1,
    "tutors_init": 2,
    "customers_init": 3,
    "personas": 4,
    "prepublish": 5,
    "drift": 10,
    "tutor_churn": 11,
    "hire": 12,
    "publish": 13,
    "customer_churn": 14,
    "signup": 15,
    "interventions": 16,
    "requests": 17,
    "match": 18,
    "sessions": 19,
    "calls": 20,
    "engagement": 21,
    "profile": 22,
    "bulk": 23,
    "bookings": 24,
    "deletions": 25,
    "tutor_cancel": 26,
}
DAY_KEY_OFFSET = 100_000  # SeedSequence wants non-negative entropy; warm-up days are < 0
HIRE_CATCH_UP = 0.25  # share of the tutor shortfall hired per day
SIGNUP_CATCH_UP = 0.15
PAUSE_RATE = 0.0008  # per day, for customers with negative health
PROFILE_UPDATE_RATE = 0.004  # per day, scaled by engagement
CHANNEL_SHARE = (0.3, 0.22, 0.2, 0.12, 0.08, 0.08)
CHURNED_SHARE = 0.10  # of all customers at the anchor (segments 30/40/20/10)
EXPECTED_DAILY_CHURN = 0.0005  # what the customer hazard gives, on average
INITIAL_LAPSING = 0.015  # share of customers lapsing on day 0 (at health 0)


class TextVocab:
    """Free-text values (intervention reasons, notes, keys) as codes."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._codes: dict[str, int] = {}

    def __call__(self, value: str | None) -> int:
        if value is None:
            return -1
        code = self._codes.get(value)
        if code is None:
            code = len(self.values)
            self.values.append(value)
            self._codes[value] = code
        return code


class Simulator:
    """All state of one world; :meth:`run_until` advances it and fills ``out``."""

    def __init__(self, cfg: WorldConfig) -> None:
        self.cfg = cfg
        self.knobs = knobs = cfg.scale_knobs
        self.anchor_us = cfg.anchor_us
        anchor_midnight = cfg.anchor_us - cfg.anchor_us % US_PER_DAY
        origin = anchor_midnight - (knobs.history_days + WARMUP_DAYS) * US_PER_DAY
        self.tl = Timeline(origin, cfg.anchor_us)
        self.day = 0
        days_hint = self.tl.anchor_day + cfg.future_days + 40
        self.tl.ensure(days_hint)
        self.out: dict[str, Chunks] = {name: Chunks() for name in RESOURCES}
        self._ids: dict[str, int] = dict.fromkeys(RESOURCES, 0)
        self.text = TextVocab()
        cap_t = int(knobs.active_tutors * 1.6) + 16
        cap_c = int(knobs.active_customers * 1.3) + 16
        self.tutors = TutorPool(cap_t, days_hint)
        self.customers = CustomerPool(cap_c, days_hint)
        self.grid = supply.SupplyGrid(cap_t)
        self.slots = supply.SlotBook()
        self.sessions = sessions.SessionBook()
        self.calls = calls_mod.CallBook()
        self.intervention_truth: list[dict[str, object]] = []
        self.external_interventions: list[dict[str, object]] = []
        self._tutor_events: list[tuple[np.ndarray, np.ndarray, str, np.ndarray]] = []
        self._customer_events: list[tuple[np.ndarray, np.ndarray, str, np.ndarray]] = []
        self.anchor_truth: dict[str, np.ndarray] = {}
        self.manager_names: list[str] = []
        self.manager_emails: list[str] = []
        self.plan: PersonaPlan | None = None
        # The Rails update_all: its stored instant and the customer ids it touched.
        self.bulk_at_us: int | None = None
        self.bulk_ids = np.zeros(0, dtype=np.int64)
        self._init_world()

    # ------------------------------------------------------------------ plumbing

    def rng(self, component: str, day: int = 0) -> np.random.Generator:
        key = [self.cfg.seed, COMPONENTS[component], day + DAY_KEY_OFFSET]
        return np.random.default_rng(np.random.SeedSequence(key))

    def new_ids(self, resource: str, n: int) -> np.ndarray:
        start = self._ids[resource]
        self._ids[resource] = start + n
        return np.arange(start + 1, start + n + 1, dtype=np.int64)

    def customer_event(self, idx: np.ndarray, at: np.ndarray, kind: str, value: int) -> None:
        if len(idx):
            self._customer_events.append(
                (
                    np.asarray(idx, np.int64),
                    np.asarray(at, np.int64),
                    kind,
                    np.full(len(idx), value, dtype=np.int64),
                )
            )

    def tutor_event(self, idx: np.ndarray, at: np.ndarray, kind: str, value: np.ndarray) -> None:
        if len(idx):
            self._tutor_events.append(
                (
                    np.asarray(idx, np.int64),
                    np.asarray(at, np.int64),
                    kind,
                    np.asarray(value, np.int64),
                )
            )

    @property
    def manager_ids(self) -> np.ndarray:
        return np.arange(1, len(self.manager_names) + 1, dtype=np.int64)

    # ------------------------------------------------------------------ initial state

    def _init_world(self) -> None:
        knobs, tl = self.knobs, self.tl
        origin = tl.origin_us
        # Managers: about one per 25 tutors, on staff long before the history starts.
        rng = self.rng("managers")
        n_m = max(2, math.ceil(knobs.active_tutors / knobs.tutors_per_manager))
        ids = self.new_ids("managers", n_m)
        self.manager_names, self.manager_emails = draw_names(rng, ids, "ops.example.com")
        created = np.sort(origin - rng.integers(200 * US_PER_DAY, 1500 * US_PER_DAY, n_m))
        self.out["managers"].add(
            id=ids,
            created_at=created,
            updated_at=created,
            deleted_at=np.full(n_m, NULL),
            name=ids - 1,
            email=ids - 1,
        )
        self.plan = PersonaPlan(self)
        self._init_tutors()
        self._init_customers()
        self.plan.bind_customers(self)
        # Written after the personas' customers got their attributes (age, subject, zone).
        self._emit_customers(*self._initial_customers)
        # Availability for the first two weeks was published in the two weeks before.
        rng = self.rng("prepublish")
        tutors = np.flatnonzero(self.tutors.active(0))
        hired = self.tutors.hired_us[tutors] + 10 * US_PER_MINUTE
        for k in range(supply.PUBLISH_AHEAD_DAYS):
            lo = np.maximum(tl.day_start(k - supply.PUBLISH_AHEAD_DAYS), hired)
            hi = np.maximum(lo + US_PER_HOUR, tl.day_start(k + 1 - supply.PUBLISH_AHEAD_DAYS))
            supply.publish(self, k, tutors, lo, hi, rng)

    def _init_tutors(self) -> None:
        rng = self.rng("tutors_init")
        tl, knobs = self.tl, self.knobs
        personas = self.plan.initial_tutors() if self.plan else []
        n = knobs.active_tutors - len(personas)
        arch = rng.choice(len(INITIAL_MIX), n, p=INITIAL_MIX)
        hired = initial_hire_times(rng, tl.origin_us, arch)
        hire_day = tl.day_of(hired).astype(np.int64)
        cols = draw_tutors(
            rng, arch, hire_day, hired, knobs, self.manager_ids, self.cfg.tutor_decline
        )
        certs = draw_certifications(rng, cols["q"])
        self._add_tutors(cols, certs, personas, rng)

    def _add_tutors(
        self,
        cols: dict[str, np.ndarray],
        certs: list[tuple[str, ...]],
        personas: list[PersonaTutor],
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Append tutors (and persona tutors), ids in hiring order; emit their first version."""
        for p in personas:
            row = _persona_columns(p, self.manager_ids, self.cfg.tutor_decline)
            for k in cols:
                cols[k] = np.concatenate([cols[k], row[k]])
            certs = [*certs, p.certs]
        order = np.argsort(cols["hired_us"], kind="stable")
        cols = {k: v[order] for k, v in cols.items()}
        certs = [certs[i] for i in order]
        tp = self.tutors
        rows = tp.append(**cols)
        idx = np.arange(rows.start, rows.stop)
        ids = self.new_ids("tutors", len(idx))
        assert np.array_equal(ids, idx + 1)
        names, emails = draw_names(rng, ids, "tutors.example.com")
        persona_rows = {}
        for p in personas:
            persona_rows[int(np.flatnonzero(cols["hired_us"] == p.hired_us)[0])] = p
        for i, p in persona_rows.items():
            names[i], emails[i] = p.name, p.email
            tp.persona[idx[i]] = p.persona
            self.plan.register(p, int(idx[i]))
            if p.persona >= 0:
                tp.ou_sd[idx[i]] = 0.0  # the plan sets their engagement until the anchor
        tp.names.extend(names)
        tp.emails.extend(emails)
        for i in idx.tolist():
            s = tp.subj[i]
            tp.subject_tuples.append(tuple(SUBJECTS[x] for x in s[s >= 0]))
        tp.cert[idx] = [tp.cert_code(c) for c in certs]
        self.grid.grow(tp.n)
        tp.obs.ensure(tp.n, self.tl.n)
        self._emit_tutors(idx, cols["hired_us"] + 1)
        return idx

    def _init_customers(self) -> None:
        rng = self.rng("customers_init")
        tl, knobs = self.tl, self.knobs
        n = knobs.active_customers
        signup_day = initial_signup_days(rng, n)
        date_us = tl.origin_us + signup_day * US_PER_DAY
        created = signup_times(rng, date_us)
        order = np.argsort(created, kind="stable")
        signup_day, date_us, created = signup_day[order], date_us[order], created[order]
        segment = rng.choice(3, n, p=INITIAL_SEGMENT_MIX)
        cols = draw_customers(rng, signup_day, date_us, created, segment)
        cp = self.customers
        rows = cp.append(**cols)
        idx = np.arange(rows.start, rows.stop)
        ids = self.new_ids("customers", n)
        names, emails = draw_names(rng, ids, "families.example.com")
        cp.names.extend(names)
        cp.emails.extend(emails)
        # History before the window: sessions done so far, goals, the tutor they see.
        weeks = (-signup_day) / 7.0
        v = velocity_per_week(cp.h[idx], cp.vf[idx], knobs.bookings_per_week)
        done = rng.poisson(weeks * v * 0.8)
        cp.ncomp[idx] = done
        cp.last_comp_day[idx] = np.where(done > 0, -rng.integers(1, 15, n), cp.signup_day[idx])
        reached = done >= cp.goal_target[idx]
        goal = np.where(
            reached & (rng.random(n) < 0.6),
            GOAL_COMPLETED,
            np.where(done > 0, GOAL_IN_PROGRESS, GOAL_NONE),
        )
        cp.goal_target[idx] = np.where(
            reached & (goal != GOAL_COMPLETED), done + 10, cp.goal_target[idx]
        )
        cp.goal[idx] = goal
        cp.shown_goal[idx] = goal
        self._assign_tutors(idx[done > 0], rng)
        # Some are already drifting away on day 0 (about the share the lapse process
        # keeps), so customer churn runs at its usual rate from the start.
        lapse = self.cfg.customer_lapse
        p0 = np.clip(INITIAL_LAPSING * np.exp(-lapse.enter_health * cp.h[idx]), 0, 0.5)
        lapsing = idx[rng.random(n) < p0]
        days_in = rng.integers(1, 40, len(lapsing)).astype(np.float64)
        cp.lapse[lapsing] = True
        cp.lapse_onset[lapsing] = -days_in.astype(np.int64)
        cp.lu[lapsing] = days_in
        cp.ld[lapsing] = 1.0 - np.exp(-days_in / lapse.depth_days)
        # The legacy import: these customers' channel is backfilled in bulk later.
        k = min(knobs.bulk_group_size, n)
        legacy = rng.choice(idx, k, replace=False)
        cp.legacy[legacy] = True
        cp.shown_channel[legacy] = len(ACQUISITION_CHANNELS)  # LEGACY_CHANNEL's code
        cp.obs.ensure(cp.n, self.tl.n)
        self._initial_customers = (idx, created + 1)
        self._init_lapsed_customers(rng)

    def _init_lapsed_customers(self, rng: np.random.Generator) -> None:
        """Customers who left before the history starts.

        The churned share among all customers at the anchor (about 10 %) should not
        depend on how much history a scale simulates: whatever the window's own churn
        will not provide (estimated at ``EXPECTED_DAILY_CHURN``) exists from before.
        """
        tl, knobs, cp = self.tl, self.knobs, self.customers
        n_active = knobs.active_customers
        wanted = CHURNED_SHARE / (1 - CHURNED_SHARE) * n_active
        expected = EXPECTED_DAILY_CHURN * n_active * tl.anchor_day
        k = round(max(0.0, wanted - expected))
        if k == 0:
            return
        signup_day = -rng.integers(120, 1100, k)
        churn_day = signup_day + (rng.random(k) * (-signup_day - 1)).astype(np.int64) + 1
        churn_day = np.minimum(churn_day, -1)
        date_us = tl.origin_us + signup_day * US_PER_DAY
        created = signup_times(rng, date_us)
        order = np.argsort(created, kind="stable")
        signup_day, churn_day, date_us, created = (
            signup_day[order],
            churn_day[order],
            date_us[order],
            created[order],
        )
        segment = rng.choice(3, k, p=(0.05, 0.35, 0.60))
        cols = draw_customers(rng, signup_day, date_us, created, segment)
        rows = cp.append(**cols)
        idx = np.arange(rows.start, rows.stop)
        ids = self.new_ids("customers", k)
        names, emails = draw_names(rng, ids, "families.example.com")
        cp.names.extend(names)
        cp.emails.extend(emails)
        cp.obs.ensure(cp.n, self.tl.n)
        self._emit_customers(idx, created + 1)
        churned_us = (
            tl.origin_us
            + churn_day * US_PER_DAY
            + 14 * US_PER_HOUR
            + rng.integers(0, 10 * US_PER_HOUR, k)
        )
        churned_us = np.maximum(churned_us, created + US_PER_DAY)
        cp.status[idx] = C_CHURNED
        cp.churned_us[idx] = churned_us
        cp.shown_status[idx] = C_CHURNED
        cp.shown_churned_us[idx] = churned_us
        self._emit_customers(idx, churned_us)

    def _assign_tutors(self, cust: np.ndarray, rng: np.random.Generator) -> None:
        """Give customers an active tutor of their subject (a relationship from before)."""
        tp, cp = self.tutors, self.customers
        active = np.flatnonzero(tp.active(0) & (tp.persona[: tp.n] < 0))
        for s in range(len(SUBJECTS)):
            teach = active[(tp.subj[active] == s).any(axis=1)]
            mine = cust[cp.subj[cust] == s]
            if len(teach) == 0 or len(mine) == 0:
                continue
            w = tp.hours[teach] / tp.hours[teach].sum()
            cp.cur[mine] = teach[rng.choice(len(teach), len(mine), p=w)]
        got = cust[cp.cur[cust] >= 0]
        keys = (got << sessions.PAIR_SHIFT) | cp.cur[got]
        self.sessions.pairs = np.union1d(self.sessions.pairs, keys)

    # ------------------------------------------------------------------ emission

    def _emit_tutors(self, idx: np.ndarray, at: np.ndarray) -> None:
        tp = self.tutors
        self.out["tutors"].add(
            id=idx + 1,
            created_at=tp.hired_us[idx] + 1,
            updated_at=at,
            deleted_at=np.full(len(idx), NULL),
            name=idx,
            email=idx,
            subjects=idx,
            status=tp.shown_status[idx].astype(np.int64),
            hired_at=tp.hired_us[idx],
            churned_at=tp.shown_churned_us[idx],
            manager_id=tp.manager_id[idx],
            hourly_rate=tp.rate[idx],
            certifications=tp.cert[idx],
            years_experience=tp.years[idx],
            instant_book_enabled=tp.instant[idx],
            timezone=tp.tz[idx].astype(np.int64),
        )

    def _emit_customers(self, idx: np.ndarray, at: np.ndarray) -> None:
        cp = self.customers
        self.out["customers"].add(
            id=idx + 1,
            created_at=cp.created_us[idx],
            updated_at=at,
            deleted_at=cp.shown_deleted_us[idx],
            name=idx,
            email=idx,
            signup_date=cp.signup_date_us[idx],
            acquisition_channel=cp.shown_channel[idx],
            grade_level=cp.grade[idx],
            student_age=cp.age[idx],
            goal_status=cp.shown_goal[idx].astype(np.int64),
            status=cp.shown_status[idx].astype(np.int64),
            churned_at=cp.shown_churned_us[idx],
        )

    def _flush_entity_events(self) -> None:
        """Write the day's tutor and customer versions in time order.

        The simulation changes state in processing order; a version is a snapshot at its
        own time, so events are applied to the *shown* state one by one, sorted by time.
        """
        for events, apply, emit in (
            (self._tutor_events, self._apply_tutor_event, self._emit_tutors),
            (self._customer_events, self._apply_customer_event, self._emit_customers),
        ):
            if not events:
                continue
            idx = np.concatenate([e[0] for e in events])
            at = np.concatenate([e[1] for e in events])
            kind = np.concatenate([np.full(len(e[0]), i) for i, e in enumerate(events)])
            value = np.concatenate([e[3] for e in events])
            names = [e[2] for e in events]
            order = np.lexsort((idx, at))
            # Events at one instant (a bulk update) are applied and written together.
            boundaries = np.flatnonzero(np.diff(at[order])) + 1
            for group in np.split(order, boundaries):
                g_idx = idx[group]
                g_kind = kind[group]
                for k in np.unique(g_kind):
                    sel = g_kind == k
                    apply(names[k], g_idx[sel], value[group][sel], at[group][sel])
                _, first = np.unique(g_idx, return_index=True)
                emit(g_idx[np.sort(first)], at[group][np.sort(first)])
            events.clear()

    def _apply_tutor_event(
        self, kind: str, idx: np.ndarray, value: np.ndarray, at: np.ndarray
    ) -> None:
        tp = self.tutors
        if kind == "status":
            tp.shown_status[idx] = value
            tp.shown_churned_us[idx] = at
        elif kind in ("create", "profile"):
            pass  # the profile fields were set before the event was recorded

    def _apply_customer_event(
        self, kind: str, idx: np.ndarray, value: np.ndarray, at: np.ndarray
    ) -> None:
        cp = self.customers
        if kind == "goal":
            cp.shown_goal[idx] = value
        elif kind == "status":
            cp.shown_status[idx] = value
            cp.shown_churned_us[idx] = np.where(value == C_CHURNED, at, cp.shown_churned_us[idx])
        elif kind == "deleted":
            cp.shown_deleted_us[idx] = at
        elif kind == "bulk":
            cp.shown_channel[idx] = value

    def flush(self, logs: dict[str, VersionLog]) -> None:
        """Move every pending version into the logs (creating them the first time)."""
        vocabs = self._vocabs()
        for name, chunks in self.out.items():
            raw = chunks.drain()
            resource = RESOURCES[name]
            if raw is None:
                if name not in logs:
                    empty = {f.name: np.zeros(0, dtype=np.int64) for f in resource.fields}
                    raw = {**empty, "_empty": True}
                else:
                    continue
            empty_log = raw.pop("_empty", False)
            columns, nulls = finalize(resource, raw, vocabs[name])
            if name in logs and not empty_log:
                logs[name].append(columns, nulls)
            else:
                logs[name] = VersionLog(resource, columns, nulls)

    def _vocabs(self) -> dict[str, dict[str, np.ndarray]]:
        tp, cp = self.tutors, self.customers
        subjects = with_none(SUBJECTS)
        return {
            "managers": {
                "name": with_none(self.manager_names),
                "email": with_none(self.manager_emails),
            },
            "tutors": {
                "name": with_none(tp.names),
                "email": with_none(tp.emails),
                "subjects": with_none(tp.subject_tuples),
                "status": with_none(TUTOR_STATUSES),
                "certifications": with_none(tp.cert_vocab),
                "timezone": with_none(TIMEZONES),
            },
            "customers": {
                "name": with_none(cp.names),
                "email": with_none(cp.emails),
                "acquisition_channel": with_none((*ACQUISITION_CHANNELS, LEGACY_CHANNEL)),
                "grade_level": with_none(GRADES),
                "goal_status": with_none(GOAL_STATUSES),
                "status": with_none(CUSTOMER_STATUSES),
            },
            "sessions": {
                "subject": subjects,
                "status": with_none(SESSION_STATUSES),
                "rescheduled_by": with_none(RESCHEDULED_BY),
            },
            "bookings": {"subject": subjects, "status": with_none(BOOKING_STATUSES)},
            "inbound_calls": {
                "reason_code": with_none(CALL_REASONS),
                "sentiment": with_none(SENTIMENTS),
            },
            "engagement_events": {"event_type": with_none(ENGAGEMENT_EVENT_TYPES)},
            "availability_slots": {"subject": subjects},
            "interventions": {
                "intervention_type": with_none(INTERVENTION_TYPES),
                "status": with_none(INTERVENTION_STATUSES),
                **{
                    f: with_none(self.text.values)
                    for f in ("reason", "source_alert_key", "notes", "outcome", "idempotency_key")
                },
            },
        }

    # ------------------------------------------------------------------ the day loop

    def run_until(self, day: int) -> None:
        while self.day < day:
            self.step(self.day)
            self.day += 1

    def step(self, j: int) -> None:
        tl, tp, cp = self.tl, self.tutors, self.customers
        tl.ensure(j + supply.CLEAR_AHEAD_DAYS + 2)
        tp.obs.ensure(tp.n, j + 3)
        cp.obs.ensure(cp.n, j + 3)
        day_start = tl.day_start(j)
        day_end = day_start + US_PER_DAY
        self.grid.clear_day(j + supply.CLEAR_AHEAD_DAYS)
        if j == tl.anchor_day + 1:
            personas = tp.persona[: tp.n] >= 0
            tp.ou_sd[: tp.n][personas] = 0.03  # after the anchor, personas are ordinary
        frozen = None
        if self.plan is not None and j <= tl.anchor_day:
            frozen = tp.persona[: tp.n] >= 0  # the plan sets their state until the anchor
        tp.advance(j, self.rng("drift", j), self.cfg.tutor_decline, frozen)
        hazard = self._tutor_churn(j, day_start)
        self._hire(j, day_start)
        published = supply.publish_day(self, j, self.rng("publish", j))
        cp.relax()
        self._customer_churn(j, day_start)
        first = self._signups(j, day_start)
        interventions.daily_interventions(self, j, self.rng("interventions", j), hazard)
        rng = self.rng("requests", j)
        parts = [demand.daily_requests(self, j, rng), first]
        planned = self.plan.requests_on(j) if self.plan else None
        if planned is not None:
            parts.append(planned)
        req = demand.Requests.concat(parts)
        req = req.take(np.lexsort((req.cust, req.created_us)))  # creation order
        dec = demand.match(self, j, req, self.rng("match", j))
        sessions.book(self, j, req, dec, self.rng("bookings", j))
        sessions.tutor_cancellations(self, j, self.rng("tutor_cancel", j))
        sessions.advance(self, j, self.rng("sessions", j))
        calls_mod.daily_calls(self, j, self.rng("calls", j))
        engagement.daily_engagement(self, j, self.rng("engagement", j), published)
        self._profile_updates(j, day_start)
        self._customer_deletions(j, day_start)
        if j == tl.anchor_day - self.knobs.bulk_days_before_anchor:
            self._bulk_backfill(j, day_start)
        self._flush_entity_events()
        supply.emit_due_deletions(self, day_end)

    # ------------------------------------------------------------------ tutors

    def _tutor_churn(self, j: int, day_start: int) -> np.ndarray:
        tp = self.tutors
        n = tp.n
        model = self.cfg.tutor_hazard
        base = tp.base_hazard(j, model)
        hazard = np.clip(base * tp.effect_multiplier(j), 0.0, 1.0)
        tp.obs.haz[:n, j] = np.where(tp.active(j), hazard, np.nan)
        if j == self.tl.anchor_day:
            self._record_anchor_truth(j, base)
        rng = self.rng("tutor_churn", j)
        u = rng.random(n)
        at = day_start + rng.integers(0, US_PER_DAY, n)
        inactive = rng.random(n) < 0.2
        active = tp.active(j)
        if self.plan is not None and self.plan.protect_tutors(j):
            active &= tp.persona[:n] < 0
        leave = np.flatnonzero(active & (u < hazard))
        if len(leave):
            at = at[leave]
            status = np.where(inactive[leave], INACTIVE, CHURNED)
            tp.status[leave] = status
            tp.churned_us[leave] = at
            tp.churn_day[leave] = j
            self.tutor_event(leave, at, "status", status)
            sessions.cancel_for(self, "tutor", leave, at)
            supply.withdraw_tutors(self, leave, at)
            cp = self.customers
            lost = np.isin(cp.cur[: cp.n], leave)
            cp.cur[: cp.n][lost] = -1
            cp.note(np.flatnonzero(lost), self.cfg.customer_lapse.after_tutor_left)
        return hazard

    def _record_anchor_truth(self, j: int, base: np.ndarray) -> None:
        tp = self.tutors
        n = tp.n
        horizon = np.arange(j, j + HORIZON_DAYS)
        mult = tp.effect_multiplier(horizon)  # (n, 90)
        rows = np.flatnonzero(tp.active(j))
        curves = churn_curves(
            tp, j, rows, mult[rows], self.cfg.tutor_hazard, self.cfg.tutor_decline
        )
        drivers = tp.drivers(j, self.cfg.tutor_hazard)
        self.anchor_truth = {
            "n": np.array(n),
            "base_hazard": base.copy(),
            "multiplier": mult[:, 0].copy(),
            **{f"p_churn_{h}d": _scatter(n, rows, p) for h, p in curves.items()},
            **{f"driver_{k}": v for k, v in drivers.items()},
            "declining": tp.dstate[:n] == DECLINING,
            "decline_days": np.where(tp.dstate[:n] == DECLINING, j - tp.onset[:n], np.nan),
            "decline_speed": np.where(tp.dstate[:n] == DECLINING, tp.v[:n], np.nan),
            "engagement": tp.e[:n].copy(),
            "status": tp.status[:n].copy(),
            "customer_health": self.customers.h[: self.customers.n].copy(),
            "customer_lapsing": self.customers.lapse[: self.customers.n].copy(),
            "customer_lapse_days": np.where(
                self.customers.lapse[: self.customers.n],
                j - self.customers.lapse_onset[: self.customers.n],
                -1,
            ),
            "customer_lapse_depth": self.customers.ld[: self.customers.n].copy(),
        }

    def _hire(self, j: int, day_start: int) -> None:
        tp = self.tutors
        rng = self.rng("hire", j)
        shortfall = self.knobs.active_tutors - int(tp.active(j).sum())
        k = int(rng.poisson(max(0.0, shortfall) * HIRE_CATCH_UP))
        personas = self.plan.hires_on(j) if self.plan else []
        if k == 0 and not personas:
            return
        arch = rng.choice(len(HIRE_MIX), k, p=HIRE_MIX)
        hired = np.sort(hire_time_us(rng, day_start, k))
        cols = draw_tutors(
            rng, arch, np.full(k, j), hired, self.knobs, self.manager_ids, self.cfg.tutor_decline
        )
        certs = draw_certifications(rng, cols["q"])
        idx = self._add_tutors(cols, certs, personas, rng)
        supply.publish_first_weeks(self, idx, tp.hired_us[idx], j + 1, rng)

    def _profile_updates(self, j: int, day_start: int) -> None:
        """Now and then a tutor edits their profile: a new version and an event."""
        tp = self.tutors
        rng = self.rng("profile", j)
        act = np.flatnonzero(tp.active(j))
        who = act[rng.random(len(act)) < PROFILE_UPDATE_RATE * tp.e[act]]
        if self.plan is not None and j <= self.tl.anchor_day:
            who = who[tp.persona[who] < 0]
        if len(who) == 0:
            return
        at = day_start + rng.integers(0, US_PER_DAY, len(who))
        at = np.maximum(at, tp.hired_us[who] + 10 * US_PER_MINUTE)
        what = rng.integers(0, 3, len(who))
        raise_rate = what == 0
        tp.rate[who[raise_rate]] += rng.choice([1.0, 2.0, 2.5, 5.0], raise_rate.sum())
        toggle = what == 1
        tp.instant[who[toggle]] = ~tp.instant[who[toggle]]
        for i in who[what == 2].tolist():
            have = set(tp.cert_vocab[tp.cert[i]])
            extra = [c for c in CERTIFICATIONS if c not in have]
            if extra:
                new = tuple(sorted(have | {extra[int(rng.integers(0, len(extra)))]}))
                tp.cert[i] = tp.cert_code(new)
        self.tutor_event(who, at, "profile", np.zeros(len(who), dtype=np.int64))
        engagement.emit_events(
            self,
            who,
            np.full(len(who), engagement.PROFILE_UPDATE),
            at - rng.integers(1, 30, len(who)) * 1_000_000,
            np.full(len(who), np.nan),
        )

    # ------------------------------------------------------------------ customers

    def _customer_churn(self, j: int, day_start: int) -> None:
        cp = self.customers
        n = cp.n
        rng = self.rng("customer_churn", j)
        protected = cp.protected(day_start)
        live = (cp.signup_day[:n] < j) & ~protected & (cp.delete_day[:n] < 0)
        active = live & (cp.status[:n] == C_ACTIVE)
        cp.advance_lapse(j, rng, self.cfg.customer_lapse, active)
        hazard = cp.hazard(j, self.cfg.customer_hazard)
        u = rng.random(n)
        at = day_start + 13 * US_PER_HOUR + rng.integers(0, 11 * US_PER_HOUR, n)
        churn = active & (u < hazard)
        # Pauses: unhappy customers sometimes pause; a pause ends in a return or churn.
        pause = active & ~churn & (cp.h[:n] < 0) & (rng.random(n) < PAUSE_RATE)
        paused_end = live & (cp.status[:n] == PAUSED) & (cp.pause_until[:n] <= j)
        back = paused_end & (rng.random(n) < 0.7)
        churn |= paused_end & ~back
        p_idx = np.flatnonzero(pause)
        cp.status[p_idx] = PAUSED
        cp.pause_until[p_idx] = j + rng.integers(14, 61, len(p_idx))
        self.customer_event(p_idx, at[p_idx], "status", PAUSED)
        sessions.cancel_for(self, "customer", p_idx, at[p_idx])
        b_idx = np.flatnonzero(back)
        cp.status[b_idx] = C_ACTIVE
        self.customer_event(b_idx, at[b_idx], "status", C_ACTIVE)
        c_idx = np.flatnonzero(churn)
        if len(c_idx) == 0:
            return
        cp.status[c_idx] = C_CHURNED
        cp.churned_us[c_idx] = at[c_idx]
        self.customer_event(c_idx, at[c_idx], "status", C_CHURNED)
        sessions.cancel_for(self, "customer", c_idx, at[c_idx])
        # Many say so on the phone first; a few ask for their data to be deleted later.
        call = c_idx[rng.random(len(c_idx)) < 0.45]
        when = np.maximum(
            at[call] - rng.integers(US_PER_MINUTE, 30 * US_PER_MINUTE, len(call)), day_start
        )
        self.calls.trigger(call, when, "cancellation_request")
        gone = c_idx[rng.random(len(c_idx)) < self.knobs.deleted_churned_customer_share]
        cp.delete_day[gone] = j + rng.integers(5, 31, len(gone))

    def _signups(self, j: int, day_start: int) -> demand.Requests:
        cp = self.customers
        rng = self.rng("signup", j)
        target = self.knobs.active_customers
        active = int((cp.status[: cp.n] == C_ACTIVE).sum())
        season = float(self.tl.season[j].mean())
        rate = max(0.0, target - active) * SIGNUP_CATCH_UP + 0.0004 * target * season
        k = int(rng.poisson(rate))
        planned = self.plan.signups_on(j) if self.plan else []
        m = k + len(planned)
        if m == 0:
            return demand.draw_requests(
                self, j, rng, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)
            )
        created = signup_times(rng, np.full(m, day_start))
        created[k:] = [p.signup_us for p in planned]
        order = np.argsort(created, kind="stable")
        created = created[order]
        segment = rng.choice(3, m, p=SIGNUP_SEGMENT_MIX)
        weights = self.tl.season[j] * np.array(SUBJECT_DEMAND_SHARE)
        cols = draw_customers(rng, np.full(m, j), np.full(m, day_start), created, segment, weights)
        rows = cp.append(**cols)
        idx = np.arange(rows.start, rows.stop)
        ids = self.new_ids("customers", m)
        names, emails = draw_names(rng, ids, "families.example.com")
        cp.names.extend(names)
        cp.emails.extend(emails)
        cp.obs.ensure(cp.n, self.tl.n)
        ordinary = np.ones(m, dtype=bool)
        for pos, spec in zip(np.argsort(order)[k:].tolist(), planned, strict=True):
            # A persona's new student: their attributes set, their first booking planned.
            self.plan.bind_signup(self, spec, int(idx[pos]))
            ordinary[pos] = False
        self.customer_event(idx, created, "create", 0)
        return demand.first_requests(self, j, rng, idx[ordinary], created[ordinary])

    def _customer_deletions(self, j: int, day_start: int) -> None:
        cp = self.customers
        due = np.flatnonzero(cp.delete_day[: cp.n] == j)
        if len(due):
            rng = self.rng("deletions", j)
            at = day_start + rng.integers(0, US_PER_DAY, len(due))
            self.customer_event(due, at, "deleted", 0)

    def _bulk_backfill(self, j: int, day_start: int) -> None:
        """A Rails ``update_all``: every legacy customer at one stored microsecond."""
        cp = self.customers
        rng = self.rng("bulk", j)
        n = cp.n
        idx = np.flatnonzero(cp.legacy[:n] & (cp.delete_day[:n] < 0))
        at = day_start + 3 * US_PER_HOUR + int(rng.integers(0, US_PER_HOUR))
        channel = rng.choice(len(ACQUISITION_CHANNELS), len(idx), p=CHANNEL_SHARE)
        cp.channel[idx] = channel
        for v in np.unique(channel):
            sel = idx[channel == v]
            self.customer_event(sel, np.full(len(sel), at), "bulk", int(v))
        self.bulk_at_us = at
        self.bulk_ids = idx + 1


def _scatter(n: int, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.full(n, np.nan)
    out[rows] = values
    return out


def _persona_columns(
    p: PersonaTutor, manager_ids: np.ndarray, decline: TutorDeclineModel
) -> dict[str, np.ndarray]:
    subj = np.full((1, MAX_SUBJECTS), -1, dtype=np.int64)
    subj[0, : len(p.subjects)] = p.subjects
    blocks = {
        name: np.full((1, MAX_BLOCKS), -1, dtype=np.int64)
        for name in ("b_wd", "b_hour", "b_len", "b_subj")
    }
    for b, (wd, hour, length, s) in enumerate(p.blocks):
        blocks["b_wd"][0, b], blocks["b_hour"][0, b] = wd, hour
        blocks["b_len"][0, b], blocks["b_subj"][0, b] = length, s

    def one(value: object) -> np.ndarray:
        return np.array([value])

    return {
        "arch": one(p.arch),
        "q": one(p.q),
        "resched": one(p.resched),
        "hours": one(p.hours),
        "e_base": one(p.e_base),
        "floor": one(p.floor),
        "p_enter": one(decline.enter[p.arch]),
        "p_recover": one(decline.recover[p.arch]),
        "dstate": one(NORMAL).astype(np.int8),
        "onset": one(NO_ONSET),
        "planned_onset": one(p.onset),
        "v": one(p.speed),
        "we": one(p.symptoms[0]),
        "wr": one(p.symptoms[1]),
        "d": one(0.0),
        "u": one(0.0),
        "ou_sd": one(0.0),
        "ou": one(0.0),
        "e": one(p.e_base),
        "hired_us": one(p.hired_us),
        "hire_day": one(p.hire_day),
        "tz": one(p.tz),
        "sched_tz": one(p.tz),
        "rate": one(p.rate),
        "years": one(p.years),
        "instant": one(p.instant),
        "nsubj": one(len(p.subjects)),
        "manager_id": one(manager_ids[p.manager_slot % len(manager_ids)]),
        "subj": subj,
        **blocks,
    }
