"""The demo script's personas, computed from the records the API shows at the anchor."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from ml.engagement import engagement_score
from services.api.rails_time import US_PER_DAY, parse_us
from services.sandbox.world import World, WorldConfig, build_world

from .conftest import ANCHOR_US, visible

D = US_PER_DAY


def _engagement(events, tutor_id: int, lo: int, hi: int) -> float:
    at = events.occurred_at
    e = events[(events.tutor_id == tutor_id) & (at >= lo) & (at < hi)]
    days = len(np.unique(e[e.event_type == "login"].occurred_at // D))
    replies = e[e.event_type == "message_reply"].response_minutes.to_numpy(float)
    return engagement_score(days, 14, replies)


def _check_personas(world: World) -> None:
    a = world.anchor_us
    f = {n: visible(log, a) for n, log in world.logs.items()}
    s, t, ev, cu = f["sessions"], f["tutors"], f["engagement_events"], f["customers"]
    p = world.personas

    sarah = t[t.id == p["sarah_chen"]].iloc[0]
    assert sarah["name"] == "Sarah Chen" and sarah.status == "active"
    assert (a - sarah.hired_at) // D == 120
    mine = s[s.tutor_id == sarah.id]
    done = mine[mine.status == "completed"]
    last = done[(done.start_time >= a - 30 * D) & (done.start_time < a)]
    prev = done[(done.start_time >= a - 60 * D) & (done.start_time < a - 30 * D)]
    assert len(last) == 15 and len(prev) == 25
    assert last.rating.mean() == pytest.approx(4.1, abs=0.05)
    assert prev.rating.mean() == pytest.approx(4.5, abs=0.05)
    moved = mine[
        (mine.rescheduled_by == "tutor") & (mine.start_time >= a - 7 * D) & (mine.start_time < a)
    ]
    assert len(moved) == 3
    assert ((mine.rescheduled_by == "tutor") & (mine.updated_at >= a - 7 * D)).sum() == 3
    assert _engagement(ev, sarah.id, a - 14 * D, a) == pytest.approx(0.32, abs=0.05)
    assert _engagement(ev, sarah.id, a - 28 * D, a - 14 * D) == pytest.approx(0.75, abs=0.05)
    truth = world.truth.tutors.loc[sarah.id]
    # She is an ordinary member of a decline, 17 days in; DOMAIN.md's "about 72 %".
    assert truth.declining_at_anchor and truth.decline_days_at_anchor == 17
    assert truth.p_churn_30d == pytest.approx(0.72, abs=0.06)
    # Her records are ordinary ones: slots published ahead, bookings behind her sessions.
    slots = f["availability_slots"]
    assert (slots.tutor_id == sarah.id).sum() > 20
    booked = f["bookings"].set_index("id").loc[last.booking_id]
    assert (booked.status == "fulfilled").all() and (booked.tutor_id == sarah.id).all()

    mike = t[t.id == p["mike_ross"]].iloc[0]
    assert mike["name"] == "Mike Ross" and mike.status == "active"
    assert (a - mike.hired_at) < 60 * D
    his = s[s.tutor_id == mike.id]
    done = his[his.status == "completed"]
    assert len(done) == 5
    assert done.rating.mean() == pytest.approx(3.8, abs=0.05)
    firsts = done[done.first_session.astype(bool)]
    assert len(firsts) == 5 and (firsts.rating >= 4).sum() == 2
    assert _engagement(ev, mike.id, a - 14 * D, a) == pytest.approx(0.55, abs=0.05)

    up = s[s.id == p["mike_ross_first_session"]].iloc[0]
    assert up.tutor_id == mike.id and up.status == "scheduled" and bool(up.first_session)
    assert up.subject == "spanish"
    when = datetime.fromtimestamp(up.start_time / 1e6, ZoneInfo(mike.timezone))
    assert when.strftime("%A %H:%M") == "Saturday 08:00"
    assert a < up.start_time <= a + 7 * D
    student = cu[cu.id == up.customer_id].iloc[0]
    assert student.student_age == 14
    booking = f["bookings"].set_index("id").loc[up.booking_id]
    assert booking.status == "confirmed" and booking.created_at < a
    p_poor = world.truth.first_sessions.loc[up.id, "p_poor"]
    assert p_poor == pytest.approx(0.65, abs=0.02)


def test_personas_in_the_tiny_world(tiny_world):
    _check_personas(tiny_world)


def test_personas_in_the_demo_world(demo_world):
    _check_personas(demo_world)
    assert demo_world.personas["sarah_chen"] != demo_world.personas["mike_ross"]


@pytest.mark.parametrize(
    "anchor",
    [
        "2026-11-21T00:00:00Z",  # midnight, a Saturday
        "2026-03-09T23:00:00Z",  # the day after US clocks spring forward
        "2026-07-04T13:00:00Z",  # summer
        "2027-01-02T07:00:00Z",  # Saturday morning before 08:00 Eastern
    ],
)
def test_personas_hold_for_any_anchor(anchor):
    _check_personas(build_world(WorldConfig(scale="tiny", seed=8, anchor_us=parse_us(anchor))))


def test_personas_are_not_pasted_over_other_data(tiny_world):
    t = tiny_world.truth.tutors
    personas = t[t.persona.notna()]
    assert set(personas.persona) == {"sarah_chen", "mike_ross"}
    names = visible(tiny_world.logs["tutors"], ANCHOR_US).name
    assert (names == "Sarah Chen").sum() == 1 and (names == "Mike Ross").sum() == 1
    # No manager intervention is already running for them at the anchor.
    iv = visible(tiny_world.logs["interventions"], ANCHOR_US)
    assert not iv.tutor_id.isin(personas.index).any()
