"""The Dashboard's Analytics tab: computed on the task runner, shown through narrow
accessors (retention series, the heatmap) and three table models.

Loading is lazy: nothing is computed until the tab is first shown (``set_active``).
After that, a dashboard reload whose data changed (a new scoring run, a sync that
brought sessions; ``data_changed`` with the dashboard's key) makes the report stale: it
is recomputed at once when the tab is on screen, else the next time it is shown.
The effectiveness chart reuses the Interventions page's ``EffectivenessViewModel`` (one
measurement serves both places); it is measured once, when the tab is first shown.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QObject,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QFont

from viewmodels.loading import LoadingViewModel
from viewmodels.rows_table import RowsTableModel
from viewmodels.tasks import SORT_ROLE, TaskRunner

MEANING_ROLE = Qt.ItemDataRole.UserRole + 10
DELTA_COLUMN = 5  # Cliff's delta in ComparisonModel: the rows' order
TASK = "analytics"


def fmt_p(p: float | None) -> str:
    """p-values as analysts read them: 3 decimals, '< 0.001' below."""
    if p is None or not math.isfinite(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _num(v: float | None, pattern: str = "{:+.2f}") -> str:
    return "–" if v is None or not math.isfinite(v) else pattern.format(v)


def _key(v: float | None) -> float:
    return v if v is not None and math.isfinite(v) else -math.inf


class ComparisonModel(RowsTableModel):
    """Two groups compared feature by feature (``services.analytics.stats.Comparison``
    rows), largest effect first."""

    right_aligned = frozenset(range(2, 8))

    def __init__(self, names: tuple[str, str], parent: QObject | None = None) -> None:
        # The verdict in words right after the feature: what a manager reads first.
        # Short titles leave the verdict its width; the tooltips name them in full.
        super().__init__(
            parent,
            columns=(
                "Feature",
                "What this means",
                names[0].capitalize(),
                names[1].capitalize(),
                "d",
                "δ",
                "p",
                "Adj. p",
            ),
        )
        self.names = names
        self.column_tips = (
            None,
            None,
            f"Mean of the {names[0]}",
            f"Mean of the {names[1]}",
            "Cohen's d: the mean difference in pooled standard deviations (0.2 small, "
            "0.5 medium, 0.8 large)",
            "Cliff's δ: P(a member of the first group is above one of the second) minus "
            "the reverse; rank-based, robust to skew. Rows are sorted by its size.",
            "p-value of Welch's t-test (unequal variances), two-sided",
            "Benjamini-Hochberg: corrected for testing every row of this table at once. "
            "Below 0.05: unlikely to be chance.",
        )

    def _data(self, r: Any, col: int, role: int, position: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            fmt = r.fmt
            return (
                r.label + (" *" if r.in_definition else ""),
                r.meaning,
                _num(r.mean_a, fmt),
                _num(r.mean_b, fmt),
                _num(r.cohen_d),
                _num(r.cliff_delta),
                fmt_p(r.p),
                fmt_p(r.p_adjusted),
            )[col]
        if role == SORT_ROLE:
            return (
                r.label,
                r.meaning,
                _key(r.mean_a),
                _key(r.mean_b),
                _key(abs(r.cohen_d)),
                _key(abs(r.cliff_delta)),
                _key(-r.p if math.isfinite(r.p) else None),
                _key(-r.p_adjusted if math.isfinite(r.p_adjusted) else None),
            )[col]
        if role == MEANING_ROLE:
            return r.meaning
        if role == Qt.ItemDataRole.ToolTipRole:
            a, b = self.names
            tip = (
                f"{r.label}: {a} {_num(r.mean_a, r.fmt)} (n = {r.n_a:,}) vs {b} "
                f"{_num(r.mean_b, r.fmt)} (n = {r.n_b:,})\n"
                f"t = {_num(r.t)}, p = {fmt_p(r.p)}, adjusted p = {fmt_p(r.p_adjusted)}, "
                f"d = {_num(r.cohen_d)}, δ = {_num(r.cliff_delta)}"
            )
            if r.skewed:
                tip += "\nSkewed values: read Cliff's δ rather than Cohen's d."
            if r.in_definition:
                tip += "\n* Part of the score that defines the groups: differs by construction."
            return tip + f"\n{r.meaning}"
        if role == Qt.ItemDataRole.FontRole and r.in_definition:
            font = QFont()
            font.setItalic(True)
            return font
        return None


FACTOR_COLUMNS = (
    "Factor",
    "Level",
    "Sessions",
    "Poor rate",
    "vs overall",
    "p (χ²)",
    "Adjusted p",
    "Cramér's V",
)


class FactorRatesModel(RowsTableModel):
    """Poor first-session rate per level of each categorical factor."""

    columns = FACTOR_COLUMNS
    column_tips = (
        None,
        None,
        None,
        None,
        None,
        "Chi-square test: does the poor rate depend on this factor at all?",
        "Benjamini-Hochberg over the factors of this table",
        "Strength of the association, 0 (none) to 1",
    )
    right_aligned = frozenset(range(2, 8))

    def _data(self, f: Any, col: int, role: int, position: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                f.factor,
                f.level.replace("_", " "),
                f"{f.sessions:,}",
                _num(f.poor_rate, "{:.0%}"),
                _num(f.vs_overall * 100, "{:+.1f} pts"),
                fmt_p(f.p),
                fmt_p(f.p_adjusted),
                _num(f.cramers_v, "{:.2f}"),
            )[col]
        if role == SORT_ROLE:
            return (
                position,  # the factors' own order: strongest association first
                f.level,
                f.sessions,
                _key(f.poor_rate),
                _key(f.vs_overall),
                _key(-f.p if math.isfinite(f.p) else None),
                _key(-f.p_adjusted if math.isfinite(f.p_adjusted) else None),
                _key(f.cramers_v),
            )[col]
        return None


class AnalyticsViewModel(LoadingViewModel):
    sig_loaded = Signal(object)
    """A new ``services.analytics.AnalyticsReport``."""
    sig_progress = Signal(str)
    sig_error = Signal(str)

    def __init__(
        self,
        runner: TaskRunner,
        compute: Callable[..., Any] | None,
        effects: Any = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._compute = compute
        self.effects = effects  # viewmodels.intervention_effects.EffectivenessViewModel
        self.stars = ComparisonModel(("stars", "lagging"), self)
        self.first_sessions = ComparisonModel(("good", "poor"), self)
        self.factors = FactorRatesModel(self)
        self._report: Any = None
        self._active = False
        self._stale = True
        self._data_key: Any = None
        self._effects_asked = False

    # ------------------------------------------------------------------ state

    @property
    def report(self) -> Any:
        return self._report

    @property
    def stale(self) -> bool:
        return self._stale

    # ------------------------------------------------------------------ commands

    @Slot(bool)
    def set_active(self, active: bool) -> None:
        """The tab is on screen (or no longer): the first showing loads everything."""
        self._active = active
        if not active:
            return
        if self._stale:
            self.load()
        if self.effects is not None and not self._effects_asked:
            self._effects_asked = True
            # Already measured on the Interventions page: the chart has it (sig_ready).
            if not (self.effects.chart_data()["labels"] or self.effects.unmeasured()):
                self.effects.load()

    def data_changed(self, key: Any) -> None:
        """The dashboard reloaded; ``key`` names its data (scoring run, data time)."""
        if key == self._data_key:
            return
        first = self._data_key is None
        self._data_key = key
        if first and self._report is None:
            return  # nothing shown yet: the first showing loads anyway
        self._stale = True
        if self._active:
            self.load()

    @Slot()
    def load(self) -> None:
        if self._compute is None:
            self.sig_error.emit("Analytics cannot be computed here.")
            return
        compute = self._compute
        rec = self.runner.submit(
            TASK,
            lambda state: compute(progress=state.progress, cancel=state.cancel_event),
            title="Dashboard analytics",
            on_success=self._on_loaded,
            on_failure=self._on_failed,
            on_progress=lambda v: self.sig_progress.emit(str(v)),
            on_finished=lambda _r: self._set_loading(self.runner.is_running(TASK)),
            summarize=_summary,
            coalesce=True,
        )
        self._stale = False
        if rec is not None:
            self._set_loading(True)

    @Slot()
    def cancel(self) -> None:
        if self.runner.cancel(TASK):
            self._stale = True

    def _on_loaded(self, report: Any) -> None:
        self._report = report
        star, first = report.star_lagging, report.first_sessions
        self.stars.set_rows(star.rows if star is not None else ())
        self.first_sessions.set_rows(first.numeric if first is not None else ())
        self.factors.set_rows(first.factors if first is not None else ())
        self.sig_loaded.emit(report)

    def _on_failed(self, exc: BaseException, _trace: str) -> None:
        self._stale = True  # tried again the next time the tab is shown
        if isinstance(exc, InterruptedError):
            return  # cancelled by the user: no error to report
        self.sig_error.emit(f"The analytics could not be computed: {exc}")

    # ------------------------------------------------------------------ accessors

    def retention_series(self) -> list[dict[str, Any]]:
        """One entry per start-month cohort: label, size, weeks, retained share (0-1)
        and the counts behind it."""
        if self._report is None:
            return []
        return [
            {
                "label": c.label,
                "size": c.size,
                "weeks": list(c.weeks),
                "retained": list(c.retained),
                "still_active": list(c.still_active),
            }
            for c in self._report.retention.cohorts
        ]

    def heatmap(self) -> Any:
        return None if self._report is None else self._report.heatmap

    def missing(self, section: str) -> str | None:
        return None if self._report is None else self._report.missing.get(section)


def _summary(report: Any) -> str:
    total = sum(report.seconds.values())
    return f"{len(report.retention.cohorts)} cohorts, computed in {total:.1f} s"
