"""`tutormax`: the headless command line.

    tutormax sandbox serve [--scale demo|full] [--seed N] [--port N] [--token T]
    tutormax sync   [--api-url URL] [--database URL] [--resource R ...] [--json]
    tutormax status [--database URL] [--json]
    tutormax rejects [--database URL] [--resource R] [--limit N] [--json]

Exit codes: 0 done, 1 partly failed, 2 bad usage or configuration, 3 the API refused
the token, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
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
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        ctx.close()
    return EXIT_USAGE


# ---------------------------------------------------------------------- sandbox


def _sandbox_serve(args: argparse.Namespace) -> int:
    from services.api.rails_time import TimestampError, parse_us
    from services.sandbox.faults import FaultConfig
    from services.sandbox.launcher import start_sandbox

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


if __name__ == "__main__":
    raise SystemExit(main())
