from __future__ import annotations

import pytest

from services.db.engine import make_engine
from services.db.migrate import migrate


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'local.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def any_engine(db_url):
    """A migrated database on each backend (SQLite file and real PostgreSQL)."""
    engine = make_engine(db_url)
    migrate(engine)
    yield engine
    engine.dispose()
