"""The Dashboard's state: metric cards, tiers, the Critical panel, the activity heatmap.

``load()`` computes ``services.metrics.Dashboard`` on the task runner; the view reads the
result through narrow accessors (``cards``, ``heatmap``, ``tiers``) and the Critical
panel's table model. A refresh asked for while one runs is coalesced into one more run.

The Analytics tab's view model (``analytics``, attached by the composition root) hears
of every reload with the data's identity (scoring run, data time), so it recomputes only
when the scores or the synced data changed, not after an alert action.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)

from viewmodels.loading import LoadingViewModel
from viewmodels.tasks import SORT_ROLE, TaskRunner

Index = QModelIndex | QPersistentModelIndex

CRITICAL_COLUMNS = ("Risk", "Tutor", "30-day risk", "Reason", "")
TUTOR_ID_ROLE = Qt.ItemDataRole.UserRole + 3
RISK_ROLE = Qt.ItemDataRole.UserRole + 4
OPEN_ROLE = Qt.ItemDataRole.UserRole + 5
RISK_RANK = {"Critical": 0, "High": 1, "Medium": 2, "Low": 3}


class CriticalTutorsModel(QAbstractTableModel):
    """Tutors at Critical/High risk from the newest scoring run."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Any] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(CRITICAL_COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return CRITICAL_COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role == TUTOR_ID_ROLE:
            return row.tutor_id
        if role == RISK_ROLE:
            return row.risk_tier
        if role == OPEN_ROLE:
            return row.open_intervention
        if role == SORT_ROLE:
            return (
                RISK_RANK.get(row.risk_tier, 9),
                row.name,
                row.p_churn_30d if row.p_churn_30d is not None else -1.0,
                row.reason,
                int(row.open_intervention),
            )[col]
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return row.risk_tier.upper()
            if col == 1:
                return row.name
            if col == 2:
                return "–" if row.p_churn_30d is None else f"{row.p_churn_30d * 100:.0f} %"
            if col == 3:
                return without_subject(row.reason, row.name) or "–"
            return "Intervention open" if row.open_intervention else "Create intervention"
        if role == Qt.ItemDataRole.ToolTipRole and col == 3:
            return row.reason
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def set_rows(self, rows: list[Any]) -> None:
        if rows == self._rows:
            return
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row_of(self, tutor_id: int) -> Any | None:
        return next((r for r in self._rows if r.tutor_id == tutor_id), None)


class DashboardViewModel(LoadingViewModel):
    sig_loaded = Signal(object)
    """A new ``services.metrics.Dashboard``."""
    sig_error = Signal(str)
    sig_message = Signal(str)
    sig_intervention_created = Signal(int, int)
    """(tutor id, local intervention id)."""

    def __init__(
        self,
        runner: TaskRunner,
        compute: Callable[[], Any],
        create_intervention: Callable[..., int] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._compute = compute
        self._create = create_intervention
        self.critical = CriticalTutorsModel(self)
        self._dashboard: Any = None
        self.analytics: Any = None  # viewmodels.analytics.AnalyticsViewModel

    def attach_analytics(self, analytics: Any) -> None:
        self.analytics = analytics

    @property
    def dashboard(self) -> Any:
        return self._dashboard

    @Slot()
    def load(self) -> None:
        rec = self.runner.submit(
            "dashboard",
            lambda _state: self._compute(),
            title="Dashboard metrics",
            on_success=self._on_loaded,
            on_failure=self._on_failed,
            on_finished=lambda _r: self._set_loading(self.runner.is_running("dashboard")),
            record=False,
            coalesce=True,
        )
        if rec is not None:
            self._set_loading(True)

    def _on_loaded(self, dashboard: Any) -> None:
        self._dashboard = dashboard
        self.critical.set_rows(list(dashboard.critical))
        self.sig_loaded.emit(dashboard)
        if self.analytics is not None:
            run = dashboard.scoring_run or {}
            self.analytics.data_changed((run.get("id"), dashboard.as_of))

    def _on_failed(self, exc: BaseException, _trace: str) -> None:
        self.sig_error.emit(f"The dashboard could not be computed: {exc}")

    # ------------------------------------------------------------------ accessors

    def cards(self) -> tuple[Any, ...]:
        return self._dashboard.cards if self._dashboard is not None else ()

    def heatmap(self) -> tuple[tuple[int, ...], ...] | None:
        return self._dashboard.heatmap if self._dashboard is not None else None

    def tiers(self) -> dict[str, int] | None:
        return self._dashboard.tiers if self._dashboard is not None else None

    # ------------------------------------------------------------------ commands

    @Slot(int)
    def create_intervention(self, tutor_id: int) -> bool:
        """A manager_coaching intervention for a Critical tutor (DOMAIN.md: 48 h SLA);
        a High-risk tutor gets automated coaching (24 h)."""
        row = self.critical.row_of(tutor_id)
        if row is None or self._create is None:
            return False
        if row.open_intervention:
            self.sig_message.emit(f"{row.name} already has an open intervention")
            return False
        critical = row.risk_tier == "Critical"
        kind, hours = ("manager_coaching", 48) if critical else ("automated_coaching", 24)
        risk = "–" if row.p_churn_30d is None else f"{row.p_churn_30d * 100:.0f} %"
        reason = f"{row.risk_tier} churn risk ({risk} in 30 days)" + (
            f": {row.reason}" if row.reason else ""
        )
        create = self._create

        def work(_state: Any) -> int:
            return create(
                tutor_id,
                intervention_type=kind,
                reason=reason,
                due_in_hours=hours,
                priority=90 if critical else 70,
                assigned_to_id=row.manager_id,
                source_alert_key=f"churn_{row.risk_tier.lower()}:tutor:{tutor_id}",
            )

        def done(local_id: int) -> None:
            self.sig_message.emit(
                f"Intervention created for {row.name}: {kind.replace('_', ' ')}, due in {hours} h"
            )
            self.sig_intervention_created.emit(tutor_id, int(local_id))
            self.load()

        rec = self.runner.submit(
            f"create-intervention:{tutor_id}",
            work,
            title=f"Create intervention for {row.name}",
            trigger="user",
            on_success=done,
            on_failure=lambda exc, _t: self.sig_error.emit(f"Could not create it: {exc}"),
        )
        return rec is not None


def without_subject(reason: str | None, name: str) -> str:
    """An alert's reason without its leading "<tutor name>: " (the row or the
    notification already names the tutor)."""
    text = reason or ""
    prefix = f"{name}: "
    return text[len(prefix) :] if name and text.startswith(prefix) else text
