"""Logging for both entry points: a rotating file in the app's log folder, plus stderr.

A filter scrubs anything shaped like a bearer token from every record, as a second
line of defence: no code path is supposed to log a token in the first place.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

_TOKEN = re.compile(r"(?i)(bearer\s+|token[\"'=:\s]+)[A-Za-z0-9._\-~+/=]{8,}")


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = _TOKEN.sub(r"\1[redacted]", message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


def setup_logging(log_file: Path | None, *, verbose: bool = False, console: bool = True) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    redact = RedactSecrets()
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=5_000_000, backupCount=5, encoding="utf-8"
        )
        fh.setFormatter(fmt)
        fh.addFilter(redact)
        root.addHandler(fh)
    if console:
        ch = logging.StreamHandler()
        ch.setLevel(logging.DEBUG if verbose else logging.WARNING)
        ch.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        ch.addFilter(redact)
        root.addHandler(ch)
    # httpx logs every request at INFO; that is noise at 2,000 pages a sync.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
