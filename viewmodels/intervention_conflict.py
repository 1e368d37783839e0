"""A 409 conflict, side by side: the user's change and the server's current record,
field by field; the user keeps one of them (RAILS_API.md: the client keeps the user's
change and shows the conflict)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

FIELDS = ("status", "notes", "outcome")


def conflict_rows(row: Any) -> list[tuple[str, str, str, bool]]:
    """(field, mine, theirs, differs) for the fields a PATCH carries."""
    server = getattr(row, "conflict", None) or {}
    out = []
    for name in FIELDS:
        mine = getattr(row, name, None) or ""
        theirs = server.get(name) or ""
        out.append((name, str(mine), str(theirs), str(mine) != str(theirs)))
    return out


class ConflictViewModel(QObject):
    sig_done = Signal(str)
    """The choice sent ("mine" or "theirs")."""

    def __init__(self, interventions: Any, row: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._vm = interventions
        self.row = row
        self.rows = conflict_rows(row)
        server = getattr(row, "conflict", None) or {}
        self.server_version = server.get("lock_version")
        self.server_updated = server.get("updated_at") or ""

    @property
    def title(self) -> str:
        return (
            f"{self.row.intervention_type.replace('_', ' ').capitalize()} for "
            f"{self.row.tutor_name} was changed on the server"
        )

    def keep_mine(self) -> None:
        self._vm.resolve_conflict(self.row.local_id, "mine")
        self.sig_done.emit("mine")

    def take_theirs(self) -> None:
        self._vm.resolve_conflict(self.row.local_id, "theirs")
        self.sig_done.emit("theirs")
