"""``tutormax interventions list [--json]``: the intervention queue, overdue first.

Kept apart from ``cli.py`` (which only registers it) so the intervention commands grow
here without touching the shared command table.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK, EXIT_USAGE = 0, 2


def add_parser(sub: Any) -> None:
    iv = sub.add_parser("interventions", help="the intervention queue with SLA due times")
    ivsub = iv.add_subparsers(dest="interventions_command", required=True, metavar="ACTION")
    ls = ivsub.add_parser("list", help="type, tutor, state, SLA due time, assignee")
    ls.add_argument("--database", help="SQLAlchemy URL (default: settings / local SQLite)")
    ls.add_argument("--state", action="append", help="only these states (repeatable)")
    ls.add_argument("--type", action="append", dest="types", help="only these types")
    ls.add_argument("--json", action="store_true")


def run(ctx: Any, args: argparse.Namespace) -> int:
    from services.intervention_queue import list_queue
    from services.sla import local_text

    try:
        rows = list_queue(ctx.engine(args.database))
    except ValueError as exc:
        print(f"tutormax: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.state:
        rows = [r for r in rows if r.status in set(args.state)]
    if args.types:
        rows = [r for r in rows if r.intervention_type in set(args.types)]
    if args.json:
        print(json.dumps({"interventions": [r.as_json() for r in rows]}, indent=2))
        return EXIT_OK
    overdue = sum(r.sla_state == "overdue" for r in rows)
    print(f"{len(rows)} interventions, {overdue} overdue")
    for r in rows:
        print(
            f"{r.intervention_type.replace('_', ' '):<29} {r.tutor_name[:22]:<22} "
            f"{r.status:<11} due {local_text(r.due_at):<22} {r.countdown:<20} {r.assignee}"
        )
    return EXIT_OK
