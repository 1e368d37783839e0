"""The Customers page's list and one customer's detail.

The list holds up to 50,000 customers (the PRD's volume), so :class:`CustomerListModel`
keeps its data as numpy columns built once on the worker (:func:`prepare_customers`):
display texts as one list per column, a sort key array per column, integer codes for
every filter.
Sorting is one stable ``argsort`` of a ready key array, filtering a few vectorised
comparisons and one boolean index into the current order: a few milliseconds for 50,000
rows on the GUI thread, where a ``QSortFilterProxyModel`` would call ``data()`` n·log n
times and a Python ``list.sort`` with tuple keys takes ten times longer.

:class:`CustomersViewModel` loads the list through the task runner, exports the visible
rows to CSV (``services.export``) on a worker with progress, and
:class:`CustomerDetailViewModel` loads one customer's bundle (coalesced: only the newest
customer asked for is shown). Nothing here touches the database on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import (
    QObject,
    Qt,
    Signal,
    Slot,
)

from services.customer_parts import COMPONENTS as COMPONENTS  # re-exported for the page
from services.export import ExportCancelled as ExportCancelled  # re-exported
from services.export import cancellable_rows, write_csv
from viewmodels.customer_churn import ChurnViewModel
from viewmodels.customer_velocity import VelocityViewModel
from viewmodels.first_session_stats import FirstSessionStatsViewModel
from viewmodels.loading import LoadingViewModel
from viewmodels.numpy_table import NumpyTableModel
from viewmodels.tasks import TaskRunner, TaskState

if TYPE_CHECKING:  # imported where used: SQLAlchemy and pandas stay out of start-up
    from services.customers import CustomerBundle, CustomerList, CustomerRow


CUSTOMER_ID_ROLE = Qt.ItemDataRole.UserRole + 40
HEALTH_TIER_ROLE = Qt.ItemDataRole.UserRole + 41
RISK_ROLE = Qt.ItemDataRole.UserRole + 42

HEALTH_TIERS = ("Critical", "At Risk", "Healthy", "Thriving")
HEALTH_RANK = {t: i for i, t in enumerate(HEALTH_TIERS)}
RISK_TIERS = ("Critical", "High", "Medium", "Low")
RISK_RANK = {t: i for i, t in enumerate(RISK_TIERS)}
ALL = ""  # a filter that lets everything through
MISSING = -1e18  # sort key of a missing number: below every number, as on the Tutors page
EXPORT_PROGRESS_EVERY = 2000  # rows between progress reports of an export

CUSTOMER_COLUMNS = (
    "Customer",
    "Grade",
    "Channel",
    "Subjects",
    "Main tutor",
    "Health",
    "Tier",
    "1st session",
    "Velocity",
    "Calls",
    "Goal",
    "Consistency",
    "Churn 30d",
    "Risk",
    "Sessions 30d",
    "Days idle",
    "Alerts",
)
CUSTOMER_COLUMN_TIPS = (
    "",
    "Grade level (the customer segment the API carries)",
    "Acquisition channel",
    "Subjects booked, most sessions first",
    "The tutor with most of the customer's sessions",
    "Health score 0-100",
    "Health tier: Critical 0-40, At Risk 41-70, Healthy 71-85, Thriving 86-100",
    "First-session success component, 0-100 (30 % of the score)",
    "Session velocity component, 0-100 (25 %)",
    "Inbound-call component, 0-100 (20 %; 100 = no calls)",
    "Goal status component, 0-100 (15 %)",
    "Tutor consistency component, 0-100 (10 %)",
    "P(churn within 30 days), customer churn model",
    "Churn risk tier from P(churn 30 d)",
    "Sessions in the last 30 days",
    "Days since the last session",
    "Open alerts (active or acknowledged)",
)
COL_NAME, COL_TIER, COL_CHURN, COL_RISK = 0, 6, 12, 13
_NUMERIC_COLS = (5, 7, 8, 9, 10, 11, 12, 14, 15, 16)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.0f} %"


def _n(x: float | None, digits: int = 0) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _codes(values: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer code per value and the sorted distinct values (codes index into them)."""
    labels, codes = np.unique(np.asarray(values, dtype=object).astype(str), return_inverse=True)
    return codes.astype(np.int32), tuple(str(v) for v in labels)


def _rank_of_text(values: Sequence[str]) -> np.ndarray:
    """Sort key of a text column: its rank among the distinct lower-case values."""
    codes, _ = _codes([v.lower() for v in values])
    return codes.astype(np.float64)


def _grade_rank(values: Sequence[str]) -> np.ndarray:
    """Sort key of the grade column: school order (2 before 10), then named grades."""
    order = {
        g: i
        for i, g in enumerate(
            sorted(set(values), key=lambda g: (0, int(g), "") if g.isdigit() else (1, 0, g))
        )
    }
    return np.array([order[v] for v in values], dtype=np.float64)


@dataclass
class PreparedCustomers:
    """Everything the model needs, built on the worker: one entry per customer."""

    rows: tuple[CustomerRow, ...]
    # Display texts, one list per column: an export copies only the visible index array
    # on the GUI thread and builds the row tuples on its worker.
    columns: list[list[str]]
    keys: list[np.ndarray]  # one float64 array per column
    ids: np.ndarray
    health_tier: np.ndarray  # index into HEALTH_TIERS, -1 when not scored
    risk_tier: np.ndarray  # index into RISK_TIERS, -1 when not scored
    segment: np.ndarray  # codes into segments
    segments: tuple[str, ...]
    channel: np.ndarray
    channels: tuple[str, ...]
    tutor: np.ndarray
    tutors: tuple[str, ...]
    active: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    # Subject -> rows that booked it (a customer has several subjects).
    subject_rows: dict[str, np.ndarray] = field(default_factory=dict)
    haystack: list[str] = field(default_factory=list)  # lower-case name, for the search

    def __len__(self) -> int:
        return len(self.rows)


def prepare_customers(rows: Sequence[CustomerRow]) -> PreparedCustomers:
    """Display texts, sort keys and filter codes of every row (on the worker)."""

    # Column by column with inline comprehensions: a per-row tuple built by calling a
    # formatting function per cell cost twice as long at 50,000 rows.
    def whole(values: Sequence[float | None]) -> list[str]:
        return ["–" if v is None else f"{v:.0f}" for v in values]

    def col(name: str) -> list[Any]:
        return [getattr(r, name) for r in rows]

    columns = [
        col("name"),
        [v or "–" for v in col("segment")],
        [v.replace("_", " ") or "–" for v in col("channel")],
        [", ".join(s.replace("_", " ") for s in v) or "–" for v in col("subjects")],
        [v or "–" for v in col("main_tutor")],
        whole(col("health_score")),
        [v or "not scored" for v in col("health_tier")],
        whole(col("first_session_success")),
        whole(col("session_velocity")),
        whole(col("inbound_calls")),
        whole(col("goal")),
        whole(col("tutor_consistency")),
        ["–" if v is None else f"{v * 100:.0f} %" for v in col("p_churn_30d")],
        [(v or "").upper() or "–" for v in col("risk_tier")],
        whole(col("sessions_30d")),
        whole(col("days_since_last_session")),
        [str(v) if v else "–" for v in col("open_alerts")],
    ]

    def num(values: Sequence[float | None]) -> np.ndarray:
        return np.array([MISSING if v is None else v for v in values], dtype=np.float64)

    def rank(values: Sequence[str | None], ranks: dict[str, int]) -> np.ndarray:
        return np.array([ranks.get(v or "", 9) for v in values], dtype=np.float64)

    keys = [
        _rank_of_text([r.name for r in rows]),
        _grade_rank([r.segment for r in rows]),
        _rank_of_text(columns[2]),
        _rank_of_text(columns[3]),
        _rank_of_text(columns[4]),
        num([r.health_score for r in rows]),
        rank([r.health_tier for r in rows], HEALTH_RANK),
        num([r.first_session_success for r in rows]),
        num([r.session_velocity for r in rows]),
        num([r.inbound_calls for r in rows]),
        num([r.goal for r in rows]),
        num([r.tutor_consistency for r in rows]),
        num([r.p_churn_30d for r in rows]),
        # Risk: higher is riskier: the tier first (Critical 0 ... Low -3, none -9), then
        # P(churn) inside a tier, so a descending sort puts the riskiest first.
        -rank([r.risk_tier for r in rows], RISK_RANK) + num([r.p_churn_30d for r in rows]).clip(0),
        num([r.sessions_30d for r in rows]),
        num([r.days_since_last_session for r in rows]),
        np.array([r.open_alerts for r in rows], dtype=np.float64),
    ]
    segment, segments = _codes([r.segment for r in rows])
    channel, channels = _codes([r.channel for r in rows])
    tutor, tutors = _codes([r.main_tutor for r in rows])
    by_subject: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        for s in r.subjects:
            by_subject.setdefault(s, []).append(i)
    return PreparedCustomers(
        rows=tuple(rows),
        columns=columns,
        keys=keys,
        ids=np.array([r.customer_id for r in rows], dtype=np.int64),
        health_tier=np.array([HEALTH_RANK.get(r.health_tier or "", -1) for r in rows], np.int8),
        risk_tier=np.array([RISK_RANK.get(r.risk_tier or "", -1) for r in rows], np.int8),
        segment=segment,
        segments=segments,
        channel=channel,
        channels=channels,
        tutor=tutor,
        tutors=tutors,
        active=np.array([r.status in ("active", "") for r in rows], dtype=bool),
        subject_rows={s: np.array(ix, dtype=np.int64) for s, ix in by_subject.items()},
        haystack=[r.name.lower() for r in rows],
    )


@dataclass(frozen=True)
class CustomerFilters:
    tier: str = ALL  # health tier
    risk: str = ALL
    segment: str = ALL
    channel: str = ALL
    subject: str = ALL
    tutor: str = ALL
    text: str = ""  # lower-case part of the name
    active_only: bool = False


def filter_mask(p: PreparedCustomers, f: CustomerFilters) -> np.ndarray:
    """Which rows ``f`` lets through, as a boolean array (vectorised; module doc)."""
    n = len(p)
    mask = np.ones(n, dtype=bool)

    def by_code(codes: np.ndarray, labels: tuple[str, ...], value: str) -> None:
        nonlocal mask
        if value in labels:
            mask &= codes == labels.index(value)
        else:  # a value from an older list that no row has any more: nothing matches
            mask[:] = False

    if f.tier:
        mask &= p.health_tier == HEALTH_RANK.get(f.tier, -2)
    if f.risk:
        mask &= p.risk_tier == RISK_RANK.get(f.risk, -2)
    if f.segment:
        by_code(p.segment, p.segments, f.segment)
    if f.channel:
        by_code(p.channel, p.channels, f.channel)
    if f.tutor:
        by_code(p.tutor, p.tutors, f.tutor)
    if f.subject:
        has = np.zeros(n, dtype=bool)
        has[p.subject_rows.get(f.subject, np.zeros(0, dtype=np.int64))] = True
        mask &= has
    if f.active_only:
        mask &= p.active
    if f.text:
        # Only the rows still in: a name search after a tier filter scans a fraction.
        idx = np.flatnonzero(mask)
        hay, text = p.haystack, f.text
        keep = np.fromiter((text in hay[i] for i in idx), dtype=bool, count=len(idx))
        mask[idx[~keep]] = False
    return mask


class CustomerListModel(NumpyTableModel):
    """The customer list over numpy columns; sorts and filters itself (module doc and
    :mod:`viewmodels.numpy_table`), riskiest first until the user sorts."""

    columns = CUSTOMER_COLUMNS
    column_tips = CUSTOMER_COLUMN_TIPS
    right_aligned = frozenset(_NUMERIC_COLS)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent, sort=(COL_CHURN, Qt.SortOrder.DescendingOrder))
        self._p: PreparedCustomers = prepare_customers(())
        self.filters = CustomerFilters()

    # --- numpy_table hooks

    def _display(self, i: int, column: int) -> Any:
        return self._p.columns[column][i]

    def _role(self, i: int, column: int, role: int) -> Any:
        if role == CUSTOMER_ID_ROLE:
            return int(self._p.ids[i])
        if role == HEALTH_TIER_ROLE:
            return self._p.rows[i].health_tier
        if role == RISK_ROLE:
            return self._p.rows[i].risk_tier
        if role == Qt.ItemDataRole.ToolTipRole and column == 3:
            return self._p.columns[3][i]
        return None

    def _filter_mask(self) -> np.ndarray:
        return filter_mask(self._p, self.filters)

    # --- the data

    def set_prepared(self, prepared: PreparedCustomers) -> None:
        self._p = prepared
        self._load(len(prepared), prepared.keys)

    def set_filters(self, filters: CustomerFilters) -> None:
        if filters != self.filters:
            self.filters = filters
            self._refilter()

    @property
    def prepared(self) -> PreparedCustomers:
        return self._p

    def total(self) -> int:
        return len(self._p)

    def customer_id(self, row: int) -> int:
        return int(self._p.ids[self.source_row(row)])

    def row(self, row: int) -> CustomerRow:
        return self._p.rows[self.source_row(row)]

    def visible_rows(self) -> tuple[list[list[str]], np.ndarray]:
        """What an export writes: the text columns and the visible rows' indexes in the
        current order (a copy of the index array: later filters do not change it)."""
        return self._p.columns, self.view

    def visible_texts(self) -> list[tuple[str, ...]]:
        """The visible rows' display texts in the current order."""
        columns, view = self.visible_rows()
        return list(rows_of(columns, view))


def rows_of(columns: list[list[str]], view: np.ndarray) -> Iterator[tuple[str, ...]]:
    """Row tuples of ``view``'s rows, built as they are consumed (on the export worker)."""
    for i in view.tolist():
        yield tuple(c[i] for c in columns)


def _export_rows(
    columns: list[list[str]], view: np.ndarray, state: TaskState | None
) -> Iterator[tuple[str, ...]]:
    """The rows, reporting progress (a fraction) and stopping when cancelled."""
    rows = rows_of(columns, view)
    if state is None:
        return rows
    return cancellable_rows(  # type: ignore[return-value]
        rows,
        len(view),
        cancelled=lambda: state.cancelled,
        progress=state.progress,
        every=EXPORT_PROGRESS_EVERY,
    )


def export_customers(
    path: str, columns: list[list[str]], view: np.ndarray, state: TaskState | None
) -> int:
    """Write ``view``'s rows of the text columns under the list's header (the export
    task; no Qt)."""
    n = write_csv(path, CUSTOMER_COLUMNS, _export_rows(columns, view, state))
    if state is not None:
        state.progress(1.0)
    return n


def _identity(listing: CustomerList) -> tuple[Any, ...]:
    return (listing.run_id, listing.as_of, len(listing.rows))


class CustomersViewModel(QObject):
    sig_loaded = Signal(object)
    """A new ``services.customers.CustomerList``."""
    sig_error = Signal(str)
    sig_message = Signal(str)
    sig_export_progress = Signal(float)
    """Share of the export written, 0-1."""
    sig_export_finished = Signal(bool, str)
    """(ok, message)."""
    sig_tabs_stale = Signal()
    """A new scoring run (or other customers) arrived: the Velocity and Churn tabs'
    figures are out of date and recompute when shown (the visible one at once)."""

    def __init__(
        self,
        runner: TaskRunner,
        *,
        load_list: Callable[[], CustomerList],
        load_first_sessions: Callable[[str], Any] | None = None,
        load_velocity: Callable[[], Any] | None = None,
        load_churn: Callable[[], Any] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._load_list = load_list
        self.customers = CustomerListModel(self)
        self.customer_list: CustomerList | None = None
        # The "First sessions" tab's view model (None: the page shows no such tab).
        self.first_sessions = (
            FirstSessionStatsViewModel(runner, load=load_first_sessions, parent=self)
            if load_first_sessions is not None
            else None
        )
        # The "Velocity" and "Churn" tabs' view models (None: no such tab).
        self.velocity = (
            VelocityViewModel(runner, load=load_velocity, parent=self)
            if load_velocity is not None
            else None
        )
        self.churn = (
            ChurnViewModel(runner, load=load_churn, parent=self) if load_churn is not None else None
        )

    @Slot()
    def load(self) -> None:
        load = self._load_list

        def work(_state: Any) -> tuple[CustomerList, PreparedCustomers]:
            listing = load()
            return listing, prepare_customers(listing.rows)

        self.runner.submit(
            "customers",
            work,
            title="Customer list",
            on_success=self._on_list,
            on_failure=lambda exc, _t: self.sig_error.emit(
                f"The customer list could not load: {exc}"
            ),
            record=False,
            coalesce=True,
        )

    def _on_list(self, result: tuple[CustomerList, PreparedCustomers]) -> None:
        previous = self.customer_list
        self.customer_list, prepared = result
        self.customers.set_prepared(prepared)
        self.sig_loaded.emit(self.customer_list)
        if previous is not None and _identity(previous) != _identity(self.customer_list):
            # The tabs' figures are relative to the scoring run's data time: a reload of
            # the same run changes nothing there, a new run changes everything.
            for tab in (self.velocity, self.churn):
                if tab is not None:
                    tab.invalidate()
            self.sig_tabs_stale.emit()

    def set_filters(self, **changes: Any) -> None:
        self.customers.set_filters(replace(self.customers.filters, **changes))

    @Slot(str)
    def set_search(self, text: str) -> None:
        self.set_filters(text=text.strip().lower())

    def export_csv(self, path: str) -> bool:
        """The visible rows in their current order, written on a worker with progress.
        The rows are fixed now (a copy of the visible index array; the row tuples are
        built on the worker): a filter changed during the export does not change the
        file, and a new list load replaces the columns rather than changing them."""
        columns, view = self.customers.visible_rows()

        def done(n: int) -> None:
            msg = f"Exported {n:,} customers to {path}"
            self.sig_message.emit(msg)
            self.sig_export_finished.emit(True, msg)

        def failed(exc: BaseException, _trace: str) -> None:
            if isinstance(exc, ExportCancelled):
                msg = f"Export cancelled; nothing was written to {path}"
                self.sig_message.emit(msg)
            else:
                msg = f"Export failed: {exc}"
                self.sig_error.emit(msg)
            self.sig_export_finished.emit(False, msg)

        rec = self.runner.submit(
            "customers-export",
            lambda state: export_customers(path, columns, view, state),
            title="Export customers to CSV",
            trigger="user",
            on_success=done,
            on_failure=failed,
            on_progress=lambda v: (
                self.sig_export_progress.emit(float(v)) if isinstance(v, float) else None
            ),
        )
        return rec is not None

    @Slot()
    def cancel_export(self) -> bool:
        """Stop a running export; the writer removes its temporary file (no partial
        file is left), and ``sig_export_finished`` reports it as cancelled."""
        return self.runner.cancel("customers-export")

    @property
    def exporting(self) -> bool:
        return self.runner.is_running("customers-export")


# ---------------------------------------------------------------------- the detail


def _when(at: datetime | None, tz: tzinfo | None, fmt: str = "%d %b %Y %H:%M") -> str:
    return "–" if at is None else at.astimezone(tz).strftime(fmt)


class CustomerDetailViewModel(LoadingViewModel):
    sig_loaded = Signal(object)
    """A new ``services.customers.CustomerBundle``."""
    sig_error = Signal(str)

    def __init__(
        self,
        runner: TaskRunner,
        *,
        load_bundle: Callable[[int], CustomerBundle],
        timezone: Callable[[], tzinfo | None] = lambda: None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._load_bundle = load_bundle
        self._tz = timezone
        self.bundle: CustomerBundle | None = None
        self.customer_id: int | None = None

    @Slot(int)
    def load(self, customer_id: int) -> None:
        self.customer_id = int(customer_id)
        self._set_loading(True)
        load, cid = self._load_bundle, int(customer_id)
        self.runner.submit(
            "customer-detail",
            lambda _state: load(cid),
            title="Customer detail",
            on_success=self._on_loaded,
            on_failure=self._on_failed,
            record=False,
            coalesce=True,  # only the newest customer asked for is shown
        )

    def reload(self) -> None:
        if self.customer_id is not None:
            self.load(self.customer_id)

    def _on_loaded(self, bundle: CustomerBundle) -> None:
        if bundle.customer["id"] != self.customer_id:
            return  # an older request: a newer one is on its way
        self.bundle = bundle
        self._set_loading(False)
        self.sig_loaded.emit(bundle)

    def _on_failed(self, exc: BaseException, _trace: str) -> None:
        self._set_loading(False)
        self.sig_error.emit(f"The customer could not load: {exc}")

    # --- narrow accessors for the view (ready texts)

    def session_rows(self) -> list[tuple[str, ...]]:
        b, tz = self.bundle, self._tz()
        if b is None:
            return []
        return [
            (
                _when(s["start_time"], tz),
                (s["subject"] or "–").replace("_", " "),
                s["tutor"] or "–",
                (s["status"] or "").replace("_", " "),
                "–" if s["rating"] is None else "★" * int(s["rating"]),
                "first" if s["first_session"] else "",
            )
            for s in b.sessions
        ]

    def call_rows(self) -> list[tuple[str, ...]]:
        b, tz = self.bundle, self._tz()
        if b is None:
            return []
        return [
            (
                _when(c["call_time"], tz),
                c["reason"] or "–",
                "–" if c["duration_seconds"] is None else f"{c['duration_seconds'] / 60:.0f} min",
                c["sentiment"] or "–",
            )
            for c in b.calls
        ]

    def history_rows(self) -> list[tuple[str, ...]]:
        b = self.bundle
        if b is None:
            return []
        return [
            (at.strftime("%d %b %Y"), _n(score), tier or "–", _pct(p))
            for at, score, tier, p in reversed(b.history)
        ]

    def contact_rows(self) -> list[tuple[str, ...]]:
        b, tz = self.bundle, self._tz()
        if b is None:
            return []
        return [
            (
                _when(c["at"], tz),
                c["actor"] or "–",
                c["action"].replace(".", " ").replace("_", " "),
                c["about"] or str(c["details"].get("note", "")),
            )
            for c in b.contacts
        ]

    def history_series(self) -> tuple[list[float], list[float]]:
        """(timestamps, health scores) of the score history, for a chart."""
        b = self.bundle
        if b is None:
            return [], []
        pts = [(at.timestamp(), s) for at, s, _t, _p in b.history if s is not None]
        return [p[0] for p in pts], [p[1] for p in pts]


def build_customer_view_models(
    runner: TaskRunner, backend: Any, parent: QObject | None = None
) -> tuple[CustomersViewModel, CustomerDetailViewModel]:
    """The list and detail view models bound to the app's backend (its engine and time
    zone); every bound call runs on the task runner."""
    from viewmodels.tasks import lazy_call

    customer_bundle = lazy_call("services.customers", "customer_bundle")
    list_customers = lazy_call("services.customers", "list_customers")
    first_session_stats = lazy_call("services.first_session_stats", "first_session_stats")
    customer_velocity = lazy_call("services.customer_velocity", "customer_velocity")
    customer_churn_view = lazy_call("services.customer_churn_view", "customer_churn_view")

    def alert_settings() -> Any:
        # The tutor WoW drop flag uses the alert rule's thresholds as the user set them.
        return getattr(backend.settings, "alerts", None)

    customers = CustomersViewModel(
        runner,
        load_list=lambda: list_customers(backend.engine()),
        load_first_sessions=lambda period: first_session_stats(
            backend.engine(), period, alert_settings=alert_settings()
        ),
        load_velocity=lambda: customer_velocity(backend.engine()),
        load_churn=lambda: customer_churn_view(backend.engine()),
        parent=parent,
    )
    detail = CustomerDetailViewModel(
        runner,
        load_bundle=lambda cid: customer_bundle(backend.engine(), cid),
        timezone=backend.timezone,
        parent=parent,
    )
    return customers, detail
