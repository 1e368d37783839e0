"""The ``loading`` state a page's spinner and Refresh/Cancel button follow, for view
models whose work runs on the task runner."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class LoadingViewModel(QObject):
    sig_loading_changed = Signal(bool)
    """Work started (True) or the last of it ended (False); emitted on changes only."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._loading = False

    @property
    def loading(self) -> bool:
        return self._loading

    def _set_loading(self, value: bool) -> None:
        if value != self._loading:
            self._loading = value
            self.sig_loading_changed.emit(value)
