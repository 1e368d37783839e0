"""The local database: schema (models), column types, engines and migrations.

Public entry points::

    engine = make_engine(url)      # SQLite file or PostgreSQL, set up for the app
    migrate(engine)                # to the newest schema; a no-op when already there
    resource_table("sessions")     # the Table for an API resource
"""

from services.db.engine import SQLITE_BEGIN, begin_write, make_engine, sqlite_file
from services.db.migrate import current_revision, downgrade, head_revision, migrate
from services.db.models import RESOURCE_MODELS, RESOURCE_TABLES, Base, resource_table
from services.db.types import UTCDateTime

__all__ = [
    "RESOURCE_MODELS",
    "RESOURCE_TABLES",
    "SQLITE_BEGIN",
    "Base",
    "UTCDateTime",
    "begin_write",
    "current_revision",
    "downgrade",
    "head_revision",
    "make_engine",
    "migrate",
    "resource_table",
    "sqlite_file",
]
