"""Opening an older database migrates it without losing a row, on SQLite and PostgreSQL.

The database starts at the first revision (0001) and walks every revision to head; at
each stop the tables that revision created are filled with rows in the schema *of that
revision* (reflected from the database, never from services/db/models.py, which
describes head). At head every row of every table is still there with the same values:
microsecond timestamps, JSON, exact decimals, unicode text, booleans, NULLs. A later
migration that rebuilds a table (SQLite batch mode copies it) or alters a column is
covered without changing this test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, Table, insert, select
from sqlalchemy import types as sqltypes

from services.db.migrate import alembic_config, current_revision, head_revision, migrate

ROWS = 4  # per table; the last one has NULL in every nullable column


def revisions_in_order() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions("base", "heads")))]


def reflect(engine: Engine) -> MetaData:
    meta = MetaData()
    meta.reflect(engine)
    if "alembic_version" in meta.tables:
        meta.remove(meta.tables["alembic_version"])
    return meta


def _value(table: Table, column: Any, i: int, pg: bool) -> Any:
    """A value for row ``i`` (1-based) that is unique per row and exercises the type."""
    t = column.type
    name = f"{table.name}.{column.name}"
    if isinstance(t, sqltypes.Boolean):
        return i % 2 == 0
    if isinstance(t, sqltypes.Integer):
        return 1_000 * i + len(column.name)  # unique per row, different per column
    if isinstance(t, sqltypes.DateTime):
        # Microseconds, and dates on both sides of a DST change.
        value = datetime(2026, 3, 8, 1, 59, 59, 123_456) + timedelta(days=i * 37, microseconds=i)
        return value.replace(tzinfo=UTC) if getattr(t, "timezone", False) else value
    if isinstance(t, sqltypes.Date):
        return date(2026, 1, 1) + timedelta(days=i * 11)
    if isinstance(t, sqltypes.Numeric) and not isinstance(t, sqltypes.Float):
        return Decimal(f"{i}.{1234 * i % 10_000:04d}") if pg else float(f"{i}.25")
    if isinstance(t, sqltypes.Float):
        return i + 0.1 * i
    if isinstance(t, sqltypes.JSON):
        return {"row": i, "tags": ["ä", "b"], "nested": {"ok": i % 2 == 0}, "none": None}
    if isinstance(t, sqltypes.LargeBinary):
        return bytes([i, 0, 255])
    if isinstance(t, sqltypes.String):
        text = f"{i}·{name} «ünïcødé» \"q\" 'x'"
        length = getattr(t, "length", None)
        return text[:length] if length else text
    if pg and type(t).__name__ == "JSONB":
        return {"row": i}
    raise AssertionError(f"no test value for {name} of type {t!r}: extend _value()")


def fill(engine: Engine, tables: list[Table], filled: dict[str, list[dict]]) -> None:
    """ROWS rows in each table (parents first), foreign keys pointing at real rows."""
    pg = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        for table in tables:
            rows = []
            for i in range(1, ROWS + 1):
                row: dict[str, Any] = {}
                for column in table.columns:
                    fks = list(column.foreign_keys)
                    if column.nullable and i == ROWS and not column.primary_key:
                        row[column.name] = None
                    elif fks:
                        target = fks[0].column
                        parents = filled.get(target.table.name) or rows
                        if not parents:  # a self-reference on the first row
                            row[column.name] = None
                            continue
                        row[column.name] = parents[(i - 1) % len(parents)][target.name]
                    else:
                        row[column.name] = _value(table, column, i, pg)
                rows.append(row)
            conn.execute(insert(table), rows)
            filled[table.name] = rows


def read(engine: Engine, table: Table) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key))]


def test_every_row_survives_the_walk_from_0001_to_head(engine: Engine) -> None:
    revisions = revisions_in_order()
    assert revisions[0] == "0001" and revisions[-1] == head_revision()
    filled: dict[str, list[dict]] = {}
    snapshots: dict[str, tuple[Table, list[tuple]]] = {}
    for revision in revisions:
        migrate(engine, revision)
        assert current_revision(engine) == revision
        meta = reflect(engine)
        new = [t for t in meta.sorted_tables if t.name not in filled]
        assert revision != "0001" or len(new) >= 10, "0001 creates the resource tables"
        fill(engine, new, filled)
        for table in new:
            snapshots[table.name] = (table, read(engine, table))
    assert set(filled) == set(reflect(engine).tables)

    migrate(engine)  # a no-op at head: still every row
    head = reflect(engine)
    lost = []
    for name, (old_table, old_rows) in snapshots.items():
        assert name in head.tables, f"table {name} was dropped by an upgrade"
        table = head.tables[name]
        columns = [c.name for c in old_table.columns]
        missing = set(columns) - set(table.columns.keys())
        assert not missing, f"{name}: columns {sorted(missing)} were dropped by an upgrade"
        ordered = table.primary_key.columns.values()
        with engine.connect() as conn:
            now_rows = [
                tuple(r)
                for r in conn.execute(select(*(table.c[c] for c in columns)).order_by(*ordered))
            ]
        assert len(old_rows) == ROWS
        if now_rows != old_rows:
            lost.append((name, old_rows, now_rows))
    assert not lost, f"rows changed by the upgrade: {lost[:2]}"


def test_the_walk_sees_a_lost_row(engine: Engine) -> None:
    # Guards the test above: the same comparison notices a row that went missing.
    migrate(engine, "0001")
    filled: dict[str, list[dict]] = {}
    meta = reflect(engine)
    fill(engine, meta.sorted_tables, filled)
    table = meta.sorted_tables[-1]  # nothing refers to it
    before = read(engine, table)
    key = table.primary_key.columns.values()[0]
    with engine.begin() as conn:
        conn.execute(table.delete().where(key == filled[table.name][-1][key.name]))
    migrate(engine)
    assert read(engine, table) != before
