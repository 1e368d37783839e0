"""Issue 5, headless: "On the sandbox, Sarah Chen gets a manager_coaching intervention
assigned to her manager, due 48 hours after it was created."

tests/services/test_interventions_on_sandbox.py proves it on the tests' one anchor
(2026-11-20 12:00). A fresh install anchors its sandbox at the hour of first use, and
the world a seed builds depends on the anchor: on 2026-11-22 13:00 (seen in an
acceptance audit: `tutormax sync/train/score` on a new TUTORMAX_HOME) the churn model
once read her P(churn 30 d) as 0.47, Medium, so no churn_risk alert and no manager
coaching. This test holds the promise on that anchor through the same path;
benchmarks/persona_bench.py measures it over six more.

Expected to fail (strict: a pass means the model changed and this needs a look). Her
true P(churn 30 d) is about 0.76, 0.06 above the Critical line, and a churn model
trained on one 600-tutor world reads one tutor within about 0.1 of what the next
world's model reads; the model that reads the sandbox's tutors best (nearest their true
risk over 40 worlds, benchmarks/churn_worlds_bench.py) reads her 0.63 here, High, and
Critical on about three installs in four. The model that read her Critical here did it
by reading her and other tutors above their true risk (ml/churn.py, "Linear start").
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from services.api.rails_time import parse_us
from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import Intervention, InterventionTracking, Tutor
from services.sandbox.clock import SandboxClock
from services.sandbox.world import WorldConfig, build_world
from services.scoring import score
from services.training import train_models

FRESH_ANCHOR = parse_us("2026-11-22T13:00:00Z")

pytestmark = pytest.mark.slow


@pytest.mark.xfail(
    strict=True,
    reason="an honest model reads her 0.63 (High) on this anchor; her true risk is 0.76",
)
def test_sarah_chen_gets_manager_coaching_on_a_fresh_install_anchor(
    tmp_path, sandbox_server_factory
):
    from tests.sync.helpers import make_sync

    world = build_world(WorldConfig(scale="demo", seed=42, anchor_us=FRESH_ANCHOR))
    handle = sandbox_server_factory(world=world, clock=SandboxClock.fixed(FRESH_ANCHOR))
    engine = make_engine(f"sqlite:///{tmp_path / 'tutormax.db'}")
    migrate(engine)
    assert make_sync(engine, handle).sync().status == "ok"
    train_models(engine, tmp_path / "models")
    score(engine, tmp_path / "models", trigger="test")
    sarah_id = world.personas["sarah_chen"]
    with engine.connect() as conn:
        manager_id = conn.execute(select(Tutor.manager_id).where(Tutor.id == sarah_id)).scalar()
        rows = conn.execute(
            select(Intervention.assigned_to_id, Intervention.due_at)
            .add_columns(InterventionTracking.sla_started_at)
            .join(InterventionTracking, InterventionTracking.local_id == Intervention.local_id)
            .where(
                Intervention.tutor_id == sarah_id,
                Intervention.intervention_type == "manager_coaching",
                Intervention.status == "open",
            )
        ).all()
    engine.dispose()
    assert len(rows) == 1, "no open manager_coaching intervention for Sarah Chen"
    (row,) = rows
    assert row.assigned_to_id == manager_id
    assert row.due_at - row.sla_started_at == timedelta(hours=48)
