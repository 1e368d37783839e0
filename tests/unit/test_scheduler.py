"""The job registry and the scheduler: cadences, catch-up, daylight saving, persistence."""

from __future__ import annotations

import sys
import types
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.jobs import (
    AFTER_SYNC,
    DAILY,
    MANUAL,
    NIGHTLY,
    JobContext,
    JobRegistry,
    discover_jobs,
    summarize_result,
)
from services.scheduler import (
    Scheduler,
    latest_occurrence,
    load_state,
    next_occurrence,
    parse_hhmm,
    user_zone,
)

NY = ZoneInfo("America/New_York")


def _nothing(ctx: JobContext) -> None:
    return None


def _registry() -> JobRegistry:
    reg = JobRegistry()
    reg.register(
        "score", _nothing, triggers={AFTER_SYNC}, min_interval_minutes=15, needs_models=True
    )
    reg.register("train", _nothing, triggers={NIGHTLY}, trains_models=True)
    reg.register("forecast", _nothing, triggers={DAILY})
    return reg


def test_registry_validates_and_always_allows_manual_runs():
    reg = _registry()
    assert reg.names() == ["score", "train", "forecast"]
    assert reg.get("train").triggers == {NIGHTLY, MANUAL}
    assert [j.name for j in reg.with_trigger(AFTER_SYNC)] == ["score"]
    with pytest.raises(ValueError):
        reg.register("bad name!", _nothing)
    with pytest.raises(ValueError):
        reg.register("x", _nothing, triggers={"hourly"})
    # A job that runs in its own process must be importable there.
    with pytest.raises(ValueError, match="module-level"):
        reg.register("y", lambda ctx: None)
    assert not reg.register("y", lambda ctx: None, isolated=False).isolated
    with pytest.raises(KeyError):
        reg.get("nope")


def test_job_context_reports_progress_and_cancel():
    seen = []
    ctx = JobContext(engine=None, on_progress=seen.append)
    ctx.progress("half way")
    ctx.check_cancel()
    ctx.cancel_event.set()
    assert ctx.cancelled and seen == ["half way"]
    with pytest.raises(Exception, match="cancelled"):
        ctx.check_cancel()


def test_summaries():
    assert summarize_result(None) == "done"
    assert summarize_result({"summary": "5,000 tutors scored"}) == "5,000 tutors scored"
    assert summarize_result({"a": 1}) == "a: 1"
    assert summarize_result("ok") == "ok"


def test_providers_plug_in_without_touching_the_shell(monkeypatch):
    module = types.ModuleType("fake_scoring")

    def register_jobs(registry):
        registry.register("score", lambda ctx: "scored", triggers={AFTER_SYNC}, isolated=False)

    module.register_jobs = register_jobs
    broken = types.ModuleType("fake_broken")

    def boom(registry):
        raise RuntimeError("no model file")

    broken.register_jobs = boom
    monkeypatch.setitem(sys.modules, "fake_scoring", module)
    monkeypatch.setitem(sys.modules, "fake_broken", broken)
    module.__spec__ = types.SimpleNamespace(name="fake_scoring")
    broken.__spec__ = types.SimpleNamespace(name="fake_broken")
    reg, problems = discover_jobs(providers=("fake_scoring", "fake_broken", "not.a.module"))
    assert reg.names() == ["score"]
    assert reg.get("score").fn(None) == "scored"
    assert problems == ["fake_broken: RuntimeError: no model file"]


def test_occurrences_across_daylight_saving():
    at = time(2, 0)
    # Spring forward, Sunday 8 March 2026: 02:00 does not exist in New York; still one run.
    before = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # 01:00 EST
    after = datetime(2026, 3, 8, 8, 0, tzinfo=UTC)  # 04:00 EDT
    assert latest_occurrence(before, at, NY) < datetime(2026, 3, 8, tzinfo=UTC)
    occ = latest_occurrence(after, at, NY)
    assert datetime(2026, 3, 8, 6, tzinfo=UTC) <= occ <= after
    assert next_occurrence(before, at, NY) == occ
    # Fall back, Sunday 1 November 2026: 02:00 EST is 07:00 UTC.
    assert latest_occurrence(datetime(2026, 11, 1, 12, tzinfo=UTC), at, NY) == datetime(
        2026, 11, 1, 7, tzinfo=UTC
    )
    assert parse_hhmm("02:00") == at
    with pytest.raises(ValueError):
        parse_hhmm("2am")
    assert user_zone("Europe/Paris") == ZoneInfo("Europe/Paris")
    assert user_zone("Not/AZone") is not None  # falls back to the system's


def test_after_sync_jobs_wait_for_changes_and_respect_the_interval(tmp_path):
    sched = Scheduler(_registry(), tmp_path / "s.json", nightly_at=time(2), tz=NY)
    t0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    # Train is a nightly never run: caught up at the first start. Forecast: daily.
    assert {(d.name, d.trigger) for d in sched.due_jobs(t0)} == {
        ("train", NIGHTLY),
        ("forecast", DAILY),
    }
    assert "catching up" in next(d for d in sched.due_jobs(t0) if d.name == "train").reason
    for d in sched.due_jobs(t0):
        sched.record_finish(
            sched.record_start(d.name, d.trigger, t0), status="ok", summary="", at=t0
        )
    assert sched.due_jobs(t0) == []

    # A sync that changed nothing does not trigger scoring; one that did, does.
    sched.record_sync(changed=False, at=t0)
    assert sched.due_jobs(t0) == []
    sched.record_sync(changed=True, at=t0)
    assert [d.name for d in sched.due_jobs(t0)] == ["score"]
    assert sched.due_jobs(t0, running={"score"}) == []
    run = sched.record_start("score", AFTER_SYNC, t0)
    sched.record_finish(run, status="ok", summary="scored", at=t0 + timedelta(seconds=8))
    assert run.seconds == 8

    # Another change 5 minutes later: due only once 15 minutes passed since the last run.
    sched.record_sync(changed=True, at=t0 + timedelta(minutes=5))
    assert sched.due_jobs(t0 + timedelta(minutes=5)) == []
    assert sched.due_jobs(t0 + timedelta(minutes=14)) == []
    assert [d.name for d in sched.due_jobs(t0 + timedelta(minutes=15))] == ["score"]

    # Persisted: a restarted app knows what ran.
    again = Scheduler(_registry(), tmp_path / "s.json", nightly_at=time(2), tz=NY)
    assert [d.name for d in again.due_jobs(t0 + timedelta(minutes=15))] == ["score"]
    assert [r.name for r in again.history()][-1] == "score"
    assert again.history()[-1].summary == "scored"


def test_nightly_runs_once_a_night_and_catches_up_once_after_days_closed(tmp_path):
    sched = Scheduler(_registry(), None, nightly_at=time(2), tz=NY)
    sched.registry.unregister("forecast")
    night = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)  # 02:00 EST
    sched.record_start("train", NIGHTLY, night)
    assert sched.due_jobs(night + timedelta(hours=10)) == []
    # The next night at 02:00 local, on time.
    due = sched.due_jobs(night + timedelta(days=1))
    assert [(d.name, d.reason) for d in due] == [("train", "nightly at 02:00")]
    # Closed for three nights: one catch-up run at the next start, not three.
    later = night + timedelta(days=3, hours=6)
    due = sched.due_jobs(later)
    assert len(due) == 1 and "catching up" in due[0].reason
    sched.record_start("train", NIGHTLY, later)
    assert sched.due_jobs(later + timedelta(hours=1)) == []
    assert sched.next_nightly(later) == night + timedelta(days=4)


def test_disabled_scheduler_and_broken_state_file(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{broken")
    assert load_state(path).history == []
    sched = Scheduler(_registry(), path, enabled=False)
    assert sched.due_jobs(datetime.now(UTC)) == []


# ---------------------------------------------------------------------- isolated jobs


def _progress_job(ctx: JobContext) -> dict:
    ctx.progress("loading")
    ctx.progress(0.5)
    return {"summary": f"ran on {ctx.trigger}", "models": str(ctx.models_dir)}


def _failing_job(ctx: JobContext) -> None:
    raise KeyError("no model file")


def _waiting_job(ctx: JobContext) -> None:
    ctx.progress("waiting")
    if not ctx.cancel_event.wait(30):
        raise AssertionError("never cancelled")
    ctx.check_cancel()


def test_isolated_jobs_run_in_their_own_process(tmp_path):
    import os
    import threading

    from services.jobs import JobCancelled, JobEnvironment, JobFailed, run_isolated

    reg = JobRegistry()
    env = JobEnvironment(
        f"sqlite:///{tmp_path / 'x.db'}", str(tmp_path), str(tmp_path / "m"), "nightly"
    )
    seen = []
    result = run_isolated(
        reg.register("p", _progress_job),
        env,
        cancel_event=threading.Event(),
        on_progress=seen.append,
    )
    assert result == {"summary": "ran on nightly", "models": str(tmp_path / "m")}
    assert seen == ["loading", 0.5]
    with pytest.raises(JobFailed, match="KeyError: 'no model file'"):
        run_isolated(reg.register("f", _failing_job), env, cancel_event=threading.Event())
    cancel = threading.Event()

    def cancel_on_first_progress(value):
        cancel.set()

    with pytest.raises(JobCancelled):
        run_isolated(
            reg.register("w", _waiting_job),
            env,
            cancel_event=cancel,
            on_progress=cancel_on_first_progress,
        )
    assert os.getpid()  # (and this process is still here)


def test_a_failed_scoring_is_retried_and_nightly_runs_come_first(tmp_path):
    sched = Scheduler(_registry(), None, nightly_at=time(2), tz=UTC)
    t0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    sched.record_sync(changed=True, at=t0)
    # Retraining (caught up) before scoring, which should use the new model; the
    # scores a manager waits for before the daily forecast.
    assert [d.name for d in sched.due_jobs(t0)] == ["train", "score", "forecast"]
    run = sched.record_start("score", AFTER_SYNC, t0)
    sched.record_finish(run, status="failed", summary="no model yet", at=t0)
    assert "score" not in [d.name for d in sched.due_jobs(t0 + timedelta(minutes=5))]
    # Not forgotten: due again once its interval has passed.
    assert "score" in [d.name for d in sched.due_jobs(t0 + timedelta(minutes=15))]
    run = sched.record_start("score", AFTER_SYNC, t0 + timedelta(minutes=15))
    sched.record_finish(run, status="ok", summary="", at=t0 + timedelta(minutes=16))
    assert "score" not in [d.name for d in sched.due_jobs(t0 + timedelta(hours=2))]


def test_jobs_are_discovered_in_another_process():
    from services.jobs import discover_jobs_isolated

    registry, problems = discover_jobs_isolated(["tests.unit.job_provider", "no.such.module"])
    assert problems == []
    spec = registry.get("score")
    assert spec.isolated and spec.target == "tests.unit.job_provider:score_job"
    assert spec.triggers == {AFTER_SYNC, "manual"}
    assert spec.min_interval == timedelta(minutes=15)
    # What the scheduler needs for a first run travels across the process boundary.
    assert spec.needs_models and not spec.trains_models
    assert registry.get("train").trains_models and not registry.get("train").needs_models


def test_the_app_process_never_imports_the_model_libraries():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys; from services.jobs import discover_jobs_isolated; "
        "reg, problems = discover_jobs_isolated(); "
        "print(sorted(reg.names()), 'xgboost' in sys.modules, 'services.scoring' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    names, xgb, scoring = out.stdout.strip().rsplit(" ", 2)
    assert (xgb, scoring) == ("False", "False")
    assert "score" in names and "train" in names  # the models issue's jobs


def test_the_real_jobs_say_which_trains_and_which_needs_models():
    from services.models_admin import MODEL_NAMES
    from services.scoring import MODELS
    from services.training import KEY_METRICS

    registry, problems = discover_jobs(providers=("services.training", "services.scoring"))
    assert problems == []
    assert registry.get("train").trains_models and registry.get("score").needs_models
    # The registry check of a first run looks for the models scoring loads.
    assert tuple(MODELS) == MODEL_NAMES == tuple(KEY_METRICS)


def test_first_run_trains_after_the_first_sync_and_scoring_waits_for_a_model():
    sched = Scheduler(_registry(), None, nightly_at=time(2), tz=UTC)
    sched.models_missing = True
    t0 = datetime(2026, 11, 20, 1, 55, tzinfo=UTC)  # before tonight's 02:00
    # No data yet: nothing to train on; scoring would fail, so it is not due.
    assert "score" not in [d.name for d in sched.due_jobs(t0)]
    sched.state.last_attempt["train"] = {NIGHTLY: t0 - timedelta(hours=1)}  # ran (failed)
    sched.record_sync(changed=True, at=t0)
    due = sched.due_jobs(t0)
    # The first sync brought data: training comes first, as the nightly catch-up.
    assert due[0].name == "train" and due[0].trigger == NIGHTLY
    assert "no trained model yet" in due[0].reason
    assert "score" not in [d.name for d in due]
    run = sched.record_start("train", NIGHTLY, t0)
    sched.record_finish(run, status="failed", summary="too little history", at=t0)
    # A failed training waits for new data rather than retrying every tick ...
    assert "train" not in [d.name for d in sched.due_jobs(t0 + timedelta(minutes=1))]
    sched.record_sync(changed=True, at=t0 + timedelta(minutes=2))
    # ... and tries again when the data changed.
    assert sched.due_jobs(t0 + timedelta(minutes=3))[0].name == "train"
    run = sched.record_start("train", NIGHTLY, t0 + timedelta(minutes=3))
    sched.record_finish(run, status="ok", summary="trained", at=t0 + timedelta(minutes=4))
    sched.models_missing = False  # the caller looked at the registry again
    due = [d.name for d in sched.due_jobs(t0 + timedelta(minutes=4))]
    assert "score" in due and "train" not in due  # tonight's 02:00 is not due yet
    # With models, training is the plain nightly job again.
    assert sched.due_jobs(t0 + timedelta(minutes=6))[0].name == "train"
