"""How the evaluation is wired into scoring: the user's thresholds reach the job process,
and a failing evaluation is a warning of the run, not a lost run."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import services.alerts
import services.scoring as scoring
from services.jobs import _settings
from services.settings import AlertSettings, Settings


def test_the_users_alert_settings_reach_a_job_process() -> None:
    chosen = Settings(alerts=AlertSettings(churn_high=0.6, disabled_rules=["no_login"]))
    parsed = _settings(chosen.model_dump_json())
    assert parsed.alerts.churn_high == 0.6 and parsed.alerts.disabled_rules == ["no_login"]
    assert _settings(None) is None


def test_score_job_passes_the_settings_and_reports_the_alerts(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen = {}

    def fake_score(engine, models_dir, **kw):  # type: ignore[no-untyped-def]
        seen.update(kw)
        return scoring.ScoringResult(
            run_id=3, counts={"tutors": 1}, alerts={"summary": "2 new alerts", "new": 2}
        )

    monkeypatch.setattr(scoring, "score", fake_score)
    settings = Settings(alerts=AlertSettings(churn_critical=0.8))
    ctx = SimpleNamespace(
        engine=None,
        models_dir=Path("."),
        trigger="after_sync",
        progress=None,
        cancel_event=None,
        settings=settings,
    )
    out = scoring.score_job(ctx)
    assert seen["settings"] is settings
    assert out["alerts"]["new"] == 2 and "2 new alerts" in out["summary"]


def test_a_failing_evaluation_is_a_warning_of_the_run(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def boom(*_a, **_k):  # type: ignore[no-untyped-def]
        raise RuntimeError("database is locked")

    monkeypatch.setattr(services.alerts, "evaluate_alerts", boom)
    warnings: list[str] = []
    assert scoring._evaluate_alerts(None, 7, None, None, warnings) is None
    assert warnings == ["alert rules not evaluated: RuntimeError: database is locked"]


def test_scoring_result_as_dict_leaves_the_evaluation_out() -> None:
    result = scoring.ScoringResult(run_id=1, alerts={"new": 0}, alert_evaluation=object())
    assert "alert_evaluation" not in result.as_dict() and result.as_dict()["alerts"] == {"new": 0}
