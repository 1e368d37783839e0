"""The System page: storage, outbox, rejects with their raw records, the model registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QObject,
    QSortFilterProxyModel,
    Qt,
    Signal,
    Slot,
)

from viewmodels.rows_table import RowsTableModel
from viewmodels.tasks import SORT_ROLE, TaskRunner

REJECT_COLUMNS = ("Resource", "Record", "Reason", "Seen", "Last seen")
RAW_ROLE = Qt.ItemDataRole.UserRole + 10
REASON_ROLE = Qt.ItemDataRole.UserRole + 11
RESOURCE_ROLE = Qt.ItemDataRole.UserRole + 12

MODEL_COLUMNS = ("Model", "Version", "Trained at", "Held-out metrics", "Active", "File")
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 13


class RejectsModel(RowsTableModel):
    columns = REJECT_COLUMNS
    skip_same_rows = True

    def _data(self, r: Any, col: int, role: int, position: int) -> Any:
        if role == RAW_ROLE:
            return r.raw
        if role == REASON_ROLE:
            return r.reason
        if role == RESOURCE_ROLE:
            return r.resource
        last = r.last_seen_at
        if role == SORT_ROLE:
            return (
                r.resource,
                r.record_id or "",
                r.reason,
                r.seen_count,
                last.timestamp() if last else 0.0,
            )[col]
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return r.resource.replace("_", " ")
            if col == 1:
                return r.record_id or "(no id)"
            if col == 2:
                return r.reason
            if col == 3:
                return f"{r.seen_count:,}×"
            return last.astimezone().strftime("%Y-%m-%d %H:%M") if last else "–"
        if role == Qt.ItemDataRole.ToolTipRole and col == 2:
            return r.reason
        return None


class ModelRegistryModel(RowsTableModel):
    columns = MODEL_COLUMNS
    skip_same_rows = True

    def _data(self, m: Any, col: int, role: int, position: int) -> Any:
        if role == ENTRY_ROLE:
            return m
        status = "active" if m.active else ""
        if getattr(m, "pinned", False):
            status = "pinned" if m.active else "pinned (unusable)"
        # The warning first (why a version is or is not used), then its figures.
        figures = " · ".join(x for x in (m.warning, m.metrics) if x)
        values = (m.name, m.version, m.trained_at, figures, status, m.path)
        if role in (Qt.ItemDataRole.DisplayRole, SORT_ROLE):
            return values[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            return figures if col == 3 else (m.warning or values[col])
        return None


class RejectsFilterProxy(QSortFilterProxyModel):
    """Text search over resource, record id and reason; sorts by SORT_ROLE."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)


class SystemViewModel(QObject):
    sig_snapshot = Signal(object)
    """The ``sync_status`` dict plus ``database_size``, ``models``, ``models_dir``."""
    sig_error = Signal(str)
    sig_message = Signal(str)
    """One line for the status bar (a roll-back done, a pin released)."""
    sig_models_changed = Signal()
    """A pin was set or released: the predictions should be made again."""

    def __init__(
        self,
        runner: TaskRunner,
        snapshot: Callable[[], dict[str, Any]],
        rejects: Callable[[], list[Any]],
        parent: QObject | None = None,
        *,
        rollback: Callable[[str, int], str] | None = None,
        release: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._snapshot_fn = snapshot
        self._rejects_fn = rejects
        self._rollback_fn = rollback
        self._release_fn = release
        self.rejects = RejectsModel(self)
        self.rejects_proxy = RejectsFilterProxy(self)
        self.rejects_proxy.setSourceModel(self.rejects)
        self.models = ModelRegistryModel(self)
        self._snapshot: dict[str, Any] | None = None

    @property
    def snapshot(self) -> dict[str, Any] | None:
        return self._snapshot

    @Slot()
    def load(self) -> None:
        self.runner.submit(
            "system-snapshot",
            lambda _s: (self._snapshot_fn(), self._rejects_fn()),
            title="System status",
            on_success=self._on_loaded,
            on_failure=lambda exc, _t: self.sig_error.emit(str(exc)),
            record=False,
            coalesce=True,
        )

    def _on_loaded(self, result: tuple[dict[str, Any], list[Any]]) -> None:
        snapshot, rejects = result
        self._snapshot = snapshot
        self.rejects.set_rows(rejects)
        self.models.set_rows(list(snapshot.get("models") or []))
        self.sig_snapshot.emit(snapshot)

    def set_filter(self, text: str) -> None:
        self.rejects_proxy.setFilterFixedString(text)

    # ------------------------------------------------------------------ model registry

    @staticmethod
    def can_roll_back(entry: Any) -> bool:
        """A version other than the one in use, whose files are intact."""
        return entry is not None and entry.usable and not entry.active

    @staticmethod
    def is_pinned(entries: list[Any], name: str) -> bool:
        return any(e.name == name and e.pinned for e in entries)

    def model_entries(self) -> list[Any]:
        return list(self.models._rows)

    @Slot(str, int)
    def rollback(self, name: str, version: int) -> bool:
        """Pin ``name`` at ``version`` (audited; survives restarts) on the task runner."""
        if self._rollback_fn is None:
            return False
        fn = self._rollback_fn
        return self._model_task(f"Roll back {name} to v{version}", lambda: fn(name, version))

    @Slot(str)
    def release(self, name: str) -> bool:
        """End the pin of ``name``: the best version is used again."""
        if self._release_fn is None:
            return False
        fn = self._release_fn
        return self._model_task(f"Use the best {name} version", lambda: fn(name))

    def _model_task(self, title: str, work: Callable[[], str]) -> bool:
        rec = self.runner.submit(
            "model-pin",
            lambda _s: work(),
            title=title,
            trigger="manual",
            summarize=str,
            on_success=self._on_pin_changed,
            on_failure=lambda exc, _t: self.sig_error.emit(str(exc)),
        )
        return rec is not None

    def _on_pin_changed(self, message: str) -> None:
        self.sig_message.emit(message)
        self.sig_models_changed.emit()
        self.load()
