"""``tutormax alerts list [--json]``: the alert queue, most urgent first.

Kept apart from ``cli.py`` (which only registers it) so alert commands grow here
without touching the shared command table.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK, EXIT_USAGE = 0, 2


def add_parser(sub: Any) -> None:
    al = sub.add_parser("alerts", help="the alert queue: rule, subject, severity, state")
    alsub = al.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    ls = alsub.add_parser("list", help="open alerts (or the given states), most urgent first")
    ls.add_argument("--database", help="SQLAlchemy URL (default: settings / local SQLite)")
    ls.add_argument(
        "--state",
        action="append",
        help="active, acknowledged, resolved or dismissed (repeatable; default: the open ones)",
    )
    ls.add_argument(
        "--severity", action="append", help="Critical, High, Medium or Low (repeatable)"
    )
    ls.add_argument("--rule", action="append", help="only this rule (repeatable)")
    ls.add_argument("--limit", type=int, help="at most this many")
    ls.add_argument("--json", action="store_true")


def run(ctx: Any, args: argparse.Namespace) -> int:
    from services.alerts import list_alerts

    try:
        rows = list_alerts(
            ctx.engine(args.database),
            states=args.state,
            severities=args.severity,
            rules=args.rule,
            limit=args.limit,
        )
    except ValueError as exc:
        print(f"tutormax: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps({"alerts": rows}, indent=2))
        return EXIT_OK
    by_severity: dict[str, int] = {}
    for r in rows:
        by_severity[r["severity"]] = by_severity.get(r["severity"], 0) + 1
    counts = ", ".join(f"{n:,} {sev}" for sev, n in by_severity.items())
    print(f"{len(rows):,} alerts" + (f" ({counts})" if counts else ""))
    for r in rows:
        who = (r["subject_name"] or r["subject_id"])[:28]
        snoozed = f" snoozed until {r['snoozed_until'][:16]}" if r["snoozed_until"] else ""
        print(
            f"{r['severity']:<8} {r['priority']:>3}  {r['rule']:<28} {who:<28} "
            f"{r['state']:<12} {r['assignee'] or '-':<12}{snoozed}"
        )
    return EXIT_OK
