"""The schema mirrors the API contract, column for column, and indexes only what's queried."""

from __future__ import annotations

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql, sqlite

from services.api.contract import RESOURCES, Kind
from services.db.models import RESOURCE_TABLES, Base, resource_table
from services.db.types import ENUM_MAX_LENGTH, UTCDateTime

INTERVENTION_LOCAL = ("local_id", "pending", "conflict", "local_updated_at")

EXPECTED_INDEXES = {
    "sessions": {("tutor_id", "start_time"), ("customer_id", "start_time"), ("start_time",)},
    "bookings": {("scheduled_time",), ("customer_id",)},
    "inbound_calls": {("customer_id", "call_time")},
    "engagement_events": {("tutor_id", "occurred_at")},
    "availability_slots": {("tutor_id", "starts_at"), ("starts_at",)},
    "tutors": {("manager_id",)},
    "customers": {("status",)},
    "managers": set(),
    "interventions": set(),
}


def kind_matches(kind: Kind, type_) -> bool:  # type: ignore[no-untyped-def]
    match kind:
        case Kind.INT:
            return isinstance(type_, Integer | BigInteger)
        case Kind.STR:
            return isinstance(type_, String | Text)
        case Kind.ENUM:
            return type(type_) is String and type_.length == ENUM_MAX_LENGTH
        case Kind.BOOL:
            return isinstance(type_, Boolean)
        case Kind.TIMESTAMP:
            return isinstance(type_, UTCDateTime)
        case Kind.DATE:
            return isinstance(type_, Date)
        case Kind.DECIMAL:
            sqlite_type = type_._variant_mapping.get("sqlite")
            return (
                type(type_) is Numeric
                and (type_.precision, type_.scale, type_.asdecimal) == (12, 4, False)
                and isinstance(sqlite_type, Float)
            )
        case Kind.FLOAT:
            return isinstance(type_, Float)
        case Kind.STR_LIST:
            return isinstance(type_, JSON)
    raise AssertionError(kind)


def test_every_resource_has_a_table() -> None:
    assert set(RESOURCE_TABLES) == set(RESOURCES)
    for name in RESOURCES:
        assert resource_table(name).name == name
    with pytest.raises(KeyError, match="nope"):
        resource_table("nope")


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_columns_mirror_the_contract_in_order(name: str) -> None:
    resource, table = RESOURCES[name], resource_table(name)
    columns = [c.name for c in table.columns if c.name not in INTERVENTION_LOCAL]
    assert columns == list(resource.field_names)
    for field in resource.fields:
        column = table.c[field.name]
        assert kind_matches(field.kind, column.type), (field, column.type)


@pytest.mark.parametrize("name", sorted(set(RESOURCES) - {"interventions"}))
def test_resource_rows(name: str) -> None:
    table, resource = resource_table(name), RESOURCES[name]
    assert [c.name for c in table.primary_key] == ["id"]
    assert table.c.id.autoincrement is False  # API ids, no sequence
    # SQLite: INTEGER PRIMARY KEY, i.e. the rowid. PostgreSQL: BIGINT.
    assert table.c.id.type.compile(dialect=sqlite.dialect()) == "INTEGER"
    assert table.c.id.type.compile(dialect=postgresql.dialect()) == "BIGINT"
    assert not table.c.updated_at.nullable
    # Nullability is the contract's: a record the validator accepts always fits.
    for field in resource.fields:
        assert table.c[field.name].nullable == field.nullable, field.name


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_no_foreign_keys_and_only_the_queried_indexes(name: str) -> None:
    table = resource_table(name)
    assert table.foreign_keys == set()
    assert {tuple(c.name for c in ix.columns) for ix in table.indexes} == EXPECTED_INDEXES[name]


def test_interventions_local_shape() -> None:
    t = resource_table("interventions")
    assert [c.name for c in t.primary_key] == ["local_id"]
    assert t.c.local_id.autoincrement in (True, "auto")
    assert t.c.id.nullable
    assert not t.c.idempotency_key.nullable
    unique = {
        tuple(c.name for c in uc.columns)
        for uc in t.constraints
        if isinstance(uc, UniqueConstraint)
    }
    assert unique == {("id",), ("idempotency_key",)}
    assert all(t.c[c].nullable for c in ("created_at", "updated_at", "deleted_at"))


def test_every_constraint_and_index_is_named() -> None:
    # Alembic batch mode on SQLite can only alter or drop named constraints.
    for table in Base.metadata.tables.values():
        for item in [*table.constraints, *table.indexes]:
            assert item.name, (table.name, item)
