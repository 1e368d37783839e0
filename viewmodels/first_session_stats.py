"""The Customers page's "First sessions" tab: success rate by tutor, subject and grade for
a week, month or quarter against the period before (``services.first_session_stats``,
read on the task runner), as three small self-sorting tables whose success column is
coloured by the service's flag (red: below the threshold, green: a top performer).

The tutor table has one more column, "Drop (WoW)": a tutor whose success fell week over
week by more than the alert rule's threshold (``services.first_session_stats
.success_drops``) is marked there, their row tinted, and the tooltip gives the rule's
figures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QObject,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor

from viewmodels.customer_tabs import export_shown
from viewmodels.rows_table import RowsTableModel
from viewmodels.tasks import SORT_ROLE, TaskRunner

if TYPE_CHECKING:  # imported where used: SQLAlchemy and pandas stay out of start-up
    from services.first_session_stats import FirstSessionStats, SuccessDrop, SuccessRow

FLAG_ROLE = Qt.ItemDataRole.UserRole + 50
DROP_ROLE = Qt.ItemDataRole.UserRole + 51  # the tutor's SuccessDrop, or None
FLAG_COLORS = {"red": "#dc2626", "green": "#16a34a"}
# Translucent, so the tint reads on the light and the dark theme alike.
DROP_TINT = QColor(234, 88, 12, 60)
COL_DROP = 3  # right after Success: it must not scroll out of sight
PERIOD_NAMES = {"week": "Week", "month": "Month", "quarter": "Quarter"}
COL_SUCCESS = 2
MISSING = -1e18


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.0f} %"


def trend_text(delta: float | None) -> str:
    """Points since the period before; falling success is the bad news here."""
    if delta is None:
        return "–"
    pts = delta * 100
    if abs(pts) < 0.5:
        return "▬ 0 pts"
    return f"{'▲' if pts > 0 else '▼'} {pts:+.0f} pts"


def _key(x: float | None) -> float:
    return MISSING if x is None else float(x)


class SuccessTableModel(RowsTableModel):
    """Rows of ``SuccessRow`` with ready texts; sorts itself (at most a few thousand)."""

    def __init__(
        self, first_column: str, parent: QObject | None = None, *, with_drops: bool = False
    ) -> None:
        columns = (first_column, "First sessions", "Success", "Avg rating", "Before", "Trend")
        if with_drops:
            columns = (*columns[:COL_DROP], "Drop (WoW)", *columns[COL_DROP:])
        super().__init__(parent, columns=columns)
        self.right_aligned = frozenset(range(1, len(columns)))
        self.with_drops = with_drops
        self._drops: dict[str, SuccessDrop] = {}
        self._sort: tuple[int, Qt.SortOrder] | None = None

    def _data(self, entry: Any, col: int, role: int, position: int) -> Any:
        row, texts, keys = entry
        if role == Qt.ItemDataRole.DisplayRole:
            return texts[col]
        if role == SORT_ROLE:
            return keys[col]
        if role == FLAG_ROLE:
            return row.flag
        drop = self._drops.get(row.key)
        if role == DROP_ROLE:
            return drop
        if drop is not None and self.with_drops:
            if role == Qt.ItemDataRole.BackgroundRole:
                return DROP_TINT
            if role == Qt.ItemDataRole.ToolTipRole:
                return drop_tooltip(drop)
        if role == Qt.ItemDataRole.ForegroundRole and row.flag and col in (0, COL_SUCCESS):
            return QColor(FLAG_COLORS[row.flag])
        if role == Qt.ItemDataRole.ToolTipRole and col == COL_SUCCESS:
            return f"{row.rated} of {row.first_sessions} first sessions rated"
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order)
        self.layoutAboutToBeChanged.emit()
        self._apply_sort()
        self.layoutChanged.emit()

    def _apply_sort(self) -> None:
        if self._sort is not None:
            col, order = self._sort
            self._rows.sort(key=lambda r: r[2][col], reverse=order == Qt.SortOrder.DescendingOrder)

    def set_rows(
        self, rows: Sequence[SuccessRow], drops: dict[str, SuccessDrop] | None = None
    ) -> None:
        self.beginResetModel()
        self._drops = dict(drops or {})
        self._rows = []
        for r in rows:
            drop = self._drops.get(r.key)
            texts = (
                r.label,
                str(r.first_sessions),
                _pct(r.success_rate),
                "–" if r.avg_rating is None else f"{r.avg_rating:.2f}",
                _pct(r.previous_rate),
                trend_text(r.trend),
            )
            keys: tuple[Any, ...] = (
                # Grades in school order (2 before 10), names alphabetically.
                (0, int(r.label), "") if r.label.isdigit() else (1, 0, r.label.lower()),
                r.first_sessions,
                _key(r.success_rate),
                _key(r.avg_rating),
                _key(r.previous_rate),
                _key(r.trend),
            )
            if self.with_drops:
                texts = (*texts[:COL_DROP], drop_text(drop), *texts[COL_DROP:])
                dropped = _key(drop.relative_drop if drop is not None else None)
                keys = (*keys[:COL_DROP], dropped, *keys[COL_DROP:])
            self._rows.append((r, texts, keys))
        self._apply_sort()
        self.endResetModel()

    def row(self, i: int) -> SuccessRow:
        return self._rows[i][0]

    def texts(self) -> list[tuple[str, ...]]:
        """Every row's texts in the shown order (an export writes these)."""
        return [t for _r, t, _k in self._rows]


def drop_text(drop: SuccessDrop | None) -> str:
    return "" if drop is None else f"⚠ ▼ {drop.relative_drop * 100:.0f} %"


def drop_tooltip(drop: SuccessDrop) -> str:
    return (
        f"First-session success down {drop.relative_drop * 100:.0f} % week over week "
        f"(more than the {drop.threshold * 100:.0f} % alert threshold): "
        f"{_pct(drop.rate_now)} of {drop.rated_now} rated first sessions over the last 30 "
        f"days, against {_pct(drop.rate_week_ago)} of {drop.rated_week_ago} in the 30 days "
        f"to a week ago. The alert rule 'First-session success down' uses these figures."
    )


class FirstSessionStatsViewModel(QObject):
    sig_loaded = Signal(object)
    """A new ``services.first_session_stats.FirstSessionStats``."""
    sig_error = Signal(str)
    sig_message = Signal(str)

    def __init__(
        self,
        runner: TaskRunner,
        *,
        load: Callable[[str], FirstSessionStats],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._load = load
        self.period = "week"
        self.stats: FirstSessionStats | None = None
        self.by_tutor = SuccessTableModel("Tutor", self, with_drops=True)
        self.by_subject = SuccessTableModel("Subject", self)
        self.by_segment = SuccessTableModel("Grade", self)

    @Slot(str)
    def load(self, period: str | None = None) -> None:
        if period is not None:
            self.period = period
        load, chosen = self._load, self.period
        self.runner.submit(
            "customers-first-sessions",
            lambda _state: load(chosen),
            title="First-session success",
            on_success=self._on_loaded,
            on_failure=lambda exc, _t: self.sig_error.emit(
                f"First-session success could not load: {exc}"
            ),
            record=False,
            coalesce=True,  # a quick week -> month -> quarter shows only the last
        )

    def _on_loaded(self, stats: FirstSessionStats) -> None:
        if stats.period != self.period:
            return  # an older request; the newer one is on its way
        self.stats = stats
        self.by_tutor.set_rows(stats.by_tutor, stats.drops)
        self.by_subject.set_rows(stats.by_subject)
        self.by_segment.set_rows(stats.by_segment)
        self.sig_loaded.emit(stats)

    def export_table(self, model: SuccessTableModel, path: str, what: str) -> bool:
        """``model``'s rows as shown, to ``path`` (CSV) on a worker."""
        return export_shown(
            self.runner, model, path, what, self.sig_message.emit, self.sig_error.emit
        )

    def summary(self) -> str:
        s = self.stats
        if s is None:
            return ""
        name = PERIOD_NAMES.get(s.period, s.period).lower()
        red = sum(r.flag == "red" for r in s.by_tutor)
        green = sum(r.flag == "green" for r in s.by_tutor)
        subjects = [r.label for r in s.by_subject if r.flag == "red"]
        drops = len(s.drops)
        parts = [
            f"Last {name} ({s.start:%d %b} – {s.end:%d %b}): {_pct(s.overall_rate)} of rated "
            f"first sessions were 4+ ({_pct(s.previous_overall_rate)} the {name} before)",
            f"{red} tutors below 70 % (red), {green} top performers (green)",
            (
                f"{drops} tutor{'s' if drops != 1 else ''} down more than "
                f"{next(iter(s.drops.values())).threshold * 100:.0f} % week over week "
                "(tinted, ⚠)"
                if drops
                else "no tutor's success down week over week beyond the alert threshold"
            ),
            (
                "subjects below 60 %: " + ", ".join(subjects)
                if subjects
                else "no subject below 60 %"
            ),
        ]
        return " · ".join(parts)
