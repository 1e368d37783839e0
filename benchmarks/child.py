"""Run a benchmark's measuring code in a child Python (its memory and Qt state go when it
ends) and read the JSON line it prints last."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_child(
    code: str,
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    what: str,
    timeout: float = 900,
) -> dict[str, Any]:
    """``python -c code args...`` in the project root; its last line starting with "{"
    as a dict. Fails with the child's output tails, named by ``what``."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{what} failed: {proc.stdout[-2000:]} {proc.stderr[-4000:]}")
    return json.loads(lines[-1])
