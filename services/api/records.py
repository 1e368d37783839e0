"""Validation of API records against the contract, a page at a time.

A page is validated straight from its JSON bytes by pydantic-core (one pass in Rust for
the common, clean page). When a page holds bad records, each record is validated on its
own so the good ones go on and each bad one becomes a reject with a readable reason
("rating: Input should be less than or equal to 5 (got 9)"). Unknown enum values are
not errors: the record is kept with the raw value and the value is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Annotated, Any, NotRequired

import orjson
from pydantic import (
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    with_config,
)
from typing_extensions import TypedDict

from services.api.contract import RESOURCES, Kind, Resource
from services.api.contract import Field as ContractField
from services.api.rails_time import ISO_WITH_ZONE, TimestampError, parse_us, utc_text
from services.db.types import ENUM_MAX_LENGTH


def _decimal_pattern(f: ContractField) -> str:
    if f.minimum == 0 and f.maximum == 1:
        return r"^(0(\.\d+)?|1(\.0+)?|\.\d+)$"
    if f.minimum is not None and f.minimum >= 0:
        return r"^\d+(\.\d+)?$"
    return r"^-?\d+(\.\d+)?$"


def _py_type(f: ContractField) -> Any:
    bounds = {}
    if f.minimum is not None:
        bounds["ge"] = f.minimum
    if f.maximum is not None:
        bounds["le"] = f.maximum
    match f.kind:
        case Kind.INT:
            base: Any = Annotated[int, Field(**bounds)]
        case Kind.STR:
            base = str
        case Kind.ENUM:
            # Unknown values are kept (and flagged), but a value longer than the column
            # would fail the whole page's insert on PostgreSQL: that one is a reject.
            base = Annotated[str, Field(max_length=ENUM_MAX_LENGTH)]
        case Kind.BOOL:
            base = bool
        case Kind.TIMESTAMP:
            # Shape and zone checked here in Rust (naive timestamps are refused: their
            # zone would be a guess); the calendar and the conversion to UTC text happen
            # in utc_text, several times cheaper than building datetimes.
            base = Annotated[str, Field(pattern=ISO_WITH_ZONE)]
        case Kind.DATE:
            base = date
        case Kind.DECIMAL:
            # A number, or a decimal string checked by pattern in Rust (a Python validator
            # here costs more than the rest of the record); the writer turns strings into
            # floats. Bounds on strings: only non-negativity (all our decimals are >= 0).
            base = (
                Annotated[float, Field(**bounds)]
                | Annotated[str, Field(pattern=_decimal_pattern(f))]
            )
        case Kind.FLOAT:
            base = Annotated[float, Field(**bounds)]
        case Kind.STR_LIST:
            base = list[str]
        case _:  # pragma: no cover - the contract has no other kinds
            raise AssertionError(f.kind)
    if f.nullable:
        # Missing optional fields are null (RAILS_API.md "Rails conventions").
        return NotRequired[base | None]
    return base


@cache
def _record_adapter(resource_name: str) -> TypeAdapter:
    resource = RESOURCES[resource_name]
    td = TypedDict(  # type: ignore[misc]
        f"{resource_name.title().replace('_', '')}Record",
        {f.name: _py_type(f) for f in resource.fields},
    )
    # strict: a string id or "true" for a bool is a wrong type, not something to coerce.
    # Unknown fields are ignored (the contract says so).
    td = with_config(ConfigDict(strict=True, extra="ignore"))(td)
    return TypeAdapter(td)


@cache
def _page_adapter(resource_name: str) -> TypeAdapter:
    """The whole response body ``{"data": [...], "meta": {...}}`` in one pass."""
    record = _record_adapter(resource_name)._type  # type: ignore[attr-defined]
    page = TypedDict(  # type: ignore[misc]  # noqa: UP013 - field names are data
        f"{resource_name.title().replace('_', '')}Page",
        {"data": list[record], "meta": dict[str, Any]},
    )
    return TypeAdapter(with_config(ConfigDict(strict=True, extra="ignore"))(page))


@dataclass(slots=True)
class Reject:
    record_id: str | None
    raw: str
    reason: str


@dataclass(slots=True)
class Flag:
    record_id: int
    field: str
    value: str


@dataclass(slots=True)
class Key:
    """A record's position in keyset order as far as the client can know it."""

    updated_at_us: int
    id: int
    # True when the server emitted microseconds, so this is the stored instant; False
    # when it emitted milliseconds (Rails' default) and this is only a lower bound.
    exact: bool


@dataclass(slots=True)
class ValidatedPage:
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    # Key of the last record of the page that had a usable id and updated_at, valid or
    # rejected: the cursor must move past rejected records too.
    last_key: Key | None = None
    has_more: bool = False
    # How many records the page held, valid or not.
    size: int = 0
    body: bytes = field(default=b"", repr=False)
    _records: list[Any] | None = field(default=None, repr=False)

    def records(self) -> list[Any]:
        """The page's raw records (parsed on demand: the clean path never needs them)."""
        if self._records is None:
            self._records = orjson.loads(self.body)["data"]
        return self._records


class InvalidPageError(ValueError):
    """The body is not ``{"data": [...], "meta": {"has_more": bool}}`` (worth a retry)."""


def validate_page(resource: str | Resource, body: bytes) -> ValidatedPage:
    """Split a page's records into valid rows, rejects and flags.

    The clean case is one pass of pydantic-core over the bytes, with no Python-level
    JSON parse at all; a page with bad records is parsed and validated record by record.
    """
    name = resource if isinstance(resource, str) else resource.name
    res = RESOURCES[name]
    out = ValidatedPage(body=body)
    candidates: list[tuple[Any, dict[str, Any]]]
    try:
        doc = _page_adapter(name).validate_json(body)
    except ValidationError:
        records, out.has_more = split_page(body)
        out._records = records
        candidates = []
        adapter = _record_adapter(name)
        for raw in records:
            try:
                candidates.append((raw, adapter.validate_json(orjson.dumps(raw))))
            except ValidationError as rec_exc:
                out.rejects.append(_reject(raw, _reason(rec_exc, res)))
        out.last_key = last_key(records)
    else:
        has_more = doc["meta"].get("has_more")
        if not isinstance(has_more, bool):
            raise InvalidPageError("the body lacks meta.has_more")
        out.has_more = has_more
        rows = doc["data"]
        # The last record's key, from its text before conversion: the exact spelling
        # (3 or 6 fraction digits) says whether the server emits microseconds.
        out.last_key = key_of(rows[-1]) if rows else None
        candidates = [(None, row) for row in rows]
    out.size = len(candidates) + len(out.rejects)
    names = res.field_names
    ts_fields = [f.name for f in res.fields if f.kind is Kind.TIMESTAMP]
    enum_fields = [(f.name, frozenset(f.choices)) for f in res.fields if f.kind is Kind.ENUM]
    for i, (raw, row) in enumerate(candidates):
        try:
            for fname in ts_fields:
                value = row.get(fname)
                if value is not None:
                    row[fname] = _storage_time(value)
        except TimestampError as exc:
            raw = raw if raw is not None else out.records()[i]
            out.rejects.append(_reject(raw, f"{fname}: {exc}"))
            continue
        for fname, choices in enum_fields:
            value = row.get(fname)
            if value is not None and value not in choices:
                out.flags.append(Flag(row["id"], fname, value))
        if len(row) != len(names):
            # Missing optional fields are null: every row carries every column, so the
            # writer can bind rows by name without looking each one up.
            for fname in names:
                row.setdefault(fname, None)
        out.rows.append(row)
    return out


_VALID_DATES: dict[str, bool] = {}


def _storage_time(text: str) -> str:
    """utc_text for a value pydantic already matched against ISO_WITH_ZONE.

    Rails' own spelling (``YYYY-MM-DDTHH:MM:SS.mmmZ``) only needs its calendar date
    checked (the pattern cannot know 30 February), and a page has few distinct dates:
    a dict of them turns the common case into one lookup and a slice.
    """
    if len(text) == 24 and text[23] == "Z":
        day = text[:10]
        ok = _VALID_DATES.get(day)
        if ok is None:
            try:
                date.fromisoformat(day)
                ok = True
            except ValueError:
                ok = False
            if len(_VALID_DATES) < 100_000:
                _VALID_DATES[day] = ok
        if ok:
            return f"{day} {text[11:23]}000"
    return utc_text(text)


def split_page(body: bytes) -> tuple[list[Any], bool]:
    """``{"data": [...], "meta": {"has_more": bool}}`` -> (records, has_more)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidPageError(f"the server sent invalid JSON ({exc})") from None
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("data"), list)
        or not isinstance(doc.get("meta"), dict)
        or not isinstance(doc["meta"].get("has_more"), bool)
    ):
        raise InvalidPageError("the body lacks data[] and meta.has_more")
    return doc["data"], doc["meta"]["has_more"]


def _reject(raw: Any, reason: str) -> Reject:
    return Reject(_raw_id(raw), orjson.dumps(raw).decode("utf-8", "replace"), reason)


def last_key(records: list[Any]) -> Key | None:
    """The keyset position of the last record that has a usable id and updated_at."""
    for raw in reversed(records):
        key = key_of(raw)
        if key is not None:
            return key
    return None


def key_of(raw: Any) -> Key | None:
    if not isinstance(raw, dict):
        return None
    rid, ts = raw.get("id"), raw.get("updated_at")
    if not isinstance(rid, int) or isinstance(rid, bool) or not isinstance(ts, str):
        return None
    try:
        us = parse_us(ts)
    except TimestampError:
        return None
    return Key(us, rid, _fraction_digits(ts) >= 6)


def _fraction_digits(ts: str) -> int:
    dot = ts.find(".")
    if dot < 0:
        return 0
    n = 0
    for ch in ts[dot + 1 :]:
        if not ch.isdigit():
            break
        n += 1
    return n


def _raw_id(raw: Any) -> str | None:
    if isinstance(raw, dict) and raw.get("id") is not None:
        return str(raw["id"])[:64]
    return None


def _reason(exc: ValidationError, res: Resource) -> str:
    kinds = {f.name: f.kind for f in res.fields}
    parts = []
    for e in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in e["loc"]) or "record"
        field_name = str(e["loc"][0]) if e["loc"] else ""
        kind = kinds.get(field_name)
        got = e.get("input")
        msg = e["msg"]
        if kind is Kind.DECIMAL and e["type"] != "missing":
            # A union (number or numeric string) reports each branch; say it once.
            loc, msg = field_name, "Input should be a decimal (number or numeric string) in range"
        elif kind is Kind.TIMESTAMP and e["type"] in ("string_pattern_mismatch", "string_type"):
            msg = "Input should be an ISO 8601 timestamp with a time zone"
        shown = "" if e["type"] == "missing" else f" (got {got!r:.60})"
        parts.append(f"{loc}: {msg}{shown}")
    return "; ".join(dict.fromkeys(parts))
