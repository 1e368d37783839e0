"""Settings and first run: where the data comes from, the token, schedules, notifications.

The token typed into the dialog is handed to the keychain (``services.credentials``) on
a worker and never kept anywhere else: not in the settings file, not in QSettings, not
in this object after the save (it is dropped as soon as the task is queued).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from services.settings import Settings
from viewmodels.tasks import TaskRunner


class SettingsViewModel(QObject):
    sig_testing_changed = Signal(bool)
    sig_test_result = Signal(bool, str)
    """(ok, a sentence for the user) after "Test connection"."""
    sig_saving_changed = Signal(bool)
    sig_saved = Signal(object)
    """The new Settings, once written (and the token, if any, is in the keychain)."""
    sig_error = Signal(str)

    def __init__(
        self,
        runner: TaskRunner,
        current: Callable[[], Settings],
        test_connection: Callable[[str | None, str | None], str],
        apply: Callable[[Settings, str | None], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._current = current
        self._test = test_connection
        self._apply = apply
        self._testing = False
        self._saving = False

    @property
    def settings(self) -> Settings:
        return self._current()

    def alert_rules(self) -> list[tuple[str, str]]:
        """(name, title) of every alert rule, for the per-rule cooldowns."""
        from services.alerts.registry import rule_titles

        return sorted(rule_titles().items(), key=lambda kv: kv[1])

    def anomaly_metrics(self) -> list[tuple[str, str]]:
        """(name, title) of every anomaly-checked metric, for their thresholds."""
        from services.anomalies import METRICS

        return [(m.name, m.title) for m in METRICS.values()]

    @property
    def testing(self) -> bool:
        return self._testing

    @property
    def saving(self) -> bool:
        return self._saving

    def _set_testing(self, value: bool) -> None:
        if value != self._testing:
            self._testing = value
            self.sig_testing_changed.emit(value)

    def _set_saving(self, value: bool) -> None:
        if value != self._saving:
            self._saving = value
            self.sig_saving_changed.emit(value)

    @Slot(str, str)
    def test_connection(self, api_url: str, token: str) -> bool:
        """Health, then one authenticated request, off the GUI thread."""
        url = api_url.strip() or None
        secret = token.strip() or None
        test = self._test
        rec = self.runner.submit(
            "test-connection",
            lambda _s: test(url, secret),
            title="Test connection",
            trigger="user",
            on_success=lambda msg: self.sig_test_result.emit(True, str(msg)),
            on_failure=lambda exc, _t: self.sig_test_result.emit(False, _explain(exc)),
            on_finished=lambda _r: self._set_testing(False),
            record=False,
        )
        if rec is None:
            return False
        self._set_testing(True)
        return True

    def save(self, new: Settings, token: str | None = None) -> bool:
        apply = self._apply
        secret = (token or "").strip() or None
        rec = self.runner.submit(
            "save-settings",
            lambda _s: apply(new, secret),
            title="Save settings",
            trigger="user",
            on_success=lambda _r: self.sig_saved.emit(self._current()),
            on_failure=lambda exc, _t: self.sig_error.emit(_explain(exc)),
            on_finished=lambda _r: self._set_saving(False),
            record=False,
        )
        if rec is None:
            return False
        self._set_saving(True)
        return True


def _explain(exc: Any) -> str:
    text = str(exc)
    name = type(exc).__name__
    if name == "ValidationError":
        try:
            return "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
        except Exception:
            return text
    if name == "AuthError":
        return "The API refused this token (401). Check it and try again."
    if name == "UnavailableError":
        return f"The API could not be reached: {text}"
    return text or name
