"""Dashboard metrics from a hand-made marketplace, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import insert

from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import (
    AvailabilitySlot,
    Booking,
    Intervention,
    Reject,
    ScoringRun,
    SyncState,
    Tutor,
    TutoringSession,
    TutorPrediction,
)
from services.metrics import (
    _local_hour_and_weekday,
    _us,
    compute_dashboard,
    data_as_of,
    database_size,
    list_interventions,
    list_rejects,
    local_day_starts,
    model_registry,
    sla_state,
)

# A Friday afternoon in UTC; 10:30 in New York.
AS_OF = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
NY = ZoneInfo("America/New_York")


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


class _Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> int:
        self.n += 1
        return self.n


def _session(ids, start, *, hours=1.0, status="completed", rating=None):
    return {
        "id": ids(),
        "updated_at": AS_OF - timedelta(minutes=1),
        "start_time": start,
        "end_time": start + timedelta(hours=hours),
        "status": status,
        "rating": rating,
        "tutor_id": 1,
        "customer_id": 1,
    }


def _fill(engine) -> None:
    ids = _Ids()
    h = AS_OF.replace(minute=0)
    sessions = [
        # three live in the current hour (one started earlier and runs over), one cancelled
        _session(ids, h, status="completed", rating=5),
        _session(ids, h + timedelta(minutes=30), status="scheduled"),
        _session(ids, h - timedelta(minutes=30), status="completed", rating=4),
        _session(ids, h, status="cancelled"),
        # same hour last week: two
        _session(ids, h - timedelta(days=7), rating=5),
        _session(ids, h - timedelta(days=7)),
        # rated earlier this week: a 3 and a 5
        _session(ids, AS_OF - timedelta(days=2), rating=3),
        _session(ids, AS_OF - timedelta(days=3), rating=5),
        # the previous week: two 5s
        _session(ids, AS_OF - timedelta(days=9), rating=5),
        _session(ids, AS_OF - timedelta(days=10), rating=5),
    ]
    slots = [
        {
            "id": i + 1,
            "updated_at": AS_OF - timedelta(days=1),
            "tutor_id": 1,
            "starts_at": AS_OF - timedelta(days=d, hours=5),
            "ends_at": AS_OF - timedelta(days=d, hours=0),
        }
        for i, d in enumerate((1, 2, 8, 9))  # 10 h this week, 10 h the week before
    ]
    bookings = [
        {
            "id": 1,
            "updated_at": AS_OF - timedelta(days=1),
            "status": "unfilled",
            "scheduled_time": AS_OF - timedelta(days=1),
        }
    ]
    with engine.begin() as conn:
        conn.execute(insert(TutoringSession), sessions)
        conn.execute(insert(AvailabilitySlot), slots)
        conn.execute(insert(Booking), bookings)
        conn.execute(
            insert(SyncState),
            [
                {"resource": "sessions", "cursor_updated_at": AS_OF, "status": "ok"},
                {
                    "resource": "bookings",
                    "cursor_updated_at": AS_OF - timedelta(hours=1),
                    "status": "ok",
                },
            ],
        )


def _card(dash, key):
    return next(c for c in dash.cards if c.key == key)


def test_metric_cards_from_a_known_week(engine):
    _fill(engine)
    dash = compute_dashboard(engine, tz=NY, now=AS_OF + timedelta(days=2), daily_target=4)
    # "Now" is what the data describes, not the wall clock two days later.
    assert dash.as_of == AS_OF
    assert data_as_of(engine, now=AS_OF + timedelta(days=2)) == AS_OF

    active = _card(dash, "active_sessions")
    assert active.value == 3 and active.previous == 2
    assert active.trend == "up" and active.trend_text.startswith("+50 %")
    assert active.status == "green"
    assert len(active.spark) == 168 and active.spark[-1] == 3

    today = _card(dash, "sessions_today")
    # New York's Friday: the three live sessions (the cancelled one does not count)
    assert today.value == 3
    assert today.status == "red"  # 3 of a target of 4 is 75 %
    assert "target 4" in today.detail
    assert len(today.spark) == 7 and today.spark_labels[-1] == "Fri"

    rating = _card(dash, "avg_rating")
    assert rating.value == pytest.approx((5 + 4 + 3 + 5) / 4)
    assert rating.previous == pytest.approx(5.0)
    assert rating.trend == "down" and rating.status == "yellow"

    sat = _card(dash, "satisfaction")
    assert sat.value == pytest.approx(3 / 4) and sat.display == "75 %"
    assert sat.status == "yellow"

    util = _card(dash, "utilization")
    # booked this week: 5 sessions of 1 h (three this hour, two rated earlier) of 10 h
    assert util.value == pytest.approx(0.5)

    cover = _card(dash, "supply_demand")
    # 10 h supply / (5 h booked + 1 unfilled booking x 1 h)
    assert cover.value == pytest.approx(10 / 6)
    assert cover.status == "red" and "surplus" in cover.detail

    grid = np.array(dash.heatmap)
    assert grid.shape == (7, 24)
    # 15:00 UTC on a Friday is 10:00 in New York (EST, UTC-5).
    # 15:00 and 15:30 today, two at 15:00 a week ago; the cancelled one is left out
    assert grid[4, 10] == 4
    assert grid[4, 9] == 1  # the one that started at 14:30
    assert grid.sum() == 9  # every non-cancelled session of the last 28 days
    assert dash.tiers is None and dash.critical == ()


def test_empty_database_gives_empty_states_not_errors(engine):
    dash = compute_dashboard(engine, tz=UTC, now=AS_OF)
    assert not dash.has_sessions
    assert dash.tiers is None
    for card in dash.cards:
        assert card.status == "none", card
        assert card.trend == "none"
    rating = _card(dash, "avg_rating")
    assert rating.display == "–"
    assert all(math.isnan(v) for v in rating.spark)


def test_tiers_and_critical_panel_from_the_newest_scoring_run(engine):
    now = AS_OF
    with engine.begin() as conn:
        conn.execute(
            insert(Tutor),
            [
                {"id": i, "updated_at": now, "name": f"Tutor {i}", "manager_id": 9}
                for i in (1, 2, 3, 4)
            ],
        )
        conn.execute(insert(ScoringRun), [{"id": 1, "status": "ok"}, {"id": 2, "status": "ok"}])
        old = {"run_id": 1, "as_of": now, "performance_tier": "Gold", "risk_tier": "Critical"}
        conn.execute(insert(TutorPrediction), [dict(old, tutor_id=i) for i in (1, 2, 3, 4)])
        rows = [
            (1, "Platinum", "Low", 0.05, []),
            (2, "Gold", "Critical", 0.72, [{"text": "sessions down 40 % vs last month"}]),
            (3, "Bronze", "High", 0.55, [{"label": "3 reschedules last week"}]),
            (4, "Bronze", "Critical", 0.91, None),
        ]
        conn.execute(
            insert(TutorPrediction),
            [
                {
                    "run_id": 2,
                    "tutor_id": t,
                    "as_of": now,
                    "performance_tier": tier,
                    "risk_tier": risk,
                    "p_churn_30d": p,
                    "factors": f,
                }
                for t, tier, risk, p, f in rows
            ],
        )
        conn.execute(
            insert(Intervention),
            [
                {
                    "tutor_id": 4,
                    "intervention_type": "manager_coaching",
                    "status": "open",
                    "idempotency_key": "k1",
                    "reason": "x",
                }
            ],
        )
    dash = compute_dashboard(engine, tz=UTC, now=now)
    assert dash.tiers == {"Platinum": 1, "Gold": 1, "Silver": 0, "Bronze": 2}
    assert [c.tutor_id for c in dash.critical] == [4, 2, 3]
    assert [c.risk_tier for c in dash.critical] == ["Critical", "Critical", "High"]
    assert dash.critical[1].reason == "sessions down 40 % vs last month"
    assert dash.critical[2].reason == "3 reschedules last week"
    assert dash.critical[0].open_intervention and not dash.critical[1].open_intervention
    assert dash.critical[1].manager_id == 9
    assert dash.scoring_run is not None and dash.scoring_run["id"] == 2


def test_local_days_and_hours_follow_daylight_saving():
    # New York falls back on Sunday 1 Nov 2026: that local day lasts 25 hours.
    starts = local_day_starts(datetime(2026, 11, 1, 12, tzinfo=UTC), 2, NY)
    assert (starts[1] - starts[0]) / 3_600_000_000 == 25
    assert (starts[2] - starts[1]) / 3_600_000_000 == 24
    # 13:00 UTC is 09:00 EDT on Saturday 31 Oct and 08:00 EST on Monday 2 Nov.
    us = np.array(
        [_us(datetime(2026, 10, 31, 13, tzinfo=UTC)), _us(datetime(2026, 11, 2, 13, tzinfo=UTC))]
    )
    hour, weekday = _local_hour_and_weekday(us, NY)
    assert hour.tolist() == [9, 8]
    assert weekday.tolist() == [5, 0]


def test_interventions_rejects_registry_and_size(engine, tmp_path):
    now = AS_OF
    with engine.begin() as conn:
        conn.execute(insert(Tutor), [{"id": 7, "updated_at": now, "name": "Sarah Chen"}])
        conn.execute(
            insert(Intervention),
            [
                {
                    "tutor_id": 7,
                    "intervention_type": "manager_coaching",
                    "status": "open",
                    "due_at": now + timedelta(hours=48),
                    "idempotency_key": "a",
                    "reason": "Critical risk",
                    "pending": True,
                    "conflict": None,
                },
                {
                    "tutor_id": 8,
                    "intervention_type": "training_module",
                    "status": "in_progress",
                    "due_at": now - timedelta(hours=1),
                    "idempotency_key": "b",
                    "reason": "ratings falling",
                    "conflict": {"status": "completed"},
                    "pending": False,
                },
            ],
        )
        conn.execute(
            insert(Reject),
            [
                {
                    "resource": "sessions",
                    "record_id": "12",
                    "reason": "rating: 7 is above 5",
                    "raw": '{"id": 12, "rating": 7}',
                    "raw_sha1": "x" * 40,
                }
            ],
        )
    rows = list_interventions(engine)
    assert [r.tutor_name for r in rows] == ["Sarah Chen", "Tutor 8"]
    assert rows[0].pending and not rows[0].conflict
    assert rows[1].conflict
    assert sla_state(rows[0].due_at, rows[0].status, now) == "on_track"
    assert sla_state(rows[1].due_at, rows[1].status, now) == "overdue"
    assert sla_state(now + timedelta(hours=3), "open", now) == "due_soon"
    assert sla_state(now - timedelta(hours=3), "completed", now) == "done"

    rejects = list_rejects(engine)
    assert len(rejects) == 1 and rejects[0].reason == "rating: 7 is above 5"
    assert json.loads(rejects[0].raw) == {"id": 12, "rating": 7}

    models = tmp_path / "models"
    # Any other layout with manifest-like files is listed as found.
    (models / "churn-2026-11").mkdir(parents=True)
    (models / "churn-2026-11" / "manifest.json").write_text(
        json.dumps(
            {
                "name": "churn",
                "version": "v3",
                "trained_at": "2026-11-20T02:00:00Z",
                "metrics": {"auc_30d": 0.8123, "brier": 0.1},
                "active": True,
            }
        )
    )
    (models / "broken").mkdir()
    (models / "broken" / "manifest.json").write_text("{not json")
    entries = model_registry(models)
    assert [(e.name, e.version, e.active) for e in entries] == [
        ("broken", "?", False),
        ("churn", "v3", True),
    ]
    assert entries[0].warning
    assert "auc_30d 0.812" in entries[1].metrics
    assert model_registry(tmp_path / "nowhere") == []

    # The models issue's registry layout: <name>/vNNNN/metadata.json with checksums.
    import hashlib

    reg = tmp_path / "registry"
    for version, auc, good_file in (
        (1, 0.80, True),
        (2, 0.83, True),
        (3, 0.70, True),
        (4, 0.85, False),
    ):
        folder = reg / "tutor_churn" / f"v{version:04d}"
        folder.mkdir(parents=True)
        (folder / "model.ubj").write_bytes(b"model-%d" % version)
        digest = hashlib.sha256(b"model-%d" % version).hexdigest()
        (folder / "metadata.json").write_text(
            json.dumps(
                {
                    "name": "tutor_churn",
                    "version": version,
                    "kind": "xgboost_churn",
                    "trained_at": f"2026-11-{version:02d}T02:00:00Z",
                    "metrics": {"auc_30d": auc},
                    "key_metric": "auc_30d",
                    "files": {"model.ubj": digest if good_file else "0" * 64},
                }
            )
        )
    entries = model_registry(reg)
    by_version = {e.version: e for e in entries}
    assert [e.version for e in entries] == ["v4", "v3", "v2", "v1"]
    # v4 is corrupt, v3 scored worse than v2: the app uses v2.
    assert [e.version for e in entries if e.active] == ["v2"]
    assert "corrupt" in by_version["v4"].warning
    assert "worse" in by_version["v3"].warning
    assert by_version["v2"].metrics == "auc_30d 0.830"

    size = database_size(engine)
    assert size is None or size > 0
