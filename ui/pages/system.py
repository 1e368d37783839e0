"""The System page: sync per resource, rejects with raw records, jobs, models, storage."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QItemSelection, QSortFilterProxyModel, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ui.model_detail import ModelDetail
from ui.widgets import EmptyState, default_column_widths
from viewmodels.scheduler import SchedulerViewModel
from viewmodels.sync_status import SyncViewModel
from viewmodels.system import ENTRY_ROLE, RAW_ROLE, REASON_ROLE, RESOURCE_ROLE, SystemViewModel
from viewmodels.tasks import SORT_ROLE, TaskRunner


def _table(model: Any, *, sort_column: int = -1, order=Qt.SortOrder.AscendingOrder) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSortingEnabled(True)
    if sort_column >= 0:
        view.sortByColumn(sort_column, order)
    else:
        view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
    view.setAlternatingRowColors(True)
    view.verticalHeader().hide()
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.horizontalHeader().setStretchLastSection(True)
    return view


def _proxy(parent: QWidget, source: Any) -> QSortFilterProxyModel:
    proxy = QSortFilterProxyModel(parent)
    proxy.setSourceModel(source)
    proxy.setSortRole(SORT_ROLE)
    return proxy


def _size(n: int | None) -> str:
    if n is None:
        return "–"
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


class SystemPage(QWidget):
    title = "System"

    def __init__(
        self,
        vm: SystemViewModel,
        sync: SyncViewModel,
        runner: TaskRunner,
        scheduler: SchedulerViewModel,
        *,
        data_dir: str,
        log_file: str,
        source_label: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.vm = vm
        self.sync = sync
        self.scheduler = scheduler
        self._log_file = log_file
        self.tabs = QTabWidget()

        # --- sync
        self.sync_table = _table(_proxy(self, sync.model))
        self.sync_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.sync_button = QPushButton("Sync now")
        self.sync_button.clicked.connect(sync.sync_now)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(sync.cancel)
        self.last_run = QLabel("")
        self.last_run.setObjectName("muted")
        self.last_run.setWordWrap(True)
        self.source = QLabel(f"Source: {source_label}")
        self.source.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.addWidget(self.source, 1)
        row.addWidget(self.sync_button)
        row.addWidget(self.cancel_button)
        sync_tab = QWidget()
        lay = QVBoxLayout(sync_tab)
        lay.addLayout(row)
        lay.addWidget(self.sync_table, 1)
        lay.addWidget(self.last_run)
        self.tabs.addTab(sync_tab, "Sync")

        # --- rejects
        self.rejects_filter = QLineEdit()
        self.rejects_filter.setPlaceholderText("Filter rejects by resource, id or reason")
        self.rejects_filter.setClearButtonEnabled(True)
        self.rejects_filter.textChanged.connect(vm.set_filter)
        self.rejects_table = _table(
            vm.rejects_proxy, sort_column=4, order=Qt.SortOrder.DescendingOrder
        )
        self.rejects_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        default_column_widths(self.rejects_table, (16, 10, 50, 7, 16))
        self.rejects_table.selectionModel().selectionChanged.connect(self._on_reject_selected)
        self.reject_reason = QLabel(
            "Select a reject to see why it was refused and the record as served."
        )
        self.reject_reason.setWordWrap(True)
        self.reject_raw = QPlainTextEdit()
        self.reject_raw.setReadOnly(True)
        self.reject_raw.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        detail = QWidget()
        dl = QVBoxLayout(detail)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(self.reject_reason)
        dl.addWidget(self.reject_raw, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.rejects_table)
        split.addWidget(detail)
        split.setSizes([300, 200])
        self.rejects_empty = EmptyState(
            "No rejects",
            "Every record the API served passed validation. A record that does not is kept "
            "here with the reason, never dropped silently.",
        )
        self.rejects_stack = QStackedWidget()
        self.rejects_stack.addWidget(self.rejects_empty)
        self.rejects_stack.addWidget(split)
        rejects_tab = QWidget()
        rl = QVBoxLayout(rejects_tab)
        rl.addWidget(self.rejects_filter)
        rl.addWidget(self.rejects_stack, 1)
        self.tabs.addTab(rejects_tab, "Rejects")

        # --- background jobs
        self.jobs_table = _table(
            _proxy(self, runner.history), sort_column=2, order=Qt.SortOrder.DescendingOrder
        )
        header = self.jobs_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        default_column_widths(self.jobs_table, (26, 11, 14, 10, 9, 50))
        self.job_choice = QComboBox()
        self.run_job_button = QPushButton("Run now")
        self.run_job_button.clicked.connect(self._run_selected_job)
        self.jobs_note = QLabel("")
        self.jobs_note.setObjectName("muted")
        self.jobs_note.setWordWrap(True)
        jr = QHBoxLayout()
        jr.addWidget(QLabel("Scheduled jobs:"))
        jr.addWidget(self.job_choice, 1)
        jr.addWidget(self.run_job_button)
        jobs_tab = QWidget()
        jl = QVBoxLayout(jobs_tab)
        jl.addLayout(jr)
        jl.addWidget(self.jobs_note)
        jl.addWidget(self.jobs_table, 1)
        self.tabs.addTab(jobs_tab, "Background jobs")

        # --- models
        self.models_table = _table(_proxy(self, vm.models))
        self.models_table.setWordWrap(False)
        default_column_widths(self.models_table, (16, 7, 20, 48, 7, 24))
        self.models_empty = EmptyState("No trained models yet", "")
        self.models_stack = QStackedWidget()
        self.models_stack.addWidget(self.models_empty)
        self.models_stack.addWidget(self.models_table)
        self.retrain_button = QPushButton("Retrain now")
        self.retrain_button.clicked.connect(lambda: scheduler.run_now("train"))
        self.rollback_button = QPushButton("Roll back to this version…")
        self.rollback_button.setEnabled(False)
        self.rollback_button.setToolTip("Select an older version of a model first")
        self.rollback_button.clicked.connect(self._roll_back_selected)
        self.release_button = QPushButton("Use the best version")
        self.release_button.setEnabled(False)
        self.release_button.setToolTip(
            "End the roll-back of the selected model: the newest version that is not worse "
            "is used again"
        )
        self.release_button.clicked.connect(self._release_selected)
        self.models_table.selectionModel().selectionChanged.connect(self._update_model_buttons)
        # Asked before pinning a version; replaced by tests.
        self.confirm = self._ask
        mr = QHBoxLayout()
        self.models_note = QLabel(
            "Scoring uses the active version of each model. A roll-back pins a version until "
            "you release it, also when newer versions are trained."
        )
        self.models_note.setObjectName("muted")
        self.models_note.setWordWrap(True)
        mr.addWidget(self.models_note, 1)
        mr.addWidget(self.retrain_button)
        mr.addWidget(self.rollback_button)
        mr.addWidget(self.release_button)
        self.model_detail = ModelDetail()
        self.models_table.selectionModel().selectionChanged.connect(
            lambda *_: self.model_detail.show_entry(self.selected_model())
        )
        models_split = QSplitter(Qt.Orientation.Vertical)
        models_split.addWidget(self.models_stack)
        models_split.addWidget(self.model_detail)
        models_split.setStretchFactor(0, 1)
        models_split.setStretchFactor(1, 1)
        models_tab = QWidget()
        ml = QVBoxLayout(models_tab)
        ml.addLayout(mr)
        ml.addWidget(models_split, 1)
        self.tabs.addTab(models_tab, "Models")

        # --- storage
        self.db_url = QLabel("–")
        self.db_url.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.db_size = QLabel("–")
        self.outbox = QLabel("–")
        self.data_dir = QLabel(data_dir)
        self.data_dir.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log_path = QLabel(log_file)
        self.log_path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        open_logs = QPushButton("Open log folder")
        open_logs.clicked.connect(self._open_logs)
        form = QFormLayout()
        form.addRow("Database", self.db_url)
        form.addRow("Database size", self.db_size)
        form.addRow("Outbox (writes waiting for the API)", self.outbox)
        form.addRow("Data folder", self.data_dir)
        form.addRow("Log file", self.log_path)
        logs_row = QHBoxLayout()
        logs_row.addWidget(open_logs)
        logs_row.addStretch(1)
        form.addRow("", logs_row)
        storage_tab = QWidget()
        sl = QVBoxLayout(storage_tab)
        sl.addLayout(form)
        sl.addStretch(1)
        self.tabs.addTab(storage_tab, "Storage")

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.tabs)

        vm.sig_snapshot.connect(self.show_snapshot)
        sync.sig_busy_changed.connect(self._on_sync_busy)
        scheduler.sig_jobs_changed.connect(self._refresh_jobs)
        self._refresh_jobs()

    # ------------------------------------------------------------------ updates

    def set_source_label(self, label: str) -> None:
        self.source.setText(f"Source: {label}")

    def _on_sync_busy(self, busy: bool) -> None:
        self.sync_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def show_snapshot(self, snap: dict[str, Any]) -> None:
        db = snap.get("database", {})
        self.db_url.setText(str(db.get("url", "–")))
        self.db_size.setText(_size(snap.get("database_size")))
        outbox = snap.get("outbox") or {}
        depth = snap.get("outbox_depth", 0)
        parts = ", ".join(f"{v:,} {k}" for k, v in sorted(outbox.items())) or "empty"
        self.outbox.setText(f"{depth:,} waiting ({parts})")
        last = snap.get("last_run")
        if last:
            self.last_run.setText(
                f"Last sync run #{last['id']} ({last.get('trigger') or '–'}): {last['status']}, "
                f"started {last['started_at'] or '–'}"
                + (f". Errors: {last['error']}" if last.get("error") else "")
            )
        n_rejects = self.vm.rejects.rowCount()
        self.rejects_stack.setCurrentIndex(1 if n_rejects else 0)
        self.tabs.setTabText(1, f"Rejects ({n_rejects:,})" if n_rejects else "Rejects")
        models = snap.get("models") or []
        self.models_stack.setCurrentIndex(1 if models else 0)
        if models and self.selected_model() is None:
            self._select_first_active()
        self.model_detail.show_entry(self.selected_model())
        self._update_model_buttons()
        self.models_empty.set_text(
            "No trained models yet",
            'Models are trained nightly at the scheduled time, or with "Retrain now" '
            f"once training is available. The registry lives in {snap.get('models_dir', '')}.",
        )

    def _refresh_jobs(self) -> None:
        self.job_choice.clear()
        jobs = list(self.scheduler.registry)
        for job in jobs:
            triggers = ", ".join(sorted(t for t in job.triggers if t != "manual")) or "manual"
            self.job_choice.addItem(f"{job.title} ({triggers})", job.name)
        self.run_job_button.setEnabled(bool(jobs))
        self.retrain_button.setEnabled("train" in self.scheduler.registry)
        self.retrain_button.setToolTip(
            ""
            if "train" in self.scheduler.registry
            else "Training is not available yet (models issue)"
        )
        nightly = self.scheduler.scheduler.nightly_at.strftime("%H:%M")
        if jobs:
            self.jobs_note.setText(
                f"Syncs run on their cadences (sessions and bookings every 5 min, calls every "
                f"15, the rest hourly); nightly jobs at {nightly} local time; missed runs "
                "catch up at start."
            )
        else:
            self.jobs_note.setText(
                "No scoring or training jobs are installed yet: they plug in here when the "
                f"models land (after each sync that changed data; nightly at {nightly}). "
                "Syncs already run on their cadences."
            )

    # ------------------------------------------------------------------ model registry

    def selected_model(self) -> Any:
        rows = self.models_table.selectionModel().selectedRows()
        return rows[0].data(ENTRY_ROLE) if rows else None

    def select_model(self, name: str, version: str) -> bool:
        """Select the row of ``name`` ``version`` (e.g. "v1"); False if absent."""
        model = self.models_table.model()
        for row in range(model.rowCount()):
            entry = model.index(row, 0).data(ENTRY_ROLE)
            if entry is not None and entry.name == name and entry.version == version:
                self.models_table.selectRow(row)
                return True
        return False

    def _select_first_active(self) -> None:
        """Something to read when the tab opens: the first model's version in use."""
        model = self.models_table.model()
        for row in range(model.rowCount()):
            entry = model.index(row, 0).data(ENTRY_ROLE)
            if entry is not None and entry.active:
                self.models_table.selectRow(row)
                return

    def apply_theme(self, theme: Any) -> None:
        self.model_detail.apply_theme(theme)

    def _update_model_buttons(self, *_: Any) -> None:
        entry = self.selected_model()
        can = self.vm.can_roll_back(entry)
        self.rollback_button.setEnabled(can)
        self.rollback_button.setToolTip(
            f"Use {entry.name} {entry.version} from now on, until you release it"
            if can
            else "Select a version other than the active one (with intact files)"
        )
        pinned = entry is not None and self.vm.is_pinned(self.vm.model_entries(), entry.name)
        self.release_button.setEnabled(pinned)

    def _ask(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def _roll_back_selected(self) -> None:
        entry = self.selected_model()
        if not self.vm.can_roll_back(entry):
            return
        version = int(str(entry.version).lstrip("v"))
        if self.confirm(
            "Roll back a model",
            f"Use {entry.name} {entry.version} (trained {entry.trained_at}) for every "
            "scoring run from now on?\n\nIt stays in use after a restart and when newer "
            'versions are trained, until you choose "Use the best version". The next '
            "scoring run uses it.",
        ):
            self.vm.rollback(entry.name, version)

    def _release_selected(self) -> None:
        entry = self.selected_model()
        if entry is not None:
            self.vm.release(entry.name)

    def _run_selected_job(self) -> None:
        name = self.job_choice.currentData()
        if name:
            self.scheduler.run_now(str(name))

    def _on_reject_selected(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.rejects_table.selectionModel().selectedRows()
        if not rows:
            return
        idx = rows[0]
        raw = idx.data(RAW_ROLE) or ""
        try:
            pretty = json.dumps(json.loads(raw), indent=2, ensure_ascii=False, sort_keys=True)
        except ValueError:
            pretty = raw
        self.reject_reason.setText(f"<b>{idx.data(RESOURCE_ROLE)}</b>: {idx.data(REASON_ROLE)}")
        self.reject_raw.setPlainText(pretty)

    def _open_logs(self) -> None:
        from pathlib import Path

        QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(self._log_file).parent)))

    def set_filter(self, text: str) -> None:
        self.tabs.setCurrentIndex(1)
        self.rejects_filter.setText(text)
