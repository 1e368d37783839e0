"""One tutor's profile: the bundle loaded off the GUI thread, and its commands.

``load(tutor_id)`` reads ``services.tutors.tutor_bundle`` on the task runner (one query
bundle per profile); opening another tutor while one loads replaces the pending load
(coalesced: only the newest tutor is shown). The view reads the result through narrow
accessors (``curve``, ``series``, ``risk_history``) and the intervention and session
rows; it never sees SQL.

Commands: create an intervention (``services.intervention_workflow``, through the
callable the shell passes), export the tutor's report as a PDF (``report_pdf``), both on
the runner.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QObject,
    Qt,
    Signal,
    Slot,
)

from viewmodels.report_pdf import write_report_pdf
from viewmodels.rows_table import RowsTableModel
from viewmodels.tasks import TaskRunner

if TYPE_CHECKING:  # services.tutors imports SQLAlchemy: not before the first paint
    from services.tutors import TutorBundle

NO_PREDICTION = (
    "No predictions yet for this tutor. The churn curve, tiers and factors appear after "
    "the next scoring run ({why})."
)
SERIES = (
    ("sessions", "Completed sessions per week"),
    ("avg_rating", "Average rating"),
    ("first_session_success", "First-session success"),
    ("reschedules", "Reschedules by the tutor"),
    ("no_shows", "No-shows"),
    ("logins", "Engagement: logins per week"),
)


class TutorProfileViewModel(QObject):
    sig_loaded = Signal(object)
    """A new ``services.tutors.TutorBundle``."""
    sig_loading_changed = Signal(bool)
    sig_error = Signal(str)
    sig_message = Signal(str)
    sig_intervention_created = Signal(int, int)
    """(tutor id, local intervention id)."""
    sig_report_written = Signal(str, int)
    """(path, pages)."""

    def __init__(
        self,
        runner: TaskRunner,
        *,
        load_bundle: Callable[[int], TutorBundle],
        create_intervention: Callable[[int, str, str], int] | None = None,
        timezone: Callable[[], tzinfo | None] = lambda: None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._load = load_bundle
        self._create = create_intervention
        self._tz = timezone
        self._bundle: TutorBundle | None = None
        self._tutor_id: int | None = None
        self._loading = False
        self.interventions = TextTableModel(INTERVENTION_COLUMNS, self)
        self.upcoming = TextTableModel(UPCOMING_COLUMNS, self)
        self.recent = TextTableModel(RECENT_COLUMNS, self)

    # ------------------------------------------------------------------ state

    @property
    def bundle(self) -> TutorBundle | None:
        return self._bundle

    @property
    def tutor_id(self) -> int | None:
        return self._tutor_id

    @property
    def loading(self) -> bool:
        return self._loading

    def timezone(self) -> tzinfo | None:
        return self._tz()

    def _set_loading(self, value: bool) -> None:
        if value != self._loading:
            self._loading = value
            self.sig_loading_changed.emit(value)

    @Slot(int)
    def load(self, tutor_id: int) -> None:
        self._tutor_id = int(tutor_id)
        load = self._load
        self.runner.submit(
            "tutor-profile",
            lambda _state, tid=int(tutor_id): load(tid),
            title="Tutor profile",
            on_success=self._on_loaded,
            on_failure=self._on_failed,
            on_finished=lambda _r: self._set_loading(self.runner.is_running("tutor-profile")),
            record=False,
            coalesce=True,
        )
        self._set_loading(True)

    def reload(self) -> None:
        if self._tutor_id is not None:
            self.load(self._tutor_id)

    def _on_loaded(self, bundle: TutorBundle) -> None:
        if bundle.tutor["id"] != self._tutor_id:
            return  # an older tutor's bundle that finished after a newer was asked for
        self._bundle = bundle
        tz = self._tz()
        self.interventions.set_rows(intervention_rows(bundle, tz))
        self.upcoming.set_rows(upcoming_rows(bundle, tz))
        self.recent.set_rows(recent_rows(bundle, tz))
        self.sig_loaded.emit(bundle)

    def _on_failed(self, exc: BaseException, _trace: str) -> None:
        self.sig_error.emit(f"The profile could not load: {exc}")

    # ------------------------------------------------------------------ accessors

    def no_prediction_text(self) -> str:
        b = self._bundle
        if b is None or b.prediction is not None:
            return ""
        status = b.tutor.get("status") or "unknown"
        why = (
            "only active tutors are scored"
            if status != "active"
            else "new tutors are scored with the next run"
        )
        return NO_PREDICTION.format(why=f"status {status}: {why}")

    def risky_first_sessions(self) -> list[dict[str, str]]:
        """Upcoming first sessions at High risk or above, for the header."""
        b = self._bundle
        if b is None:
            return []
        out = []
        for s in b.upcoming_sessions:
            if not s["first_session"] or s["risk_tier"] not in ("Critical", "High"):
                continue
            age = "" if s["student_age"] is None else f", student {s['student_age']}"
            subject = (s["subject"] or "").replace("_", " ")
            out.append(
                {
                    "risk_tier": s["risk_tier"],
                    "when": _when(s["start_time"], self._tz()),
                    "what": f"{subject}{age}: {_pct(s['p_poor'])} risk of a poor rating"
                    + (f", no-show risk {_pct(s['noshow_risk'])}" if s["noshow_risk"] else ""),
                }
            )
        return out

    def series(self, key: str) -> tuple[list[float], list[float]]:
        """x = weeks ago (negative, 0 = this week), y = the weekly value; NaN where none."""
        b = self._bundle
        if b is None:
            return [], []
        values = getattr(b.weekly, key)
        n = len(values)
        x = [float(i - n + 1) for i in range(n)]
        y = [math.nan if v is None else float(v) for v in values]
        hired = b.tutor.get("hired_at")
        if hired is not None:
            # Weeks that ended before the tutor was hired have no data, not zeros.
            week = timedelta(days=7)
            y = [
                math.nan if start + week <= hired else v
                for start, v in zip(b.weekly.week_starts, y, strict=True)
            ]
        return x, y

    def risk_history(self) -> tuple[list[float], list[float]]:
        """x = days before the newest data (negative), y = P(churn 30 d)."""
        b = self._bundle
        if b is None:
            return [], []
        x, y = [], []
        for at, p30, _tier in b.history:
            if p30 is None:
                continue
            x.append((at - b.as_of).total_seconds() / 86400 / 7)
            y.append(float(p30))
        return x, y

    # ------------------------------------------------------------------ commands

    def create_intervention(self, intervention_type: str, reason: str) -> bool:
        if self._create is None or self._bundle is None:
            return False
        tutor_id, name = self._bundle.tutor["id"], self._bundle.tutor["name"]
        create = self._create

        def done(local_id: int) -> None:
            self.sig_message.emit(
                f"Intervention created for {name}: {intervention_type.replace('_', ' ')}"
            )
            self.sig_intervention_created.emit(tutor_id, int(local_id))
            self.reload()

        rec = self.runner.submit(
            f"create-intervention:{tutor_id}",
            lambda _state: create(tutor_id, intervention_type, reason),
            title=f"Create intervention for {name}",
            trigger="user",
            on_success=done,
            on_failure=lambda exc, _t: self.sig_error.emit(f"Could not create it: {exc}"),
        )
        return rec is not None

    def export_report(self, path: str) -> bool:
        bundle, tz = self._bundle, self._tz()
        if bundle is None:
            return False

        def done(pages: int) -> None:
            self.sig_report_written.emit(path, int(pages))
            self.sig_message.emit(f"Report for {bundle.tutor['name']} written to {path}")

        rec = self.runner.submit(
            f"tutor-report:{bundle.tutor['id']}",
            lambda _state: write_report_pdf(bundle, path, tz),
            title=f"Export report for {bundle.tutor['name']}",
            trigger="user",
            on_success=done,
            on_failure=lambda exc, _t: self.sig_error.emit(f"The report was not written: {exc}"),
        )
        return rec is not None


# ---------------------------------------------------------------------- tab tables


INTERVENTION_COLUMNS = ("Type", "Status", "Owner", "SLA", "Due", "Result", "Reason")
UPCOMING_COLUMNS = ("Starts", "Subject", "Student", "Age", "First session", "P(poor)", "No-show")
RECENT_COLUMNS = ("Started", "Subject", "Student", "Status", "Rating", "First session")
SLA_WORDS = {
    "overdue": "overdue",
    "due_soon": "due soon",
    "on_track": "on track",
    "none": "no SLA",
    "done": "done",
}


def _when(at: Any, tz: tzinfo | None) -> str:
    return "–" if at is None else at.astimezone(tz).strftime("%a %d %b %H:%M")


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.0f} %"


def intervention_rows(bundle: TutorBundle, tz: tzinfo | None) -> list[tuple[str, ...]]:
    out = []
    for r in bundle.interventions:
        result = r.outcome or ("–" if r.status not in ("completed", "cancelled") else r.status)
        sla = SLA_WORDS.get(r.sla_state, r.sla_state)
        if r.sla_state not in ("done", "none") and r.countdown:
            sla = f"{sla} ({r.countdown})"
        out.append(
            (
                r.intervention_type.replace("_", " "),
                r.status.replace("_", " "),
                r.assignee,
                sla,
                _when(r.due_at, tz),
                result,
                r.reason,
            )
        )
    return out


def upcoming_rows(bundle: TutorBundle, tz: tzinfo | None) -> list[tuple[str, ...]]:
    return [
        (
            _when(s["start_time"], tz),
            (s["subject"] or "–").replace("_", " "),
            s["customer"] or "–",
            "–" if s["student_age"] is None else str(s["student_age"]),
            "yes" if s["first_session"] else "",
            _pct(s["p_poor"]) + (f" {s['risk_tier']}" if s["risk_tier"] else ""),
            _pct(s["noshow_risk"]),
        )
        for s in bundle.upcoming_sessions
    ]


def recent_rows(bundle: TutorBundle, tz: tzinfo | None) -> list[tuple[str, ...]]:
    return [
        (
            _when(s["start_time"], tz),
            (s["subject"] or "–").replace("_", " "),
            s["customer"] or "–",
            (s["status"] or "–").replace("_", " ")
            + (" (rescheduled by tutor)" if s["rescheduled_by"] == "tutor" else ""),
            "–" if s["rating"] is None else f"{s['rating']} ★",
            "yes" if s["first_session"] else "",
        )
        for s in bundle.recent_sessions
    ]


class TextTableModel(RowsTableModel):
    """A small read-only table of ready texts (a profile tab's rows)."""

    def __init__(self, columns: tuple[str, ...], parent: QObject | None = None) -> None:
        super().__init__(parent, columns=columns)

    def _data(self, row: tuple[str, ...], col: int, role: int, position: int) -> Any:
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return row[col]
        return None
