"""The alert queue as a table model that stays fast with 50,000 alerts.

Rows are prepared once, off the GUI thread (:func:`prepare_queue`), into columns of
numbers: every sortable column becomes an integer rank, every filterable field a code.
Sorting is then one stable ``argsort`` and filtering one boolean mask, each a few
milliseconds for 50,000 rows, instead of the Python callback per comparison that a
``QSortFilterProxyModel`` would make (n·log n calls into Python per sort); the
machinery is :class:`viewmodels.numpy_table.NumpyTableModel`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt

from services.alerts.model import SEVERITY_RANK
from viewmodels.numpy_table import NumpyTableModel, text_rank

COLUMNS = (
    "Severity",
    "Priority",
    "Rule",
    "Subject",
    "Manager",
    "State",
    "Assignee",
    "Raised",
    "Alert",
)
COL_SEVERITY, COL_PRIORITY, COL_RULE, COL_SUBJECT, COL_MANAGER, COL_STATE = range(6)
COL_ASSIGNEE, COL_RAISED, COL_TITLE = 6, 7, 8

ALERT_ID_ROLE = Qt.ItemDataRole.UserRole + 40
SEVERITY_ROLE = Qt.ItemDataRole.UserRole + 41
KEY_ROLE = Qt.ItemDataRole.UserRole + 42

# State filter choices: what a manager means by them, not the raw column.
STATE_FILTERS = ("open", "snoozed", "active", "acknowledged", "closed", "all")
_STATE_CODE = {"active": 0, "acknowledged": 1, "resolved": 2, "dismissed": 3}


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows. Empty sets mean "any"."""

    state: str = "open"  # one of STATE_FILTERS
    severities: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    subject_types: frozenset[str] = frozenset()
    manager_ids: frozenset[int] = frozenset()
    text: str = ""
    mine: bool = False

    def __post_init__(self) -> None:
        if self.state not in STATE_FILTERS:
            raise ValueError(f"state filter must be one of {', '.join(STATE_FILTERS)}")

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "severities": sorted(self.severities),
            "rules": sorted(self.rules),
            "subject_types": sorted(self.subject_types),
            "manager_ids": sorted(self.manager_ids),
            "text": self.text,
            "mine": self.mine,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> QueueFilter:
        return cls(
            state=str(raw.get("state", "open")),
            severities=frozenset(raw.get("severities") or ()),
            rules=frozenset(raw.get("rules") or ()),
            subject_types=frozenset(raw.get("subject_types") or ()),
            manager_ids=frozenset(int(m) for m in raw.get("manager_ids") or ()),
            text=str(raw.get("text") or ""),
            mine=bool(raw.get("mine")),
        )


@dataclass
class PreparedQueue:
    """Columns of the queue, row i of every array/list being the same alert."""

    rows: list[Any] = field(default_factory=list)
    display: list[tuple[str, ...]] = field(default_factory=list)
    haystack: list[str] = field(default_factory=list)  # lower-case text for search
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    sort_keys: list[np.ndarray] = field(default_factory=list)  # one per column
    severity: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    state: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    snoozed_until: np.ndarray = field(default_factory=lambda: np.zeros(0))  # epoch s; 0 none
    rule: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    subject_type: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    manager_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # -1 none
    assignee: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    managers: dict[int, str] = field(default_factory=dict)
    rule_titles: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)


def _ts(value: datetime | None) -> float:
    return value.timestamp() if value is not None else 0.0


def _age(created: datetime | None, now: datetime) -> str:
    if created is None:
        return ""
    seconds = (now - created).total_seconds()
    if seconds < 3600:
        return f"{max(0, seconds) / 60:.0f} min ago"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def state_text(state: str, snoozed_until: datetime | None, now: datetime) -> str:
    if state in ("active", "acknowledged") and snoozed_until is not None and snoozed_until > now:
        return f"Snoozed until {snoozed_until.astimezone():%a %d %b %H:%M}"
    return state.capitalize()


def prepare_queue(
    rows: Iterable[Any], rule_titles: dict[str, str], now: datetime | None = None
) -> PreparedQueue:
    """Everything the model needs, computed once (call it on a worker)."""
    now = now or datetime.now(UTC)
    rows = list(rows)
    display, hay, managers = [], [], {}
    for r in rows:
        rule_title = rule_titles.get(r.rule, r.rule.replace("_", " ").capitalize())
        subject = r.subject_name or f"{r.subject_type} {r.subject_id}"
        manager = r.manager_name or ""
        if r.manager_id is not None and manager:
            managers[int(r.manager_id)] = manager
        display.append(
            (
                r.severity,
                str(r.priority),
                rule_title,
                subject,
                manager,
                state_text(r.state, r.snoozed_until, now),
                r.assignee or "",
                _age(r.created_at, now),
                r.title,
            )
        )
        hay.append(f"{subject}\n{r.title}\n{rule_title}\n{manager}\n{r.assignee or ''}".lower())
    n = len(rows)
    prepared = PreparedQueue(
        rows=rows, display=display, haystack=hay, managers=managers, rule_titles=dict(rule_titles)
    )
    if not n:
        prepared.sort_keys = [np.zeros(0, np.int64) for _ in COLUMNS]
        return prepared
    prepared.ids = np.fromiter((r.id for r in rows), np.int64, n)
    prepared.severity = np.fromiter((SEVERITY_RANK.get(r.severity, 0) for r in rows), np.int8, n)
    prepared.state = np.fromiter((_STATE_CODE.get(r.state, 9) for r in rows), np.int8, n)
    prepared.snoozed_until = np.fromiter((_ts(r.snoozed_until) for r in rows), float, n)
    prepared.rule = np.array([r.rule for r in rows], dtype=object)
    prepared.subject_type = np.array([r.subject_type for r in rows], dtype=object)
    prepared.manager_id = np.fromiter(
        (-1 if r.manager_id is None else int(r.manager_id) for r in rows), np.int64, n
    )
    prepared.assignee = np.array([r.assignee or "" for r in rows], dtype=object)
    prepared.sort_keys = [
        prepared.severity.astype(np.int64),
        np.fromiter((r.priority for r in rows), np.int64, n),
        text_rank([d[COL_RULE].lower() for d in display]),
        text_rank([d[COL_SUBJECT].lower() for d in display]),
        text_rank([d[COL_MANAGER].lower() for d in display]),
        prepared.state.astype(np.int64),
        text_rank([d[COL_ASSIGNEE].lower() for d in display]),
        np.fromiter((_ts(r.created_at) for r in rows), float, n),
        text_rank([d[COL_TITLE].lower() for d in display]),
    ]
    return prepared


class AlertQueueModel(NumpyTableModel):
    """The queue: prepared rows, seen through a sort permutation and a filter mask
    (:class:`~viewmodels.numpy_table.NumpyTableModel`)."""

    columns = COLUMNS
    right_aligned = frozenset({COL_PRIORITY})

    def __init__(self, user: str = "", parent: QObject | None = None) -> None:
        super().__init__(parent, sort=(COL_PRIORITY, Qt.SortOrder.DescendingOrder))
        self.user = user
        self._data = PreparedQueue()
        self._filter = QueueFilter()
        self._now = datetime.now(UTC)
        self.set_queue(self._data, self._now)

    # ------------------------------------------------------------------ cells

    def _display(self, i: int, column: int) -> Any:
        return self._data.display[i][column]

    def _role(self, i: int, column: int, role: int) -> Any:
        if role == ALERT_ID_ROLE:
            return int(self._data.ids[i])
        if role == SEVERITY_ROLE:
            return self._data.display[i][COL_SEVERITY]
        if role == KEY_ROLE:
            return self._data.rows[i].key
        if role == Qt.ItemDataRole.ToolTipRole and column == COL_TITLE:
            r = self._data.rows[i]
            return f"{r.title}\nNext step: {r.next_step or '-'}"
        return None

    # ------------------------------------------------------------------ commands

    def set_queue(self, prepared: PreparedQueue, now: datetime | None = None) -> None:
        self._now = now or datetime.now(UTC)
        self._data = prepared
        n = len(prepared)
        keys = prepared.sort_keys or [np.zeros(0, np.int64) for _ in COLUMNS]
        # Ties in any column: most severe, then highest priority, then newest.
        ties = np.lexsort((-prepared.ids, -keys[COL_PRIORITY], -keys[COL_SEVERITY])) if n else None
        self._load(n, keys, ties)

    def set_filter(self, flt: QueueFilter) -> None:
        self._filter = flt
        self._refilter()

    @property
    def filter(self) -> QueueFilter:
        return self._filter

    @property
    def sort_state(self) -> tuple[int, Qt.SortOrder]:
        return self._sort or (COL_PRIORITY, Qt.SortOrder.DescendingOrder)

    def alert_id(self, row: int) -> int:
        return int(self._data.ids[self.source_row(row)])

    def row_data(self, row: int) -> Any:
        return self._data.rows[self.source_row(row)]

    def visible_ids(self) -> list[int]:
        return [int(x) for x in self._data.ids[self._view]]

    def visible_rows(self) -> list[tuple[str, ...]]:
        """The filtered, sorted rows as displayed (for CSV export)."""
        return [self._data.display[int(i)] for i in self._view]

    def row_of(self, alert_id: int) -> int | None:
        hits = np.nonzero(self._data.ids[self._view] == alert_id)[0]
        return int(hits[0]) if len(hits) else None

    @property
    def total(self) -> int:
        return len(self._data)

    @property
    def managers(self) -> dict[int, str]:
        return dict(self._data.managers)

    @property
    def rule_titles(self) -> dict[str, str]:
        return dict(self._data.rule_titles)

    # ------------------------------------------------------------------ internals

    def _filter_mask(self) -> np.ndarray:
        d, f = self._data, self._filter
        n = len(d)
        mask = np.ones(n, bool)
        if not n:
            return mask
        now = self._now.timestamp()
        is_open = d.state <= 1
        snoozed = is_open & (d.snoozed_until > now)
        if f.state == "open":
            mask &= is_open & ~snoozed
        elif f.state == "snoozed":
            mask &= snoozed
        elif f.state == "active":
            mask &= (d.state == 0) & ~snoozed
        elif f.state == "acknowledged":
            mask &= (d.state == 1) & ~snoozed
        elif f.state == "closed":
            mask &= ~is_open
        if f.severities:
            mask &= np.isin(d.severity, [SEVERITY_RANK[s] for s in f.severities])
        if f.rules:
            mask &= np.isin(d.rule, list(f.rules))
        if f.subject_types:
            mask &= np.isin(d.subject_type, list(f.subject_types))
        if f.manager_ids:
            mask &= np.isin(d.manager_id, list(f.manager_ids))
        if f.mine:
            mask &= d.assignee == self.user
        needle = f.text.strip().lower()
        if needle:
            hay = d.haystack
            candidates = np.nonzero(mask)[0]
            hits = np.fromiter((needle in hay[i] for i in candidates), bool, len(candidates))
            mask[candidates[~hits]] = False
        return mask
