"""Effectiveness per intervention type for the chart: measured on a worker (features at
many past dates take seconds), handed to the view through one narrow method."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from viewmodels.tasks import TaskRunner


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
        in percentage points, the naive comparison, sample sizes."""
        rows = [r for r in self._records if _finite(r.get("effect"))]
        rows.sort(key=lambda r: -float(r["effect"]))
        pp = 100.0

        def points(key: str) -> list[float]:
            return [pp * r[key] if _finite(r.get(key)) else math.nan for r in rows]

        return {
            "labels": [r["intervention_type"].replace("_", " ") for r in rows],
            "effect": points("effect"),
            "low": points("ci_low"),
            "high": points("ci_high"),
            "naive": points("naive_effect"),
            "holdout": points("holdout_effect"),
            "n_treated": [int(r["n_treated"]) for r in rows],
            "n_control": [int(r["n_control"]) if _finite(r.get("n_control")) else 0 for r in rows],
        }

    def unmeasured(self) -> list[str]:
        """Types seen but without enough comparable untreated tutors for an estimate."""
        return [
            r["intervention_type"].replace("_", " ")
            for r in self._records
            if not _finite(r.get("effect"))
        ]


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)
