"""The demo script's personas, produced by the normal mechanisms with their parameters set.

Sarah Chen and Mike Ross are tutors like any other: hired through the hiring step, with
a weekly template, published availability, bookings made by real (simulated) customers,
sessions that go through the session lifecycle, logins and replies. What the plan fixes
is their *parameters* and, where DOMAIN.md gives exact figures, the outcome of their
draws (conditioning on the totals): which of their sessions complete, their ratings,
which days they log in and how fast they reply. Their records are emitted by the same
code as everyone else's.

Figures at the anchor ``A`` (windows are ``[A - k days, A)``):

- Sarah Chen: 15 completed sessions in the last 30 days vs 25 in the 30 before; mean
  rating 4.1 vs 4.5; 3 reschedules by her in the last 7 days; engagement score 0.32 over
  the last 14 days vs 0.75 over the 14 before; tenure 120 days; active. She is an
  ordinary member of the decline state (``TutorDeclineModel``): her decline started 17
  days before the anchor (mostly disengagement, somewhat slow), and her true 30-day
  churn probability follows from the hazard model (0.76). Where DOMAIN.md says
  nothing, her record looks like a decliner's: a tutor of 10 hours a week and 15
  students, first sessions that went as first sessions go, sessions falling away once
  the decline set in (4 in the last fortnight: the three she moved, early in the last
  week, and one before; none since), fewer logins in her last week than in the one
  before, her latest ratings no better than her month's.
- Mike Ross: new (hired 35 days ago), 5 completed sessions, all first sessions, rated
  5, 5, 3, 3, 3 (mean 3.8, 2 of 5 good); engagement 0.55; and an upcoming first session
  in Spanish on the next Saturday at 08:00 his time with a 14-year-old, whose true
  P(rating < 4) is 0.65 (his latent quality is solved for it).

Before the anchor the personas never churn, get no manager interventions, and their
hours are not offered to other customers (their planned sessions fill them); their
customers neither churn nor book elsewhere while planned. After the anchor everything
about them is ordinary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from services.api.rails_time import US_PER_DAY, US_PER_HOUR
from services.sandbox.world.config import SUBJECT_INDEX, TIMEZONES
from services.sandbox.world.customers import ACTIVE as C_ACTIVE
from services.sandbox.world.customers import grade_for_age
from services.sandbox.world.demand import Requests
from services.sandbox.world.emit import NULL
from services.sandbox.world.sessions import (
    CANCELLED,
    COMPLETED,
    EV_CANCEL,
    EV_RESCHED_TUTOR,
    EV_START,
    NO_SHOW_CUSTOMER,
    PLAN_NORMAL,
    p_poor_first,
)
from services.sandbox.world.timeline import US_PER_MINUTE
from services.sandbox.world.tutors import AT_RISK, MAX_BLOCKS, NEW, NO_ONSET

if TYPE_CHECKING:
    from services.sandbox.world.sim import Simulator

SARAH, MIKE = 0, 1
# Sarah's decline (an ordinary one, TutorDeclineModel): it started this many days before
# the anchor, fast, which is what her records show (engagement 0.75 -> 0.32 in two weeks,
# sessions 25 -> 15, rating 4.5 -> 4.1, reschedules); her true P(churn 30 d) follows.
SARAH_DECLINE_DAYS = 17
SARAH_DECLINE_SPEED = 0.5
SARAH_DECLINE_SYMPTOMS = (0.95, 0.65)  # mostly disengagement, some struggling
KEYS = ("sarah_chen", "mike_ross")


@dataclass
class PersonaTutor:
    key: str
    persona: int
    name: str
    email: str
    arch: int
    q: float
    resched: float
    hours: float
    e_base: float
    floor: float
    onset: int  # first day of a decline (NO_ONSET: none planned)
    speed: float  # of that decline (TutorDeclineModel)
    symptoms: tuple[float, float]  # its (disengagement, struggling) weights
    hired_us: int
    hire_day: int
    tz: int
    subjects: tuple[int, ...]
    rate: float
    years: int
    instant: bool
    certs: tuple[str, ...]
    manager_slot: int
    blocks: tuple[tuple[int, int, int, int], ...]  # (weekday, local hour, length, subject)


@dataclass
class _Planned:
    persona: int
    slot: int  # which of the persona's customers
    subj: int
    start_us: int  # where the session finally starts
    booked_us: int  # the start the booking asked for (differs when rescheduled)
    created_us: int  # booking created
    outcome: int  # COMPLETED / CANCELLED / NO_SHOW_CUSTOMER / PLAN_NORMAL
    event_us: int  # reschedule or cancellation time (NULL: none)
    rating: int  # 0 = not rated
    delay_us: int
    block: int  # template block of the booked start
    block_final: int


@dataclass
class PlannedSignup:
    persona: int
    slot: int
    signup_us: int
    subj: int
    age: int | None
    tz: int | None
    protect_until_us: int


def _solve_quality(
    model: object, target: float, e: float, subj: int, hour: int, weekday: int, age: int
) -> float:
    """Latent quality that gives a first session P(poor) = ``target`` in that context."""
    base = p_poor_first(
        model,
        np.array([0.0]),
        np.array([e]),
        np.array([subj]),  # type: ignore[arg-type]
        np.array([hour]),
        np.array([weekday]),
        np.array([age]),
    )[0]
    logit_base = math.log(base / (1 - base))
    logit_target = math.log(target / (1 - target))
    return (logit_base - logit_target) / model.quality  # type: ignore[attr-defined]


class PersonaPlan:
    """What the personas do before the anchor (and Mike's upcoming first session)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        tl = sim.tl
        self.rng = sim.rng("personas")
        a = sim.anchor_us
        self.a = a
        self.a_day = tl.anchor_day
        tl.ensure(self.a_day + 30)
        self.day0_us = tl.day_start(self.a_day)  # planned activity ends before this
        self.tutor_idx: dict[int, int] = {}
        self.ids: dict[str, int] = {}
        ny, chicago = TIMEZONES.index("America/New_York"), TIMEZONES.index("America/Chicago")
        alg, geo = SUBJECT_INDEX["algebra"], SUBJECT_INDEX["geometry"]
        spa, fre = SUBJECT_INDEX["spanish"], SUBJECT_INDEX["french"]
        sarah_hired = a - 120 * US_PER_DAY - 3 * US_PER_HOUR
        mike_hired = a - 35 * US_PER_DAY - 2 * US_PER_HOUR - int(self.rng.integers(0, US_PER_HOUR))
        self.upcoming_us = self._next_saturday_8am(ny)
        upcoming_day, upcoming_hour = 5, 8
        mike_q = _solve_quality(
            sim.cfg.first_session, 0.65, 0.55, spa, upcoming_hour, upcoming_day, 14
        )
        self.tutors = [
            PersonaTutor(
                "sarah_chen",
                SARAH,
                "Sarah Chen",
                "sarah.chen@tutors.example.com",
                AT_RISK,
                q=0.45,
                resched=0.03,
                hours=13.0,
                e_base=0.8,
                floor=0.2,
                onset=self.a_day - SARAH_DECLINE_DAYS,
                speed=SARAH_DECLINE_SPEED,
                symptoms=SARAH_DECLINE_SYMPTOMS,
                hired_us=sarah_hired,
                hire_day=int(tl.day_of(sarah_hired)),
                tz=chicago,
                subjects=(alg, geo),
                rate=45.0,
                years=4,
                instant=True,
                certs=("state_teaching_license",),
                manager_slot=0,
                blocks=(
                    (0, 16, 3, alg),
                    (2, 16, 3, geo),
                    (5, 9, 4, alg),
                ),
            ),
            PersonaTutor(
                "mike_ross",
                MIKE,
                "Mike Ross",
                "mike.ross@tutors.example.com",
                NEW,
                q=mike_q,
                resched=0.05,
                hours=9.0,
                e_base=0.55,
                floor=0.18,
                onset=NO_ONSET,
                speed=1.0,
                symptoms=(0.8, 0.8),
                hired_us=mike_hired,
                hire_day=int(tl.day_of(mike_hired)),
                tz=ny,
                subjects=(spa, fre),
                rate=32.0,
                years=1,
                instant=False,
                certs=(),
                manager_slot=1,
                blocks=((1, 17, 3, spa), (3, 17, 3, fre), (5, 8, 3, spa)),
            ),
        ]
        self.n_customers = (15, 6)
        self.customer_idx: list[list[int]] = [[], []]
        self.customer_subject: list[list[int]] = [[alg] * 10 + [geo] * 5, [spa] * 6]
        self.rows: list[_Planned] = []
        self._forced: dict[tuple[int, int], set[int]] | None = None
        self._signups: list[PlannedSignup] = []
        self._plan_sarah()
        self._plan_mike()
        self._plan_signups()
        self._plan_engagement()

    # ------------------------------------------------------------------ helpers

    def _next_saturday_8am(self, tz: int) -> int:
        tl = self.sim.tl
        for d in range(self.a_day, self.a_day + 9):
            if tl.weekday[d] != 5:
                continue
            at = int(tl.hour_us(24 * d + 8 - tl.offsets[d, tz]))
            if at > self.a:
                return at
        raise AssertionError("no Saturday within 9 days")

    def _candidates(self, spec: PersonaTutor, lo_us: int, hi_us: int) -> list[tuple[int, int]]:
        """(start_us, block) of every template hour starting in ``[lo_us, hi_us]``."""
        tl = self.sim.tl
        out = []
        d0 = max(int(tl.day_of(lo_us)) - 1, 0)
        d1 = int(tl.day_of(hi_us)) + 1
        tl.ensure(d1 + 1)
        for d in range(d0, d1 + 1):
            for b, (wd, hour, length, _subj) in enumerate(spec.blocks):
                if tl.weekday[d] != wd:
                    continue
                for h in range(hour, hour + length):
                    at = int(tl.hour_us(24 * d + h - tl.offsets[d, spec.tz]))
                    if lo_us <= at <= hi_us:
                        out.append((at, b))
        return sorted(out)

    def _ratings(self, n_rated: int, probs: dict[int, float], lo: float, hi: float) -> list[int]:
        """Ratings drawn from ``probs``, conditioned on their mean lying in [lo, hi]."""
        values = np.array(list(probs))
        p = np.array(list(probs.values()))
        for _ in range(10_000):
            r = self.rng.choice(values, n_rated, p=p / p.sum())
            if lo <= r.mean() <= hi:
                return [int(x) for x in r]
        raise AssertionError("could not draw persona ratings")

    def _take(
        self, pool: list[tuple[int, int]], used: set[int], lo: int, hi: int
    ) -> tuple[int, int]:
        options = [c for c in pool if lo <= c[0] <= hi and c[0] not in used]
        if not options:
            raise AssertionError("persona plan: no free template hour")
        pick = options[int(self.rng.integers(0, len(options)))]
        used.add(pick[0])
        return pick

    def _booking_time(self, spec: PersonaTutor, start: int, before: int | None = None) -> int:
        floor_us = max(spec.hired_us, self.sim.tl.origin_us) + US_PER_HOUR
        lead = int(self.rng.integers(US_PER_DAY, 6 * US_PER_DAY))
        created = max(start - lead, floor_us)
        if before is not None:
            created = min(created, before - US_PER_HOUR)
        if created >= start - 2 * US_PER_HOUR:
            raise AssertionError("persona plan: booking too close to its start")
        return created

    def _add(
        self,
        spec: PersonaTutor,
        start: tuple[int, int],
        outcome: int,
        rating: int = 0,
        booked: tuple[int, int] | None = None,
        event_us: int = NULL,
        created: int | None = None,
        slot: int | None = None,
    ) -> None:
        subj = spec.blocks[(booked or start)[1]][3]
        slots = [i for i, s in enumerate(self.customer_subject[spec.persona]) if s == subj]
        if slot is None:
            slot = slots[int(self.rng.integers(0, len(slots)))]
        b = booked or start
        if created is None:
            created = self._booking_time(spec, b[0])
        delay = int(self.rng.integers(10 * US_PER_MINUTE, 2 * US_PER_HOUR))
        self.rows.append(
            _Planned(
                persona=spec.persona,
                slot=slot,
                subj=subj,
                start_us=start[0],
                booked_us=b[0],
                created_us=created,
                outcome=outcome,
                event_us=event_us,
                rating=rating,
                delay_us=delay,
                block=b[1],
                block_final=start[1],
            )
        )

    # ------------------------------------------------------------------ Sarah

    def _plan_sarah(self) -> None:
        spec = self.tutors[SARAH]
        a, day = self.a, US_PER_DAY
        tl = self.sim.tl
        begin = max(spec.hired_us + 2 * day, tl.origin_us + 2 * day)
        end = self.day0_us - 3 * US_PER_HOUR
        b60, b30, b14, b7 = a - 60 * day, a - 30 * day, a - 14 * day, a - 7 * day
        margin = 26 * US_PER_HOUR
        pool = [
            c
            for c in self._candidates(spec, begin, end)
            if abs(c[0] - b60) > margin and abs(c[0] - b30) > margin
        ]
        used: set[int] = set()
        good = {5: 0.6, 4: 0.37, 3: 0.03}

        def resched(
            s1_lo: int, s1_hi: int, s0_lo: int, t_lo: int, t_hi_cap: int, earliest: bool = False
        ) -> None:
            """A session booked at s0 that the tutor moved (at t_r) to s1, 1-3 days later.

            ``earliest``: s1 is the first hour that works, not a random one."""
            if earliest:
                s0, s1 = early_pair(s1_lo, s1_hi, s0_lo)
            else:
                s0, s1 = random_pair(s1_lo, s1_hi, s0_lo)
            used.update((s0[0], s1[0]))
            created = self._booking_time(spec, s0[0], before=max(t_lo, s0[0] - 3 * day))
            t_hi = min(s0[0] - US_PER_HOUR, t_hi_cap)
            t_lo = max(t_lo, created + US_PER_HOUR)
            t_r = int(t_lo + self.rng.integers(0, max(t_hi - t_lo, 1)))
            self._add(spec, s1, COMPLETED, booked=s0, event_us=t_r, created=created)

        def random_pair(s1_lo: int, s1_hi: int, s0_lo: int) -> tuple:
            for _ in range(200):
                s0 = self._take(pool, used, s0_lo, s1_hi - 20 * US_PER_HOUR)
                used.discard(s0[0])
                options = [
                    c
                    for c in pool
                    if c[0] not in used
                    and max(s1_lo, s0[0] + 20 * US_PER_HOUR)
                    <= c[0]
                    <= min(s1_hi, s0[0] + 80 * US_PER_HOUR)
                ]
                if options:
                    return s0, options[int(self.rng.integers(0, len(options)))]
            raise AssertionError("persona plan: no hours for a reschedule")

        def early_pair(s1_lo: int, s1_hi: int, s0_lo: int) -> tuple:
            free = [c for c in pool if c[0] not in used]
            for s1 in free:
                if not s1_lo <= s1[0] <= s1_hi:
                    continue
                lo, hi = max(s0_lo, s1[0] - 80 * US_PER_HOUR), s1[0] - 20 * US_PER_HOUR
                s0_options = [c for c in free if lo <= c[0] <= hi]
                if s0_options:
                    return s0_options[int(self.rng.integers(0, len(s0_options)))], s1
            raise AssertionError("persona plan: no hours for a reschedule")

        def cancel(lo: int, hi: int) -> None:
            s = self._take(pool, used, lo, hi)
            created = self._booking_time(spec, s[0])
            room = s[0] - created - 3 * US_PER_HOUR
            c_at = int(created + US_PER_HOUR + self.rng.integers(0, room))
            self._add(spec, s, CANCELLED, event_us=c_at, created=created)

        # Before the two months that matter: about 25 sessions a month, well rated.
        if b60 - begin > 2 * day:
            k = round((b60 - margin - begin) / day * 25 / 30)
            for _ in range(k):
                s = self._take(pool, used, begin, b60 - margin)
                self._add(spec, s, COMPLETED, rating=0)
        # Reschedules first (they need pairs of hours).
        resched(b60 + margin, b30 - margin, b60 + margin, b60 + margin, b30)
        resched(b30 + margin, b14 - day, b30 + margin, b30 + margin, b14 - day)
        resched(b14 + day, b7 - day, b14 + 3 * US_PER_HOUR, b14 + US_PER_HOUR, b7 - 2 * US_PER_HOUR)
        # Her last three sessions came early in the last week, each moved by her; she
        # has not taught since (a decline deepens, it does not pause for a week).
        for _ in range(3):
            resched(b7 + day, end, b7 + 3 * US_PER_HOUR, b7 + US_PER_HOUR, end, earliest=True)
        w1 = [r for r in self.rows if b60 <= r.start_us < b30 and r.outcome == COMPLETED]
        while len(w1) < 25:
            self._add(spec, self._take(pool, used, b60 + margin, b30 - margin), COMPLETED)
            w1.append(self.rows[-1])
        w2 = [r for r in self.rows if b30 <= r.start_us < a and r.outcome == COMPLETED]
        # The rest of the month's sessions came before her last fortnight: her students
        # stopped getting her hours once her decline set in (17 days ago).
        while len(w2) < 15:
            self._add(spec, self._take(pool, used, b30 + margin, b14), COMPLETED)
            w2.append(self.rows[-1])
        cancel(b60 + margin, b30 - margin)
        cancel(b30 + margin, end)
        cancel(b30 + margin, end)
        s = self._take(pool, used, b30 + margin, end)
        self._add(spec, s, NO_SHOW_CUSTOMER)
        # Ratings: conditioned on the window means (rated shares as usual: ~90%).
        pre = [r for r in self.rows if r.start_us < b60 and r.outcome == COMPLETED]
        first_of = {}
        for r in sorted(self.rows, key=lambda r: r.start_us):
            first_of.setdefault(r.slot, r)
        for r in pre:
            if self.rng.random() < 0.85:
                r.rating = int(self.rng.choice([5, 4, 3], p=[0.6, 0.37, 0.03]))
            if first_of.get(r.slot) is r and self.rng.random() < 0.9:
                # A first session goes as first sessions usually go (about 4 in 5 well).
                r.rating = int(self.rng.choice([5, 4, 3, 2], p=[0.45, 0.35, 0.15, 0.05]))
        for rows, n_rated, probs, lo, hi, fading in (
            (w1, 23, good, 4.47, 4.53, False),
            (w2, 13, {5: 0.3, 4: 0.5, 3: 0.15, 2: 0.05}, 4.07, 4.13, True),
        ):
            values = self._ratings(n_rated, probs, lo, hi)
            if fading:
                # Her latest week goes no better than her month (4.0 or so): a decline
                # does not reverse in its last days.
                rated = self.rng.choice(len(rows), n_rated, replace=False).tolist()
                late = [i for i in rated if rows[i].start_us >= a - 7 * day]
                pool = np.array(values)
                best = None
                for _ in range(300):
                    pick = self.rng.permutation(n_rated)
                    gap = abs(pool[pick[: len(late)]].mean() - 4.0) if late else 0.0
                    if best is None or gap < best[0]:
                        best = (gap, pick)
                ordered = [*late, *[i for i in rated if i not in late]]
                for i, k in zip(ordered, best[1], strict=True):
                    rows[i].rating = int(pool[k])
                continue
            order = self.rng.permutation(len(rows))
            for i, v in zip(order[:n_rated], values, strict=True):
                rows[i].rating = v

    # ------------------------------------------------------------------ Mike

    def _plan_mike(self) -> None:
        spec = self.tutors[MIKE]
        begin = spec.hired_us + 3 * US_PER_DAY
        end = self.day0_us - 3 * US_PER_HOUR
        pool = self._candidates(spec, begin, end)
        used: set[int] = set()
        ratings = [int(x) for x in self.rng.permutation([5, 5, 3, 3, 3])]
        spa = SUBJECT_INDEX["spanish"]
        fre = SUBJECT_INDEX["french"]
        for slot in range(5):
            s = self._take(pool, used, begin, end)
            self.customer_subject[MIKE][slot] = spec.blocks[s[1]][3]
            self._add(spec, s, COMPLETED, rating=ratings[slot], slot=slot)
        assert set(self.customer_subject[MIKE][:5]) <= {spa, fre}
        up_block = next(b for b, blk in enumerate(spec.blocks) if blk[0] == 5)
        lead = int(self.rng.integers(6 * US_PER_HOUR, 60 * US_PER_HOUR))
        created = max(
            self.a - lead, self.upcoming_us - 13 * US_PER_DAY, spec.hired_us + US_PER_HOUR
        )
        self._add(spec, (self.upcoming_us, up_block), PLAN_NORMAL, slot=5, created=created)
        self.upcoming_row = len(self.rows) - 1

    # ------------------------------------------------------------------ engagement

    def _plan_engagement(self) -> None:
        """Login days and reply times inside the windows the app scores."""
        tl = self.sim.tl
        a = self.a
        self.engagement_days: dict[tuple[int, int], tuple[int | None, int | None, float]] = {}
        self.engagement_range: dict[int, tuple[int, int]] = {}
        # (window start, end in days before the anchor, logins, score, reply spread, fading:
        # fewer logins in the window's last week, as in a decline)
        plans = {
            SARAH: [
                (28, 14, 11, 0.75, (0.8, 0.95, 1.05, 1.25), False),
                (14, 0, 5, 0.32, (1 / 1.2, 1.0, 1.2), True),
            ],
            MIKE: [(14, 0, 7, 0.55, (1 / 1.15, 1.0, 1.15), False)],
        }
        for persona, windows in plans.items():
            first_day = int(tl.day_of(a - windows[0][0] * US_PER_DAY))
            self.engagement_range[persona] = (first_day, self.a_day)
            for back_lo, back_hi, logins, score, spread, fading in windows:
                lo_day = int(tl.day_of(a - back_lo * US_PER_DAY)) + 1
                hi_day = int(tl.day_of(a - back_hi * US_PER_DAY)) - 1 if back_hi else self.a_day - 1
                days = np.arange(lo_day, hi_day + 1)
                if fading:  # fewer logins in the last week than in the one before
                    late = days[days > self.a_day - 8]
                    early = days[days <= self.a_day - 8]
                    k = logins // 2
                    login_days = set(self.rng.choice(late, k, replace=False).tolist())
                    login_days |= set(self.rng.choice(early, logins - k, replace=False).tolist())
                else:
                    login_days = set(self.rng.choice(days, logins, replace=False).tolist())
                reply_share = (score - 0.6 * logins / 14) / 0.4
                median = -120.0 * math.log(reply_share)
                reply_days = self.rng.choice(days, len(spread), replace=False).tolist()
                minutes = {d: median * f for d, f in zip(reply_days, spread, strict=True)}
                tz = self.tutors[persona].tz
                for d in days.tolist():
                    login_at = reply_at = None
                    if d in login_days:
                        login_at = self._local_time(d, tz, 8, 22)
                    if d in minutes:
                        reply_at = self._local_time(d, tz, 9, 22)
                    self.engagement_days[(persona, d)] = (login_at, reply_at, minutes.get(d, 0.0))

    def _local_time(self, day: int, tz: int, lo: int, hi: int) -> int:
        tl = self.sim.tl
        hour = (int(self.rng.integers(lo, hi)) - int(tl.offsets[day, tz])) % 24
        return tl.day_start(day) + hour * US_PER_HOUR + int(self.rng.integers(0, US_PER_HOUR))

    # ------------------------------------------------------------------ hooks

    def initial_tutors(self) -> list[PersonaTutor]:
        return [t for t in self.tutors if t.hire_day < 0]

    def hires_on(self, day: int) -> list[PersonaTutor]:
        return [t for t in self.tutors if t.hire_day == day and t.hire_day >= 0]

    def register(self, spec: PersonaTutor, idx: int) -> None:
        self.tutor_idx[spec.persona] = idx
        self.ids[spec.key] = idx + 1

    def bind_customers(self, sim: Simulator) -> None:
        """Sarah's regular students are existing customers who move to her; Mike's are
        new sign-ups (see :meth:`signups_on`)."""
        cp = sim.customers
        n = cp.n
        settled = (cp.signup_day[:n] < 0) & (cp.h_base[:n] > 0.0) & (cp.status[:n] == C_ACTIVE)
        picks = self.rng.choice(np.flatnonzero(settled), self.n_customers[SARAH], replace=False)
        first = min((r.created_us for r in self.rows if r.persona == SARAH), default=self.a)
        for slot, c in enumerate(picks.tolist()):
            self.customer_idx[SARAH].append(c)
            cp.subj[c] = self.customer_subject[SARAH][slot]
            cp.pin_from_us[c] = first - US_PER_DAY
            cp.pin_until_us[c] = self.a

    def _plan_signups(self) -> None:
        """Mike's students sign up shortly before booking him (the same day)."""
        tl = self.sim.tl
        ny = TIMEZONES.index("America/New_York")
        self.customer_idx[MIKE] = [-1] * self.n_customers[MIKE]
        for slot in range(self.n_customers[MIKE]):
            row = next(r for r in self.rows if r.persona == MIKE and r.slot == slot)
            lead = int(self.rng.integers(10 * US_PER_MINUTE, 30 * US_PER_HOUR))
            at = max(row.created_us - lead, tl.day_start(int(tl.day_of(row.created_us))))
            upcoming = slot == self.n_customers[MIKE] - 1
            self._signups.append(
                PlannedSignup(
                    persona=MIKE,
                    slot=slot,
                    signup_us=min(at, row.created_us - US_PER_MINUTE),
                    subj=row.subj,
                    age=14 if upcoming else None,
                    tz=ny if upcoming else None,
                    protect_until_us=row.start_us + US_PER_DAY,
                )
            )

    def signups_on(self, day: int) -> list[PlannedSignup]:
        tl = self.sim.tl
        return [p for p in self._signups if int(tl.day_of(p.signup_us)) == day]

    def bind_signup(self, sim: Simulator, spec: PlannedSignup, idx: int) -> None:
        cp = sim.customers
        self.customer_idx[spec.persona][spec.slot] = idx
        cp.subj[idx] = spec.subj
        if spec.age is not None:
            cp.age[idx] = spec.age
            cp.grade[idx] = grade_for_age(np.array([spec.age]))[0]
        if spec.tz is not None:
            cp.tz[idx] = spec.tz
        cp.h_base[idx] = cp.h[idx] = max(float(cp.h_base[idx]), 0.3)
        cp.pin_from_us[idx] = spec.signup_us
        cp.pin_until_us[idx] = spec.protect_until_us

    def requests_on(self, day: int) -> Requests | None:
        tl = self.sim.tl
        idx = [i for i, r in enumerate(self.rows) if int(tl.day_of(r.created_us)) == day]
        if not idx:
            return None
        rows = [self.rows[i] for i in idx]
        cust = np.array([self.customer_idx[r.persona][r.slot] for r in rows], dtype=np.int64)
        tutor = np.array([self.tutor_idx[r.persona] for r in rows], dtype=np.int64)
        self.sim.customers.cur[cust] = tutor
        return Requests(
            cust=cust,
            created_us=np.array([r.created_us for r in rows], dtype=np.int64),
            hour=(np.array([r.booked_us for r in rows]) - tl.origin_us) // US_PER_HOUR,
            subj=np.array([r.subj for r in rows], dtype=np.int64),
            dur=np.full(len(rows), 60, dtype=np.int64),
            tutor=tutor,
            plan=np.array(idx, dtype=np.int64),
        )

    def forced_blocks(self, tutors: np.ndarray, target_day: int) -> np.ndarray | None:
        """Template blocks a persona must publish on ``target_day`` (a planned session)."""
        if self._forced is None:
            tl = self.sim.tl
            self._forced = {}
            for r in self.rows:
                tz = np.array([self.tutors[r.persona].tz])
                for at, block in ((r.booked_us, r.block), (r.start_us, r.block_final)):
                    hour = np.array([(at - tl.origin_us) // US_PER_HOUR])
                    day = int(tl.local_day_hour(hour, tz)[0][0])
                    self._forced.setdefault((r.persona, day), set()).add(block)
        out = None
        for persona, idx in self.tutor_idx.items():
            blocks = self._forced.get((persona, target_day))
            where = np.flatnonzero(tutors == idx)
            if not blocks or len(where) == 0:
                continue
            if out is None:
                out = np.zeros((len(tutors), MAX_BLOCKS), dtype=bool)
            out[where[:, None], sorted(blocks)] = True
        return out

    def pre_start(
        self,
        plan: np.ndarray,
        kind: np.ndarray,
        ev: np.ndarray,
        created: np.ndarray,
        start: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        kind, ev = kind.copy(), ev.copy()
        for i in np.flatnonzero(plan >= 0):
            r = self.rows[int(plan[i])]
            if r.outcome == CANCELLED:
                kind[i], ev[i] = EV_CANCEL, max(r.event_us, int(created[i]) + US_PER_MINUTE)
            elif r.event_us != NULL:
                kind[i], ev[i] = EV_RESCHED_TUTOR, max(r.event_us, int(created[i]) + US_PER_MINUTE)
            else:
                kind[i], ev[i] = EV_START, start[i]
        return kind, ev

    def rescheduled_start(self, plan: np.ndarray, new_start: np.ndarray) -> np.ndarray:
        out = new_start.copy()
        for i in np.flatnonzero(plan >= 0):
            out[i] = self.rows[int(plan[i])].start_us
        return out

    def outcome(
        self,
        plan: np.ndarray,
        outcome: np.ndarray,
        rating: np.ndarray,
        rated: np.ndarray,
        delay: np.ndarray,
        technical: np.ndarray,
    ) -> tuple[np.ndarray, ...]:
        outcome, rating, rated = outcome.copy(), rating.copy(), rated.copy()
        delay, technical = delay.copy(), technical.copy()
        for i in np.flatnonzero(plan >= 0):
            r = self.rows[int(plan[i])]
            if r.outcome == PLAN_NORMAL:
                continue
            outcome[i] = r.outcome
            rating[i] = max(r.rating, 1)
            rated[i] = r.rating > 0
            delay[i] = r.delay_us
            technical[i] = False
        return outcome, rating, rated, delay, technical

    def note_sessions(self, plan: np.ndarray, session_ids: np.ndarray) -> None:
        for p, sid in zip(plan.tolist(), session_ids.tolist(), strict=True):
            if p == self.upcoming_row:
                self.ids["mike_ross_first_session"] = int(sid)

    def protect_tutors(self, day: int) -> bool:
        return day <= self.a_day

    def engagement(
        self,
        day: int,
        act: np.ndarray,
        login: np.ndarray,
        login_at: np.ndarray,
        reply: np.ndarray,
        reply_at: np.ndarray,
        minutes: np.ndarray,
    ) -> tuple[np.ndarray, ...]:
        if not self.tutor_idx:
            return login, login_at, reply, reply_at, minutes
        login, login_at, reply = login.copy(), login_at.copy(), reply.copy()
        reply_at, minutes = reply_at.copy(), minutes.copy()
        for persona, idx in self.tutor_idx.items():
            where = np.flatnonzero(act == idx)
            lo, hi = self.engagement_range[persona]
            if len(where) == 0 or not lo <= day <= hi:
                continue
            i = int(where[0])
            if day == self.a_day:
                # The anchor's own day: only what happens after the anchor (normal draws).
                login[i] &= login_at[i] >= self.a
                reply[i] &= reply_at[i] >= self.a
                continue
            planned = self.engagement_days.get((persona, day))
            if planned is None:
                login[i] = reply[i] = False
                continue
            l_at, r_at, m = planned
            login[i] = l_at is not None
            reply[i] = r_at is not None
            if l_at is not None:
                login_at[i] = l_at
            if r_at is not None:
                reply_at[i] = r_at
                minutes[i] = m
        return login, login_at, reply, reply_at, minutes
