"""The intervention workflow on SQLite and PostgreSQL: policy, states, SLA, breaches,
auto-creation from alerts and predictions, hold-outs, conflicts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, update

from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import (
    Alert,
    AuditEntry,
    FirstSessionPrediction,
    Intervention,
    InterventionEscalation,
    InterventionHoldout,
    InterventionTracking,
    Manager,
    OutboxItem,
    ScoringRun,
    Tutor,
    TutorPrediction,
)
from services.intervention_auto import auto_create
from services.intervention_settings import InterventionSettings
from services.intervention_workflow import (
    add_note,
    check_breaches,
    open_intervention,
    pause_sla,
    record_outcome,
    resolve_conflict,
    resume_sla,
    set_status,
)
from services.interventions import InterventionInputError
from services.sla import OVERDUE, PAUSED

NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)


@pytest.fixture
def db(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Manager),
            [{"id": 7, "name": "Dana Park", "updated_at": NOW},
             {"id": 8, "name": "Lee Wong", "updated_at": NOW}],
        )  # fmt: skip
        conn.execute(
            insert(Tutor),
            [
                {"id": 1, "name": "Sarah Chen", "manager_id": 7, "status": "active",
                 "updated_at": NOW, "deleted_at": None},
                {"id": 2, "name": "Mike Ross", "manager_id": 8, "status": "active",
                 "updated_at": NOW, "deleted_at": None},
                {"id": 3, "name": "Gone Tutor", "manager_id": 7, "status": "inactive",
                 "updated_at": NOW, "deleted_at": NOW - timedelta(days=1)},
                {"id": 4, "name": "New Tutor", "manager_id": 8, "status": "active",
                 "updated_at": NOW, "deleted_at": None},
            ],
        )  # fmt: skip
    yield engine
    engine.dispose()


def _tracking(engine, local_id):
    with engine.connect() as conn:
        return conn.execute(
            select(InterventionTracking.__table__).where(InterventionTracking.local_id == local_id)
        ).one()


def _intervention(engine, local_id):
    with engine.connect() as conn:
        return conn.execute(
            select(Intervention.__table__).where(Intervention.local_id == local_id)
        ).one()


def test_manual_creation_uses_the_policy_and_assigns_the_tutors_manager(db):
    local_id = open_intervention(
        db, tutor_id=1, intervention_type="manager_coaching", reason="Critical", actor="me",
        now=NOW,
    )  # fmt: skip
    row = _intervention(db, local_id)
    assert row.assigned_to_id == 7 and row.status == "open" and row.priority == 80
    assert row.due_at == NOW + timedelta(hours=48)
    tracking = _tracking(db, local_id)
    assert tracking.policy["sla_hours"] == 48 and tracking.sla_seconds == 48 * 3600
    with db.connect() as conn:
        item = conn.execute(select(OutboxItem.__table__)).one()
    assert item.kind == "intervention.create" and item.payload["assigned_to_id"] == 7

    with pytest.raises(InterventionInputError, match="already open"):
        open_intervention(
            db, tutor_id=1, intervention_type="manager_coaching", reason="again", actor="me"
        )


def test_business_hours_policy_from_settings_sets_the_due_time(db):
    settings = InterventionSettings.model_validate(
        {"business_hours_only": True, "types": {"manager_coaching": {"sla_hours": 16}}}
    )
    friday_4pm_ny = datetime(2026, 11, 20, 21, tzinfo=UTC)
    local_id = open_intervention(
        db, tutor_id=1, intervention_type="manager_coaching", reason="r", actor="me",
        settings=settings, now=friday_4pm_ny,
    )  # fmt: skip
    # 1 h Friday + 8 h Monday + 7 h Tuesday -> Tuesday 16:00 New York = 21:00 UTC.
    assert _intervention(db, local_id).due_at == datetime(2026, 11, 24, 21, tzinfo=UTC)
    assert _tracking(db, local_id).policy["calendar"]["timezone"] == "America/New_York"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tutor_id": 3}, "was deleted on the server"),
        ({"tutor_id": 999}, "no tutor 999"),
        ({"intervention_type": "hug"}, "intervention_type"),
        ({"session_at": NOW - timedelta(hours=1)}, "already started"),
    ],
)
def test_bad_creations_are_refused_with_a_clear_message(db, kwargs, message):
    values = {"tutor_id": 1, "intervention_type": "automated_coaching", "reason": "r",
              "actor": "me", "now": NOW} | kwargs  # fmt: skip
    with pytest.raises(InterventionInputError, match=message):
        open_intervention(db, **values)
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Intervention)).scalar_one() == 0


def test_states_move_forward_only_with_notes_and_an_outcome(db):
    local_id = open_intervention(
        db, tutor_id=2, intervention_type="training_module", reason="r", actor="me", now=NOW
    )
    with pytest.raises(InterventionInputError, match="cannot move from open to completed"):
        set_status(db, local_id, "completed", actor="me")
    set_status(db, local_id, "in_progress", actor="me")
    add_note(db, local_id, "Called Mike", actor="dana", now=NOW)
    notes = add_note(db, local_id, "Module assigned", actor="dana", now=NOW + timedelta(hours=1))
    assert notes.splitlines() == [
        "[2026-11-20 15:00 UTC, dana] Called Mike",
        "[2026-11-20 16:00 UTC, dana] Module assigned",
    ]
    set_status(db, local_id, "completed", actor="me")
    with pytest.raises(InterventionInputError, match="it is final"):
        set_status(db, local_id, "open", actor="me")
    with pytest.raises(InterventionInputError, match="retained, churned"):
        record_outcome(db, local_id, "happy", "", actor="dana")
    record_outcome(db, local_id, "retained", "Back to 20 sessions a month", actor="dana", now=NOW)
    row, tracking = _intervention(db, local_id), _tracking(db, local_id)
    assert row.outcome == "retained: Back to 20 sessions a month"
    assert tracking.outcome_result == "retained" and tracking.outcome_at == NOW
    with db.connect() as conn:
        kinds = conn.execute(select(OutboxItem.kind).order_by(OutboxItem.id)).scalars().all()
        actions = conn.execute(select(AuditEntry.action)).scalars().all()
    assert kinds == ["intervention.create"] + ["intervention.update"] * 5
    assert actions.count("intervention.update") == 5


def test_pause_and_resume_move_the_sla_and_are_audited(db):
    local_id = open_intervention(
        db, tutor_id=1, intervention_type="retention_interview", reason="r", actor="me", now=NOW
    )
    pause_sla(db, local_id, actor="dana", now=NOW + timedelta(hours=2))
    with pytest.raises(InterventionInputError, match="already paused"):
        pause_sla(db, local_id, actor="dana", now=NOW + timedelta(hours=3))
    # Paused past the old due time: no breach.
    assert check_breaches(db, now=NOW + timedelta(hours=30)) == []
    from services.intervention_queue import list_queue

    (row,) = list_queue(db, now=NOW + timedelta(hours=30))
    assert row.sla_state == PAUSED and row.due_at is None
    resume_sla(db, local_id, actor="dana", now=NOW + timedelta(hours=12))
    (row,) = list_queue(db, now=NOW + timedelta(hours=13))
    assert row.due_at == NOW + timedelta(hours=34)  # 24 h SLA + 10 h paused
    with db.connect() as conn:
        actions = conn.execute(select(AuditEntry.action)).scalars().all()
    assert "intervention.sla_pause" in actions and "intervention.sla_resume" in actions


def test_a_breach_is_escalated_once_to_the_configured_contact(db):
    settings = InterventionSettings(escalation_contact="ops-lead@example.com")
    local_id = open_intervention(
        db, tutor_id=1, intervention_type="retention_interview", reason="r", actor="me", now=NOW
    )
    assert check_breaches(db, settings=settings, now=NOW + timedelta(hours=23)) == []
    (breach,) = check_breaches(db, settings=settings, now=NOW + timedelta(hours=25))
    assert breach.local_id == local_id and breach.escalated_to == "ops-lead@example.com"
    assert breach.due_at == NOW + timedelta(hours=24)
    assert check_breaches(db, settings=settings, now=NOW + timedelta(hours=26)) == []
    with db.connect() as conn:
        esc = conn.execute(select(InterventionEscalation.__table__)).one()
        audit = conn.execute(
            select(AuditEntry.details).where(AuditEntry.action == "intervention.sla_breach")
        ).scalar_one()
    assert esc.contact == "ops-lead@example.com" and "retention interview" in esc.reason
    assert audit["escalated_to"] == "ops-lead@example.com"
    from services.intervention_queue import list_queue

    (row,) = list_queue(db, now=NOW + timedelta(hours=26))
    assert row.sla_state == OVERDUE and row.escalated_to == "ops-lead@example.com"


def _scoring_run(engine, tiers, *, perf=None, at=NOW):
    with engine.begin() as conn:
        run_id = conn.execute(
            insert(ScoringRun).values(status="ok", as_of=at).returning(ScoringRun.id)
        ).scalar_one()
        for tutor_id, (tier, p30) in tiers.items():
            conn.execute(
                insert(TutorPrediction).values(
                    run_id=run_id, tutor_id=tutor_id, as_of=at, risk_tier=tier, p_churn_30d=p30,
                    performance_tier=(perf or {}).get(tutor_id, "Silver"),
                    metrics={"tenure_days": 30 if tutor_id == 4 else 400},
                )
            )  # fmt: skip
    return run_id


def _alert(engine, tutor_id, rule, severity="Critical"):
    with engine.begin() as conn:
        conn.execute(
            insert(Alert).values(
                key=f"{rule}:tutor:{tutor_id}", open_key=f"{rule}:tutor:{tutor_id}", rule=rule,
                subject_type="tutor", subject_id=str(tutor_id), tutor_id=tutor_id,
                severity=severity, priority=90, title="t", created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip


def test_auto_creation_from_new_alerts_one_open_per_tutor_and_type(db):
    _scoring_run(db, {1: ("Critical", 0.72), 2: ("High", 0.55), 4: ("High", 0.6)})
    _alert(db, 1, "churn_risk")
    _alert(db, 2, "low_ratings", "Medium")
    _alert(db, 4, "churn_risk", "High")
    report = auto_create(db, now=NOW)
    with db.connect() as conn:
        rows = conn.execute(
            select(Intervention.tutor_id, Intervention.intervention_type,
                   Intervention.assigned_to_id, Intervention.source_alert_key,
                   Intervention.due_at)
            .order_by(Intervention.tutor_id)
        ).all()  # fmt: skip
    got = {(r.tutor_id, r.intervention_type) for r in rows}
    assert got == {(1, "manager_coaching"), (2, "training_module"), (4, "peer_mentoring")}
    sarah = next(r for r in rows if r.tutor_id == 1)
    assert sarah.assigned_to_id == 7 and sarah.source_alert_key == "churn_risk:tutor:1"
    assert sarah.due_at == NOW + timedelta(hours=48)
    assert len(report.created) == 3 and _tracking(db, report.created[0]).auto_created
    # The next run sees the same alerts: nothing is duplicated.
    again = auto_create(db, now=NOW + timedelta(minutes=15))
    assert again.created == [] and again.skipped_open == 3


def test_without_an_alert_engine_critical_predictions_still_get_coaching(db):
    _scoring_run(db, {1: ("Critical", 0.9), 2: ("Low", 0.05)})
    auto_create(db, now=NOW)
    with db.connect() as conn:
        types = set(conn.execute(select(Intervention.intervention_type)).scalars())
    assert types == {"manager_coaching", "retention_interview"}


def test_tier_changes_trigger_recognition_and_medium_coaching(db):
    _scoring_run(db, {1: ("Low", 0.1), 2: ("Low", 0.1)}, perf={1: "Gold"})
    _scoring_run(db, {1: ("Low", 0.1), 2: ("Medium", 0.3)}, perf={1: "Platinum"})
    _alert(db, 99, "no_login", "Low")  # the engine runs (no churn alert for them)
    auto_create(db, now=NOW)
    with db.connect() as conn:
        got = set(conn.execute(select(Intervention.tutor_id, Intervention.intervention_type)))
    assert got == {(1, "recognition"), (2, "automated_coaching")}


def test_high_risk_first_session_gets_a_prep_due_before_the_session(db):
    run_id = _scoring_run(db, {2: ("Low", 0.1)})
    start = NOW + timedelta(hours=10)
    with db.begin() as conn:
        conn.execute(
            insert(FirstSessionPrediction).values(
                run_id=run_id, session_id=55, tutor_id=2, start_time=start, p_poor=0.65,
                risk_tier="High", subject="spanish",
            )
        )  # fmt: skip
    _alert(db, 99, "no_login", "Low")
    auto_create(db, now=NOW)
    with db.connect() as conn:
        row = conn.execute(select(Intervention.__table__)).one()
    assert row.intervention_type == "automated_coaching" and row.due_at == start
    assert row.source_alert_key == "first_session_risk:session:55"
    assert _tracking(db, row.local_id).sla_deadline == start


def test_a_holdout_share_leaves_some_untreated_and_remembers_them(db):
    settings = InterventionSettings.model_validate(
        {"types": {"manager_coaching": {"sla_hours": 48, "holdout_share": 0.5}}}
    )
    _scoring_run(db, {1: ("Critical", 0.72), 2: ("Critical", 0.75), 4: ("Critical", 0.71)})
    report = auto_create(db, settings, now=NOW, rng=random.Random(3))
    with db.connect() as conn:
        held = conn.execute(select(InterventionHoldout.tutor_id)).scalars().all()
        treated = conn.execute(select(Intervention.tutor_id)).scalars().all()
    assert report.held_out == len(held) >= 1 and len(treated) >= 1
    assert set(held).isdisjoint(treated) and set(held) | set(treated) == {1, 2, 4}
    # A held-out tutor stays untreated on the next run.
    again = auto_create(db, settings, now=NOW + timedelta(hours=1), rng=random.Random(4))
    assert again.created == [] and again.held_out == len(held)


def test_a_conflict_is_settled_by_keeping_mine_or_taking_theirs(db):
    local_id = open_intervention(
        db, tutor_id=1, intervention_type="manager_coaching", reason="r", actor="me", now=NOW
    )
    set_status(db, local_id, "in_progress", actor="me")
    server = {"id": 5, "status": "completed", "notes": "theirs", "outcome": None,
              "lock_version": 3}  # fmt: skip
    with db.begin() as conn:
        conn.execute(update(Intervention).values(id=5, lock_version=1, conflict=server))
        conn.execute(
            update(OutboxItem)
            .where(OutboxItem.kind == "intervention.update")
            .values(status="conflict")
        )
    resolve_conflict(db, local_id, "mine", actor="me")
    row = _intervention(db, local_id)
    assert row.conflict is None and row.lock_version == 3 and row.status == "in_progress"
    with db.connect() as conn:
        statuses = conn.execute(select(OutboxItem.status).order_by(OutboxItem.id)).scalars().all()
    assert statuses == ["pending", "pending"]

    with db.begin() as conn:
        conn.execute(update(Intervention).values(conflict=server))
    resolve_conflict(db, local_id, "theirs", actor="me")
    row = _intervention(db, local_id)
    assert row.status == "completed" and row.notes == "theirs" and row.conflict is None
    with db.connect() as conn:
        statuses = conn.execute(select(OutboxItem.status).order_by(OutboxItem.id)).scalars().all()
    assert statuses == ["pending", "superseded"]
    with pytest.raises(InterventionInputError, match="no conflict"):
        resolve_conflict(db, local_id, "mine", actor="me")


def test_fired_alerts_from_an_evaluation_drive_auto_creation(db):
    from types import SimpleNamespace

    _scoring_run(db, {1: ("Critical", 0.72), 2: ("Medium", 0.3)})
    _alert(db, 99, "no_login", "Low")  # the engine is in use
    fired = [SimpleNamespace(tutor_id=1, rule="churn_risk", key="churn_risk:tutor:1",
                             severity="Critical", facts={})]  # fmt: skip
    report = auto_create(db, fired_alerts=fired, now=NOW)
    with db.connect() as conn:
        got = set(conn.execute(select(Intervention.tutor_id, Intervention.intervention_type)))
    assert got == {(1, "manager_coaching")} and len(report.created) == 1


def test_interventions_list_on_the_command_line(db, capsys):
    import json

    from tutormax_desktop import cli

    late = open_intervention(
        db, tutor_id=2, intervention_type="retention_interview", reason="r", actor="me",
        now=datetime.now(UTC) - timedelta(hours=30),
    )  # fmt: skip
    open_intervention(db, tutor_id=1, intervention_type="manager_coaching", reason="r", actor="me")
    url = db.url.render_as_string(hide_password=False)
    assert cli.main(["interventions", "list", "--json", "--database", url]) == 0
    rows = json.loads(capsys.readouterr().out)["interventions"]
    assert rows[0]["local_id"] == late  # overdue first
    assert rows[0]["sla"] == "overdue" and rows[0]["assignee"] == "Lee Wong"
    assert rows[1]["type"] == "manager_coaching" and rows[1]["tutor"] == "Sarah Chen"
    assert rows[1]["assignee"] == "Dana Park" and rows[1]["due_at"].endswith("Z")
    assert cli.main(["interventions", "list", "--database", url]) == 0
    text = capsys.readouterr().out
    assert "2 interventions, 1 overdue" in text and "late" in text


def test_outcomes_are_measured_30_days_after_completion(db):
    from services.intervention_outcomes import measure_outcomes

    wall = datetime.now(UTC)
    ids = {}
    for tutor in (1, 2, 4):
        ids[tutor] = open_intervention(
            db, tutor_id=tutor, intervention_type="training_module", reason="r", actor="me"
        )
        set_status(db, ids[tutor], "in_progress", actor="me")
    for tutor in (1, 2):
        set_status(db, ids[tutor], "completed", actor="me")
    with db.begin() as conn:  # Sarah leaves 10 days after her module
        conn.execute(
            update(Tutor).where(Tutor.id == 1).values(churned_at=wall + timedelta(days=10))
        )
    assert measure_outcomes(db, now=wall + timedelta(days=29)) == {"retained": 0, "churned": 0}
    assert measure_outcomes(db, now=wall + timedelta(days=31)) == {"retained": 1, "churned": 1}
    assert _tracking(db, ids[1]).outcome_result == "churned"
    assert _tracking(db, ids[2]).outcome_result == "retained"
    assert _tracking(db, ids[4]).outcome_result is None  # still in progress
    # Measured once; the manager's note stays theirs to add.
    assert measure_outcomes(db, now=wall + timedelta(days=40)) == {"retained": 0, "churned": 0}
    assert _tracking(db, ids[2]).outcome_note is None
