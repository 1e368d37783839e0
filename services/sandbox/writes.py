"""Intervention write-back: ``POST /api/v1/interventions`` and ``PATCH …/:id``.

Behaves like the Rails controller behind RAILS_API.md (bodies and messages as in
``rails-samples.txt``): strong parameters (unknown keys ignored), model validations
with Rails 6.1's messages, an idempotency key per create whose replay answers the first
response, and optimistic locking on ``lock_version``.

Every accepted write appends a full version to ``world.logs["interventions"]`` so the
next ``GET /api/v1/interventions`` shows it; all of that happens under the server's data
lock, which also keeps page reads consistent (a merge in the log moves row positions).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.api.contract import INTERVENTION_STATUSES, INTERVENTION_TYPES, RESOURCES
from services.api.rails_time import TimestampError, parse_us
from services.sandbox.clock import SandboxClock
from services.sandbox.rails_json import columns_from_record, dumps, field_order, format_record

log = logging.getLogger(__name__)

INTERVENTIONS = RESOURCES["interventions"]
PATCHABLE = ("status", "outcome", "notes")
MAX_KEY_LENGTH = 255

_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
# Rails casts a zone-less or date-only time to the app's zone (UTC here).
_NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}([.,]\d{1,9})?)?)?$")


class ParameterMissing(Exception):
    """``params.require(:intervention)`` failed: Rails answers 400 Bad Request."""


@dataclass(slots=True)
class WriteResponse:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


class InterventionWriter:
    """Creates and updates interventions in a world, thread-safely."""

    def __init__(
        self,
        world: Any,
        clock: SandboxClock,
        lock: threading.RLock,
        precision: Callable[[], int],
    ) -> None:
        self._world = world
        self._clock = clock
        self._lock = lock
        self._precision = precision
        # Idempotency-Key -> (record id, first response body). Only successes are
        # remembered, so a client can fix a 422 and retry with the same key.
        self._replays: dict[str, tuple[int, bytes]] = {}

    @property
    def _log(self) -> Any:
        return self._world.logs["interventions"]

    # ---------------------------------------------------------------- POST

    def create(self, key: str | None, params: object, location_base: str) -> WriteResponse:
        key = (key or "").strip()
        if not key:
            return _errors({"idempotency_key": ["must be given"]})
        if len(key) > MAX_KEY_LENGTH:
            too_long = f"is too long (maximum is {MAX_KEY_LENGTH} characters)"
            return _errors({"idempotency_key": [too_long]})
        attrs = _require(params)
        with self._lock:
            replay = self._replays.get(key)
            if replay is not None:
                return WriteResponse(200, replay[1], [("Idempotent-Replayed", "true")])
            bound = self._clock.read_bound_us()
            record, errors = self._validate_create(attrs, bound)
            if errors:
                return _errors(errors)
            record_id = self._log.max_id() + 1
            stamp = self._clock.stamp_write()
            record.update(
                id=record_id,
                status="open",
                outcome=None,
                idempotency_key=key,
                lock_version=0,
                created_at=stamp,
                updated_at=stamp,
                deleted_at=None,
            )
            self._log.append(*columns_from_record(INTERVENTIONS, record))
            body = dumps(format_record(INTERVENTIONS, record, self._precision()))
            self._replays[key] = (record_id, body)
            self._notify_world(record, stamp)
        location = f"{location_base}/api/v1/interventions/{record_id}"
        return WriteResponse(201, body, [("Location", location)])

    def _validate_create(
        self, attrs: Mapping[str, object], bound: int
    ) -> tuple[dict[str, object], dict[str, list[str]]]:
        errors: dict[str, list[str]] = {}
        tutor_id = _cast_id(attrs.get("tutor_id"))
        if tutor_id is None or not self._exists("tutors", tutor_id, bound):
            errors["tutor"] = ["must exist"]
        itype = attrs.get("intervention_type")
        if itype not in INTERVENTION_TYPES:
            errors["intervention_type"] = ["is not included in the list"]
        priority, message = _numericality(attrs.get("priority"), 0, 100)
        if message:
            errors["priority"] = [message]
        due_at: int | None = None
        raw_due = attrs.get("due_at")
        if raw_due is not None and raw_due != "":
            due_at = _cast_time(raw_due)
            if due_at is None:
                errors["due_at"] = ["is not an ISO 8601 timestamp"]
        assigned = attrs.get("assigned_to_id")
        assigned_id: int | None = None
        if assigned is not None and assigned != "":
            assigned_id = _cast_id(assigned)
            if assigned_id is None or not self._exists("managers", assigned_id, bound):
                errors["assigned_to"] = ["must exist"]
        record: dict[str, object] = {
            "tutor_id": tutor_id,
            "intervention_type": itype,
            "priority": priority,
            "due_at": due_at,
            "assigned_to_id": assigned_id,
            "reason": _cast_text(attrs.get("reason")),
            "source_alert_key": _cast_text(attrs.get("source_alert_key")),
            "notes": _cast_text(attrs.get("notes")),
        }
        return record, errors

    def _notify_world(self, record: Mapping[str, object], stamp: int) -> None:
        """Tell the simulation (it may react); its failure must not lose the write."""
        hook = getattr(self._world, "record_intervention", None)
        if hook is None:
            return
        try:
            hook(record["tutor_id"], record["intervention_type"], stamp)
        except Exception:
            log.exception("world.record_intervention failed; the intervention is kept")

    def _exists(self, resource: str, record_id: int, bound: int) -> bool:
        """Whether a record exists at the clock (created, whatever its status)."""
        log = self._world.logs.get(resource)
        if log is None:
            return False
        last = log.last_version(record_id)
        if last is None:
            return False
        created = last.get("created_at")
        return created is None or int(created) <= bound  # type: ignore[arg-type]

    # ---------------------------------------------------------------- PATCH

    def update(self, record_id: int, params: object) -> WriteResponse | None:
        """``None`` when the record does not exist (the server answers 404)."""
        attrs = _require(params)
        with self._lock:
            current = self._log.last_version(record_id)
            if current is None or current.get("deleted_at") is not None:
                return None
            if "lock_version" not in attrs or attrs["lock_version"] is None:
                return _errors({"lock_version": ["must be given"]})
            given_lock = _cast_id(attrs["lock_version"], allow_zero=True)
            if given_lock is None:
                return _errors({"lock_version": ["is not a number"]})
            # Strong parameters: only these, in the order the request gave them.
            written = [k for k in attrs if k in PATCHABLE]
            changes = {k: _cast_text(attrs[k]) for k in written}
            if "status" in changes and changes["status"] not in INTERVENTION_STATUSES:
                return _errors({"status": ["is not included in the list"]})
            precision = self._precision()
            if given_lock != current["lock_version"]:
                body = dumps(
                    {
                        "error": "stale_object",
                        "message": f"lock_version {given_lock} is stale; "
                        f"the record is at {current['lock_version']}",
                        "current": format_record(INTERVENTIONS, current, precision),
                    }
                )
                return WriteResponse(409, body)
            record = dict(current)
            if any(current.get(k) != v for k, v in changes.items()):
                stamp = self._clock.stamp_write(at_least_us=int(current["updated_at"]) + 1)
                record.update(changes)
                record["lock_version"] = int(current["lock_version"]) + 1
                record["updated_at"] = stamp
                self._log.append(*columns_from_record(INTERVENTIONS, record))
            # else: Rails saves nothing when nothing changed (no new lock_version).
            order = _patch_order(attrs)
            return WriteResponse(200, dumps(format_record(INTERVENTIONS, record, precision, order)))


def _patch_order(attrs: Mapping[str, object]) -> list[str]:
    """Attribute order of Rails 6.1's PATCH response, as in the sample.

    A loaded record serialises its attributes in the order they were materialised:
    the ones the update wrote (in request order), then lock_version and priority
    (read by locking and validation), then the rest in column order. Clients must not
    care; matching it keeps the sandbox byte-for-byte honest.
    """
    first = [k for k in attrs if k in (*PATCHABLE, "lock_version")]
    for name in ("lock_version", "priority"):
        if name not in first:
            first.append(name)
    return first + [n for n in field_order(INTERVENTIONS) if n not in first]


def _require(params: object) -> Mapping[str, object]:
    if not isinstance(params, dict):
        raise ParameterMissing("intervention")
    attrs = params.get("intervention")
    if not isinstance(attrs, dict) or not attrs:
        raise ParameterMissing("intervention")
    return attrs


def _errors(errors: dict[str, list[str]]) -> WriteResponse:
    return WriteResponse(422, dumps({"errors": errors}))


def _cast_id(value: object, allow_zero: bool = False) -> int | None:
    """An integer attribute as ActiveModel casts it from JSON (int or digit string)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        result = value
    elif isinstance(value, str) and _INTEGER.match(value.strip()):
        result = int(value.strip())
    else:
        return None
    if result < 0 or (result == 0 and not allow_zero):
        return None
    return result


def _numericality(value: object, low: int, high: int) -> tuple[int | None, str | None]:
    """Rails 6.1 ``numericality: {only_integer: true, >= low, <= high}`` on the raw value."""
    if value is None or isinstance(value, bool):
        return None, "is not a number"
    text = value.strip() if isinstance(value, str) else repr(value)
    if isinstance(value, int):
        text = str(value)
    if not _DECIMAL.match(text):
        return None, "is not a number"
    if not _INTEGER.match(text):
        return None, "must be an integer"
    number = int(text)
    if number < low:
        return None, f"must be greater than or equal to {low}"
    if number > high:
        return None, f"must be less than or equal to {high}"
    return number, None


def _cast_time(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return parse_us(text)
    except TimestampError:
        pass
    if _NAIVE.match(text):
        padded = text if len(text) > 10 else text + "T00:00:00"
        if padded.count(":") == 1:
            padded += ":00"
        try:
            return parse_us(padded + "Z")
        except TimestampError:
            return None
    return None


def _cast_text(value: object) -> str | None:
    """A string attribute: scalars become text, arrays/objects are unpermitted (nil)."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str):
        return value
    return str(value)
