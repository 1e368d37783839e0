"""``tutormax forecast [--json]``: refit and store the demand forecast, print its figures.

Kept apart from ``cli.py`` (which only registers it). Per subject and in total: the
backtest's hourly WAPE (with the Poisson noise floor), daily-total MAPE, MASE against
same-hour-last-week and the 95 % interval's coverage; then the shortage slots found
(coverage below 80 % at least 12 hours ahead) and how many surplus slots.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_OK, EXIT_USAGE = 0, 2


def add_parser(sub: Any) -> None:
    fc = sub.add_parser("forecast", help="refit the demand forecast; backtest figures, shortages")
    fc.add_argument("--database", help="SQLAlchemy URL (default: settings / local SQLite)")
    fc.add_argument("--json", action="store_true")


def run(ctx: Any, args: argparse.Namespace) -> int:
    from services.forecasting import ForecastingError, balance_from, run_forecast, slots_json

    def progress(message: str) -> None:
        print(f"... {message}", file=sys.stderr, flush=True)

    try:
        # The shortage/surplus thresholds of Preferences, as the app's forecast job uses.
        result = run_forecast(
            ctx.engine(args.database),
            trigger="cli",
            progress=progress,
            balance=balance_from(ctx.settings.alerts),
        )
    except ForecastingError as exc:
        print(f"tutormax: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # Like the scheduled job: the recommendations follow the new forecast.
    from services.recommendations import generate_recommendations

    recs = generate_recommendations(ctx.engine(args.database), run_id=result.run_id)
    cards = [
        {"priority": c.priority, "rule": c.rule, "subject": c.subject, "action": c.action,
         "reason": c.reason, "roi": c.roi}
        for c in recs.cards
    ]  # fmt: skip
    slots = slots_json(result.slots)
    if args.json:
        out = {
            "run_id": result.run_id,
            "as_of": result.as_of.isoformat(),
            "created_at": result.created_at.isoformat(),
            "model_version": result.model_version,
            "series": result.series,
            "backtest": result.backtest,
            "shortage_slots": slots.get("shortage", []),
            "surplus_slots": slots.get("surplus", []),
            "errors": result.errors,
            "seconds": round(result.seconds, 2),
            "recommendations": cards,
        }
        print(json.dumps(out, indent=2))
        return EXIT_OK
    print(f"forecast run {result.run_id} ({result.model_version}): 7 days from "
          f"{result.as_of:%Y-%m-%d %H:%M} UTC, {len(result.series)} series, "
          f"{result.seconds:.1f}s")  # fmt: skip
    print("backtest (rolling weekly origins over the last weeks):")
    print(f"  {'series':<18}{'per hour':>9}{'WAPE':>8}{'floor':>8}{'daily MAPE':>12}"
          f"{'MASE':>7}{'95% cov':>9}")  # fmt: skip
    for name in result.series:
        f = result.backtest.get(name)
        if not f:
            continue
        print(f"  {name:<18}{_num(f.get('mean_per_hour'), 1):>9}{_pct(f.get('wape')):>8}"
              f"{_pct(f.get('wape_floor')):>8}{_pct(f.get('daily_mape')):>12}"
              f"{_num(f.get('mase'), 2):>7}{_pct(f.get('coverage')):>9}")  # fmt: skip
    short = slots.get("shortage", [])
    print(f"shortage slots (coverage < 80 %, 12+ hours ahead): {len(short)}")
    for s in short:
        print(f"  {s['subject']:<18}{s['start'][:16]} for {s['hours']} h: "
              f"{s['supply']:.0f} tutor-hours for {s['demand']:.1f} bookings "
              f"({_pct(s['coverage'])}), in {s['lead_hours']:.0f} h")  # fmt: skip
    print(f"surplus slots (coverage > 130 %): {len(slots.get('surplus', []))}")
    print(f"recommendations: {recs.summary()}")
    for c in cards:
        print(f"  P{c['priority']} {c['action']}")
    for name, err in result.errors.items():
        print(f"warning: {name}: {err}")
    return EXIT_OK


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v: Any, digits: int) -> str:
    return "-" if v is None else f"{v:.{digits}f}"
