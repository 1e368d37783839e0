"""The About dialog's view model: the app's version, folders and library versions."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Property, QObject, Signal, Slot, qVersion
from PySide6.QtGui import QGuiApplication

from services.about import AboutFacts, about_facts


class AboutViewModel(QObject):
    """Facts read from ``backend`` (cheap properties and package metadata, no I/O beyond
    a few metadata files), ready when constructed; :meth:`copy` puts them on the
    clipboard as text for a support ticket."""

    sig_copied = Signal(str)

    def __init__(self, backend: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._facts: AboutFacts = about_facts(
            version=str(backend.app_version),
            data_dir=str(backend.data_dir),
            log_file=str(backend.log_file),
            database=str(backend.database_label),
            config_dir=str(backend.config_dir),
            models_dir=str(backend.models_dir),
            qt_version=qVersion(),
        )

    def _version(self) -> str:
        return self._facts.version

    version = Property(str, _version, constant=True)

    @property
    def rows(self) -> tuple[tuple[str, str], ...]:
        return self._facts.rows

    def value(self, label: str) -> str:
        return dict(self._facts.rows)[label]

    def text(self) -> str:
        return self._facts.as_text()

    @Slot()
    def copy(self) -> None:
        clipboard = QGuiApplication.clipboard()
        text = self.text()
        clipboard.setText(text)
        self.sig_copied.emit(text)
