"""The Alerts page's state: the queue, filters and saved views, bulk actions, the detail
pane and "Create intervention".

Everything that touches the database runs on the task runner (loading 50,000 alerts and
preparing them, a bulk action, one alert's detail, a CSV export); the GUI thread only
swaps prepared data in. After a write the queue reloads, and other pages are told
through ``sig_changed`` (the dashboard's Critical panel reads the same alerts).

The services that touch the database are imported inside the tasks: this module is
imported at start-up, and SQLAlchemy must wait until after the window's first paint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Qt, Signal, Slot

from services.alerts.model import CONTACT_CHANNELS
from services.api.contract import INTERVENTION_TYPES
from viewmodels.alert_queue import (
    COLUMNS,
    AlertQueueModel,
    PreparedQueue,
    QueueFilter,
    prepare_queue,
)
from viewmodels.tasks import TaskRunner

VIEWS_KEY = "alerts/saved_views"
# At most this many ids in one bulk action from the page (the service takes any number;
# this guards a mis-click on "select all" of a 10-million-row future).
BULK_LIMIT = 100_000


class AlertsViewModel(QObject):
    sig_loaded = Signal(int)
    """Total alerts after a load."""
    sig_counts_changed = Signal(int, int)
    """(shown, total) after a load, a filter or a sort."""
    sig_detail = Signal(object)
    """One alert's detail (dict; see services.alerts.alert_detail), or None."""
    sig_message = Signal(str)
    sig_error = Signal(str)
    sig_changed = Signal()
    """Alerts were written (an action): other pages showing alerts may reload."""
    sig_views_changed = Signal(list)
    sig_intervention_created = Signal(int)
    sig_contact_logged = Signal(int)
    """A contact with this customer (id) was logged from one of their alerts."""
    sig_export_finished = Signal(str, int)
    """(path, rows written)."""

    def __init__(
        self,
        runner: TaskRunner,
        engine: Callable[[], Any],
        *,
        user: str,
        settings: Callable[[], Any] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._engine = engine
        self._settings = settings or (lambda: None)
        self.user = user
        self.model = AlertQueueModel(user, self)
        self._store: QSettings | None = None
        self._selected: int | None = None
        self._loaded = False

    # ------------------------------------------------------------------ loading

    @property
    def loaded(self) -> bool:
        return self._loaded

    @Slot()
    def load(self) -> None:
        engine = self._engine

        def work(_state: Any) -> tuple[PreparedQueue, datetime]:
            from services.alerts.queries import queue_rows
            from services.alerts.registry import rule_titles

            now = datetime.now(UTC)
            return prepare_queue(queue_rows(engine()), rule_titles(), now), now

        self.runner.submit(
            "alerts",
            work,
            title="Alerts",
            on_success=self._on_loaded,
            on_failure=lambda exc, _tb: self.sig_error.emit(f"Alerts could not load: {exc}"),
            record=False,
            coalesce=True,
        )

    def _on_loaded(self, result: tuple[PreparedQueue, datetime]) -> None:
        prepared, now = result
        self.model.set_queue(prepared, now)
        self._loaded = True
        self.sig_loaded.emit(len(prepared))
        self._counts()
        if self._selected is not None:
            self.select(self._selected)

    def _counts(self) -> None:
        self.sig_counts_changed.emit(self.model.rowCount(), self.model.total)

    # ------------------------------------------------------------------ filters

    def set_filter(self, flt: QueueFilter) -> None:
        self.model.set_filter(flt)
        self._counts()

    def update_filter(self, **changes: Any) -> None:
        """Change some fields of the current filter (state="snoozed", mine=True, ...)."""
        for key in ("severities", "rules", "subject_types", "manager_ids"):
            if key in changes:
                changes[key] = frozenset(changes[key])
        self.set_filter(replace(self.model.filter, **changes))

    @Slot(str)
    def set_text(self, text: str) -> None:
        self.update_filter(text=text)

    def sort(self, column: int, order: Qt.SortOrder) -> None:
        self.model.sort(column, order)
        self._counts()

    # ------------------------------------------------------------------ saved views

    def use_store(self, store: QSettings) -> None:
        """Where saved views live (the window's QSettings)."""
        self._store = store
        self.sig_views_changed.emit(self.view_names())

    def _views(self) -> dict[str, dict[str, Any]]:
        if self._store is None:
            return {}
        raw = self._store.value(VIEWS_KEY, "")
        try:
            views = json.loads(raw) if raw else {}
        except (TypeError, ValueError):
            return {}  # a damaged entry: start over rather than fail the page
        return views if isinstance(views, dict) else {}

    def view_names(self) -> list[str]:
        return sorted(self._views())

    def save_view(self, name: str) -> None:
        name = name.strip()
        if not name:
            self.sig_error.emit("A saved view needs a name")
            return
        if self._store is None:
            self.sig_error.emit("Saved views are not available here")
            return
        views = self._views()
        column, order = self.model.sort_state
        views[name] = {
            "filter": self.model.filter.as_json(),
            "sort": [column, 0 if order == Qt.SortOrder.AscendingOrder else 1],
        }
        self._store.setValue(VIEWS_KEY, json.dumps(views))
        self._store.sync()
        self.sig_views_changed.emit(self.view_names())
        self.sig_message.emit(f"View “{name}” saved")

    def apply_view(self, name: str) -> bool:
        view = self._views().get(name)
        if view is None:
            self.sig_error.emit(f"No saved view named “{name}”")
            return False
        try:
            flt = QueueFilter.from_json(view.get("filter") or {})
        except (TypeError, ValueError) as exc:
            self.sig_error.emit(f"Saved view “{name}” cannot be used: {exc}")
            return False
        column, desc = (view.get("sort") or [1, 1])[:2]
        self.model.sort(
            int(column), Qt.SortOrder.DescendingOrder if desc else Qt.SortOrder.AscendingOrder
        )
        self.set_filter(flt)
        return True

    def delete_view(self, name: str) -> None:
        views = self._views()
        if views.pop(name, None) is not None and self._store is not None:
            self._store.setValue(VIEWS_KEY, json.dumps(views))
            self.sig_views_changed.emit(self.view_names())

    # ------------------------------------------------------------------ detail

    @Slot(int)
    def select(self, alert_id: int) -> None:
        self._selected = alert_id
        engine = self._engine

        def work(_state: Any) -> dict[str, Any]:
            from services.alerts.queries import alert_detail
            from services.alerts.suggest import NoSuggestion, suggest_intervention

            detail = alert_detail(engine(), alert_id)
            try:
                detail["suggestion"] = suggest_intervention(detail)
                detail["suggestion_error"] = None
            except NoSuggestion as exc:
                detail["suggestion"] = None
                detail["suggestion_error"] = str(exc)
            return detail

        self.runner.submit(
            "alert-detail",
            work,
            title="Alert",
            on_success=self._on_detail,
            on_failure=lambda exc, _tb: self.sig_error.emit(str(exc)),
            record=False,
            coalesce=True,
        )

    def _on_detail(self, detail: dict[str, Any]) -> None:
        # A late answer for an alert that is no longer selected is dropped.
        if detail.get("id") == self._selected:
            self.sig_detail.emit(detail)

    def clear_selection(self) -> None:
        self._selected = None
        self.sig_detail.emit(None)

    # ------------------------------------------------------------------ actions

    def act(
        self,
        action: str,
        alert_ids: Sequence[int],
        *,
        until: datetime | None = None,
        assignee: str | None = None,
    ) -> None:
        """Apply ``action`` to the alerts in one transaction, off the GUI thread."""
        ids = list(alert_ids)
        if not ids:
            self.sig_error.emit("Select one or more alerts first")
            return
        if len(ids) > BULK_LIMIT:
            self.sig_error.emit(f"At most {BULK_LIMIT:,} alerts at a time")
            return
        if action == "snooze" and until is not None and until <= datetime.now(UTC):
            # Said at once; the service refuses it too (other callers).
            self.sig_error.emit("The snooze time is in the past; pick a later time")
            return
        engine, user, settings = self._engine, self.user, self._settings()
        alert_settings = getattr(settings, "alerts", None)

        def work(_state: Any) -> Any:
            from services.alerts.actions import apply_action

            return apply_action(
                engine(),
                ids,
                action,
                actor=user,
                until=until,
                assignee=assignee,
                settings=alert_settings,
            )

        def failed(exc: BaseException, _tb: str) -> None:
            from services.alerts.actions import AlertActionError

            if isinstance(exc, AlertActionError):
                self.sig_error.emit(str(exc))
            else:
                self.sig_error.emit(f"{action.capitalize()} failed; nothing was changed: {exc}")

        self.runner.submit(
            f"alert-{action}",
            work,
            title=f"Alerts: {action}",
            on_success=self._on_acted,
            on_failure=failed,
        )

    def _on_acted(self, result: Any) -> None:
        self.sig_message.emit(result.message())
        self.sig_changed.emit()
        self.load()

    def acknowledge(self, ids: Sequence[int]) -> None:
        self.act("acknowledge", ids)

    def resolve(self, ids: Sequence[int]) -> None:
        self.act("resolve", ids)

    def dismiss(self, ids: Sequence[int]) -> None:
        self.act("dismiss", ids)

    def snooze(self, ids: Sequence[int], until: datetime) -> None:
        self.act("snooze", ids, until=until)

    def unsnooze(self, ids: Sequence[int]) -> None:
        self.act("unsnooze", ids)

    def assign(self, ids: Sequence[int], assignee: str | None) -> None:
        self.act("assign", ids, assignee=assignee)

    def claim(self, ids: Sequence[int]) -> None:
        self.act("assign", ids, assignee=self.user)

    # ------------------------------------------------------------------ interventions

    @property
    def intervention_types(self) -> tuple[str, ...]:
        return tuple(INTERVENTION_TYPES)

    def create_intervention(
        self, detail: dict[str, Any], intervention_type: str, reason: str
    ) -> None:
        """An intervention for the alert's tutor, through the intervention workflow
        (policy SLA, default assignee the tutor's manager, one open per tutor and type)."""
        suggestion = detail.get("suggestion")
        if suggestion is None:
            self.sig_error.emit(detail.get("suggestion_error") or "No tutor to help here")
            return
        engine, user, settings = self._engine, self.user, self._settings()

        def work(_state: Any) -> int:
            from services.intervention_workflow import open_intervention

            return open_intervention(
                engine(),
                tutor_id=suggestion.tutor_id,
                intervention_type=intervention_type,
                reason=reason,
                actor=user,
                settings=getattr(settings, "interventions", None),
                session_at=suggestion.session_at,
                source_alert_key=suggestion.source_alert_key,
                risk=suggestion.risk,
            )

        def failed(exc: BaseException, _tb: str) -> None:
            from services.interventions import InterventionInputError

            prefix = "" if isinstance(exc, InterventionInputError) else "Could not create it: "
            self.sig_error.emit(f"{prefix}{exc}")

        def done(local_id: int) -> None:
            self.sig_message.emit(f"Intervention created ({intervention_type.replace('_', ' ')})")
            self.sig_intervention_created.emit(int(local_id))

        self.runner.submit(
            "alert-intervention",
            work,
            title="Create intervention",
            on_success=done,
            on_failure=failed,
        )

    # ------------------------------------------------------------------ customer contact

    @property
    def contact_channels(self) -> dict[str, str]:
        return dict(CONTACT_CHANNELS)

    def log_contact(
        self, detail: dict[str, Any], channel: str, note: str, *, resolve: bool = False
    ) -> None:
        """A call or message to the alert's customer, written to their contact history
        (the Customers page) and moving the alert on (acknowledged, or resolved), off
        the GUI thread. Customer alerts only: interventions are for tutors."""
        if detail.get("customer_id") is None:
            self.sig_error.emit("Only an alert about a customer has a customer to contact")
            return
        if not note.strip():
            self.sig_error.emit("Say what was said or agreed: the note is the contact's record")
            return
        engine, user, settings = self._engine, self.user, self._settings()
        alert_id, name = int(detail["id"]), detail.get("subject_name")

        def work(_state: Any) -> Any:
            from services.alerts.contacts import log_customer_contact

            return log_customer_contact(
                engine(),
                alert_id,
                channel=channel,
                note=note,
                actor=user,
                resolve=resolve,
                settings=getattr(settings, "alerts", None),
            )

        def failed(exc: BaseException, _tb: str) -> None:
            from services.alerts.actions import AlertActionError

            prefix = "" if isinstance(exc, AlertActionError) else "The contact was not logged: "
            self.sig_error.emit(f"{prefix}{exc}")

        def done(logged: Any) -> None:
            self.sig_message.emit(logged.message(name))
            self.sig_contact_logged.emit(int(logged.customer_id))
            self.sig_changed.emit()
            self.load()  # re-selects the alert: its detail shows the new state and trail

        self.runner.submit(
            "alert-contact",
            work,
            title="Log contact",
            on_success=done,
            on_failure=failed,
        )

    # ------------------------------------------------------------------ export

    def export_csv(self, path: str | Path) -> None:
        """The queue as shown (filter and sort) to ``path``, written off the GUI thread."""
        from services.export import write_csv

        rows = self.model.visible_rows()
        target = Path(path)

        def work(_state: Any) -> int:
            return write_csv(target, COLUMNS, rows)

        self.runner.submit(
            "alerts-export",
            work,
            title="Export alerts",
            on_success=lambda n: self.sig_export_finished.emit(str(target), int(n)),
            on_failure=lambda exc, _tb: self.sig_error.emit(f"Export failed: {exc}"),
        )
