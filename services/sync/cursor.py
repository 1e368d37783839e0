"""The keyset cursor and how a page moves it.

The cursor is the ``(updated_at, id)`` of the last record committed. Against a Rails app
that emits milliseconds while storing microseconds, an emitted ``updated_at`` is only a
*lower bound* of the stored one; using it is safe (records come again, upserts absorb
them) but can stall when more than a page of records share one stored instant. The
rules here keep the cursor a lower bound of the true position and say when it did not
move, so the engine can probe for the stored instant instead of looping.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.api.records import Key


@dataclass(frozen=True, slots=True)
class Cursor:
    updated_at_us: int | None = None
    id: int | None = None
    # True when updated_at_us is the stored instant (server emits microseconds, or a
    # probe found it); False when it is a millisecond lower bound.
    exact: bool = False

    @property
    def is_start(self) -> bool:
        return self.updated_at_us is None

    def order_key(self) -> tuple[int, int]:
        if self.updated_at_us is None:
            return (-(2**63), -(2**63))
        return (self.updated_at_us, self.id if self.id is not None else -(2**63))

    def moved_past(self, other: Cursor) -> bool:
        return self.order_key() > other.order_key()


def advance(cursor: Cursor, last: Key | None) -> Cursor:
    """The cursor after a page whose last usable record has key ``last``.

    Records on the page are all after ``cursor`` in stored order, so the stored instant
    of ``last`` is at least ``cursor.updated_at_us``; taking the larger of that and the
    emitted value keeps the result a lower bound of ``last``'s true position.
    """
    if last is None:
        return cursor
    if cursor.updated_at_us is None or last.updated_at_us > cursor.updated_at_us:
        return Cursor(last.updated_at_us, last.id, last.exact)
    # The emitted value is at or below where we already were: only the id moves on.
    return Cursor(cursor.updated_at_us, last.id, cursor.exact and last.exact)
