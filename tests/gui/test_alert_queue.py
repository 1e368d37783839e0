"""The alert queue model without a view: sorting, every filter, search, "mine"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt

from viewmodels.alert_queue import (
    ALERT_ID_ROLE,
    COL_PRIORITY,
    COL_SEVERITY,
    COL_SUBJECT,
    AlertQueueModel,
    QueueFilter,
    prepare_queue,
)

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
TITLES = {"churn_risk": "Churn risk", "customer_calls": "Customer calling support"}


def alert(i: int, **kw):  # type: ignore[no-untyped-def]
    base = {
        "id": i,
        "key": f"churn_risk:tutor:{i}",
        "rule": "churn_risk",
        "subject_type": "tutor",
        "subject_id": str(i),
        "subject_name": f"Tutor {i:03d}",
        "tutor_id": i,
        "customer_id": None,
        "manager_id": 1,
        "manager_name": "Dana Lopez",
        "severity": "High",
        "priority": 50,
        "state": "active",
        "title": f"Tutor {i}: risk",
        "next_step": "call",
        "created_at": NOW - timedelta(hours=i),
        "updated_at": NOW,
        "snoozed_until": None,
        "assignee": None,
        "closed_at": None,
    }
    return SimpleNamespace(**(base | kw))


@pytest.fixture
def model(qtbot):  # type: ignore[no-untyped-def]
    m = AlertQueueModel(user="ana")
    rows = [
        alert(1, severity="Critical", priority=90, subject_name="Sarah Chen"),
        alert(2, severity="Low", priority=20, assignee="ana"),
        alert(3, severity="High", priority=60, manager_id=2, manager_name="Ravi Shah"),
        alert(
            4,
            rule="customer_calls",
            subject_type="customer",
            subject_name="Kim Park",
            severity="Critical",
            priority=85,
            manager_id=None,
            manager_name=None,
            title="Kim Park: 3 calls to support in 14 days",
        ),
        alert(5, state="acknowledged", priority=55),
        alert(6, snoozed_until=NOW + timedelta(days=1), priority=70),
        alert(7, state="resolved", priority=99),
    ]
    m.set_queue(prepare_queue(rows, TITLES, NOW), NOW)
    return m


def ids(m: AlertQueueModel) -> list[int]:
    return [m.data(m.index(r, 0), ALERT_ID_ROLE) for r in range(m.rowCount())]


def test_default_is_open_unsnoozed_by_priority(model) -> None:  # type: ignore[no-untyped-def]
    assert ids(model) == [1, 4, 3, 5, 2]  # 6 snoozed, 7 resolved


def test_sorting_by_any_column_both_ways(model) -> None:  # type: ignore[no-untyped-def]
    model.sort(COL_PRIORITY, Qt.SortOrder.AscendingOrder)
    assert ids(model) == [2, 5, 3, 4, 1]
    model.sort(COL_SEVERITY, Qt.SortOrder.DescendingOrder)
    assert ids(model)[:2] == [1, 4] and ids(model)[-1] == 2  # Critical first, ties by priority
    model.sort(COL_SUBJECT, Qt.SortOrder.AscendingOrder)
    names = [model.data(model.index(r, COL_SUBJECT)) for r in range(model.rowCount())]
    assert names == sorted(names, key=str.lower)


def test_filters(model) -> None:  # type: ignore[no-untyped-def]
    cases = {
        QueueFilter(severities=frozenset({"Critical"})): [1, 4],
        QueueFilter(rules=frozenset({"customer_calls"})): [4],
        QueueFilter(subject_types=frozenset({"tutor"})): [1, 3, 5, 2],
        QueueFilter(manager_ids=frozenset({2})): [3],
        QueueFilter(state="acknowledged"): [5],
        QueueFilter(state="snoozed"): [6],
        QueueFilter(state="closed"): [7],
        QueueFilter(state="all"): [7, 1, 4, 6, 3, 5, 2],
        QueueFilter(mine=True): [2],
        QueueFilter(text="SARAH"): [1],
        QueueFilter(text="calls to support"): [4],
        QueueFilter(text="ravi"): [3],  # the manager's name
        QueueFilter(text="nobody-matches"): [],
        QueueFilter(severities=frozenset({"High"}), text="tutor 00"): [3, 5],
    }
    for flt, expected in cases.items():
        model.set_filter(flt)
        assert ids(model) == expected, flt


def test_display_and_roles(model) -> None:  # type: ignore[no-untyped-def]
    model.set_filter(QueueFilter(state="snoozed"))
    assert model.data(model.index(0, 5)).startswith("Snoozed until")
    model.set_filter(QueueFilter(rules=frozenset({"customer_calls"})))
    assert model.data(model.index(0, 2)) == "Customer calling support"
    assert model.data(model.index(0, 4)) == ""  # no manager for a customer
    assert "Next step" in model.data(model.index(0, 8), Qt.ItemDataRole.ToolTipRole)
    assert model.row_of(4) == 0 and model.row_of(1) is None


def test_bad_state_filter_is_refused() -> None:
    with pytest.raises(ValueError, match="state filter"):
        QueueFilter(state="open-ish")


def test_filter_round_trips_through_json() -> None:
    f = QueueFilter(
        state="all", severities=frozenset({"High"}), manager_ids=frozenset({3}), text="x", mine=True
    )
    assert QueueFilter.from_json(f.as_json()) == f


def test_fifty_thousand_alerts(qtbot) -> None:  # type: ignore[no-untyped-def]
    rows = [
        alert(
            i,
            severity=("Critical", "High", "Medium", "Low")[i % 4],
            priority=i % 101,
            manager_id=i % 7,
            assignee="ana" if i % 10 == 0 else None,
        )
        for i in range(1, 50_001)
    ]
    m = AlertQueueModel(user="ana")
    m.set_queue(prepare_queue(rows, TITLES, NOW), NOW)
    assert m.rowCount() == 50_000
    m.sort(COL_PRIORITY, Qt.SortOrder.AscendingOrder)
    first = [int(m.data(m.index(r, COL_PRIORITY))) for r in range(5)]
    assert first == [0, 0, 0, 0, 0]
    m.set_filter(QueueFilter(severities=frozenset({"Critical"}), mine=True))
    assert m.rowCount() == sum(1 for i in range(1, 50_001) if i % 4 == 0 and i % 10 == 0)
    m.set_filter(QueueFilter(text="tutor 49999"))
    assert ids(m) == [49999]
