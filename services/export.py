"""CSV export shared by every list (tutors, alerts, interventions, ...).

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read
as a formula by Excel, LibreOffice and Google Sheets ("CSV injection": a tutor named
``=HYPERLINK(...)`` would become a live link in the manager's spreadsheet). Such text
cells get a leading apostrophe, which spreadsheets hide and treat as "this is text"
(OWASP's advice). Numbers are written as numbers (a negative trend stays -0.05, not
'-0.05), so only strings are neutralised.

Files are UTF-8 with a byte-order mark so Excel opens accented names correctly, and are
written to a temporary file first and renamed: a failed export never leaves half a file
where the user expects a whole one.

A long export is cancellable: :func:`cancellable_rows` wraps the rows, reports progress
and raises :class:`ExportCancelled` when asked to stop; the writer then removes its
temporary file, so a cancelled export leaves nothing behind.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ExportError(OSError):
    """The file could not be written; the message names the file and the reason."""


class ExportCancelled(Exception):
    """The user cancelled an export. Not an OSError: the writer reports those as "cannot
    write", which a cancel is not."""


PROGRESS_EVERY = 2000  # rows between progress reports and cancel checks


def cancellable_rows(
    rows: Iterable[Sequence[Any]],
    total: int,
    *,
    cancelled: Callable[[], bool],
    progress: Callable[[float], None] | None = None,
    every: int = PROGRESS_EVERY,
) -> Iterator[Sequence[Any]]:
    """``rows`` as they are consumed, checking ``cancelled()`` and reporting the share
    done every ``every`` rows; raises :class:`ExportCancelled` when cancelled."""
    share = 1 / max(1, total)
    for n, row in enumerate(rows):
        if n % every == 0:
            if cancelled():
                raise ExportCancelled("export cancelled")
            if progress is not None:
                progress(n * share)
        yield row
    if cancelled():  # a cancel during the last stretch still wins: nothing is renamed
        raise ExportCancelled("export cancelled")


def neutralise(value: Any) -> Any:
    """One cell as written: text that a spreadsheet would run gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "" if not math.isfinite(value) else value
    if isinstance(value, int):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        value = ", ".join(str(v) for v in value)
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def write_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write ``header`` and ``rows`` to ``path``; returns the number of data rows."""
    path = Path(path)
    if not header:
        raise ValueError("a CSV export needs at least one column")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ExportError(f"cannot write {path}: the folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            writer.writerow([neutralise(h) for h in header])
            width = len(header)
            for row in rows:
                cells = list(row)
                if len(cells) != width:
                    raise ValueError(f"row {n + 1} has {len(cells)} cells for {width} columns")
                writer.writerow([neutralise(c) for c in cells])
                n += 1
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n
