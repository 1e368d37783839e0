"""Injected faults: the ways a real API misbehaves, on demand and reproducibly.

Per-request faults (500, 429, truncated body, dropped connection, numbers for
decimals) draw from one random stream per fault kind, seeded from ``FaultConfig.seed``:
the same config gives the same pattern, and turning one fault on does not shift the
pattern of another.

Bad records are not random per request: whether a record version is malformed, and
how, is a hash of (seed, resource, id, updated_at). A bad row in a real database is bad
every time it is read, and a client that retries a page must meet the same bad
record again (and must not loop on it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from services.api.contract import COMMON_FIELDS, Field, Kind, Resource

# Every way a single record can be malformed.
STRING_ID = "string_id"  # "id": "812"
WRONG_TYPE = "wrong_type"  # "rating": "five"
MISSING_ID = "missing_id"
MISSING_UPDATED_AT = "missing_updated_at"
IMPOSSIBLE_VALUE = "impossible_value"  # "rating": 9
NAIVE_TIMESTAMP = "naive_timestamp"  # "start_time": "2026-05-26T03:00:00.000" (no zone)
UNKNOWN_ENUM = "unknown_enum"  # "status": "on_leave" (valid: keep and flag)
UNKNOWN_FIELD = "unknown_field"  # an extra attribute (valid: ignore)

MALFORMED_KINDS: tuple[str, ...] = (
    STRING_ID,
    WRONG_TYPE,
    MISSING_ID,
    MISSING_UPDATED_AT,
    IMPOSSIBLE_VALUE,
    NAIVE_TIMESTAMP,
    UNKNOWN_ENUM,
    UNKNOWN_FIELD,
)

UNKNOWN_ENUM_VALUE = "on_leave"
UNKNOWN_FIELD_NAME = "legacy_score"

_COMMON = {f.name for f in COMMON_FIELDS}
_WRONG_VALUES: dict[Kind, object] = {
    Kind.INT: "five",
    Kind.BOOL: "yes",
    Kind.TIMESTAMP: 12345,
    Kind.DATE: 20261120,
    Kind.STR: 12345,
    Kind.ENUM: 7,
    Kind.DECIMAL: "lots",
    Kind.FLOAT: "many",
    Kind.STR_LIST: "a,b",
}

_RATE_FIELDS = (
    "error_500_rate",
    "rate_429",
    "drop_mid_body_rate",
    "malformed_record_rate",
    "malformed_body_rate",
    "decimals_as_numbers_rate",
)


@dataclass(frozen=True)
class FaultConfig:
    """What to break. Everything off by default; rates are probabilities per request.

    ``storm_429`` and ``huge_page`` are counts: the next N data requests all get a 429,
    the next N data pages are padded to ``huge_page_bytes`` (``True`` means 1).
    """

    seed: int = 0
    error_500_rate: float = 0.0
    rate_429: float = 0.0
    storm_429: int = 0
    retry_after_seconds: int = 1
    slow_ms: int = 0
    drop_mid_body_rate: float = 0.0
    malformed_record_rate: float = 0.0
    malformed_kinds: tuple[str, ...] = MALFORMED_KINDS
    malformed_body_rate: float = 0.0
    huge_page: int = 0
    huge_page_bytes: int = 10_000_000
    decimals_as_numbers_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in _RATE_FIELDS:
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be within 0..1, not {value!r}")
        for name in ("storm_429", "huge_page", "slow_ms", "retry_after_seconds", "huge_page_bytes"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must not be negative")
        kinds = tuple(self.malformed_kinds)
        unknown = set(kinds) - set(MALFORMED_KINDS)
        if unknown:
            raise ValueError(f"unknown malformed kinds {sorted(unknown)}; known: {MALFORMED_KINDS}")
        if not kinds:
            raise ValueError("malformed_kinds must name at least one kind")
        object.__setattr__(self, "malformed_kinds", kinds)
        object.__setattr__(self, "huge_page", int(self.huge_page))

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> FaultConfig:
        """Build from a JSON object of field names (``PUT /sandbox/faults``)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault fields {sorted(unknown)}")
        kwargs = dict(data)
        if "malformed_kinds" in kwargs:
            kinds = kwargs["malformed_kinds"]
            if not isinstance(kinds, list | tuple) or not all(isinstance(k, str) for k in kinds):
                raise ValueError("malformed_kinds must be a list of strings")
            kwargs["malformed_kinds"] = tuple(kinds)
        return cls(**kwargs)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, object]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["malformed_kinds"] = list(self.malformed_kinds)
        return out


@dataclass(slots=True)
class RequestFaults:
    """What happens to one request, decided before it is handled."""

    slow_ms: int = 0
    status_429: bool = False
    status_500: bool = False
    drop_mid_body: bool = False
    malformed_body: bool = False
    huge_padding: int = 0
    decimals_as_numbers: bool = False
    # The injector that decided (the server's may be replaced mid-request).
    source: FaultInjector | None = None


class FaultInjector:
    """A config plus its running state (random streams, storm and huge-page counters)."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.config = config or FaultConfig()
        self._lock = threading.Lock()
        self._streams: dict[str, random.Random] = {}
        self._storm_left = self.config.storm_429
        self._huge_left = self.config.huge_page
        self._salt_cache: dict[str, int] = {}

    def _draw(self, kind: str, rate: float) -> bool:
        if rate <= 0.0:
            return False
        stream = self._streams.get(kind)
        if stream is None:
            stream = self._streams[kind] = random.Random(f"{self.config.seed}:{kind}")
        return stream.random() < rate

    def decide(self, *, is_page: bool) -> RequestFaults:
        """Faults for one data request; ``is_page`` = a list GET (body faults apply)."""
        c = self.config
        with self._lock:
            out = RequestFaults(slow_ms=c.slow_ms, source=self)
            if self._storm_left > 0:
                self._storm_left -= 1
                out.status_429 = True
            elif self._draw("429", c.rate_429):
                out.status_429 = True
            if not out.status_429 and self._draw("500", c.error_500_rate):
                out.status_500 = True
            if out.status_429 or out.status_500:
                return out
            out.drop_mid_body = self._draw("drop", c.drop_mid_body_rate)
            if is_page:
                out.malformed_body = self._draw("body", c.malformed_body_rate)
                out.decimals_as_numbers = self._draw("decimals", c.decimals_as_numbers_rate)
                if self._huge_left > 0:
                    self._huge_left -= 1
                    out.huge_padding = c.huge_page_bytes
            return out

    def cut_point(self, length: int) -> int:
        """Where to cut a body for a truncated or dropped response (1..length-1)."""
        if length < 2:
            return 0
        with self._lock:
            stream = self._streams.get("cut")
            if stream is None:
                stream = self._streams["cut"] = random.Random(f"{self.config.seed}:cut")
            return stream.randint(1, length - 1)

    # ---------------------------------------------------------------- bad records

    def malformed_kinds_for(
        self, resource: str, ids: np.ndarray, updated_at: np.ndarray
    ) -> list[tuple[int, str]]:
        """(position, kind) of the malformed records of a page, deterministic per version."""
        c = self.config
        if c.malformed_record_rate <= 0.0 or len(ids) == 0:
            return []
        salt = self._salt_cache.get(resource)
        if salt is None:
            digest = hashlib.blake2b(f"{c.seed}:{resource}".encode(), digest_size=8).digest()
            salt = self._salt_cache[resource] = int.from_bytes(digest, "little")
        h = _mix(np.asarray(ids, dtype=np.int64).view(np.uint64) ^ np.uint64(salt))
        h = _mix(h ^ np.asarray(updated_at, dtype=np.int64).view(np.uint64))
        u = (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)
        bad = np.flatnonzero(u < c.malformed_record_rate)
        if len(bad) == 0:
            return []
        kinds = c.malformed_kinds
        which = (_mix(h[bad]) % np.uint64(len(kinds))).tolist()
        return [(int(pos), kinds[k]) for pos, k in zip(bad.tolist(), which, strict=True)]


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, vectorised (uint64 arithmetic wraps, as intended)."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def corrupt_record(record: dict[str, object], kind: str, resource: Resource) -> None:
    """Make one serialised record malformed in place, the way ``kind`` says."""
    own = [f for f in resource.fields if f.name not in _COMMON]
    if kind == STRING_ID:
        record["id"] = str(record.get("id"))
    elif kind == MISSING_ID:
        record.pop("id", None)
    elif kind == MISSING_UPDATED_AT:
        record.pop("updated_at", None)
    elif kind == WRONG_TYPE:
        target = _first(own, lambda f: f.name == "rating") or _first(
            own, lambda f: f.kind in (Kind.INT, Kind.BOOL, Kind.TIMESTAMP)
        )
        if target is None:
            target = own[0] if own else resource.field("created_at")
        record[target.name] = _WRONG_VALUES[target.kind]
    elif kind == IMPOSSIBLE_VALUE:
        target = _first(own, lambda f: f.maximum is not None)
        if target is not None:
            value: object = int(target.maximum) + 4  # type: ignore[arg-type]
        else:
            target = _first(own, lambda f: f.minimum is not None)
            if target is None:
                record["id"] = 0  # ids start at 1
                return
            value = int(target.minimum) - 5  # type: ignore[arg-type]
        if target.kind == Kind.DECIMAL:
            value = f"{float(value)!r}"
        record[target.name] = value
    elif kind == NAIVE_TIMESTAMP:
        target = _first(own, lambda f: f.kind == Kind.TIMESTAMP and record.get(f.name) is not None)
        name = target.name if target is not None else "created_at"
        text = record.get(name) or record.get("updated_at") or "2026-01-01T00:00:00.000Z"
        record[name] = str(text).rstrip("Z")
    elif kind == UNKNOWN_ENUM:
        target = _first(own, lambda f: f.kind == Kind.ENUM)
        if target is None:
            record[UNKNOWN_FIELD_NAME] = 17
        else:
            record[target.name] = UNKNOWN_ENUM_VALUE
    elif kind == UNKNOWN_FIELD:
        record[UNKNOWN_FIELD_NAME] = 17
    else:
        raise ValueError(f"unknown malformed kind {kind!r}")


def _first(fields: Iterable[Field], predicate: Callable[[Field], bool]) -> Field | None:
    for f in fields:
        if predicate(f):
            return f
    return None
