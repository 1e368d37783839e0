"""The packaged app: bundle size, archive size, and how fast the bundle starts.

Needs a bundle (``make package``); without one every row says so and is skipped (not a
failure: building takes minutes of CPU and is not part of ``make bench``). Measured:

- ``package.bundle_mb``: the one-folder bundle on disk (target: under 500 MB; a CPU-only
  xgboost and no test data keep it near 420 MB);
- ``package.archive_mb``: the Linux tar.gz;
- ``package.start_to_self_test_s``: from launching the executable to the self-test's
  first line (Python, Qt and the app's modules loaded from the bundle, a QApplication
  up), the median of three runs of ``--self-test --self-test-steps qt``;
- ``package.build_s`` and ``package.self_test_s``: the last ``make package`` /
  ``make package-test`` figures from artifacts/package.json, when present.

Run: ``.venv/bin/python -m benchmarks.package_bench``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "dist" / "tutormax-desktop"
REPORT = ROOT / "artifacts" / "package.json"
TARGET_BUNDLE_MB = 500.0
TARGET_START_S = 5.0
STARTED_LINE = "self-test: started"  # tutormax_desktop.self_test.STARTED_LINE


def _executable() -> Path:
    return BUNDLE / ("tutormax-desktop.exe" if sys.platform == "win32" else "tutormax-desktop")


def _size_mb(path: Path) -> float:
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return total / 1e6


def time_to_start(runs: int = 3) -> float:
    """Seconds from exec to the self-test's first line, the median of ``runs``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="tutormax-bench-") as folder:
            started = time.perf_counter()
            proc = subprocess.Popen(
                [str(_executable()), "--self-test", "--self-test-steps", "qt",
                 "--self-test-dir", folder],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                cwd=tempfile.gettempdir(),
            )  # fmt: skip
            assert proc.stdout is not None
            seen = None
            for line in proc.stdout:
                if seen is None and line.startswith(STARTED_LINE):
                    seen = time.perf_counter() - started
            if proc.wait(timeout=120) != 0 or seen is None:
                raise RuntimeError(f"the bundle's self-test failed (exit {proc.returncode})")
            times.append(seen)
    return statistics.median(times)


def _row(name: str, value: object, unit: str, target: object, ok: bool) -> dict[str, object]:
    return {"name": name, "value": value, "unit": unit, "target": target, "ok": ok}


def run() -> list[dict[str, object]]:
    if not _executable().exists():
        return [
            _row("package.bundle_mb", "skipped: no bundle (make package)", "", None, True),
            _row("package.start_to_self_test_s", "skipped: no bundle", "", None, True),
        ]
    bundle_mb = _size_mb(BUNDLE)
    rows = [_row("package.bundle_mb", round(bundle_mb, 1), "MB", TARGET_BUNDLE_MB,
                 bundle_mb <= TARGET_BUNDLE_MB)]  # fmt: skip
    archives = sorted((ROOT / "dist").glob("tutormax-desktop-*.tar.gz"))
    if archives:
        rows.append(_row("package.archive_mb", round(archives[-1].stat().st_size / 1e6, 1),
                         "MB", None, True))  # fmt: skip
    start = time_to_start()
    rows.append(_row("package.start_to_self_test_s", round(start, 2), "s", TARGET_START_S,
                     start <= TARGET_START_S))  # fmt: skip
    if REPORT.exists():
        report = json.loads(REPORT.read_text(encoding="utf-8"))
        for key, name in (("build_seconds", "package.build_s"),
                          ("self_test_seconds", "package.self_test_s")):  # fmt: skip
            if report.get(key) is not None:
                ok = key != "self_test_seconds" or report.get("self_test_exit") == 0
                rows.append(_row(name, report[key], "s", None, ok))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
