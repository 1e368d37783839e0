"""`tutormax`: the headless command line.

    tutormax sandbox serve [--scale demo|full] [--seed N] [--port N] [--token T]
    tutormax sync   [--api-url URL] [--database URL] [--resource R ...] [--json]
    tutormax status [--database URL] [--json]
    tutormax rejects [--database URL] [--resource R] [--limit N] [--json]
    tutormax train  [--database URL] [--json]
    tutormax score  [--database URL] [--json]
    tutormax tutor show <id or name> [--json]
    tutormax first-sessions [--days 7] [--json]
    tutormax worker [--database URL] [--api-url URL] [--models-dir DIR] [--tick S]
    tutormax alerts list [--state S ...] [--severity S ...] [--rule R ...] [--json]

Exit codes: 0 done, 1 partly failed, 2 bad usage or configuration, 3 the API refused
the token, 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tutormax_desktop import __version__

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_AUTH, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tutormax", description="TutorMax Desktop, headless: sync, status, sandbox."
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sb = sub.add_parser("sandbox", help="the built-in sandbox marketplace")
    sbsub = sb.add_subparsers(dest="sandbox_command", required=True, metavar="ACTION")
    serve = sbsub.add_parser("serve", help="serve the sandbox API on 127.0.0.1 until stopped")
    serve.add_argument("--scale", choices=("tiny", "demo", "full"), default="demo")
    serve.add_argument("--seed", type=int, default=42)
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--token", help="bearer token to require (default: a random one)")
    serve.add_argument(
        "--anchor",
        help="the simulated 'now' as ISO 8601 UTC (default: this hour); fixes the world",
    )
    serve.add_argument(
        "--clock",
        choices=("realtime", "fixed"),
        default="realtime",
        help="realtime runs with the wall clock; fixed moves only via /sandbox/clock/advance",
    )
    serve.add_argument("--speed", type=float, default=1.0, help="realtime clock speed-up")
    serve.add_argument(
        "--time-precision",
        type=int,
        choices=(3, 6),
        default=3,
        help="fraction digits of emitted timestamps (Rails default 3)",
    )
    serve.add_argument("--faults", help="JSON of fault settings, e.g. '{\"error_500_rate\": 0.1}'")
    # Hidden: the app passes its own PID; its sandbox then runs below the app's priority
    # and never outlives it.
    serve.add_argument("--app-pid", type=int, metavar="PID", help=argparse.SUPPRESS)

    sy = sub.add_parser("sync", help="pull the API into the local database")
    sy.add_argument("--api-url", help="API base URL (default: settings; none = the sandbox)")
    sy.add_argument("--database", help="SQLAlchemy URL (default: settings / local SQLite)")
    sy.add_argument("--resource", action="append", help="only this resource (repeatable)")
    sy.add_argument("--due", action="store_true", help="only resources whose cadence is due")
    sy.add_argument("--page-limit", type=int, help="records per page, 1-1000")
    sy.add_argument("--json", action="store_true", help="print the report as JSON")

    st = sub.add_parser("status", help="cursors, last success, rows, rejects, outbox")
    st.add_argument("--database", help="SQLAlchemy URL (default: settings / local SQLite)")
    st.add_argument("--json", action="store_true")

    tr = sub.add_parser("train", help="train every model on the local database")
    tr.add_argument("--database", help="SQLAlchemy URL (default: settings / local SQLite)")
    tr.add_argument("--json", action="store_true")

    sc = sub.add_parser("score", help="score tutors, first sessions and customers")
    sc.add_argument("--database", help="SQLAlchemy URL (default: settings / local SQLite)")
    sc.add_argument("--json", action="store_true")

    tu = sub.add_parser("tutor", help="read-outs about one tutor")
    tusub = tu.add_subparsers(dest="tutor_command", required=True, metavar="ACTION")
    show = tusub.add_parser("show", help="risk curve, tiers, health and top factors")
    show.add_argument("key", help="tutor id, or (part of) the name")
    show.add_argument("--database")
    show.add_argument("--json", action="store_true")

    report = tusub.add_parser(
        "report", help="write the tutor's performance report as a PDF (as the app's Export)"
    )
    report.add_argument("key", help="tutor id, or (part of) the name")
    report.add_argument("--out", required=True, help="the PDF file to write")
    report.add_argument("--database")

    fs = sub.add_parser("first-sessions", help="upcoming first sessions with their risk")
    fs.add_argument("--days", type=int, default=7)
    fs.add_argument("--database")
    fs.add_argument("--json", action="store_true")

    from tutormax_desktop import cli_interventions

    cli_interventions.add_parser(sub)

    from tutormax_desktop import cli_alerts

    cli_alerts.add_parser(sub)

    from tutormax_desktop import cli_worker

    cli_worker.add_parser(sub)

    from tutormax_desktop import cli_forecast

    cli_forecast.add_parser(sub)

    rj = sub.add_parser("rejects", help="API records that failed validation")
    rj.add_argument("--database")
    rj.add_argument("--resource")
    rj.add_argument("--limit", type=int, default=20)
    rj.add_argument("--json", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tutormax_desktop.context import AppContext
    from tutormax_desktop.logging_setup import setup_logging

    try:
        ctx = AppContext.load()
    except ValueError as exc:  # SettingsError
        print(f"tutormax: {exc}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(ctx.paths.log_file, verbose=args.verbose)
    try:
        if args.command == "sandbox":
            return _sandbox_serve(args)
        if args.command == "sync":
            return _sync(ctx, args)
        if args.command == "status":
            return _status(ctx, args)
        if args.command == "rejects":
            return _rejects(ctx, args)
        if args.command == "train":
            return _train(ctx, args)
        if args.command == "score":
            return _score(ctx, args)
        if args.command == "tutor":
            if args.tutor_command == "report":
                return _tutor_report(ctx, args)
            return _tutor_show(ctx, args)
        if args.command == "first-sessions":
            return _first_sessions(ctx, args)
        if args.command == "interventions":
            from tutormax_desktop import cli_interventions

            return cli_interventions.run(ctx, args)
        if args.command == "worker":
            from tutormax_desktop import cli_worker

            return cli_worker.run(ctx, args)
        if args.command == "alerts":
            from tutormax_desktop import cli_alerts

            return cli_alerts.run(ctx, args)
        if args.command == "forecast":
            from tutormax_desktop import cli_forecast

            return cli_forecast.run(ctx, args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `tutormax first-sessions | head`: the reader left; that is not an error.
        sys.stderr.close()
        return EXIT_OK
    finally:
        ctx.close()
    return EXIT_USAGE


# ---------------------------------------------------------------------- sandbox


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # POSIX only: on Windows os.kill would end the process
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge
    try:  # Linux: a zombie has ended, it only waits to be reaped
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _serve_for_app(app_pid: int, every: float = 1.0) -> None:
    """Started by the app: run below its priority (building a world must not take the
    CPU its GUI thread needs) and end once it has ended (a server left behind by a
    crashed app would serve forever). The server itself does both, not the app: in a
    PyInstaller bundle on Linux and macOS the app's child is the bootloader and the
    server its own child. The app's PID, not our parent's, for the same reason. POSIX
    only, as Windows has no nice and no signal-0 probe."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        os.nice(10)

    def watch() -> None:
        while _alive(app_pid):
            time.sleep(every)
        os._exit(EXIT_OK)  # nothing to save: the world lives in memory

    threading.Thread(target=watch, name="app-watch", daemon=True).start()


def _sandbox_serve(args: argparse.Namespace) -> int:
    from services.api.rails_time import TimestampError, parse_us
    from services.sandbox.faults import FaultConfig
    from services.sandbox.launcher import start_sandbox

    if args.app_pid:
        _serve_for_app(args.app_pid)
    anchor = None
    if args.anchor:
        try:
            anchor = parse_us(args.anchor)
        except TimestampError as exc:
            print(f"tutormax: --anchor: {exc}", file=sys.stderr)
            return EXIT_USAGE
    faults = None
    if args.faults:
        try:
            faults = FaultConfig.from_json(json.loads(args.faults))
        except (ValueError, TypeError) as exc:
            print(f"tutormax: --faults: {exc}", file=sys.stderr)
            return EXIT_USAGE
    print(f"Building the {args.scale} sandbox world (seed {args.seed})...", flush=True)
    sandbox = start_sandbox(
        scale=args.scale,
        seed=args.seed,
        anchor_us=anchor,
        port=args.port,
        token=args.token,
        realtime=args.clock == "realtime",
        speed=args.speed,
        faults=faults,
        time_precision=args.time_precision,
    )
    print(f"Sandbox marketplace serving at {sandbox.base_url}", flush=True)
    if not args.token:
        # The operator asked for a sandbox on their own machine: showing its throwaway
        # token is how they use it. It is never logged.
        print(f"export TUTORMAX_API_TOKEN={sandbox.token}", flush=True)
    print(f"sync with: tutormax sync --api-url {sandbox.base_url}   (Ctrl+C stops)", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return EXIT_OK


# ---------------------------------------------------------------------- sync


def _sync(ctx: Any, args: argparse.Namespace) -> int:
    from services.api.errors import ApiError
    from services.credentials import CredentialError
    from services.sync.engine import SyncEngine
    from services.sync.outbox import drain_outbox

    if args.page_limit is not None and not 1 <= args.page_limit <= 1000:
        print("tutormax: --page-limit must be from 1 to 1000", file=sys.stderr)
        return EXIT_USAGE
    try:
        engine = ctx.engine(args.database)
        client = ctx.api_client(args.api_url)
    except CredentialError as exc:
        print(f"tutormax: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"tutormax: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sync = SyncEngine(
        engine,
        client,
        page_limit=args.page_limit or ctx.settings.sync.page_limit,
        concurrency=ctx.settings.sync.concurrency,
        cadence_minutes=ctx.settings.sync.cadence_minutes,
    )
    # Ctrl+C: stop between pages, keep what is committed, report.
    signal.signal(signal.SIGINT, lambda *_: sync.cancel.set())
    signal.signal(signal.SIGTERM, lambda *_: sync.cancel.set())
    resources = args.resource or (sync.due_resources() if args.due else None)
    try:
        outbox = drain_outbox(engine, client)
    except ApiError as exc:
        outbox = None
        print(f"outbox not drained: {exc}", file=sys.stderr)
    try:
        report = sync.sync(resources, trigger="cli")
    except ValueError as exc:
        print(f"tutormax: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        client.close()
    if outbox is not None:
        report.outbox = outbox.as_dict()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        _print_sync_report(report)
    if report.status == "ok":
        return EXIT_OK
    if report.status == "auth_failed":
        return EXIT_AUTH
    if report.status == "cancelled":
        return EXIT_INTERRUPTED
    return EXIT_PARTIAL


def _print_sync_report(report: Any) -> None:
    header = f"{'resource':<20}{'status':>12}{'fetched':>10}{'upserted':>10}{'deleted':>9}"
    header += f"{'rejected':>10}{'pages':>7}{'seconds':>9}"
    print(header)
    for r in report.results.values():
        print(
            f"{r.resource:<20}{r.status:>12}{r.fetched:>10}{r.upserted:>10}{r.deleted:>9}"
            f"{r.rejected:>10}{r.pages:>7}{r.seconds:>9.2f}"
        )
    print(
        f"\n{report.status}: {report.total_fetched} records in {report.seconds:.1f}s "
        f"({report.records_per_second:,.0f}/s), {report.total_rejected} rejected"
    )
    if report.outbox:
        print(f"outbox: {report.outbox}")
    for r in report.results.values():
        if r.error:
            print(f"  {r.resource}: {r.error}")


# ---------------------------------------------------------------------- status


def _status(ctx: Any, args: argparse.Namespace) -> int:
    from services.sync.status import sync_status

    status = sync_status(ctx.engine(args.database))
    if args.json:
        print(json.dumps(status, indent=2))
        return EXIT_OK
    print(f"database: {status['database']['url']}", end="")
    if "size_bytes" in status["database"]:
        print(f"  ({status['database']['size_bytes'] / 1e6:.1f} MB)")
    else:
        print()
    print(
        f"{'resource':<20}{'status':>12}{'rows':>10}{'deleted':>9}{'rejects':>9}"
        f"{'flagged':>9}  {'last success':<27}cursor"
    )
    for name, r in status["resources"].items():
        cursor = f"{r['cursor_updated_at'] or '-'} #{r['cursor_id'] or '-'}"
        print(
            f"{name:<20}{r['status']:>12}{r['rows']:>10}{r['deleted']:>9}{r['rejects']:>9}"
            f"{r['flagged']:>9}  {(r['last_success_at'] or 'never'):<27}{cursor}"
        )
        if r["last_error"] and r["status"] != "ok":
            print(f"    last error: {r['last_error']}")
    print(f"outbox depth: {status['outbox_depth']}  {status['outbox'] or ''}")
    if status["last_run"]:
        lr = status["last_run"]
        print(f"last run #{lr['id']} ({lr['trigger']}): {lr['status']} at {lr['finished_at']}")
    return EXIT_OK


def _rejects(ctx: Any, args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from services.db.models import Reject

    engine = ctx.engine(args.database)
    q = select(Reject.__table__).order_by(Reject.last_seen_at.desc()).limit(args.limit)
    if args.resource:
        q = q.where(Reject.resource == args.resource)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    items = [
        {
            "resource": r.resource,
            "record_id": r.record_id,
            "reason": r.reason,
            "seen_count": r.seen_count,
            "last_seen_at": r.last_seen_at.isoformat(),
            "raw": r.raw,
        }
        for r in rows
    ]
    if args.json:
        print(json.dumps(items, indent=2))
    else:
        for it in items:
            print(f"{it['resource']} #{it['record_id']} (seen {it['seen_count']}x): {it['reason']}")
    return EXIT_OK


# ---------------------------------------------------------------------- models


def _progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def _train(ctx: Any, args: argparse.Namespace) -> int:
    from services.training import TrainingError, train_models

    try:
        result = train_models(ctx.engine(args.database), ctx.models_dir, progress=_progress)
    except TrainingError as exc:
        print(f"tutormax: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(_plain(result.__dict__), indent=2))
        return EXIT_OK
    print(f"trained on data up to {result.observed_until}; models in {ctx.models_dir}")
    for name, version in result.versions.items():
        print(f"\n{name} v{version} ({result.seconds.get(name, 0):.1f}s) held-out figures:")
        for line in _figure_lines(name, result.figures.get(name, {})):
            print(f"  {line}")
    for w in result.warnings:
        print(f"warning: {w}")
    return EXIT_OK


def _figure_lines(name: str, f: dict[str, Any]) -> list[str]:
    def pct(v: Any) -> str:
        return "-" if v is None or v != v else f"{100 * v:.1f} %"

    def num(v: Any) -> str:
        return "-" if v is None or v != v else f"{v:.3f}"

    if name.endswith("churn"):
        lines = [
            f"rows {f.get('n')}, events {f.get('events')}, concordance {num(f.get('concordance'))}"
        ]
        for h in (7, 14, 30, 90):
            auc = f.get(f"auc_{h}d")
            if auc is not None and auc == auc:
                lines.append(
                    f"{h:>2} d: AUC {num(f.get(f'auc_{h}d'))}  Brier {num(f.get(f'brier_{h}d'))}"
                    f"  churned {f.get(f'churned_{h}d')}/{f.get(f'known_{h}d')}"
                    f"  at p>=0.5 precision {pct(f.get(f'precision_{h}d'))}"
                    f" recall {pct(f.get(f'recall_{h}d'))}"
                    f"  at recall 80 % precision {pct(f.get(f'precision_r80_{h}d'))}"
                )
            else:
                lines.append(f"{h:>2} d: not measurable (no one followed that long after the cut)")
        return lines
    if name == "first_session":
        return [
            f"rows {f.get('n')}, poor rate {pct(f.get('poor_rate'))}",
            f"AUC {num(f.get('auc'))}, accuracy {pct(f.get('accuracy'))} "
            f"(always-predict-good {pct(f.get('always_good_accuracy'))})",
            f"Brier {num(f.get('brier'))} (base rate {num(f.get('brier_base_rate'))}), "
            f"calibration error {num(f.get('ece'))}",
        ]
    return [f"{k}: {num(v) if isinstance(v, float) else v}" for k, v in f.items()]


def _score(ctx: Any, args: argparse.Namespace) -> int:
    from services.scoring import ScoringError, score

    try:
        result = score(
            ctx.engine(args.database),
            ctx.models_dir,
            trigger="cli",
            progress=_progress,
            settings=ctx.settings,
        )
    except ScoringError as exc:
        print(f"tutormax: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(_plain(result.as_dict()), indent=2))
        return EXIT_OK
    counts = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in result.counts.items())
    print(f"scoring run #{result.run_id} as of {result.as_of}: {counts} in {result.seconds:.1f}s")
    print("models: " + ", ".join(f"{k} v{v}" for k, v in result.models.items()))
    if result.alerts:
        print(f"alerts: {result.alerts['summary']}")
    if result.interventions:
        iv = result.interventions
        print(f"interventions: {iv.get('created', 0):,} created, "
              f"{iv.get('skipped_open', 0):,} already open, "
              f"{iv.get('breaches', 0):,} SLA breaches")  # fmt: skip
    for w in result.warnings:
        print(f"warning: {w}")
    return EXIT_OK


def _tutor_show(ctx: Any, args: argparse.Namespace) -> int:
    from services.readouts import ReadoutError, tutor_profile

    try:
        profile = tutor_profile(ctx.engine(args.database), args.key)
    except ReadoutError as exc:
        print(f"tutormax: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(profile, indent=2))
        return EXIT_OK
    t, c = profile["tutor"], profile["churn"]
    print(f"{t['name']} (#{t['id']}), {t['status']}, manager {t['manager'] or '-'}, "
          f"subjects {', '.join(t['subjects']) or '-'}")  # fmt: skip
    print(f"as of {profile['as_of']} ({profile['model_version']})")
    curve = "  ".join(f"{h}: {_pct(c[h])}" for h in ("7d", "14d", "30d", "90d"))
    print(f"P(churn within)  {curve}  ->  {profile['risk_tier']}")
    perf, health = profile["performance"], profile["health"]
    next_week = _fmt(profile["predicted_sessions_next_week"])
    print(f"performance {_fmt(perf['score'])} {perf['tier']}; health {_fmt(health['score'])} "
          f"{health['segment']}; burnout {'yes' if profile['burnout'] else 'no'}; no-show risk "
          f"{_pct(profile['noshow_risk'])}; sessions next week {next_week}")  # fmt: skip
    print("top factors:")
    for f in profile["factors"]:
        print(f"  - {f['text']} ({f['direction']})")
    return EXIT_OK


def _tutor_report(ctx: Any, args: argparse.Namespace) -> int:
    """The same PDF as the profile's "Export report", for a manager's batch or a cron."""
    from services.readouts import ReadoutError, find_tutor
    from services.scheduler import user_zone

    out = Path(args.out).expanduser()
    if out.suffix.lower() != ".pdf":
        print(f"tutormax: {out} is not a .pdf file name", file=sys.stderr)
        return EXIT_USAGE
    engine = ctx.engine(args.database)
    try:
        tutor = find_tutor(engine, args.key)
    except ReadoutError as exc:
        print(f"tutormax: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # QPdfWriter and QTextDocument need a QGuiApplication; no window is shown, so the
    # command runs on a server without a display too.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    from services.tutors import tutor_bundle
    from viewmodels.report_pdf import write_report_pdf

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    bundle = tutor_bundle(engine, int(tutor["id"]))
    try:
        pages = write_report_pdf(bundle, out, user_zone(ctx.settings.notifications.timezone))
    except OSError as exc:
        print(f"tutormax: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"report for {tutor['name']} (#{tutor['id']}): {out} ({pages} pages)")
    return EXIT_OK


def _first_sessions(ctx: Any, args: argparse.Namespace) -> int:
    from services.readouts import ReadoutError, upcoming_first_sessions

    try:
        out = upcoming_first_sessions(ctx.engine(args.database), args.days)
    except (ReadoutError, ValueError) as exc:
        print(f"tutormax: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(out, indent=2))
        return EXIT_OK
    print(f"first sessions in the {args.days} days after {out['as_of']}: {len(out['sessions'])}")
    for s in out["sessions"]:
        why = "; ".join(f["text"] for f in s["factors"][:2])
        print(f"{s['start_time'][:16]}  {(s['tutor'] or '?'):<22} {s['subject'] or '-':<16} "
              f"P(poor) {_pct(s['p_poor']):>6}  {s['risk_tier'] or '-':<8} {why}")  # fmt: skip
    return EXIT_OK


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * v:.0f} %"


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.1f}"


def _plain(value: Any) -> Any:
    import math

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


if __name__ == "__main__":
    raise SystemExit(main())
