"""Checking a database URL the user typed (Settings, ``--database``) before it is used."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SUPPORTED = ("sqlite", "postgresql")


def check_database_url(url: str | None) -> str | None:
    """The URL, normalised, or None for "this computer's own database".

    Raises ValueError with a sentence for the user: not a URL, a backend the app does not
    run on, or a password in it (settings.json is a plain file; PostgreSQL takes the
    password from ``~/.pgpass`` or ``PGPASSWORD`` instead, as for psql).
    """
    if url is None or not url.strip():
        return None
    text = url.strip()
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise ValueError(
            f"{text!r} is not a database URL; e.g. postgresql+psycopg://user@host/tutormax"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        raise ValueError(f"the database must be SQLite or PostgreSQL, not {backend}")
    if parsed.password:
        raise ValueError(
            "the database URL must not contain a password (it would be stored in a plain "
            "file); put it in ~/.pgpass or PGPASSWORD"
        )
    if parsed.drivername == "postgresql":
        # The app ships psycopg 3, not psycopg2 (SQLAlchemy's default for postgresql://).
        # Only the scheme changes: the rest stays as typed (a socket path in the query
        # would come back percent-encoded from render_as_string).
        return "postgresql+psycopg" + text[len("postgresql") :]
    return text
