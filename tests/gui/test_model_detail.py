"""System → Models: the selected version's held-out figures laid out per horizon, the
baselines they beat, and the calibration curve when training measured one."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.registry import ModelRegistry
from services.metrics import model_registry
from services.model_report import model_report
from tests.gui.test_models_and_sources import TinyModel
from ui.model_detail import ModelDetail

SURVIVAL = {
    "n": 5339, "events": 559, "concordance": 0.7746, "cut": "2026-09-25",
    "auc_7d": 0.8776, "brier_7d": 0.0222, "known_7d": 4746, "churned_7d": 126,
    "mean_p_7d": 0.0297, "precision_7d": 0.32, "recall_7d": 0.12,
    "threshold_r80_7d": 0.0322, "precision_r80_7d": 0.12,
    "auc_30d": 0.7803, "brier_30d": 0.0792, "known_30d": 2554, "churned_30d": 434,
    "mean_p_30d": 0.108, "precision_30d": 0.825, "recall_30d": 0.316,
    "threshold_r80_30d": 0.0453, "precision_r80_30d": 0.291,
    "auc_90d": None, "known_90d": 559, "churned_90d": 559, "mean_p_90d": 0.25,
    "train_rows": 6540, "train_events": 907, "final_rows": 11879,
    "distribution": "logistic", "rounds": 60,
    "final_notes": ["calibration: likelihood, then Brier"],
}  # fmt: skip
RELIABILITY = [
    {"bin": b, "n": 200, "mean_predicted": 0.05 * (b + 1), "observed_rate": 0.05 * (b + 1) + 0.01}
    for b in range(6)
]
CLASSIFIER = {
    "n": 2052, "poor_rate": 0.212, "auc": 0.786, "accuracy": 0.811,
    "always_good_accuracy": 0.788, "brier": 0.137, "brier_base_rate": 0.169, "ece": 0.031,
    "precision_at_0.5": 0.639, "recall_at_0.5": 0.248, "reliability": RELIABILITY,
}  # fmt: skip


def test_a_survival_models_figures_read_per_horizon_with_observed_rates():
    report = model_report({"metrics": SURVIVAL, "key_metric": "concordance"})
    assert report.kind == "survival"
    assert [h.days for h in report.horizons] == [7, 30, 90]  # 14 d was not measured
    d30 = report.horizons[1]
    assert d30.observed == pytest.approx(434 / 2554) and d30.auc == pytest.approx(0.7803)
    assert report.horizons[2].auc is None  # censored: not a number made up
    assert ("Concordance (C-index)", "0.775") in report.headline
    assert any("no worse" in n and "concordance" in n for n in report.notes)


def test_a_classifier_states_its_baselines_and_keeps_its_calibration():
    report = model_report({"metrics": CLASSIFIER, "key_metric": "auc"})
    assert report.kind == "classifier"
    head = dict(report.headline)
    assert head["Accuracy"] == "0.811 (always predicting the majority: 0.788)"
    assert head["Brier score"] == "0.137 (base rate: 0.169)"
    assert len(report.reliability) == 6
    assert any("AUC is no worse" in n for n in report.notes)


def test_unknown_or_broken_metadata_still_reads():
    assert model_report(None).kind == "other"
    odd = model_report({"metrics": {"auc": "n/a", "reliability": [{"bin": 0}], "x": 1.5}})
    assert odd.kind == "classifier" and odd.reliability == []
    assert dict(odd.headline)["AUC"] == "–"


def _entries(tmp_path: Path) -> dict[str, object]:
    registry = ModelRegistry(tmp_path, loaders={})
    registry.save("tutor_churn", TinyModel(1.0), {"metrics": SURVIVAL, "key_metric": "concordance"})
    registry.save("first_session", TinyModel(2.0), {"metrics": CLASSIFIER, "key_metric": "auc"})
    return {e.name: e for e in model_registry(tmp_path)}


def test_the_detail_pane_shows_the_selected_versions_figures(qtbot, tmp_path):
    entries = _entries(tmp_path)
    detail = ModelDetail()
    qtbot.addWidget(detail)
    detail.resize(1000, 400)
    detail.show()
    detail.show_entry(entries["tutor_churn"])
    text = detail.text.text()
    assert "tutor_churn v1" in text and "By horizon" in text
    assert "30 days" in text and "0.780" in text and "11% vs 17%" in text
    assert "No AUC at 90 days" in text and "25% vs –" in text  # why, and no fake rate
    assert not detail.calibration.isVisible()  # no binned calibration for this model
    detail.show_entry(entries["first_session"])
    assert detail.calibration.isVisible()
    x, y = detail.points.getData()
    assert list(x) == pytest.approx([r["mean_predicted"] for r in RELIABILITY])
    assert list(y) == pytest.approx([r["observed_rate"] for r in RELIABILITY])
    assert "always predicting the majority" in detail.text.text()
    detail.show_entry(None)
    assert "Select a model version" in detail.text.text() and not detail.calibration.isVisible()
