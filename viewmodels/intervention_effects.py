"""Effectiveness per intervention type for the chart: measured on a worker (features at
many past dates take seconds), handed to the view through one narrow method."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QObject, Signal, Slot

from services.sla import local_text
from viewmodels.tasks import TaskRunner

# ml.effectiveness.SELECTION_BIAS, not imported from there: that module pulls pandas into
# the window's first paint (tests/gui/test_startup_imports.py). A test keeps them equal.
SELECTION_BIAS = "selection_bias"


class EffectivenessViewModel(QObject):
    sig_ready = Signal(object)
    """The measured table: a list of dicts (ml.effectiveness.COLUMNS)."""
    sig_progress = Signal(str)
    sig_error = Signal(str)

    def __init__(self, runner: TaskRunner, service: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.service = service
        self._records: list[dict[str, Any]] = []
        self.as_of = ""

    @Slot()
    def load(self) -> None:
        if self.service is None:
            self.sig_error.emit("effectiveness cannot be measured here")
            return
        service = self.service

        def work(state: Any) -> Any:
            return service.measure_effects(progress=state.progress, cancel=state.cancel_event)

        self.runner.submit(
            "intervention-effects",
            work,
            title="Measuring intervention effectiveness",
            on_success=self._on_ready,
            on_failure=lambda exc, _t: self.sig_error.emit(str(exc)),
            on_progress=lambda v: self.sig_progress.emit(str(v)),
            coalesce=True,
        )

    def _on_ready(self, report: Any) -> None:
        self._records = report.records()
        self.as_of = report.as_of
        self.sig_ready.emit(self._records)

    def set_records(self, records: list[dict[str, Any]]) -> None:
        """For tests and for a report computed elsewhere."""
        self._records = list(records)
        self.sig_ready.emit(self._records)

    def chart_data(self) -> dict[str, list[Any]]:
        """Types with an estimate, largest effect first: label, effect and 95 % interval
        in percentage points, the naive comparison, the random hold-out's estimate and
        interval, sample sizes, whether the selection-bias check flagged the type, and a
        tooltip per type that says all of it in words."""
        rows = [r for r in self._records if _finite(r.get("effect"))]
        rows.sort(key=lambda r: -float(r["effect"]))
        pp = 100.0

        def points(key: str) -> list[float]:
            return [pp * r[key] if _finite(r.get(key)) else math.nan for r in rows]

        return {
            "labels": [_label(r) for r in rows],
            "effect": points("effect"),
            "low": points("ci_low"),
            "high": points("ci_high"),
            "naive": points("naive_effect"),
            "holdout": points("holdout_effect"),
            "holdout_low": points("holdout_ci_low"),
            "holdout_high": points("holdout_ci_high"),
            "n_treated": [int(r["n_treated"]) for r in rows],
            "n_control": [_count(r.get("n_control")) for r in rows],
            "n_holdout": [_count(r.get("n_holdout")) for r in rows],
            "biased": [_biased(r) for r in rows],
            "tips": [_tip(r) for r in rows],
        }

    def unmeasured(self) -> list[str]:
        """Types seen but without enough comparable untreated tutors for an estimate."""
        return [_label(r) for r in self._records if not _finite(r.get("effect"))]

    def biased(self) -> list[str]:
        """Measured types whose comparison the selection-bias check flagged."""
        return [_label(r) for r in self._records if _finite(r.get("effect")) and _biased(r)]

    def status_text(self, zone: ZoneInfo | None = None) -> str:
        """One line under the chart: the data's date (in the user's zone), how many
        treated tutors were compared, what could not be measured and what is not an
        effect at all."""
        treated = sum(int(r["n_treated"]) for r in self._records if _finite(r.get("effect")))
        when = _as_of_text(self.as_of, zone)
        text = f"Data up to {when}; {treated:,} treated tutors compared."
        missing = self.unmeasured()
        if missing:
            text += f" Not enough comparable data yet: {', '.join(missing)}."
        flagged = self.biased()
        if flagged:
            text += (
                f" Selection bias: {', '.join(flagged)}. These figures are not effects; "
                "a hold-out share for the type (Preferences → Interventions) measures them."
            )
        return text


def _label(r: dict[str, Any]) -> str:
    return str(r["intervention_type"]).replace("_", " ")


def _count(v: Any) -> int:
    return int(v) if _finite(v) else 0


def _biased(r: dict[str, Any]) -> bool:
    return r.get("caveat") == SELECTION_BIAS


def _points(v: float) -> str:
    return f"{100 * v:+.0f}".replace("-", "−")


def _tip(r: dict[str, Any]) -> str:
    """What one point means, in words; the caveat (a paragraph) last."""
    lines = [
        f"{_label(r)}: {_points(r['effect'])} points of 30-day retention",
        f"95 % interval {_points(r['ci_low'])} to {_points(r['ci_high'])}"
        if _finite(r.get("ci_low")) and _finite(r.get("ci_high"))
        else "no interval (too few tutors)",
        f"{int(r['n_treated']):,} treated, {_count(r.get('n_control')):,} comparable untreated",
    ]
    if _finite(r.get("naive_effect")):
        lines.append(f"Naive comparison with everyone untreated: {_points(r['naive_effect'])}")
    if _finite(r.get("holdout_effect")):
        lines.append(
            f"Random hold-out ({_count(r.get('n_holdout')):,} tutors): "
            f"{_points(r['holdout_effect'])} points"
        )
    text = "\n".join(lines)
    if _biased(r) and r.get("caveat_text"):
        text += "\n\n" + str(r["caveat_text"])
    return text


def _as_of_text(as_of: str, zone: ZoneInfo | None) -> str:
    """The measurement's ``as_of`` (an ISO instant; UTC when it names no zone)."""
    if not as_of:
        return "now"
    at = datetime.fromisoformat(as_of)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return local_text(at, zone)


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)
