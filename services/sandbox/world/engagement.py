"""Tutor engagement events: logins, message replies, availability and profile updates.

The latent engagement ``e`` of a tutor on a day drives what ``ml.engagement`` measures:
logins on a share ``e`` of days (people have routines: a tutor's login "urge"
accumulates ``e`` a day, with a little noise, and a login spends one unit, so the share of
login days over two weeks is ``e`` give or take a day), and replies whose median time is
``reply_minutes_for(e)`` (so the reply part of the score is ``e`` too). Replies answer
customers' messages, so busier tutors reply more often. The app's observed score thus
tracks the latent one closely.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from services.api.rails_time import US_PER_DAY, US_PER_HOUR
from services.sandbox.world.emit import NULL

if TYPE_CHECKING:
    from services.sandbox.world.sim import Simulator

LOGIN, REPLY, PROFILE_UPDATE, AVAILABILITY_UPDATE = range(4)  # contract order
REPLY_SPREAD = 0.35  # log-normal sigma of reply times around the median
LOGIN_NOISE = 0.25  # day-to-day noise of the login urge
AVAILABILITY_UPDATE_SHARE = 0.15


def reply_minutes(e: np.ndarray) -> np.ndarray:
    """Vectorised ``ml.engagement.reply_minutes_for``."""
    return -120.0 * np.log(np.clip(e, 1e-3, 1.0))


def _local_times(
    sim: Simulator, j: int, tutors: np.ndarray, rng: np.random.Generator, lo: int = 7, hi: int = 23
) -> np.ndarray:
    """Random times on UTC day ``j`` at local hours ``lo..hi`` of each tutor."""
    off = sim.tl.offsets[j, sim.tutors.tz[tutors].astype(np.int64)]
    local = rng.integers(lo, hi, len(tutors))
    hour = (local - off) % 24
    return sim.tl.day_start(j) + hour * US_PER_HOUR + rng.integers(0, US_PER_HOUR, len(tutors))


def daily_engagement(
    sim: Simulator, j: int, rng: np.random.Generator, published: np.ndarray
) -> None:
    tp = sim.tutors
    act = np.flatnonzero(tp.active(j, hired_before=True))
    e = tp.e[act]
    urge = tp.login_urge[act] + e + LOGIN_NOISE * rng.standard_normal(len(act))
    login = urge >= 1.0
    tp.login_urge[act] = np.clip(urge - login, -0.5, 1.0)
    login_at = _local_times(sim, j, act, rng)
    comp7 = tp.obs.window_sum("comp", tp.n, j - 7, j)[act]
    p_reply = 0.04 + sim.knobs.reply_rate * np.minimum(1.0, comp7 / 4.0)
    reply = rng.random(len(act)) < p_reply
    reply_at = _local_times(sim, j, act, rng, 8, 23)
    minutes = np.maximum(0.5, reply_minutes(e) * rng.lognormal(0.0, REPLY_SPREAD, len(act)))
    if sim.plan is not None:
        login, login_at, reply, reply_at, minutes = sim.plan.engagement(
            j, act, login, login_at, reply, reply_at, minutes
        )
    avail = published[rng.random(len(published)) < AVAILABILITY_UPDATE_SHARE]
    if sim.plan is not None and j <= sim.tl.anchor_day:
        avail = avail[tp.persona[avail] < 0]  # the personas' events are planned
    avail_at = sim.tl.day_start(j) + rng.integers(0, US_PER_DAY, len(avail))
    tutor = np.concatenate([act[login], act[reply], avail])
    kind = np.concatenate(
        [
            np.full(login.sum(), LOGIN),
            np.full(reply.sum(), REPLY),
            np.full(len(avail), AVAILABILITY_UPDATE),
        ]
    )
    at = np.concatenate([login_at[login], reply_at[reply], avail_at])
    resp = np.concatenate(
        [np.full(login.sum(), np.nan), np.round(minutes[reply], 1), np.full(len(avail), np.nan)]
    )
    emit_events(sim, tutor, kind, at, resp)
    tp.obs.login[act[login], j] = 1
    tp.obs.nrep[act[reply], j] += 1
    tp.obs.lrep[act[reply], j] += np.log(minutes[reply])


def emit_events(
    sim: Simulator, tutor: np.ndarray, kind: np.ndarray, at: np.ndarray, resp: np.ndarray
) -> None:
    """Engagement events in time order (ids follow creation, as in Rails)."""
    if len(tutor) == 0:
        return
    order = np.argsort(at, kind="stable")
    tutor, kind, at, resp = tutor[order], kind[order], at[order], resp[order]
    # Rails writes the row a moment after the event it records.
    written = at + (np.arange(len(at)) % 997) * 1000 + 1000
    k = len(tutor)
    sim.out["engagement_events"].add(
        id=sim.new_ids("engagement_events", k),
        created_at=written,
        updated_at=written,
        deleted_at=np.full(k, NULL),
        tutor_id=tutor + 1,
        event_type=kind,
        occurred_at=at,
        response_minutes=resp,
    )
