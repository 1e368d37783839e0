"""The world's public surface: what the sandbox server codes against, determinism, extend."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from services.api.contract import RESOURCES
from services.api.rails_time import US_PER_DAY, US_PER_HOUR
from services.sandbox.store import VersionLog
from services.sandbox.world import World, WorldConfig, build_world
from services.sandbox.world.config import DEFAULT_INTERVENTION_EFFECTS, default_anchor_us

from .conftest import ANCHOR_US, SEED, every_version, visible


def _fingerprint(world: World) -> dict[str, list[object]]:
    """Every version of every resource, in log order, as plain Python values."""
    out: dict[str, list[object]] = {}
    for name, log in world.logs.items():
        cols = every_version(log)
        out[name] = [
            (name_, values.tolist(), None if nulls is None else nulls.tolist())
            for name_, (values, nulls) in cols.items()
        ]
    return out


def _same_logs(a: World, b: World) -> bool:
    fa, fb = _fingerprint(a), _fingerprint(b)
    if fa.keys() != fb.keys():
        return False
    for name in fa:
        for (n1, v1, m1), (n2, v2, m2) in zip(fa[name], fb[name], strict=True):
            if n1 != n2 or m1 != m2 or len(v1) != len(v2):
                return False
            # NaN != NaN: compare decimals with their null masks instead.
            if any(x != y and not (x != x and y != y) for x, y in zip(v1, v2, strict=True)):
                return False
    return True


def test_surface_the_server_uses(tiny_world):
    w = tiny_world
    assert set(w.logs) == set(RESOURCES)
    assert all(isinstance(log, VersionLog) for log in w.logs.values())
    assert w.anchor_us == w.config.anchor_us == ANCHOR_US
    assert w.horizon_us >= w.anchor_us + 21 * US_PER_DAY
    assert set(w.personas) == {"sarah_chen", "mike_ross", "mike_ross_first_session"}
    assert len(w.manager_ids) >= 2 and w.manager_exists(int(w.manager_ids[0]))
    tid = w.personas["sarah_chen"]
    assert w.tutor_exists(tid) and not w.tutor_exists(0) and not w.tutor_exists(10**6)
    assert w.tutor_manager_id(tid) in set(w.manager_ids.tolist())
    assert w.truth.intervention_effects == dict(DEFAULT_INTERVENTION_EFFECTS)


# Build times are measured by benchmarks/world_bench.py (`make bench`), not asserted here:
# tests do not assert wall-clock times.


def test_demo_is_demo_sized(demo_build):
    world, _seconds = demo_build
    assert len(world.logs["sessions"]) > 10_000


def test_default_anchor_is_now_floored_to_the_hour():
    anchor = WorldConfig(scale="tiny").anchor_us
    assert anchor % US_PER_HOUR == 0
    assert abs(anchor - default_anchor_us()) <= US_PER_HOUR


def test_same_seed_same_world_different_seed_different_world(tiny_world):
    again = build_world(WorldConfig(scale="tiny", seed=SEED, anchor_us=ANCHOR_US))
    assert _same_logs(tiny_world, again)
    other = build_world(WorldConfig(scale="tiny", seed=SEED + 1, anchor_us=ANCHOR_US))
    assert not _same_logs(tiny_world, other)
    assert len(other.logs["sessions"]) != len(tiny_world.logs["sessions"])


def test_extending_equals_generating_in_one_go():
    cfg = WorldConfig(scale="tiny", seed=11, anchor_us=ANCHOR_US)
    stepwise = build_world(cfg)
    first_horizon = stepwise.horizon_us
    stepwise.extend(first_horizon + 3 * US_PER_DAY + 5)
    assert stepwise.horizon_us >= first_horizon + 17 * US_PER_DAY  # 14 days beyond
    stepwise.extend(stepwise.horizon_us - 20 * US_PER_DAY)  # nothing to do
    stepwise.extend(stepwise.horizon_us + US_PER_HOUR)
    days = (stepwise.horizon_us - stepwise.origin_us) // US_PER_DAY
    future = int(days - (ANCHOR_US - stepwise.origin_us) // US_PER_DAY - 1)
    one_go = build_world(dataclasses.replace(cfg, future_days=future))
    assert one_go.horizon_us == stepwise.horizon_us
    assert _same_logs(stepwise, one_go)


def test_extend_keeps_two_weeks_of_future(tiny_world):
    w = build_world(WorldConfig(scale="tiny", seed=3, anchor_us=ANCHOR_US))
    until = w.horizon_us + 10 * US_PER_DAY
    w.extend(until)
    assert w.horizon_us >= until + 14 * US_PER_DAY
    slots = visible(w.logs["availability_slots"], until)
    ahead = slots[(slots.starts_at > until) & slots.deleted_at.isna()]
    assert (ahead.starts_at.max() - until) > 13 * US_PER_DAY
    sessions = visible(w.logs["sessions"], until)
    assert ((sessions.start_time > until) & (sessions.status == "scheduled")).sum() > 20


def test_recorded_intervention_lowers_the_hazard_of_later_days():
    cfg = WorldConfig(scale="tiny", seed=4, anchor_us=ANCHOR_US)
    base, treated = build_world(cfg), build_world(cfg)
    active = base.truth.tutors
    tutor_id = int(active[active.active_at_anchor & active.persona.isna()].index[0])
    treated.record_intervention(tutor_id, "retention_interview", treated.horizon_us - US_PER_HOUR)
    for w in (base, treated):
        w.extend(w.horizon_us + US_PER_DAY)
    day = base.truth.day_starts_us == treated.truth.external_interventions.effect_first_day_us[0]
    col = int(np.flatnonzero(day)[0])
    h_base = base.truth.hazard_daily[tutor_id - 1, col]
    h_treated = treated.truth.hazard_daily[tutor_id - 1, col]
    assert h_treated == pytest.approx(h_base * DEFAULT_INTERVENTION_EFFECTS["retention_interview"])
    # Days simulated before the call are not rewritten.
    assert (
        base.truth.hazard_daily[tutor_id - 1, col - 1]
        == treated.truth.hazard_daily[tutor_id - 1, col - 1]
    )


def test_recording_an_unknown_tutor_or_type_is_harmless(tiny_world):
    w = build_world(WorldConfig(scale="tiny", seed=9, anchor_us=ANCHOR_US))
    w.record_intervention(10**6, "manager_coaching", w.anchor_us)
    w.record_intervention(1, "no_such_type", w.anchor_us)
    assert len(w.truth.external_interventions) == 0
