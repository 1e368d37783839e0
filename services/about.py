"""What the About dialog and support need to know: versions and where things live.

Versions come from the installed distributions' metadata (``importlib.metadata``), so
nothing here imports the libraries themselves: the desktop's process never loads the
model libraries (they run in job processes), and reading metadata takes milliseconds.
The PyInstaller spec copies this metadata into the bundle.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from dataclasses import dataclass

# (label, distribution names to try in order): a platform installs one of them.
LIBRARIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("PySide6", ("PySide6_Essentials", "PySide6", "pyside6-essentials")),
    ("xgboost", ("xgboost-cpu", "xgboost")),
    ("scikit-learn", ("scikit-learn",)),
    ("statsmodels", ("statsmodels",)),
    ("pandas", ("pandas",)),
    ("NumPy", ("numpy",)),
    ("SQLAlchemy", ("SQLAlchemy",)),
    ("Alembic", ("alembic",)),
    ("pyqtgraph", ("pyqtgraph",)),
)
UNKNOWN = "not found"


@dataclass(frozen=True)
class AboutFacts:
    version: str
    rows: tuple[tuple[str, str], ...]  # (label, value), in display order

    def as_text(self) -> str:
        """Plain text for the clipboard (a support ticket)."""
        width = max(len(label) for label, _ in self.rows)
        lines = [f"TutorMax Desktop {self.version}"]
        lines += [f"{label:<{width}}  {value}" for label, value in self.rows]
        return "\n".join(lines)


def distribution_version(names: tuple[str, ...]) -> str:
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return UNKNOWN


def library_versions() -> list[tuple[str, str]]:
    python = f"{platform.python_version()} ({platform.python_implementation()})"
    return [("Python", python)] + [(label, distribution_version(d)) for label, d in LIBRARIES]


def about_facts(
    *,
    version: str,
    data_dir: str,
    log_file: str,
    database: str,
    config_dir: str,
    models_dir: str,
    qt_version: str,
    frozen: bool | None = None,
) -> AboutFacts:
    """Everything the About dialog shows; ``qt_version`` comes from the Qt layer."""
    if frozen is None:
        frozen = bool(getattr(sys, "frozen", False))
    rows = [
        ("Version", version),
        ("Installed as", "packaged app" if frozen else "Python package (from source)"),
        ("Data folder", data_dir),
        ("Database", database),
        ("Models", models_dir),
        ("Settings folder", config_dir),
        ("Log file", log_file),
        ("Operating system", f"{platform.system()} {platform.release()} ({platform.machine()})"),
        ("Qt", qt_version),
        *library_versions(),
    ]
    return AboutFacts(version=version, rows=tuple(rows))
