"""One object the Interventions page talks to: every read and command of the workflow,
bound to the database, the settings and the user. Plain Python (the view model runs
each call on a worker thread); built by the composition root."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.intervention_settings import InterventionSettings

if TYPE_CHECKING:  # SQLAlchemy is imported where first used: the shell builds this
    from sqlalchemy import Engine  # service before the window's first paint


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers): still audit something
        return "desktop user"


@dataclass
class InterventionService:
    engine: Callable[[], Engine]
    settings: Callable[[], InterventionSettings]
    actor: str = ""
    models_dir: Path | None = None

    def __post_init__(self) -> None:
        self.actor = self.actor or current_user()

    # ------------------------------------------------------------------ reads

    def queue(self) -> list[Any]:
        """The queue, after recording SLA breaches found since the last look (each
        escalated once to the configured contact), so a breach is never only shown."""
        from services.intervention_queue import list_queue
        from services.intervention_workflow import check_breaches

        engine = self.engine()
        check_breaches(engine, settings=self.settings(), actor="tutormax")
        return list_queue(engine)

    def history(self, local_id: int) -> list[dict[str, Any]]:
        from services.intervention_queue import history

        return history(self.engine(), local_id)

    def tutors(self) -> list[tuple[int, str]]:
        """Active tutors for the create dialog's picker: (id, name)."""
        from sqlalchemy import select

        from services.db.models import Tutor

        with self.engine().connect() as conn:
            rows = conn.execute(
                select(Tutor.id, Tutor.name)
                .where(Tutor.deleted_at.is_(None), Tutor.status == "active")
                .order_by(Tutor.name)
            ).all()
        return [(int(r.id), r.name or f"Tutor {r.id}") for r in rows]

    def managers(self) -> list[tuple[int, str]]:
        from sqlalchemy import select

        from services.db.models import Manager

        with self.engine().connect() as conn:
            rows = conn.execute(
                select(Manager.id, Manager.name)
                .where(Manager.deleted_at.is_(None))
                .order_by(Manager.name)
            ).all()
        return [(int(r.id), r.name or f"Manager {r.id}") for r in rows]

    def my_manager_id(self) -> int | None:
        return self.settings().my_manager_id

    # ------------------------------------------------------------------ commands

    def create(
        self,
        *,
        tutor_id: int,
        intervention_type: str,
        reason: str,
        assigned_to_id: int | None = None,
        priority: int | None = None,
        session_at: datetime | None = None,
        notes: str | None = None,
        source_alert_key: str | None = None,
    ) -> int:
        from services.intervention_workflow import open_intervention

        return open_intervention(
            self.engine(),
            tutor_id=tutor_id,
            intervention_type=intervention_type,
            reason=reason,
            actor=self.actor,
            settings=self.settings(),
            assigned_to_id=assigned_to_id,
            priority=priority,
            session_at=session_at,
            notes=notes or None,
            source_alert_key=source_alert_key,
        )

    def set_status(self, local_id: int, status: str) -> None:
        from services.intervention_workflow import set_status

        set_status(self.engine(), local_id, status, actor=self.actor)

    def add_note(self, local_id: int, text: str) -> str:
        from services.intervention_workflow import add_note

        return add_note(self.engine(), local_id, text, actor=self.actor)

    def record_outcome(self, local_id: int, result: str, note: str) -> None:
        from services.intervention_workflow import record_outcome

        record_outcome(self.engine(), local_id, result, note, actor=self.actor)

    def pause(self, local_id: int) -> None:
        from services.intervention_workflow import pause_sla

        pause_sla(self.engine(), local_id, actor=self.actor)

    def resume(self, local_id: int) -> None:
        from services.intervention_workflow import resume_sla

        resume_sla(self.engine(), local_id, actor=self.actor)

    def resolve_conflict(self, local_id: int, choice: str) -> None:
        from services.intervention_workflow import resolve_conflict

        resolve_conflict(self.engine(), local_id, choice, actor=self.actor)

    def discard(self, local_id: int) -> None:
        from services.intervention_workflow import discard_rejected

        discard_rejected(self.engine(), local_id, actor=self.actor)

    def check_breaches(self, now: datetime | None = None) -> list[Any]:
        from services.intervention_workflow import check_breaches

        return check_breaches(self.engine(), settings=self.settings(), now=now or datetime.now(UTC))

    def measure_effects(self, progress: Callable[[str], None] | None = None, cancel: Any = None):
        from services.intervention_effects import EffectivenessError, measure

        if self.models_dir is None:
            raise EffectivenessError("no model folder configured")
        return measure(self.engine(), self.models_dir, progress=progress, cancel=cancel)
