"""`tutormax worker`: the headless scheduler of a team deployment (tutormax_desktop/worker.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    wk = sub.add_parser(
        "worker",
        help="sync, score, train and forecast on the schedule, headless, until SIGTERM",
    )
    wk.add_argument("--database", help="SQLAlchemy URL, e.g. postgresql+psycopg://... (team)")
    wk.add_argument("--api-url", help="API base URL (default: settings; none = the sandbox)")
    wk.add_argument(
        "--models-dir", type=Path, help="model registry folder (default: the data folder's)"
    )
    wk.add_argument(
        "--tick", type=float, default=60.0, help="seconds between schedule checks (default 60)"
    )
    wk.add_argument("--ticks", type=int, help="stop after this many ticks (default: never)")


def run(ctx: Any, args: argparse.Namespace) -> int:
    from tutormax_desktop.worker import Worker, WorkerOptions, setup_worker_logging

    if args.tick <= 0 or (args.ticks is not None and args.ticks < 1):
        print("tutormax: --tick must be positive and --ticks at least 1")
        return 2
    if args.api_url:
        from services.settings import Settings

        # This run only (the settings file is unchanged); it also picks the models and
        # schedule folder of that data source, as the desktop would.
        try:
            api_url = Settings(api_url=args.api_url).api_url
        except ValueError as exc:
            print(f"tutormax: --api-url: {exc}")
            return 2
        ctx.settings = ctx.settings.model_copy(update={"api_url": api_url})
    setup_worker_logging(ctx.paths.log_file, verbose=args.verbose)
    worker = Worker(
        ctx,
        WorkerOptions(
            database_url=args.database,
            api_url=args.api_url,
            models_dir=args.models_dir,
            tick_seconds=args.tick,
            max_ticks=args.ticks,
        ),
    )
    worker.install_signal_handlers()
    return worker.run()
