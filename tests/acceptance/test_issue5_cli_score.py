"""Issue 5, headless: `tutormax score` is where the alert rules and the intervention
auto-creation run. The CLI must hand the user's settings (thresholds, policy) to the
scoring run and report both the alerts and the interventions it created."""

from __future__ import annotations

import json
from typing import Any

import pytest

import services.scoring as scoring
from services.scoring import ScoringResult
from tutormax_desktop import cli

INTERVENTIONS = {"created": 3, "skipped_open": 2, "held_out": 0, "refused": [], "breaches": 1}


@pytest.fixture
def fake_score(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def score(engine: Any, models_dir: Any, **kwargs: Any) -> ScoringResult:
        calls.append(kwargs)
        return ScoringResult(
            7,
            {"tutors": 5},
            {"tutor_churn": 1},
            alerts={"summary": "2 new alerts (1 Critical new or escalated)"},
            interventions=dict(INTERVENTIONS),
        )

    monkeypatch.setattr(scoring, "score", score)
    return calls


def test_score_passes_the_settings_and_reports_alerts_and_interventions(
    fake_score, tmp_path, capsys
):
    db = f"sqlite:///{tmp_path / 'local.db'}"
    assert cli.main(["score", "--database", db]) == 0
    out = capsys.readouterr().out
    (call,) = fake_score
    assert call["trigger"] == "cli" and call["settings"] is not None
    assert "alerts: 2 new alerts" in out
    assert "interventions: 3 created, 2 already open, 1 SLA breaches" in out


def test_score_json_carries_the_interventions(fake_score, tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'local.db'}"
    assert cli.main(["score", "--json", "--database", db]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["interventions"] == INTERVENTIONS
    assert report["alerts"]["summary"].startswith("2 new alerts")
    assert "alert_evaluation" not in report
