"""The System page's model registry (roll back, release) and one database per data source.

Roll back: a version chosen on the System page becomes the one every process loads, is
written to the audit log, survives a restart, holds when a newer (better) version is
trained, and says so; "Use the best version" ends it. Scoring runs again at once.

Data sources: the built-in sandbox and a company API each get their own database (and
models and schedule); switching in Settings shows the other source's data, and
switching back shows the first source's data again, without a sync.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from ml.registry import ModelRegistry
from services.db.models import AuditEntry, Tutor
from services.jobs import AFTER_SYNC, JobRegistry
from services.metrics import model_registry
from services.models_admin import MODEL_NAMES
from services.settings import SandboxSettings, Settings
from tests.gui.conftest import wait_ready
from viewmodels.shell import PAGES


class TinyModel:
    """The smallest thing the registry can save and load back."""

    KIND = "tiny"

    def __init__(self, value: float) -> None:
        self.value = value

    def save(self, directory: Path) -> list[str]:
        (directory / "value.txt").write_text(str(self.value))
        return ["value.txt"]

    @classmethod
    def load(cls, directory: Path) -> TinyModel:
        return cls(float((directory / "value.txt").read_text()))


def _save(registry: ModelRegistry, value: float, concordance: float) -> int:
    meta = {"metrics": {"concordance": concordance}, "key_metric": "concordance"}
    return registry.save("tutor_churn", TinyModel(value), meta).version


def _loaded_version(models_dir: Path) -> int:
    return (
        ModelRegistry(models_dir, loaders={"tiny": TinyModel.load})
        .load_best("tutor_churn")
        .version.version
    )


def test_roll_back_from_the_system_page_pins_audits_rescored_and_survives(
    qtbot, make_window, sandbox_server
):
    window = make_window(Settings(api_url=sandbox_server.base_url))
    wait_ready(qtbot, window)
    models_dir = Path(window.shell.backend.models_dir)
    registry = ModelRegistry(models_dir, loaders={})
    _save(registry, 1.0, 0.70)
    _save(registry, 2.0, 0.74)
    assert _loaded_version(models_dir) == 2
    # A scoring job that records its runs (the real one needs trained models).
    scored: list[str] = []
    jobs = JobRegistry()
    jobs.register(
        "score",
        lambda ctx: scored.append(ctx.trigger) or "scored",
        triggers={AFTER_SYNC},
        isolated=False,
    )
    window.shell.scheduler.set_registry(jobs)

    window.go_to(7)
    page = window.system_page
    page.tabs.setCurrentIndex(3)
    window.shell.system.load()
    qtbot.waitUntil(lambda: page.select_model("tutor_churn", "v1"), timeout=30_000)
    # The active version cannot be "rolled back to"; an older one can.
    assert page.select_model("tutor_churn", "v2") and not page.rollback_button.isEnabled()
    assert not page.release_button.isEnabled()  # nothing pinned
    assert page.select_model("tutor_churn", "v1") and page.rollback_button.isEnabled()
    asked: list[str] = []
    page.confirm = lambda title, text: asked.append(text) or True
    messages: list[str] = []
    window.shell.sig_message.connect(messages.append)
    page.rollback_button.click()
    qtbot.waitUntil(lambda: any("rolled back to v1" in m for m in messages), timeout=30_000)
    assert "until you choose" in asked[0]
    # Every process loads v1 from now on; the page says so; scoring ran again with it.
    assert _loaded_version(models_dir) == 1
    qtbot.waitUntil(lambda: scored == ["manual"], timeout=30_000)
    qtbot.waitUntil(
        lambda: any(e.pinned and e.active for e in window.shell.system.model_entries()),
        timeout=30_000,
    )
    assert page.select_model("tutor_churn", "v1") and page.release_button.isEnabled()
    # Audited, with who and what.
    with window.shell.backend.engine().connect() as conn:
        audit = conn.execute(
            select(AuditEntry.action, AuditEntry.actor, AuditEntry.entity_id, AuditEntry.details)
        ).all()
    assert [(a, b, c, d["version"]) for a, b, c, d in audit] == [
        ("model.rollback", "desktop", "tutor_churn", 1)
    ]

    # A restart, and the nightly retraining producing a better model: the pin holds and
    # the newer version is listed as waiting, not silently used.
    _save(ModelRegistry(models_dir, loaders={}), 3.0, 0.80)
    assert _loaded_version(models_dir) == 1
    listing = {e.version: e for e in model_registry(models_dir)}
    assert listing["v1"].active and listing["v1"].pinned
    assert "not used while it is pinned" in listing["v3"].warning
    assert not listing["v3"].active

    # "Use the best version": the pin ends (audited), v3 is used, scoring runs again.
    window.shell.system.load()
    qtbot.waitUntil(lambda: page.select_model("tutor_churn", "v3"), timeout=30_000)
    row = page.models_table.selectionModel().selectedRows(3)[0]
    # Why it waits, and its figures, in the metrics column.
    assert "not used while it is pinned" in row.data() and "concordance 0.800" in row.data()
    assert page.release_button.isEnabled()
    page.release_button.click()
    qtbot.waitUntil(lambda: any("released" in m for m in messages), timeout=30_000)
    assert _loaded_version(models_dir) == 3
    qtbot.waitUntil(lambda: scored == ["manual", "manual"], timeout=30_000)
    with window.shell.backend.engine().connect() as conn:
        actions = conn.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars().all()
    assert actions == ["model.rollback", "model.release"]


def _tutor_names(window) -> set[str]:
    with window.shell.backend.engine().connect() as conn:
        return set(conn.execute(select(Tutor.name)).scalars())


def test_each_data_source_has_its_own_database_and_switching_back_shows_the_first(
    qtbot, make_window, sandbox_server_factory, monkeypatch
):
    from tests.fixtures.sandbox import build_test_world

    # The built-in sandbox (tiny world, served by its own process as in the app) ...
    anchor = datetime(2026, 11, 20, 12, tzinfo=UTC)
    sandbox = Settings(sandbox=SandboxSettings(scale="tiny", seed=42, anchor=anchor))
    # ... and "the company's API": another marketplace (another seed).
    company = sandbox_server_factory(world=build_test_world(seed=7))
    monkeypatch.setenv("TUTORMAX_API_TOKEN", company.token)

    window = make_window(sandbox)
    wait_ready(qtbot, window)
    assert window.sandbox_badge.isVisibleTo(window)
    sync = window.shell.sync
    with qtbot.waitSignal(sync.sig_sync_landed, timeout=120_000):
        sync.sync_now()
    sandbox_db = window.shell.backend.ctx.database_url
    sandbox_tutors = _tutor_names(window)
    qtbot.waitUntil(lambda: sync.model.value("tutors", "rows") > 0, timeout=30_000)
    sandbox_rows = sync.model.value("tutors", "rows")
    assert sandbox_rows == len(sandbox_tutors)
    # The sandbox's models (trained here); the scheduler knows they exist.
    scheduler = window.shell.scheduler
    for name in MODEL_NAMES:
        ModelRegistry(window.shell.backend.models_dir, loaders={}).save(
            name, TinyModel(1.0), {"metrics": {"auc": 0.7}, "key_metric": "auc"}
        )
    scheduler.recheck_models()
    qtbot.waitUntil(lambda: not scheduler.scheduler.models_missing, timeout=30_000)

    # Switch to the company API in Settings: another database, synced from that API.
    settings = window.shell.settings
    with qtbot.waitSignal(sync.sig_sync_landed, timeout=120_000):
        assert settings.save(Settings(api_url=company.base_url, sandbox=sandbox.sandbox))
    company_db = window.shell.backend.ctx.database_url
    assert company_db != sandbox_db
    # No models for this marketplace: scoring waits, training comes first.
    assert scheduler.scheduler.models_missing
    assert not window.sandbox_badge.isVisibleTo(window)
    assert company.base_url in window.system_page.source.text()
    company_tutors = _tutor_names(window)
    assert company_tutors and company_tutors != sandbox_tutors
    qtbot.waitUntil(
        lambda: sync.model.value("tutors", "rows") == len(company_tutors), timeout=30_000
    )

    # Back to the sandbox: its data, as it was, before any sync has run.
    company.server.stop()  # nothing can come from there any more
    assert settings.save(sandbox)
    qtbot.waitUntil(lambda: window.shell.backend.ctx.database_url == sandbox_db, timeout=30_000)
    # (The switch also syncs the sandbox, whose clock runs: it may add, never remove.)
    back = _tutor_names(window)
    assert sandbox_tutors <= back and not back & (company_tutors - sandbox_tutors)
    qtbot.waitUntil(lambda: sync.model.value("tutors", "rows") >= sandbox_rows, timeout=30_000)
    assert sync.model.value("tutors", "rows") < sandbox_rows + len(company_tutors)
    assert window.sandbox_badge.isVisibleTo(window)
    qtbot.waitUntil(lambda: not scheduler.scheduler.models_missing, timeout=30_000)
    qtbot.waitUntil(lambda: not window.shell.runner.busy, timeout=60_000)
    # Separate folders: a database, models and a schedule per source.
    sources = Path(window.shell.backend.data_dir) / "sources"
    names = sorted(p.name for p in sources.iterdir())
    assert names[0].startswith("api-127.0.0.1-") and names[1] == "sandbox-tiny-42"
    for name in names:
        assert (sources / name / "tutormax.db").exists()


def test_sla_breaches_are_announced_without_filling_the_hidden_interventions_table(
    qtbot, make_window, sandbox_server
):
    """Thousands of interventions at full scale: the table fills when its page is shown,
    the SLA check (for notifications) runs on a worker whatever page is shown."""
    from datetime import timedelta

    from sqlalchemy import insert

    from services.db.models import Intervention

    window = make_window(Settings(api_url=sandbox_server.base_url), start=False)
    engine = window.shell.backend.engine()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(Intervention),
            [
                {
                    "tutor_id": 1,
                    "intervention_type": "manager_coaching",
                    "status": "open",
                    "priority": 50,
                    "due_at": now - timedelta(hours=2 + i),
                    "reason": "test",
                    "idempotency_key": f"sla-test-{i}",
                }
                for i in range(3)
            ],
        )
    window.shell.start(sync_at_start=False)
    wait_ready(qtbot, window)
    center = window.shell.notifications
    qtbot.waitUntil(
        lambda: sum("SLA breached" in n.event.title for n in center.items()) == 3, timeout=30_000
    )
    assert window.shell.interventions.model.rowCount() == 0  # not shown: not filled
    window.go_to(PAGES.index("interventions"))
    qtbot.waitUntil(lambda: window.shell.interventions.model.rowCount() == 3, timeout=30_000)
    # Shown again by the page's own load: announced once (de-duplicated).
    qtbot.wait(200)
    assert sum("SLA breached" in n.event.title for n in center.items()) == 3


def test_critical_notifications_say_each_thing_once(qtbot, make_window, sandbox_server):
    """From the alert engine's rows: the tutor named once, the risk once, and the
    "N more" notice only when a scoring run brought news (a re-scoring is quiet)."""
    from types import SimpleNamespace

    from viewmodels.shell import NOTIFY_CAP

    window = make_window(Settings(api_url=sandbox_server.base_url), start=False)
    shell = window.shell

    def row(i: int, reason: str) -> SimpleNamespace:
        name = f"Tutor {i}"
        return SimpleNamespace(
            tutor_id=i,
            name=name,
            risk_tier="Critical",
            p_churn_30d=0.9 - i / 100,
            reason=f"{name}: {reason}",
            alert_key=f"churn_critical:tutor:{i}",
            alert_id=100 + i,
            alert_state="new",
        )

    rows = [row(0, "no sessions for 27 days")] + [
        row(i, f"{90 - i} % chance of leaving within 30 days") for i in range(1, 23)
    ]
    shell._notify_critical(SimpleNamespace(scoring_run={"id": 1}, critical=rows))
    items = {n.event.title: n.event for n in shell.notifications.items()}
    first = items["Critical: Tutor 0"]
    assert first.body.count("Tutor 0") == 0 and first.body.startswith("90 % churn risk")
    assert "no sessions for 27 days" in first.body
    assert items["Critical: Tutor 1"].body == "89 % chance of leaving within 30 days"
    assert f"{len(rows) - NOTIFY_CAP} more Critical tutors" in items
    count = len(shell.notifications.items())
    # The same Critical tutors from the next scoring run: nothing new to say.
    shell._notify_critical(SimpleNamespace(scoring_run={"id": 2}, critical=rows))
    assert len(shell.notifications.items()) == count
    # The dashboard's Critical panel names the tutor in its own column.
    from viewmodels.dashboard import without_subject

    assert without_subject("Tutor 3: 87 % chance", "Tutor 3") == "87 % chance"
    assert without_subject("87 % chance", "Tutor 3") == "87 % chance"
