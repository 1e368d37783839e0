"""Dependencies point one way: ui -> viewmodels -> services -> ml (ARCHITECTURE.md).

Every import statement of every module is read with ast (so imports inside functions
count too) and checked against what its layer may use.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# layer -> top-level modules it must never import
FORBIDDEN: dict[str, set[str]] = {
    "ml": {
        "PySide6",
        "sqlalchemy",
        "alembic",
        "httpx",
        "keyring",
        "services",
        "viewmodels",
        "ui",
        "tutormax_desktop",
        "pyqtgraph",
    },
    "services": {"PySide6", "pyqtgraph", "viewmodels", "ui", "tutormax_desktop"},
    "viewmodels": {"ui", "tutormax_desktop", "pyqtgraph", "PySide6.QtWidgets"},
    "ui": {"services", "ml", "tutormax_desktop", "sqlalchemy", "httpx"},
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            # "from PySide6 import QtWidgets" names the submodule as an alias.
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def _violations(layer: str, root: Path = ROOT) -> list[str]:
    bad = []
    for path in sorted((root / layer).rglob("*.py")):
        for lineno, module in _imports(path):
            for forbidden in FORBIDDEN[layer]:
                if module == forbidden or module.startswith(forbidden + "."):
                    bad.append(f"{path.relative_to(root)}:{lineno} imports {module}")
    return bad


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_one_way(layer):
    assert (ROOT / layer).is_dir()
    assert _violations(layer) == []


def test_the_checker_catches_a_violation(tmp_path):
    # A test of the test: a Qt import hidden in a function of a fake ml/ is reported.
    (tmp_path / "ml").mkdir()
    (tmp_path / "ml" / "bad.py").write_text("def f():\n    from PySide6 import QtCore\n")
    assert _violations("ml", tmp_path) == [
        "ml/bad.py:2 imports PySide6",
        "ml/bad.py:2 imports PySide6.QtCore",
    ]
