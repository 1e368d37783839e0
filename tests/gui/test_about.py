"""Help > About: version, folders, database path and library versions, copyable."""

from __future__ import annotations

import importlib.metadata
import platform

from PySide6.QtCore import qVersion
from PySide6.QtGui import QGuiApplication

from services.about import UNKNOWN, AboutFacts, distribution_version, library_versions
from services.settings import Settings
from tutormax_desktop import __version__


def test_about_shows_version_folders_database_and_libraries(qtbot, make_window, tmp_path):
    db = tmp_path / "team.db"
    window = make_window(Settings(database_url=f"sqlite:///{db}"), start=False)
    window.about_action.trigger()
    dialog = window.about_dialog
    assert dialog is not None and dialog.isVisible()
    backend = window.shell.backend
    shown = {label: w.text() for label, w in dialog.values.items()}
    assert shown["Version"] == __version__
    assert shown["Database"] == f"sqlite:///{db}"
    assert shown["Data folder"] == str(backend.data_dir)
    assert shown["Log file"] == str(backend.log_file)
    assert shown["Settings folder"] == str(backend.config_dir)
    assert shown["Qt"] == qVersion()
    assert shown["Python"].startswith(platform.python_version())
    for label in ("PySide6", "xgboost", "scikit-learn", "statsmodels", "pandas", "SQLAlchemy"):
        assert shown[label] not in ("", UNKNOWN), label
    assert shown["SQLAlchemy"] == importlib.metadata.version("SQLAlchemy")
    assert shown["pandas"] == importlib.metadata.version("pandas")

    with qtbot.waitSignal(dialog.vm.sig_copied) as copied:
        dialog.copy_button.click()
    text = QGuiApplication.clipboard().text()
    assert text == copied.args[0]
    assert f"TutorMax Desktop {__version__}" in text and str(db) in text
    assert f"SQLAlchemy {importlib.metadata.version('SQLAlchemy')}" in " ".join(text.split())
    # A second Help > About shows the same dialog instead of stacking another.
    window.about_action.trigger()
    assert window.about_dialog is dialog


def test_versions_come_from_metadata_and_a_missing_library_says_so():
    assert distribution_version(("no-such-distribution-xyz",)) == UNKNOWN
    # The first installed name wins (xgboost-cpu on Linux, xgboost on macOS).
    assert distribution_version(("no-such-distribution-xyz", "numpy")) == (
        importlib.metadata.version("numpy")
    )
    labels = [label for label, _ in library_versions()]
    assert labels[0] == "Python" and "statsmodels" in labels


def test_copied_text_lines_up_labels():
    facts = AboutFacts("9.9", (("Data folder", "/d"), ("Qt", "6.9")))
    assert facts.as_text().splitlines() == [
        "TutorMax Desktop 9.9",
        "Data folder  /d",
        "Qt           6.9",
    ]
