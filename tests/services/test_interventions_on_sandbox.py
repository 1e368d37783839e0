"""On the demo sandbox, synced, trained and scored: the interventions the policy creates,
read out on the command line, and the effectiveness measured on the local database."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select

from services.api.rails_time import parse_us
from services.db.models import Intervention, InterventionTracking, Tutor
from services.intervention_effects import measure
from services.scoring import score
from tests.fixtures.scored_demo import trained_demo
from tutormax_desktop import cli

ANCHOR = parse_us("2026-11-20T12:00:00Z")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scored(tmp_path_factory, sandbox_server_factory_module, demo_cache):
    built = trained_demo(
        tmp_path_factory.mktemp("interventions"), sandbox_server_factory_module, demo_cache
    )
    engine, models_dir, world = built["engine"], built["models"], built["world"]
    result = score(engine, models_dir, trigger="test")
    yield {"engine": engine, "models": models_dir, "world": world, "result": result}
    engine.dispose()


def test_sarah_chen_gets_manager_coaching_from_her_manager_due_in_48_hours(scored, capsys):
    engine, world = scored["engine"], scored["world"]
    assert scored["result"].interventions["created"] >= 1
    sarah_id = world.personas["sarah_chen"]
    with engine.connect() as conn:
        manager_id = conn.execute(select(Tutor.manager_id).where(Tutor.id == sarah_id)).scalar()
        row = conn.execute(
            select(Intervention.__table__, InterventionTracking.sla_started_at)
            .join(InterventionTracking, InterventionTracking.local_id == Intervention.local_id)
            .where(
                Intervention.tutor_id == sarah_id,
                Intervention.intervention_type == "manager_coaching",
            )
        ).one()
    assert row.assigned_to_id == manager_id and row.status == "open" and row.pending
    assert row.due_at - row.sla_started_at == timedelta(hours=48)

    db = str(engine.url)
    assert cli.main(["interventions", "list", "--json", "--database", db]) == 0
    listed = json.loads(capsys.readouterr().out)["interventions"]
    mine = [r for r in listed if r["tutor_id"] == sarah_id and r["type"] == "manager_coaching"]
    assert len(mine) == 1  # one open intervention per tutor and type
    (entry,) = mine
    assert entry["tutor"] == "Sarah Chen" and entry["state"] == "open"
    assert entry["assigned_to_id"] == manager_id and entry["assignee"] not in ("", "unassigned")
    assert parse_us(entry["due_at"]) == parse_us(row.due_at.isoformat().replace("+00:00", "Z"))
    # Synced history from the API is there too, with who handles it.
    assert any(r["id"] is not None and r["assignee"] != "unassigned" for r in listed)


def test_scoring_again_does_not_duplicate_interventions(scored):
    engine = scored["engine"]
    with engine.connect() as conn:
        before = conn.execute(select(Intervention.local_id)).all()
    again = score(engine, scored["models"], trigger="test")
    with engine.connect() as conn:
        after = conn.execute(select(Intervention.local_id)).all()
    assert again.interventions["created"] == 0 and len(after) == len(before)


def test_effectiveness_is_measured_per_type_on_the_local_database(scored):
    report = measure(scored["engine"], scored["models"])
    table = report.table.set_index("intervention_type")
    assert set(table.index) <= set(scored["world"].truth.intervention_effects)
    assert len(table) >= 5 and report.n_episodes > 1000
    assert (table["n_treated"] > 0).all()
    measured = table.dropna(subset=["effect"])
    assert len(measured) >= 3
    assert np.all(measured["ci_low"] <= measured["effect"])
    assert np.all(measured["effect"] <= measured["ci_high"])
    # The naive comparison is pessimistic (the treated were the riskiest tutors).
    assert (measured["naive_effect"] < measured["effect"]).mean() >= 0.5
    # Every type helps in the sandbox, but managers pick tutors worse off than the churn
    # model sees: a type that reads as harmful says its figure is not a measured effect.
    assert all(m < 1 for m in scored["world"].truth.intervention_effects.values())
    harmful = measured[measured["effect"] < -0.05]
    assert len(harmful) >= 2
    assert (harmful["caveat"] == "selection_bias").all(), harmful[["effect", "early_excess"]]
    # Each says why: its own treated left early more often, or (a type of a few dozen
    # tutors) the treated of every type did, and the sentence quotes those figures.
    own = harmful["early_treated"] > harmful["early_control"]
    pooled = harmful["caveat_text"].str.contains("of all treated tutors")
    assert (own | pooled).all(), harmful[["early_treated", "early_control", "caveat_text"]]
    # The types managers give most (here coaching and interviews) show it by themselves.
    big = harmful[harmful["n_treated"] >= 60]
    assert len(big) >= 2 and (big["early_ci_low"] > 0).all(), big[["n_treated", "early_ci_low"]]
