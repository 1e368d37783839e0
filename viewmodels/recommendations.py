"""The Recommendations page's view model: the feed of cards, its filters, the decisions
and the acceptance rate.

Reading and writing both run off the GUI thread (``viewmodels.tasks``): :meth:`load`
reads the filtered cards, the subjects and the acceptance rate in one task;
:meth:`implement` and :meth:`dismiss` write (audited by the service) and reload. A
dismissal without a reason is refused here at once, before any task starts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from viewmodels.tasks import TaskRunner

TASK_NAME = "recommendations-page"
STATE_FILTERS: dict[str, tuple[str, ...] | None] = {
    "Open": ("open",),
    "Implemented": ("implemented",),
    "Dismissed": ("dismissed",),
    "Expired": ("expired",),
    "All": None,
}


class RecommendationsViewModel(QObject):
    sig_loaded = Signal()
    """New cards, subjects and acceptance rate arrived."""
    sig_message = Signal(str)
    """A decision was saved (what was done)."""
    sig_error = Signal(str)

    def __init__(
        self,
        runner: TaskRunner,
        engine: Callable[[], Any],
        *,
        user: str,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._engine = engine
        self.user = user
        self.state = "Open"
        self.subject = ""  # "" = every subject
        self.max_priority: int | None = None
        self.cards: list[dict[str, Any]] = []
        self.subjects: list[tuple[str, str]] = []  # (key, display name)
        self.acceptance: Any = None
        self.loaded = False

    # ------------------------------------------------------------------ commands

    def set_filters(
        self, *, state: str | None = None, subject: str | None = None, max_priority: Any = ...
    ) -> None:
        """Change any filter (``max_priority=None`` for every priority) and reload if
        something changed."""
        new = (
            state if state is not None else self.state,
            subject if subject is not None else self.subject,
            self.max_priority if max_priority is ... else max_priority,
        )
        if new[0] not in STATE_FILTERS:
            raise ValueError(f"unknown state filter {new[0]!r}")
        if new == (self.state, self.subject, self.max_priority):
            return
        self.state, self.subject, self.max_priority = new
        self.load()

    @Slot()
    def load(self) -> None:
        engine = self._engine
        states, subject, prio = STATE_FILTERS[self.state], self.subject, self.max_priority

        def work(_state: Any) -> Any:
            from services.recommendations import (
                acceptance_rate,
                list_recommendations,
                roi_text,
                subjects,
            )

            eng = engine()
            cards = list_recommendations(
                eng, states=states, subject=subject or None, max_priority=prio
            )
            from services.labels import subject_label

            # The page shows these as they are (ui may not use services): the ROI as one
            # line, the subject's name, the expiry in the user's time zone.
            for card in cards:
                card["roi_text"] = roi_text(card.get("roi"))
                card["subject_label"] = subject_label(card.get("subject"))
                card["expires_local"] = _local(card["expires_at"])
            names = subjects(eng)
            return cards, [(k, subject_label(k)) for k in names], acceptance_rate(eng)

        self.runner.submit(
            TASK_NAME,
            work,
            title="Recommendations",
            on_success=self._on_loaded,
            on_failure=lambda exc, _tb: self.sig_error.emit(
                f"The recommendations could not load: {exc}"
            ),
            record=False,
            coalesce=True,
        )

    def implement(self, rec_id: int) -> None:
        self._decide(rec_id, "implement", None)

    def dismiss(self, rec_id: int, reason: str) -> None:
        if not reason.strip():
            self.sig_error.emit("Say why you dismiss it: a reason is required")
            return
        self._decide(rec_id, "dismiss", reason.strip())

    def _decide(self, rec_id: int, decision: str, reason: str | None) -> None:
        engine, user = self._engine, self.user

        def work(_state: Any) -> Any:
            from services.recommendations import decide

            return decide(engine(), rec_id, decision, actor=user, reason=reason)

        def done(state: Any) -> None:
            self.sig_message.emit(f"Recommendation {rec_id} {state}")
            self.load()

        self.runner.submit(
            f"recommendation-{decision}",
            work,
            title=f"Recommendations: {decision}",
            on_success=done,
            on_failure=lambda exc, _tb: self.sig_error.emit(f"{decision.capitalize()}: {exc}"),
        )

    # ------------------------------------------------------------------ reading

    def acceptance_text(self) -> str:
        """ "Acceptance 67 % (2 of 3 decided) - by week: 16 Nov 100 %, 23 Nov 50 %"."""
        acc = self.acceptance
        if acc is None or acc.rate is None:
            return "Acceptance: no decisions yet"
        decided = acc.implemented + acc.dismissed
        weeks = ", ".join(
            f"{row.week:%d %b} {row.rate:.0%}" for row in acc.by_week.tail(6).itertuples()
        )
        return (
            f"Acceptance {acc.rate:.0%} ({acc.implemented} of {decided} decided) - by week: {weeks}"
        )

    # ------------------------------------------------------------------ results

    def _on_loaded(self, result: Any) -> None:
        self.cards, self.subjects, self.acceptance = result
        self.loaded = True
        self.sig_loaded.emit()


def _local(when: datetime) -> datetime:
    """A stored UTC time (naive from SQLite) in the user's time zone."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone()
