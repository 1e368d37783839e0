"""Train and score on a synced database, end to end, and the read-outs built on them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from ml.registry import ModelRegistry
from services.api.rails_time import parse_us
from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import (
    CustomerPrediction,
    FirstSessionPrediction,
    ScoringRun,
    TutorPrediction,
)
from services.ml_data import load_frames
from services.scoring import ScoringError, prune_history, score
from services.training import TrainingError, train_models
from tests.fixtures.scored_demo import trained_demo
from tutormax_desktop import cli

ANCHOR = parse_us("2026-11-20T12:00:00Z")


@pytest.fixture(scope="module")
def scored(tmp_path_factory, sandbox_server_factory_module, demo_cache):
    """The demo world synced into SQLite, every model trained, one scoring run."""
    built = trained_demo(
        tmp_path_factory.mktemp("pipeline"), sandbox_server_factory_module, demo_cache
    )
    engine, models_dir, world = built["engine"], built["models"], built["world"]
    folder, trained = built["folder"], built["trained"]
    result = score(engine, models_dir, trigger="test")
    yield {"engine": engine, "models": models_dir, "trained": trained, "result": result,
           "world": world, "folder": folder}  # fmt: skip
    engine.dispose()


def test_training_saves_a_version_of_every_model_with_honest_metrics(scored):
    trained = scored["trained"]
    assert trained.versions == {
        "tutor_churn": 1, "customer_churn": 1, "first_session": 1, "sessions_forecast": 1,
    }  # fmt: skip
    registry = ModelRegistry(scored["models"])
    meta = registry.versions("tutor_churn")[0].metadata
    assert meta["key_metric"] == "concordance"
    assert 0.55 < meta["metrics"]["concordance"] <= 1.0
    assert meta["training_window"]["until"].startswith("2026-11-20")
    assert len(meta["features"]) >= 30
    fs = registry.versions("first_session")[0].metadata["metrics"]
    assert fs["auc"] > 0.6
    assert fs["accuracy"] >= fs["always_good_accuracy"] - 0.01


def test_scoring_writes_one_run_covering_every_active_tutor(scored):
    engine, result = scored["engine"], scored["result"]
    frames = load_frames(engine)
    active = frames.tutors[frames.tutors["status"] == "active"]
    with engine.connect() as conn:
        run = conn.execute(select(ScoringRun.__table__)).one()
        tutors = conn.execute(select(TutorPrediction.__table__)).all()
        n_customers = conn.execute(select(func.count()).select_from(CustomerPrediction)).scalar()
        n_first = conn.execute(select(func.count()).select_from(FirstSessionPrediction)).scalar()
    assert run.status == "ok" and run.counts == result.counts
    assert run.thresholds["scores"]["risk_critical"] == 0.70
    assert run.models == result.models
    assert {t.tutor_id for t in tutors} == set(active["id"].tolist())
    assert n_customers == result.counts["customers"] > 1000
    assert n_first == result.counts["first_sessions"] > 10
    for t in tutors:
        curve = [t.p_churn_7d, t.p_churn_14d, t.p_churn_30d, t.p_churn_90d]
        assert None not in curve and curve == sorted(curve)  # a curve, never decreasing
        assert t.risk_tier in {"Critical", "High", "Medium", "Low"}
        assert t.performance_tier in {"Platinum", "Gold", "Silver", "Bronze"}
        assert t.factors and all(not re.fullmatch(r"f\d+", f["text"]) for f in t.factors)
        assert t.metrics["tenure_days"] is not None


def test_readouts_from_the_command_line(scored, monkeypatch, capsys):
    db = str(scored["engine"].url)
    assert cli.main(["tutor", "show", "Sarah Chen", "--json", "--database", db]) == 0
    sarah = json.loads(capsys.readouterr().out)
    assert sarah["tutor"]["id"] == scored["world"].personas["sarah_chen"]
    assert sarah["risk_tier"] in {"Critical", "High", "Medium", "Low"}
    assert sarah["history"][-1]["p_churn_30d"] == sarah["churn"]["30d"]
    texts = " | ".join(f["text"] for f in sarah["factors"])
    assert "engagement 0.32 (was 0.75)" in texts

    assert cli.main(["first-sessions", "--days", "7", "--json", "--database", db]) == 0
    upcoming = json.loads(capsys.readouterr().out)
    mike = scored["world"].personas["mike_ross_first_session"]
    row = next(s for s in upcoming["sessions"] if s["session_id"] == mike)
    assert row["subject"] == "spanish" and row["tutor"] == "Mike Ross"
    probs = [s["p_poor"] for s in upcoming["sessions"]]
    assert probs == sorted(probs, reverse=True)

    assert cli.main(["tutor", "show", "zzz-nobody", "--database", db]) == 2
    assert "no tutor matches" in capsys.readouterr().err


def test_a_corrupt_newest_model_falls_back_to_the_previous_with_a_warning(scored):
    registry = ModelRegistry(scored["models"])
    model = registry.load("first_session", 1)
    v2 = registry.save("first_session", model, {"metrics": {"auc": 0.99}, "key_metric": "auc"})
    victim = next(p for p in v2.path.iterdir() if p.name != "metadata.json")
    victim.write_bytes(victim.read_bytes()[:10])  # truncated on disk
    result = score(scored["engine"], scored["models"], trigger="test")
    assert result.models["first_session"] == 1
    assert any("v2" in w and "corrupt" in w for w in result.warnings)
    with scored["engine"].connect() as conn:
        run = conn.execute(select(ScoringRun.__table__).where(ScoringRun.id == result.run_id)).one()
    assert any("corrupt" in w for w in run.warnings["messages"])


def test_history_keeps_recent_runs_and_the_last_run_of_each_older_day(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    migrate(engine)
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    starts = [now - timedelta(days=5, hours=h) for h in (6, 4, 2)]
    starts += [now - timedelta(hours=h) for h in (30, 1)]
    with engine.begin() as conn:
        ids = [
            conn.execute(
                insert(ScoringRun).values(started_at=s, status="ok").returning(ScoringRun.id)
            ).scalar_one()
            for s in starts
        ]
    assert prune_history(engine, now=now) == 2
    with engine.connect() as conn:
        kept = sorted(conn.execute(select(ScoringRun.id)).scalars())
    assert kept == [ids[2], ids[3], ids[4]]


def test_empty_database_says_what_to_do(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    migrate(engine)
    with pytest.raises(TrainingError, match="sync the marketplace first"):
        train_models(engine, tmp_path / "models")
    with pytest.raises(ScoringError, match="train first"):
        score(engine, tmp_path / "models")


def test_scoring_and_training_plug_into_the_job_registry():
    from services.jobs import AFTER_SYNC, NIGHTLY, discover_jobs

    registry, problems = discover_jobs()
    assert problems == []
    assert registry.get("score").runs_on(AFTER_SYNC)
    assert registry.get("score").min_interval == timedelta(minutes=15)
    assert registry.get("train").runs_on(NIGHTLY)


def test_the_personas_read_as_the_demo_says_through_the_synced_database(scored):
    """Sarah Chen Critical, Mike Ross's next first session High: from the models alone."""
    personas, run_id = scored["world"].personas, scored["result"].run_id
    with scored["engine"].connect() as conn:
        sarah = conn.execute(
            select(TutorPrediction.__table__).where(
                TutorPrediction.tutor_id == personas["sarah_chen"],
                TutorPrediction.run_id == run_id,
            )
        ).one()
        mike = conn.execute(
            select(FirstSessionPrediction.__table__).where(
                FirstSessionPrediction.session_id == personas["mike_ross_first_session"],
                FirstSessionPrediction.run_id == run_id,
            )
        ).one()
    assert sarah.risk_tier == "Critical" and sarah.p_churn_30d >= 0.70
    assert mike.risk_tier == "High" and 0.5 <= mike.p_poor < 0.7


def _copy_sqlite(engine, target):
    import sqlite3

    source = sqlite3.connect(engine.url.database)
    copy = sqlite3.connect(target)
    source.backup(copy)
    source.close()
    copy.close()
    return make_engine(f"sqlite:///{target}")


def test_awkward_tutors_and_an_unseen_subject_score_cleanly(scored, tmp_path):
    """No sessions, hired an hour ago, only unrated sessions, a subject never seen in
    training: defined curves, tiers and readable factors, never a NaN."""
    from services.db.models import Tutor, TutoringSession

    engine = _copy_sqlite(scored["engine"], tmp_path / "edge.db")
    as_of = load_frames(engine, ("sessions",)).observed_until.to_pydatetime()
    hour, day = timedelta(hours=1), timedelta(days=1)
    with engine.connect() as conn:
        manager_id = conn.execute(select(Tutor.manager_id).limit(1)).scalar()
    base = {
        "status": "active",
        "manager_id": manager_id,
        "subjects": ["algebra"],
        "timezone": "America/New_York",
        "updated_at": as_of - hour,
    }
    tutors = [
        {**base, "id": 990001, "name": "No Sessions", "hired_at": as_of - 40 * day},
        {**base, "id": 990002, "name": "Brand New", "hired_at": as_of - hour},
        {**base, "id": 990003, "name": "Never Rated", "hired_at": as_of - 90 * day},
        {
            **base,
            "id": 990004,
            "name": "Odd Subject",
            "hired_at": as_of - 200 * day,
            "subjects": ["klingon"],
        },
    ]
    sessions = [
        {"id": 9900100 + k, "tutor_id": 990003, "customer_id": None, "subject": "algebra",
         "start_time": as_of - (k + 1) * 2 * day, "end_time": as_of - (k + 1) * 2 * day + hour,
         "status": "completed", "rating": None, "first_session": k == 9,
         "updated_at": as_of - hour}
        for k in range(10)
    ]  # fmt: skip
    sessions.append(
        {
            "id": 9900200,
            "tutor_id": 990004,
            "customer_id": None,
            "subject": "klingon",
            "start_time": as_of + 2 * day,
            "end_time": as_of + 2 * day + hour,
            "status": "scheduled",
            "rating": None,
            "first_session": True,
            "updated_at": as_of - hour,
        }
    )
    with engine.begin() as conn:
        conn.execute(insert(Tutor), [{"created_at": t["hired_at"], **t} for t in tutors])
        conn.execute(
            insert(TutoringSession), [{"created_at": as_of - 3 * day, **s} for s in sessions]
        )
    result = score(engine, scored["models"], trigger="test")
    with engine.connect() as conn:
        rows = {
            r.tutor_id: r
            for r in conn.execute(
                select(TutorPrediction.__table__).where(
                    TutorPrediction.run_id == result.run_id, TutorPrediction.tutor_id > 990000
                )
            )
        }
        first = conn.execute(
            select(FirstSessionPrediction.__table__).where(
                FirstSessionPrediction.run_id == result.run_id,
                FirstSessionPrediction.session_id == 9900200,
            )
        ).one()
    assert set(rows) == {990001, 990002, 990003, 990004}
    for r in rows.values():
        curve = [r.p_churn_7d, r.p_churn_14d, r.p_churn_30d, r.p_churn_90d]
        assert all(p is not None and 0.0 <= p <= 1.0 for p in curve) and curve == sorted(curve)
        assert r.risk_tier in {"Critical", "High", "Medium", "Low"}
        assert r.performance_tier in {"Platinum", "Gold", "Silver", "Bronze"}
        assert r.health_score is not None and 0 <= r.health_score <= 100
        texts = " ".join(f["text"] for f in r.factors)
        assert r.factors and "nan" not in texts.lower() and "none" not in texts.lower()
    assert first.p_poor is not None and 0.0 < first.p_poor < 1.0
    assert first.risk_tier in {"Critical", "High", "Medium", "Low"}
    engine.dispose()


def test_the_tutor_report_from_the_command_line(scored, capsys, tmp_path):
    db = str(scored["engine"].url)
    out = tmp_path / "sarah.pdf"
    assert cli.main(["tutor", "report", "Sarah Chen", "--out", str(out), "--database", db]) == 0
    said = capsys.readouterr().out
    assert said.startswith("report for Sarah Chen") and str(out) in said
    pdf = out.read_bytes()
    pages = int(said.rsplit("(", 1)[1].split()[0])
    assert pdf.startswith(b"%PDF") and pages >= 1
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == pages
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", str(out), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert "Sarah Chen" in text and "Your performance report" in text
    # Refused with a message, nothing written: not a PDF name, an unknown tutor.
    bad = tmp_path / "sarah.txt"
    assert cli.main(["tutor", "report", "Sarah Chen", "--out", str(bad), "--database", db]) == 2
    assert "not a .pdf" in capsys.readouterr().err and not bad.exists()
    nobody = tmp_path / "nobody.pdf"
    assert cli.main(["tutor", "report", "zzz-nobody", "--out", str(nobody), "--database", db]) == 2
    assert "no tutor matches" in capsys.readouterr().err and not nobody.exists()
    missing = tmp_path / "no-such-folder" / "x.pdf"
    assert cli.main(["tutor", "report", "Sarah Chen", "--out", str(missing), "--database", db]) == 2
    assert "does not exist" in capsys.readouterr().err
