"""The Tutors page's list and the upcoming first-session queue.

Both tables sort and filter themselves (:class:`viewmodels.numpy_table.NumpyTableModel`):
display texts and sort keys are computed once on the worker (``prepare_*`` and
:func:`sort_keys`), and sorting 5,000 rows is one numpy argsort over ready keys, where a
``QSortFilterProxyModel`` would call ``data()`` n·log n times on the GUI thread.

:class:`TutorsViewModel` loads the list and the queue through the task runner, exports
the visible rows to CSV (``services.export``) and sends prep e-mails
(``services.first_session_queue``); every call that touches the database runs off the
GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot

from services.export import write_csv
from viewmodels.numpy_table import NumpyTableModel, key_columns
from viewmodels.tasks import TaskRunner

if TYPE_CHECKING:  # both import SQLAlchemy: only their types are needed before first paint
    from services.first_session_queue import FirstSessionQueue, FirstSessionRow
    from services.tutors import TutorList, TutorRow

TUTOR_ID_ROLE = Qt.ItemDataRole.UserRole + 30
RISK_ROLE = Qt.ItemDataRole.UserRole + 31
TIER_ROLE = Qt.ItemDataRole.UserRole + 32
TREND_ROLE = Qt.ItemDataRole.UserRole + 33
SESSION_ID_ROLE = Qt.ItemDataRole.UserRole + 34

RISK_RANK = {"Critical": 0, "High": 1, "Medium": 2, "Low": 3}
TIER_RANK = {"Platinum": 0, "Gold": 1, "Silver": 2, "Bronze": 3}
SEGMENT_RANK = {"Star": 0, "Healthy": 1, "At-Risk": 2, "Churning": 3}
ALL = ""  # a filter that lets everything through

TUTOR_COLUMNS = (
    "Tutor",
    "Subjects",
    "Tier",
    "Segment",
    "Health",
    "Risk",
    "Churn 30d",
    "Trend 7d",
    "Sessions",
    "Rating",
    "1st success",
    "Interv.",
    "Manager",
)
TUTOR_COLUMN_TIPS = (
    "",
    "",
    "Performance tier (Platinum 85+, Gold 70+, Silver 55+, Bronze)",
    "Health segment (Star, Healthy, At-Risk, Churning)",
    "Health score 0-100",
    "Churn risk tier from P(churn within 30 days)",
    "P(churn within 30 days), newest scoring run",
    "Change of the 30-day churn risk since the run a week earlier, in percentage points",
    "Completed sessions in the last 30 days",
    "Average rating, last 30 days",
    "First-session success: share of first sessions rated 4 or 5",
    "Open interventions",
    "",
)
COL_TIER, COL_RISK, COL_TREND = 2, 5, 7
FIRST_SESSION_COLUMNS = (
    "Risk",
    "P(poor)",
    "Starts",
    "Tutor",
    "Subject",
    "Age",
    "Tutor tier",
    "No-show",
    "Prep e-mail",
    "Why",
)
FS_COL_ACTION = 8
FS_COL_WHY = 9


def _pct(x: float | None, digits: int = 0) -> str:
    return "–" if x is None else f"{x * 100:.{digits}f} %"


def trend_text(delta: float | None) -> str:
    """Percentage points since last week, with an arrow: rising risk is bad news."""
    if delta is None:
        return "–"
    pts = delta * 100
    if abs(pts) < 0.5:
        return "▬ 0 pts"
    return f"{'▲' if pts > 0 else '▼'} {pts:+.0f} pts"


def _key(x: float | None) -> float:
    """Sort key of a number where missing values sort below every number."""
    return -1e18 if x is None else float(x)


@dataclass(frozen=True, slots=True)
class PreparedTutor:
    row: TutorRow
    texts: tuple[str, ...]
    keys: tuple[Any, ...]
    haystack: str  # lower-case name for the search box


def prepare_tutors(rows: Sequence[TutorRow]) -> list[PreparedTutor]:
    """Display texts and sort keys of every row (on the worker)."""
    out = []
    for r in rows:
        texts = (
            r.name,
            ", ".join(s.replace("_", " ") for s in r.subjects) or "–",
            r.performance_tier or "–",
            r.segment or ("not scored" if not r.scored else "–"),
            "–" if r.health_score is None else f"{r.health_score:.0f}",
            (r.risk_tier or "").upper() or "–",
            _pct(r.p_churn_30d),
            trend_text(r.trend_30d),
            "–" if r.sessions_30d is None else f"{r.sessions_30d:.0f}",
            "–" if r.avg_rating_30d is None else f"{r.avg_rating_30d:.2f}",
            _pct(r.first_session_success),
            str(r.open_interventions) if r.open_interventions else "–",
            r.manager,
        )
        keys = (
            r.name.lower(),
            texts[1].lower(),
            TIER_RANK.get(r.performance_tier or "", 9),
            SEGMENT_RANK.get(r.segment or "", 9),
            _key(r.health_score),
            RISK_RANK.get(r.risk_tier or "", 9),
            _key(r.p_churn_30d),
            _key(r.trend_30d),
            _key(r.sessions_30d),
            _key(r.avg_rating_30d),
            _key(r.first_session_success),
            r.open_interventions,
            r.manager.lower(),
        )
        out.append(PreparedTutor(r, texts, keys, r.name.lower()))
    return out


@dataclass(frozen=True)
class TutorFilters:
    tier: str = ALL
    risk: str = ALL
    segment: str = ALL
    subject: str = ALL
    manager: str = ALL
    text: str = ""
    active_only: bool = True

    def accepts(self, p: PreparedTutor) -> bool:
        r = p.row
        if self.active_only and r.status not in ("active", ""):
            return False
        if self.tier and r.performance_tier != self.tier:
            return False
        if self.risk and r.risk_tier != self.risk:
            return False
        if self.segment and r.segment != self.segment:
            return False
        if self.subject and self.subject not in r.subjects:
            return False
        if self.manager and r.manager != self.manager:
            return False
        return not self.text or self.text in p.haystack


class _PreparedTable(NumpyTableModel):
    """Prepared rows (``texts`` and ``keys`` per row) over the numpy table machinery."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._all: list[Any] = []

    def set_prepared(self, rows: list[Any], keys: list[np.ndarray] | None = None) -> None:
        """New rows; ``keys`` from :func:`sort_keys` on the worker (computed here when
        not given)."""
        self._all = list(rows)
        self._load(len(self._all), keys if keys is not None else sort_keys(self._all, self))

    def _display(self, i: int, column: int) -> Any:
        return self._all[i].texts[column]

    def _accepts(self, prepared: Any) -> bool:
        return True

    def _filter_mask(self) -> np.ndarray:
        return np.fromiter((self._accepts(p) for p in self._all), bool, len(self._all))

    def total(self) -> int:
        return len(self._all)

    def visible(self) -> list[Any]:
        return [self._all[i] for i in self._view.tolist()]


def sort_keys(rows: Sequence[Any], model: type[NumpyTableModel] | NumpyTableModel) -> list:
    """The prepared rows' sort keys as one array per column of ``model`` (the worker's
    part of loading a table)."""
    return key_columns([p.keys for p in rows], len(model.columns))


class TutorListModel(_PreparedTable):
    columns = TUTOR_COLUMNS
    column_tips = TUTOR_COLUMN_TIPS
    right_aligned = frozenset({4, 6, 7, 8, 9, 10, 11})

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.filters = TutorFilters()

    def _role(self, i: int, column: int, role: int) -> Any:
        p: PreparedTutor = self._all[i]
        if role == TUTOR_ID_ROLE:
            return p.row.tutor_id
        if role == RISK_ROLE:
            return p.row.risk_tier
        if role == TIER_ROLE:
            return p.row.performance_tier
        if role == TREND_ROLE:
            return p.row.trend_30d
        if role == Qt.ItemDataRole.ToolTipRole and column == 1:
            return p.texts[1]
        return None

    def _accepts(self, prepared: Any) -> bool:
        return self.filters.accepts(prepared)

    def set_filters(self, filters: TutorFilters) -> None:
        if filters != self.filters:
            self.filters = filters
            self._refilter()

    def tutor_id(self, row: int) -> int:
        return self._all[self.source_row(row)].row.tutor_id


@dataclass(frozen=True, slots=True)
class PreparedSession:
    row: FirstSessionRow
    texts: tuple[str, ...]
    keys: tuple[Any, ...]


def prepare_sessions(rows: Sequence[FirstSessionRow], tz: tzinfo | None) -> list[PreparedSession]:
    out = []
    for r in rows:
        local = r.start_time.astimezone(tz) if r.start_time is not None else None
        texts = (
            (r.risk_tier or "").upper() or "–",
            _pct(r.p_poor),
            local.strftime("%a %d %b %H:%M") if local is not None else "–",
            r.tutor,
            (r.subject or "–").replace("_", " "),
            "–" if r.student_age is None else str(r.student_age),
            r.tutor_tier or "–",
            _pct(r.noshow_risk),
            "Prep e-mail open" if r.prep_sent else "Send prep email",
            r.why or "–",
        )
        keys = (
            RISK_RANK.get(r.risk_tier or "", 9),
            _key(r.p_poor),
            r.start_time.timestamp() if r.start_time is not None else 0.0,
            r.tutor.lower(),
            texts[4],
            _key(r.student_age),
            TIER_RANK.get(r.tutor_tier or "", 9),
            _key(r.noshow_risk),
            int(r.prep_sent),
            texts[9],
        )
        out.append(PreparedSession(r, texts, keys))
    return out


class FirstSessionsModel(_PreparedTable):
    """The next days' first sessions; arrives riskiest first (the service's order)."""

    columns = FIRST_SESSION_COLUMNS
    right_aligned = frozenset({1, 5, 7})

    def _role(self, i: int, column: int, role: int) -> Any:
        p: PreparedSession = self._all[i]
        if role == SESSION_ID_ROLE:
            return p.row.session_id
        if role == TUTOR_ID_ROLE:
            return p.row.tutor_id
        if role == RISK_ROLE:
            return p.row.risk_tier
        if role == Qt.ItemDataRole.ToolTipRole and column == FS_COL_WHY:
            return p.row.why
        return None

    def row_of(self, session_id: int) -> FirstSessionRow | None:
        return next((p.row for p in self._all if p.row.session_id == session_id), None)


class TutorsViewModel(QObject):
    sig_loaded = Signal(object)
    """A new ``services.tutors.TutorList``."""
    sig_sessions_loaded = Signal(object)
    """A new ``services.first_session_queue.FirstSessionQueue``."""
    sig_error = Signal(str)
    sig_message = Signal(str)
    sig_intervention_created = Signal(int, int)
    """(tutor id, local intervention id)."""

    def __init__(
        self,
        runner: TaskRunner,
        *,
        load_list: Callable[[], TutorList],
        load_sessions: Callable[[], FirstSessionQueue],
        send_prep: Callable[[int], int],
        timezone: Callable[[], tzinfo | None] = lambda: None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._load_list = load_list
        self._load_sessions = load_sessions
        self._send_prep = send_prep
        self._tz = timezone
        self.tutors = TutorListModel(self)
        self.tutors.sort(6, Qt.SortOrder.DescendingOrder)  # riskiest first by default
        self.sessions = FirstSessionsModel(self)
        self.tutor_list: TutorList | None = None
        self.session_queue: FirstSessionQueue | None = None

    # ------------------------------------------------------------------ loading

    @Slot()
    def load(self) -> None:
        load = self._load_list

        def work(_state: Any) -> tuple[TutorList, list[PreparedTutor], list[np.ndarray]]:
            listing = load()
            prepared = prepare_tutors(listing.rows)
            return listing, prepared, sort_keys(prepared, TutorListModel)

        self.runner.submit(
            "tutors",
            work,
            title="Tutor list",
            on_success=self._on_list,
            on_failure=lambda exc, _t: self.sig_error.emit(f"The tutor list could not load: {exc}"),
            record=False,
            coalesce=True,
        )

    def _on_list(self, result: tuple[TutorList, list[PreparedTutor], list[np.ndarray]]) -> None:
        self.tutor_list, prepared, keys = result
        self.tutors.set_prepared(prepared, keys)
        self.sig_loaded.emit(self.tutor_list)

    @Slot()
    def load_sessions(self) -> None:
        load, tz = self._load_sessions, self._tz()

        def work(
            _state: Any,
        ) -> tuple[FirstSessionQueue, list[PreparedSession], list[np.ndarray]]:
            queue = load()
            prepared = prepare_sessions(queue.rows, tz)
            return queue, prepared, sort_keys(prepared, FirstSessionsModel)

        self.runner.submit(
            "first-sessions",
            work,
            title="Upcoming first sessions",
            on_success=self._on_sessions,
            on_failure=lambda exc, _t: self.sig_error.emit(
                f"The first-session queue could not load: {exc}"
            ),
            record=False,
            coalesce=True,
        )

    def _on_sessions(
        self, result: tuple[FirstSessionQueue, list[PreparedSession], list[np.ndarray]]
    ) -> None:
        self.session_queue, prepared, keys = result
        self.sessions.set_prepared(prepared, keys)
        self.sig_sessions_loaded.emit(self.session_queue)

    # ------------------------------------------------------------------ commands

    def set_filters(self, **changes: Any) -> None:
        from dataclasses import replace

        self.tutors.set_filters(replace(self.tutors.filters, **changes))

    @Slot(str)
    def set_search(self, text: str) -> None:
        self.set_filters(text=text.strip().lower())

    def export_csv(self, path: str) -> bool:
        """The visible rows in their current order, written off the GUI thread."""
        rows = [p.texts for p in self.tutors.visible()]
        header = TUTOR_COLUMNS

        def work(_state: Any) -> int:
            return write_csv(path, header, rows)

        rec = self.runner.submit(
            "tutors-export",
            work,
            title="Export tutors to CSV",
            trigger="user",
            on_success=lambda n: self.sig_message.emit(f"Exported {n:,} tutors to {path}"),
            on_failure=lambda exc, _t: self.sig_error.emit(f"Export failed: {exc}"),
        )
        return rec is not None

    @Slot(int)
    def send_prep_email(self, session_id: int) -> bool:
        row = self.sessions.row_of(session_id)
        if row is None:
            return False
        if row.prep_sent:
            self.sig_message.emit(f"A prep e-mail for {row.tutor} is already open")
            return False
        send = self._send_prep

        def done(local_id: int) -> None:
            self.sig_message.emit(
                f"Prep e-mail for {row.tutor} queued: automated coaching, due when the "
                "session starts"
            )
            if row.tutor_id is not None:
                self.sig_intervention_created.emit(int(row.tutor_id), int(local_id))
            self.load_sessions()
            self.load()

        rec = self.runner.submit(
            f"prep-email:{session_id}",
            lambda _state: send(session_id),
            title=f"Send prep email to {row.tutor}",
            trigger="user",
            on_success=done,
            on_failure=lambda exc, _t: self.sig_error.emit(f"Could not send it: {exc}"),
        )
        return rec is not None


def local_time(at: datetime | None, tz: tzinfo | None, fmt: str = "%a %d %b %H:%M") -> str:
    return "–" if at is None else at.astimezone(tz).strftime(fmt)


def build_tutor_view_models(
    runner: TaskRunner, backend: Any, parent: QObject | None = None
) -> tuple[TutorsViewModel, Any]:
    """The list and profile view models bound to the app's backend (its engine, time
    zone and intervention settings); every bound call runs on the task runner."""
    from services.intervention_service import current_user
    from viewmodels.tasks import lazy_call
    from viewmodels.tutor_profile import TutorProfileViewModel

    first_session_queue = lazy_call("services.first_session_queue", "first_session_queue")
    send_prep_email = lazy_call("services.first_session_queue", "send_prep_email")
    open_intervention = lazy_call("services.intervention_workflow", "open_intervention")
    list_tutors = lazy_call("services.tutors", "list_tutors")
    tutor_bundle = lazy_call("services.tutors", "tutor_bundle")

    actor = current_user()  # audited as the person at the desk, like the Interventions page

    def settings() -> Any:
        return getattr(backend.settings, "interventions", None)

    tutors = TutorsViewModel(
        runner,
        load_list=lambda: list_tutors(backend.engine()),
        load_sessions=lambda: first_session_queue(backend.engine()),
        send_prep=lambda sid: send_prep_email(
            backend.engine(), sid, actor=actor, settings=settings()
        ),
        timezone=backend.timezone,
        parent=parent,
    )
    profile = TutorProfileViewModel(
        runner,
        load_bundle=lambda tid: tutor_bundle(backend.engine(), tid),
        create_intervention=lambda tid, kind, reason: open_intervention(
            backend.engine(),
            tutor_id=tid,
            intervention_type=kind,
            reason=reason,
            actor=actor,
            settings=settings(),
        ),
        timezone=backend.timezone,
        parent=parent,
    )
    return tutors, profile
