"""Supply: availability slots and the hour grid that matching books from.

Each tutor has a weekly template of blocks (weekday, local start hour, length, subject).
Every day the simulation publishes, for the day 14 days ahead, the blocks of that
weekday, each with probability ``0.75 + 0.15 * engagement`` (clipped): disengaging tutors
offer a few fewer hours; their volume falls mostly because they turn requests down and
their students drift away (see ``demand`` and ``sessions``). A
published block is one ``availability_slots`` record and fills hour cells of a ring
grid ``[tutor, hour]`` holding the subject offered and whether the hour is booked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from services.api.rails_time import US_PER_DAY, US_PER_HOUR, US_PER_SECOND
from services.sandbox.world.arrays import Table
from services.sandbox.world.emit import NULL
from services.sandbox.world.tutors import ACTIVE, MAX_BLOCKS

if TYPE_CHECKING:
    from services.sandbox.world.sim import Simulator

PUBLISH_AHEAD_DAYS = 14
# The ring covers 40 days of hours: a few past days, the 14 published ahead, reschedules
# up to 3 days beyond, and the day cleared ahead of publication.
RING_DAYS = 40
RING = 24 * RING_DAYS
CLEAR_AHEAD_DAYS = 19


def publish_probability(e: np.ndarray) -> np.ndarray:
    """P(a template block is offered): 0.87 at engagement 0.8, 0.83 at 0.5, 0.78 at 0.2
    (a fading tutor's calendar goes stale rather than empty)."""
    return np.clip(0.75 + 0.15 * e, 0.05, 1.0)


class SupplyGrid:
    """``sub[tutor, hour % RING]``: subject offered (-1 none); ``booked``: hour taken."""

    def __init__(self, capacity: int) -> None:
        self.sub = np.full((capacity, RING), -1, dtype=np.int8)
        self.booked = np.zeros((capacity, RING), dtype=bool)

    def grow(self, n: int) -> None:
        cap = self.sub.shape[0]
        if n <= cap:
            return
        new = max(n, 2 * cap)
        sub = np.full((new, RING), -1, dtype=np.int8)
        sub[:cap] = self.sub
        booked = np.zeros((new, RING), dtype=bool)
        booked[:cap] = self.booked
        self.sub, self.booked = sub, booked

    def clear_day(self, day: int) -> None:
        cols = (24 * day + np.arange(24)) % RING
        self.sub[:, cols] = -1
        self.booked[:, cols] = False

    def withdraw(self, tutors: np.ndarray) -> None:
        """A tutor who leaves offers nothing any more."""
        self.sub[tutors] = -1
        self.booked[tutors] = False

    def free(self, tutor: np.ndarray, hour: np.ndarray, subj: np.ndarray) -> np.ndarray:
        col = hour % RING
        return (self.sub[tutor, col] == subj) & ~self.booked[tutor, col]

    def set_booked(self, tutor: np.ndarray, hour: np.ndarray, value: bool = True) -> None:
        self.booked[tutor, hour % RING] = value


class SlotBook(Table):
    """Published slots that have not started yet (to delete them when a tutor leaves)."""

    def __init__(self) -> None:
        super().__init__(1024)
        for name, dtype, fill in (
            ("sid", np.int64, 0),
            ("tutor", np.int64, 0),
            ("subj", np.int64, 0),
            ("start_us", np.int64, 0),
            ("end_us", np.int64, 0),
            ("created_us", np.int64, 0),
            ("del_us", np.int64, NULL),
            ("done", bool, False),
        ):
            self.add_column(name, dtype, fill)


def publish(
    sim: Simulator,
    target_day: int,
    tutors: np.ndarray,
    created_lo: np.ndarray,
    created_hi: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Publish ``tutors``' template blocks for ``target_day``; returns who published.

    ``created_lo/hi`` bound each tutor's publication time (per tutor).
    """
    tp = sim.tutors
    tl = sim.tl
    if len(tutors) == 0:
        return np.zeros(0, dtype=bool)
    wd = tl.weekday[target_day]
    on_day = tp.b_wd[tutors] == wd  # (k, MAX_BLOCKS)
    p = publish_probability(tp.e[tutors])
    u = rng.random((len(tutors), MAX_BLOCKS))
    publish_it = on_day & (u < p[:, None])
    forced = sim.plan.forced_blocks(tutors, target_day) if sim.plan else None
    if forced is not None:
        publish_it |= on_day & forced
    rows, blocks = np.nonzero(publish_it)
    t = tutors[rows]
    start_h = tl.local_hour_index(
        np.full(len(t), target_day),
        tp.sched_tz[t].astype(np.int64),
        tp.b_hour[t, blocks].astype(np.int64),
    )
    length = tp.b_len[t, blocks].astype(np.int64)
    subj = tp.b_subj[t, blocks].astype(np.int64)
    lo = created_lo[rows]
    hi = np.maximum(created_hi[rows], lo + 1)
    created = lo + (rng.random(len(t)) * (hi - lo)).astype(np.int64)
    start_us = tl.hour_us(start_h)
    end_us = start_us + length * US_PER_HOUR
    created = np.minimum(created, start_us - US_PER_HOUR)
    # A few slots are withdrawn by the tutor before they start: never bookable.
    withdrawn = rng.random(len(t)) < sim.knobs.deleted_slot_share
    frac = 0.2 + 0.7 * rng.random(len(t))
    del_us = np.where(withdrawn, created + (frac * (start_us - created)).astype(np.int64), NULL)
    order = np.argsort(created, kind="stable")
    t, subj, start_h, length = t[order], subj[order], start_h[order], length[order]
    created, start_us = created[order], start_us[order]
    end_us, del_us = end_us[order], del_us[order]
    withdrawn = withdrawn[order]
    ids = sim.new_ids("availability_slots", len(t))
    sim.out["availability_slots"].add(
        id=ids,
        created_at=created,
        updated_at=created,
        deleted_at=np.full(len(t), NULL),
        tutor_id=t + 1,
        subject=subj,
        starts_at=start_us,
        ends_at=end_us,
    )
    sim.slots.append(
        sid=ids,
        tutor=t,
        subj=subj,
        start_us=start_us,
        end_us=end_us,
        created_us=created,
        del_us=del_us,
    )
    # Fill the grid, one cell per offered hour; the personas' hours before the anchor are
    # kept for their planned sessions and never offered to the market.
    bookable = ~withdrawn
    if sim.plan is not None:
        bookable &= ~((tp.persona[t] >= 0) & (start_us < sim.anchor_us))
    cell_t = np.repeat(t[bookable], length[bookable])
    starts = np.repeat(start_h[bookable], length[bookable])
    offs = np.arange(len(cell_t)) - np.repeat(
        np.cumsum(length[bookable]) - length[bookable], length[bookable]
    )
    cell_h = starts + offs
    cell_s = np.repeat(subj[bookable], length[bookable]).astype(np.int8)
    col = cell_h % RING
    empty = sim.grid.sub[cell_t, col] < 0
    sim.grid.sub[cell_t[empty], col[empty]] = cell_s[empty]
    published = np.zeros(len(tutors), dtype=bool)
    published[np.unique(rows)] = True
    return published


def publish_day(sim: Simulator, j: int, rng: np.random.Generator) -> np.ndarray:
    """Day ``j``: active tutors publish the day ``j + 14``; returns tutors who did.

    Today's hires are not among them: they publish their first two weeks when hired.
    """
    tp = sim.tutors
    tutors = np.flatnonzero(tp.active(j, hired_before=True))
    start = sim.tl.day_start(j)
    lo = np.full(len(tutors), start)
    hi = np.full(len(tutors), start + US_PER_DAY)
    did = publish(sim, j + PUBLISH_AHEAD_DAYS, tutors, lo, hi, rng)
    return tutors[did]


def publish_first_weeks(
    sim: Simulator,
    tutors: np.ndarray,
    hired_us: np.ndarray,
    first_day: int,
    rng: np.random.Generator,
) -> None:
    """A new tutor publishes days ``first_day .. first_day+13`` soon after being hired."""
    for k in range(first_day, first_day + PUBLISH_AHEAD_DAYS):
        lo = hired_us + 10 * 60 * US_PER_SECOND
        publish(sim, k, tutors, lo, lo + 5 * US_PER_HOUR, rng)


def withdraw_tutors(sim: Simulator, tutors: np.ndarray, at_us: np.ndarray) -> None:
    """Delete the future slots of tutors who left (at their leaving time)."""
    if len(tutors) == 0:
        return
    sim.grid.withdraw(tutors)
    sb = sim.slots
    n = sb.n
    when = np.full(sim.tutors.n, NULL, dtype=np.int64)
    when[tutors] = at_us
    leave = when[sb.tutor[:n]]
    hit = (leave != NULL) & (sb.start_us[:n] > leave) & ~sb.done[:n]
    planned = sb.del_us[:n]
    stamp = leave + 1 + (sb.sid[:n] % 50) * US_PER_SECOND  # a background job, row by row
    new = np.where(planned == NULL, stamp, np.minimum(planned, stamp))
    sb.del_us[:n] = np.where(hit, new, planned)


def emit_due_deletions(sim: Simulator, until_us: int) -> None:
    """Emit deletion versions due before ``until_us`` and forget slots that started."""
    sb = sim.slots
    n = sb.n
    due = (sb.del_us[:n] != NULL) & (sb.del_us[:n] < until_us) & ~sb.done[:n]
    idx = np.flatnonzero(due)
    if len(idx):
        sim.out["availability_slots"].add(
            id=sb.sid[idx],
            created_at=sb.created_us[idx],
            updated_at=sb.del_us[idx],
            deleted_at=sb.del_us[idx],
            tutor_id=sb.tutor[idx] + 1,
            subject=sb.subj[idx],
            starts_at=sb.start_us[idx],
            ends_at=sb.end_us[idx],
        )
        sb.done[idx] = True
    started = sb.start_us[:n] < until_us
    sb.keep(~(started | sb.done[:n]) | ((sb.del_us[:n] != NULL) & ~sb.done[:n]))


def active_mask(sim: Simulator, tutors: np.ndarray) -> np.ndarray:
    return sim.tutors.status[tutors] == ACTIVE
