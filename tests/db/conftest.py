"""Engines over ``db_url`` (SQLite file and PostgreSQL), empty or migrated."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from services.db.engine import make_engine
from services.db.migrate import migrate


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh, empty database (both backends)."""
    eng = make_engine(db_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def migrated(engine: Engine) -> Engine:
    """The same, migrated to head."""
    migrate(engine)
    return engine
