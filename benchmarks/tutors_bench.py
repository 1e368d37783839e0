"""The Tutors page at full scale: the tutor list, and opening a profile to first paint.

1. The full-scale database of the ``gui`` suite (``artifacts/startup/full-scale.db``,
   2.5 million synced records; built by ``benchmarks.startup_bench`` if missing) is copied
   to a temporary folder.
2. If it has no predictions, 30 daily scoring runs are written for every active tutor
   (about 150,000 tutor predictions, with factors and headline metrics of the real
   shape) and the last run's first-session predictions: *synthetic values* with the
   real volume, so the queries, the JSON decoding and the widgets do the work they
   would do after a month of scoring (training the models at full scale would take
   minutes and measure nothing here).
3. The real app window (its own process, under Xvfb when there is one) opens the Tutors
   page (list load: worker time and the GUI-thread model reset), then opens 30 profiles
   by id as another page would; for each, the time from ``open_tutor`` to the first
   paint of the profile header with that tutor's data (target < 300 ms), while a 10 ms
   heartbeat on the GUI thread records the worst stall.

Run alone: ``.venv/bin/python -m benchmarks.tutors_bench``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import tempfile
from datetime import timedelta
from pathlib import Path

from benchmarks.child import run_child

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "artifacts" / "startup" / "full-scale.db"
PROFILE_TARGET_MS = 300.0
LIST_TARGET_MS = 1500.0
STALL_TARGET_MS = 100.0
HISTORY_DAYS = 30
PROFILES = 30

DRIVER = r"""
import json, os, random, sys, time
from PySide6.QtCore import QElapsedTimer, QEvent, QEventLoop, QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication


def main():
    app = QApplication(sys.argv[:1])
    from services.settings import Settings
    from tutormax_desktop.context import AppContext
    from tutormax_desktop.gui import build_shell
    from tutormax_desktop.paths import app_paths
    from viewmodels.shell import PAGES

    url, ids = sys.argv[1], json.loads(sys.argv[2])
    # CPU time of the GUI thread in each of the page's own handlers (thread_time: what
    # this code costs, whatever else the machine is doing at the time).
    from ui.pages import tutors as tutors_page
    from viewmodels import tutors as tutors_vm

    cpu = {}

    def timed(cls, name):
        fn = getattr(cls, name)

        def wrapper(self, *a):
            t = time.thread_time()
            try:
                return fn(self, *a)
            finally:
                key = f"{cls.__name__}.{name}"
                cpu[key] = max(cpu.get(key, 0.0), (time.thread_time() - t) * 1000)

        setattr(cls, name, wrapper)

    timed(tutors_page.TutorProfileView, "show_bundle")
    timed(tutors_page.TutorProfileView, "_next_step")
    timed(tutors_page.TutorsPage, "_on_loaded")
    timed(tutors_vm.TutorsViewModel, "_on_list")
    ctx = AppContext(app_paths().ensure(), Settings(database_url=url))
    shell = build_shell(ctx, tray=False)
    window, vm = shell.window, shell.window.shell
    page = window.tutors_page
    window.show()

    def wait(ms):
        loop = QEventLoop(); QTimer.singleShot(ms, loop.quit); loop.exec()

    def wait_until(pred, timeout_s):
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if pred():
                return True
            wait(2)
        return pred()

    vm.start(sync_at_start=False)
    wait_until(lambda: vm.ready, 120)
    wait(3000)  # let start-up work (jobs discovery, status reads) settle

    clock = QElapsedTimer(); clock.start()
    import gc, threading
    gc_pauses = {}  # generation -> (worst ms, on the GUI thread or not)
    gc_started = [0.0]
    gui_thread = threading.get_ident()

    def on_gc(phase, info):
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            ms = (time.perf_counter() - gc_started[0]) * 1000
            where = "gui" if threading.get_ident() == gui_thread else "worker"
            key = f"gen{info['generation']}_{where}"
            gc_pauses[key] = max(gc_pauses.get(key, 0.0), ms)

    gc.callbacks.append(on_gc)
    gaps, last, marking = [], [0], [False]

    phase = ["list"]
    worst = {}

    def beat():
        now = clock.elapsed(); gap = now - last[0]; last[0] = now
        if marking[0]:
            gaps.append(gap)
            worst[phase[0]] = max(worst.get(phase[0], 0), gap)

    timer = QTimer(); timer.setTimerType(Qt.TimerType.PreciseTimer); timer.setInterval(10)
    timer.timeout.connect(beat); timer.start()

    state = {"loaded_id": None, "painted_at": None}

    class Painted(QObject):
        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint and state["painted_at"] is None:
                b = vm.tutor_profile.bundle
                if b is not None and b.tutor["id"] == state["want"]:
                    state["painted_at"] = time.perf_counter()
            return False

    painted = Painted()
    page.profile.curve.installEventFilter(painted)
    page.profile.name.installEventFilter(painted)

    marking[0] = True
    t0 = time.perf_counter()
    window.go_to(PAGES.index("tutors"))
    wait_until(lambda: vm.tutors.tutor_list is not None, 120)
    list_ms = (time.perf_counter() - t0) * 1000
    listed = vm.tutors.tutors.rowCount()
    t1 = time.perf_counter()
    vm.tutors.tutors.sort(0, Qt.SortOrder.AscendingOrder)
    sort_ms = (time.perf_counter() - t1) * 1000
    t1 = time.perf_counter()
    vm.tutors.set_filters(risk="High")
    filter_ms = (time.perf_counter() - t1) * 1000
    vm.tutors.set_filters(risk="")
    wait(500)
    phase[0] = "profiles"

    times = []
    for tid in ids:
        state["want"], state["painted_at"] = tid, None
        t0 = time.perf_counter()
        window.open_tutor(tid)
        ok = wait_until(lambda: state["painted_at"] is not None, 30)
        times.append((state["painted_at"] - t0) * 1000 if ok else None)
        wait(150)
    marking[0] = False
    timer.stop()
    print(json.dumps({
        "list_ms": list_ms, "listed": listed, "sort_ms": sort_ms, "filter_ms": filter_ms,
        "profile_ms": times, "worst_gap_ms": max(gaps, default=None), "worst_by_phase": worst,
        "gc_worst_ms": gc_pauses,
        "gui_cpu_ms_max": cpu,
        "platform": app.platformName(),
    }), flush=True)
    shell.shutdown()
    os._exit(0)


main()
"""


def _copy(src: Path, folder: Path) -> Path:
    dst = folder / "tutormax.db"
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{src}{suffix}").exists():
            shutil.copy2(f"{src}{suffix}", f"{dst}{suffix}")
    return dst


def synthetic_predictions(url: str, days: int = HISTORY_DAYS, seed: int = 7) -> int:
    """Daily scoring runs with plausible values for every active tutor (module doc)."""
    from sqlalchemy import func, insert, select

    from ml.scores import ScoreSettings
    from services.db.engine import make_engine
    from services.db.migrate import migrate
    from services.db.models import (
        EngagementEvent,
        FirstSessionPrediction,
        ScoringRun,
        Tutor,
        TutoringSession,
        TutorPrediction,
    )

    engine = make_engine(url)
    migrate(engine)
    rng = random.Random(seed)
    with engine.begin() as conn:
        runs = conn.execute(
            select(ScoringRun.as_of).where(ScoringRun.status == "ok").order_by(ScoringRun.as_of)
        ).all()
        if len(runs) >= days:
            return 0
        # Before the real runs (if any): the real newest run stays the newest.
        newest = runs[0][0] - timedelta(days=1) if runs else None
        as_of = newest or conn.execute(select(func.max(EngagementEvent.occurred_at))).scalar()
        days = days - len(runs)
        tutors = [
            r[0]
            for r in conn.execute(
                select(Tutor.id).where(Tutor.status == "active", Tutor.deleted_at.is_(None))
            )
        ]
        base = {t: rng.betavariate(1.2, 4) for t in tutors}
        n = 0
        for d in range(days):
            at = as_of - timedelta(days=days - 1 - d)
            run_id = conn.execute(
                insert(ScoringRun)
                .values(
                    started_at=at,
                    finished_at=at,
                    trigger="bench-synthetic",
                    status="ok",
                    as_of=at,
                    thresholds={"scores": ScoreSettings().to_dict()},
                )
                .returning(ScoringRun.id)
            ).scalar_one()
            rows = []
            for t in tutors:
                p30 = min(0.99, max(0.01, base[t] + rng.gauss(0, 0.03) + d * 0.002))
                tier = "Critical" if p30 >= 0.7 else "High" if p30 >= 0.5 else "Medium" if p30 >= 0.25 else "Low"  # noqa: E501  # fmt: skip
                score = rng.uniform(40, 95)
                rows.append(
                    {
                        "run_id": run_id, "tutor_id": t, "as_of": at,
                        "p_churn_7d": p30 * 0.4, "p_churn_14d": p30 * 0.7, "p_churn_30d": p30,
                        "p_churn_90d": min(0.99, p30 * 1.3), "risk_tier": tier,
                        "performance_score": score,
                        "performance_tier": "Platinum" if score >= 85 else "Gold" if score >= 70 else "Silver" if score >= 55 else "Bronze",  # noqa: E501
                        "health_score": rng.uniform(20, 95), "segment": rng.choice(["Star", "Healthy", "At-Risk", "Churning"]),  # noqa: E501
                        "predicted_sessions_next_week": rng.uniform(0, 12), "burnout": False,
                        "noshow_risk": rng.uniform(0, 0.3),
                        "factors": [
                            {"feature": "engagement_score_14d", "label": "engagement", "text": f"engagement {rng.random():.2f} (was {rng.random():.2f})", "contribution": 0.5, "direction": "raises risk", "value": 0.3},  # noqa: E501
                            {"feature": "sessions_change_30d", "label": "sessions", "text": "sessions down 40 % vs last month", "contribution": 0.3, "direction": "raises risk", "value": -0.4},  # noqa: E501
                            {"feature": "rating_avg_30d", "label": "rating", "text": "rating 4.1 (was 4.5)", "contribution": 0.2, "direction": "raises risk", "value": 4.1},  # noqa: E501
                        ],
                        "metrics": {
                            "sessions_30d": rng.randint(0, 40), "rating_avg_30d": rng.uniform(3, 5),
                            "ratings_30d": rng.randint(0, 30), "rating_avg_all": rng.uniform(3, 5),
                            "first_session_success_rate": rng.random(), "first_sessions_rated": rng.randint(0, 20),  # noqa: E501
                            "tutor_reschedule_rate_90d": rng.uniform(0, 0.2), "no_show_rate_90d": rng.uniform(0, 0.05),  # noqa: E501
                            "engagement_score_14d": rng.random(), "engagement_score_prev_14d": rng.random(),  # noqa: E501
                            "tenure_days": rng.randint(10, 900), "tutor_reschedules_7d": rng.randint(0, 3),  # noqa: E501
                        },
                        "model_version": "synthetic",
                    }
                )  # fmt: skip
            conn.execute(insert(TutorPrediction), rows)
            n += len(rows)
        s = TutoringSession
        first = conn.execute(
            select(s.id, s.tutor_id, s.customer_id, s.start_time, s.subject).where(
                s.first_session.is_(True),
                s.start_time >= as_of,
                s.start_time < as_of + timedelta(days=7),
            )
        ).all()
        if first and not runs:
            conn.execute(
                insert(FirstSessionPrediction),
                [
                    {
                        "run_id": run_id, "session_id": r.id, "tutor_id": r.tutor_id,
                        "customer_id": r.customer_id, "start_time": r.start_time,
                        "subject": r.subject, "p_poor": rng.random(), "risk_tier": "Medium",
                        "noshow_risk": rng.uniform(0, 0.3), "factors": [],
                        "model_version": "synthetic",
                    }
                    for r in first
                ],
            )  # fmt: skip
    engine.dispose()
    return n


def _busy_tutors(url: str, k: int, seed: int = 11) -> list[int]:
    """Profiles to open: half the busiest tutors (most sessions: the heaviest bundles),
    half at random among the active ones."""
    from sqlalchemy import func, select

    from services.db.engine import make_engine
    from services.db.models import Tutor, TutoringSession

    engine = make_engine(url)
    with engine.connect() as conn:
        busiest = [
            r[0]
            for r in conn.execute(
                select(TutoringSession.tutor_id)
                .group_by(TutoringSession.tutor_id)
                .order_by(func.count().desc())
                .limit(k // 2)
            )
        ]
        active = [r[0] for r in conn.execute(select(Tutor.id).where(Tutor.status == "active"))]
    engine.dispose()
    rng = random.Random(seed)
    return busiest + rng.sample([a for a in active if a not in busiest], k - len(busiest))


def measure() -> dict[str, object]:
    from benchmarks.startup_bench import _xvfb, measure_stall

    xvfb, display_env = _xvfb()
    try:
        if not SOURCE.exists():
            measure_stall("full", display_env)
        folder = Path(tempfile.mkdtemp(prefix="tutormax-tutors-bench-"))
        home = Path(tempfile.mkdtemp(prefix="tutormax-tutors-home-"))
        try:
            db = _copy(SOURCE, folder)
            url = f"sqlite:///{db}"
            written = synthetic_predictions(url)
            ids = _busy_tutors(url, PROFILES)
            env = dict(os.environ, **display_env, TUTORMAX_HOME=str(home), PYTHONPATH=str(ROOT))
            env.pop("DBUS_SESSION_BUS_ADDRESS", None)
            result = run_child(DRIVER, [url, json.dumps(ids)], env, what="driver")
            result["synthetic_predictions"] = written
            return result
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(home, ignore_errors=True)
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(timeout=10)


def rows(m: dict[str, object]) -> list[dict[str, object]]:
    times = [t for t in m["profile_ms"] if t is not None]  # type: ignore[union-attr]
    missing = len(m["profile_ms"]) - len(times)  # type: ignore[arg-type]
    ordered = sorted(times)
    p95 = ordered[int(len(ordered) * 0.95) - 1] if ordered else None
    worst = m["worst_gap_ms"]
    return [
        {"name": "tutors.full.list_load_ms", "value": m["list_ms"], "unit": "ms",
         "target": LIST_TARGET_MS, "ok": m["list_ms"] < LIST_TARGET_MS},
        {"name": "tutors.full.list_rows", "value": m["listed"], "unit": "tutors",
         "target": None, "ok": True},
        {"name": "tutors.full.list_sort_ms", "value": m["sort_ms"], "unit": "ms",
         "target": 50.0, "ok": m["sort_ms"] < 50},
        {"name": "tutors.full.list_filter_ms", "value": m["filter_ms"], "unit": "ms",
         "target": 50.0, "ok": m["filter_ms"] < 50},
        {"name": "tutors.full.profile_first_paint_median_ms",
         "value": statistics.median(times) if times else None, "unit": "ms",
         "target": PROFILE_TARGET_MS, "ok": bool(times) and statistics.median(times) < PROFILE_TARGET_MS},  # noqa: E501
        {"name": "tutors.full.profile_first_paint_p95_ms", "value": p95, "unit": "ms",
         "target": PROFILE_TARGET_MS, "ok": p95 is not None and p95 < PROFILE_TARGET_MS and not missing},  # noqa: E501
        {"name": "tutors.full.profile_first_paint_max_ms", "value": max(times, default=None),
         "unit": "ms", "target": None, "ok": True},
        {"name": "tutors.full.worst_gui_stall_ms", "value": worst, "unit": "ms",
         "target": STALL_TARGET_MS, "ok": worst is not None and worst < STALL_TARGET_MS},
        *[
            {"name": f"tutors.full.worst_gui_stall_ms.{phase}", "value": gap, "unit": "ms",
             "target": None, "ok": True}
            for phase, gap in sorted(m.get("worst_by_phase", {}).items())
        ],
        *[
            {"name": f"tutors.full.gc_worst_ms.{k}", "value": v, "unit": "ms",
             "target": None, "ok": True}
            for k, v in sorted(m.get("gc_worst_ms", {}).items())
        ],
        *[
            {"name": f"tutors.full.gui_cpu_ms.{k}", "value": v, "unit": "ms",
             "target": STALL_TARGET_MS, "ok": v < STALL_TARGET_MS}
            for k, v in sorted(m.get("gui_cpu_ms_max", {}).items())
        ],
        {"name": "tutors.full.synthetic_predictions", "value": m["synthetic_predictions"],
         "unit": "rows", "target": None, "ok": True},
    ]  # fmt: skip


def run() -> list[dict[str, object]]:
    return rows(measure())


if __name__ == "__main__":
    result = measure()
    print(json.dumps(result, indent=2))
    for r in rows(result):
        print(f"{r['name']:<48} {r['value']!s:>12} {r['unit']:<8} target {r['target']}")
