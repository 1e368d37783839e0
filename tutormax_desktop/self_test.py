"""``tutormax-desktop --self-test``: the whole app, once, offscreen, in a temp folder.

For a freshly built bundle (``make package-test``, CI) and for support on a user's
machine: it exercises what a packaged app can lose on the way (a Qt plugin, XGBoost's
native library, the Alembic migrations, a module only imported by name, the helper
processes that must re-enter the frozen executable) by doing what the app does:

1. ``qt``: a QApplication on the offscreen platform; the platform plugins (offscreen and
   xcb), PNG/JPEG/SVG image formats and the SVG icon engine are there.
2. ``database``: a fresh SQLite database in the temp folder, migrated to head.
3. ``sync``: the built-in sandbox started in its own process and a sync of it in a
   spawned process, exactly as the desktop does (``Backend.run_sync``).
4. ``jobs``: the background jobs found in a spawned process; training first, then
   scoring and every other job, each in its own process (``services.jobs``).
5. ``pages``: the main window built on that database, every page shown once and grabbed
   to a PNG in the temp folder.

Exit 0 with a short report on stdout, or 1 naming the step that failed and why.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

STEPS = ("qt", "database", "sync", "jobs", "pages")
EXIT_OK, EXIT_FAILED = 0, 1
# Printed (and flushed) as soon as the Qt application exists: the benchmark times it.
STARTED_LINE = "self-test: started"
# The order jobs run in: the models first, then what uses them; others after.
JOB_ORDER = ("train", "score")


class SelfTestError(RuntimeError):
    """A step found something wrong; the message says what."""


@dataclass
class StepResult:
    name: str
    ok: bool
    seconds: float
    detail: str


@dataclass
class _State:
    """What Backend.run_sync and the jobs expect of a task state (viewmodels.tasks)."""

    log: Callable[[str], None]
    cancel_event: threading.Event = field(default_factory=threading.Event)

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def progress(self, value: object) -> None:
        if isinstance(value, str):
            self.log(value)


@dataclass
class SelfTest:
    folder: Path
    scale: str = "demo"
    steps: Sequence[str] = STEPS
    out: TextIO = sys.stdout
    verbose: bool = False
    results: list[StepResult] = field(default_factory=list)
    _app: Any = None
    _ctx: Any = None
    _backend: Any = None
    _registry: Any = None

    # ------------------------------------------------------------------ driver

    def run(self) -> int:
        started = time.perf_counter()
        self._say(f"TutorMax Desktop {_version()} self-test ({_where()})")
        try:
            self._prepare()
            for name in STEPS:
                if name not in self.steps:
                    continue
                t0 = time.perf_counter()
                try:
                    detail = getattr(self, f"_step_{name}")()
                except Exception as exc:
                    seconds = time.perf_counter() - t0
                    self.results.append(StepResult(name, False, seconds, _one_line(exc)))
                    self._line(self.results[-1])
                    self._say(
                        f"FAILED at {name}: {_one_line(exc)}\n"
                        f"details: {self.folder / 'self-test.log'}; files kept in {self.folder}"
                    )
                    self._write_log(traceback.format_exc())
                    return EXIT_FAILED
                self.results.append(StepResult(name, True, time.perf_counter() - t0, detail))
                self._line(self.results[-1])
        finally:
            self._close()
        total = time.perf_counter() - started
        self._say(f"self-test passed: {len(self.results)} steps in {total:.1f} s")
        return EXIT_OK

    def _prepare(self) -> None:
        # Everything the app writes goes under the temp folder (paths.HOME_ENV), and Qt
        # renders offscreen whatever display there is.
        from tutormax_desktop.paths import HOME_ENV

        os.environ[HOME_ENV] = str(self.folder / "home")
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "tutormax"])
        app.setApplicationName("TutorMax Desktop")
        app.setOrganizationName("TutorMax")
        self._app = app
        print(STARTED_LINE, file=self.out, flush=True)

        from services.settings import SandboxSettings, ScheduleSettings, Settings
        from tutormax_desktop.context import AppContext
        from tutormax_desktop.logging_setup import setup_logging
        from tutormax_desktop.paths import app_paths

        paths = app_paths().ensure()
        setup_logging(paths.log_file, verbose=self.verbose)
        # The schedule stays off: the jobs step runs them on purpose, and the window of
        # the pages step must not start a retraining of its own.
        settings = Settings(
            sandbox=SandboxSettings(scale=self.scale),
            schedule=ScheduleSettings(enabled=False),
        )
        self._ctx = AppContext(paths, settings)

    def _close(self) -> None:
        if self._backend is not None:
            with contextlib.suppress(Exception):
                self._backend.close()
            self._backend = None

    # ------------------------------------------------------------------ steps

    def _step_qt(self) -> str:
        from PySide6.QtCore import QLibraryInfo, QSize
        from PySide6.QtGui import QGuiApplication, QImageReader

        from ui.theme import icon

        platform = QGuiApplication.platformName()
        if platform != "offscreen":
            raise SelfTestError(f"expected the offscreen platform, Qt chose {platform!r}")
        plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
        platforms = {p.name.split(".")[0] for p in (plugins / "platforms").glob("*")}
        missing = {"libqoffscreen", "libqxcb"} - platforms if os.name == "posix" else set()
        if sys.platform == "darwin":
            missing = {"libqcocoa", "libqoffscreen"} - platforms
        if missing:
            raise SelfTestError(
                f"Qt platform plugins missing in {plugins / 'platforms'}: {sorted(missing)}"
            )
        formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
        wanted = {"png", "jpg", "svg"}
        if not wanted <= formats:
            raise SelfTestError(f"Qt image formats missing: {sorted(wanted - formats)}")
        pixmap = icon("app").pixmap(QSize(48, 48))
        if pixmap.isNull() or pixmap.toImage().pixelColor(24, 24).alpha() == 0:
            raise SelfTestError("the app icon (SVG) did not render: no SVG icon engine?")
        return f"platform {platform}; image formats {', '.join(sorted(wanted))}; SVG icons"

    def _step_database(self) -> str:
        from services.db.migrate import current_revision, head_revision
        from tutormax_desktop.backend import Backend

        self._backend = Backend(self._ctx)
        self._backend.open()
        engine = self._backend.engine()
        revision = current_revision(engine)
        if revision != head_revision():
            raise SelfTestError(f"database at revision {revision}, expected {head_revision()}")
        return f"{self._backend.database_label} migrated to {revision}"

    def _step_sync(self) -> str:
        self._need("database")
        state = _State(self._progress)
        report = self._backend.run_sync(state, trigger="self-test")
        if report.status != "ok":
            errors = "; ".join(
                f"{r.resource}: {r.error}" for r in report.results.values() if r.error
            )
            raise SelfTestError(f"sync {report.status}: {errors or 'no detail'}")
        if report.total_fetched == 0:
            raise SelfTestError("the sync fetched nothing from the sandbox")
        return (
            f"{report.total_fetched:,} records from the {self.scale} sandbox "
            "(server and sync in their own processes)"
        )

    def _step_jobs(self) -> str:
        from services.jobs import run_isolated, summarize_result

        self._need("sync")
        registry, problems = self._backend.discover_jobs()
        if problems:
            raise SelfTestError(f"job providers failed: {'; '.join(problems)}")
        names = registry.names()
        if not {"train", "score"} <= set(names):
            raise SelfTestError(f"expected train and score jobs, found {names}")
        ordered = [n for n in JOB_ORDER if n in names] + [n for n in names if n not in JOB_ORDER]
        done: list[str] = []
        for name in ordered:
            state = _State(self._progress)
            t0 = time.perf_counter()
            result = run_isolated(
                registry.get(name),
                self._backend.job_environment("self-test"),
                cancel_event=state.cancel_event,
                on_progress=state.progress,
            )
            seconds = time.perf_counter() - t0
            self._say(f"       job {name} ({seconds:.1f} s): {summarize_result(result)}")
            done.append(name)
        self._check_scored()
        return f"{len(done)} jobs in their own processes: {', '.join(done)}"

    def _check_scored(self) -> None:
        from sqlalchemy import func, select

        from services.db.models import ScoringRun, TutorPrediction

        with self._backend.engine().connect() as conn:
            runs = conn.execute(select(func.count()).select_from(ScoringRun)).scalar_one()
            scored = conn.execute(select(func.count()).select_from(TutorPrediction)).scalar_one()
        if not runs or not scored:
            raise SelfTestError(f"scoring left {runs} runs and {scored} tutor predictions")

    def _step_pages(self) -> str:
        from tutormax_desktop.gui import build_shell
        from viewmodels.shell import PAGES

        self._need("database")
        # The window's own backend opens the same database; the sandbox is not needed.
        self._backend.stop_sandbox()
        screens = self.folder / "screens"
        screens.mkdir(parents=True, exist_ok=True)
        shell = build_shell(self._ctx, tray=False)
        window = shell.window
        window.on_quit = lambda: None
        try:
            window.resize(1280, 820)
            window.show()
            window.shell.start(sync_at_start=False)
            self._wait(lambda: window.shell.ready, 120, "the window's database to open")
            loaded: list[object] = []
            window.shell.dashboard.sig_loaded.connect(loaded.append)
            self._wait(lambda: not window.shell.runner.busy, 120, "the pages to load")
            saved = []
            for i, name in enumerate(PAGES):
                window.go_to(i)
                self._settle()
                self._wait(lambda: not window.shell.runner.busy, 60, f"the {name} page")
                self._settle()
                if window.stack.currentWidget() is not window.pages[name]:
                    raise SelfTestError(f"the {name} page did not show")
                path = screens / f"{i + 1}-{name}.png"
                if not window.grab().save(str(path)) or path.stat().st_size == 0:
                    raise SelfTestError(f"could not save a screenshot of the {name} page")
                saved.append(name)
            failed = [r for r in window.shell.runner.history.records() if r.status == "failed"]
            if failed:
                raise SelfTestError(
                    "a task of the window failed: "
                    + "; ".join(f"{r.name}: {r.summary}" for r in failed)
                )
        finally:
            shell.shutdown()
            window.close()
            window.deleteLater()
            self._settle()
        self._backend = None  # shell.shutdown closed the shared context
        return f"{len(saved)} pages rendered to {screens}"

    # ------------------------------------------------------------------ helpers

    def _need(self, step: str) -> None:
        if not any(r.name == step and r.ok for r in self.results):
            raise SelfTestError(f"needs the {step} step")

    def _settle(self, seconds: float = 0.2) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._app.processEvents()
            time.sleep(0.01)

    def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > end:
                raise SelfTestError(f"timed out after {timeout:.0f} s waiting for {what}")
            self._app.processEvents()
            time.sleep(0.01)

    def _progress(self, message: str) -> None:
        if self.verbose:
            self._say(f"       ... {message}")

    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _line(self, r: StepResult) -> None:
        mark = "ok  " if r.ok else "FAIL"
        self._say(f"  {mark} {r.name:<9}{r.seconds:>7.1f} s  {r.detail}")

    def _write_log(self, text: str) -> None:
        with contextlib.suppress(OSError):
            (self.folder / "self-test.log").write_text(text, encoding="utf-8")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _version() -> str:
    from tutormax_desktop import __version__

    return __version__


def _where() -> str:
    from tutormax_desktop.launcher import is_frozen

    py = f"Python {sys.version.split()[0]}"
    if is_frozen():
        return f"bundle {Path(sys.executable).resolve().parent}, {py}"
    return f"from source, {py}"


def run_self_test(
    *,
    folder: str | Path | None = None,
    keep: bool = False,
    scale: str = "demo",
    steps: Sequence[str] = STEPS,
    verbose: bool = False,
    out: TextIO | None = None,
) -> int:
    """Run the self-test; 0 when every step passed. ``folder`` (kept) or a new temp
    folder (deleted after a pass unless ``keep``; kept after a failure)."""
    unknown = set(steps) - set(STEPS)
    if unknown:
        print(f"self-test: unknown steps {sorted(unknown)}; known: {', '.join(STEPS)}")
        return 2
    given = folder is not None
    path = Path(folder) if given else Path(tempfile.mkdtemp(prefix="tutormax-self-test-"))
    path.mkdir(parents=True, exist_ok=True)
    test = SelfTest(path, scale=scale, steps=steps, out=out or sys.stdout, verbose=verbose)
    code = test.run()
    if code == EXIT_OK and not (given or keep):
        shutil.rmtree(path, ignore_errors=True)
    elif code == EXIT_OK:
        test._say(f"files (database, logs, screenshots) in {path}")
    return code
