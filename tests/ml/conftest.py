"""Shared fixtures of the model tests: sandbox worlds as MarketFrames, hand-made frames.

- ``demo_world`` / ``demo_frames``: the demo-scale world (seed 42, anchor
  2026-11-20 12:00 UTC) and its frames at the anchor; built once per session (~3 s).
  ``demo_world.personas`` has Sarah Chen's and Mike Ross's ids.
- ``tiny_world`` / ``tiny_frames``: the same at tiny scale (~0.5 s).
- ``make_frames(**rows)``: MarketFrames from a few hand-written records (see
  :func:`build_frames`), for edge cases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd
import pytest

from ml.frames import COLUMNS, TIMESTAMP_COLUMNS, MarketFrames
from services.api.rails_time import parse_us
from services.sandbox.frames import frames_at
from services.sandbox.world import World, WorldConfig, build_world

ANCHOR_US = parse_us("2026-11-20T12:00:00Z")
ANCHOR = pd.Timestamp(ANCHOR_US, unit="us", tz="UTC")


@pytest.fixture(scope="session")
def demo_world() -> World:
    return build_world(WorldConfig(scale="demo", seed=42, anchor_us=ANCHOR_US))


@pytest.fixture(scope="session")
def demo_frames(demo_world: World) -> MarketFrames:
    return frames_at(demo_world, demo_world.anchor_us)


@pytest.fixture(scope="session")
def tiny_world() -> World:
    return build_world(WorldConfig(scale="tiny", seed=42, anchor_us=ANCHOR_US))


@pytest.fixture(scope="session")
def tiny_frames(tiny_world: World) -> MarketFrames:
    return frames_at(tiny_world, tiny_world.anchor_us)


def ts(text: str | pd.Timestamp) -> pd.Timestamp:
    t = pd.Timestamp(text)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def frame_of(name: str, rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """A frame with every contract column of ``name``; absent fields are null."""
    rows = list(rows)
    data = {}
    for col in COLUMNS[name]:
        values = [r.get(col) for r in rows]
        if col in TIMESTAMP_COLUMNS:
            data[col] = pd.Series(
                [ts(v) if v is not None else pd.NaT for v in values], dtype="datetime64[us, UTC]"
            )
        else:
            data[col] = pd.Series(values, dtype=object)
    frame = pd.DataFrame(data)
    for r in rows:  # extra (non-contract) fields are allowed
        for key in r:
            if key not in frame:
                frame[key] = [x.get(key) for x in rows]
    return frame


def build_frames(observed_until: str | pd.Timestamp = ANCHOR, **rows: list[dict]) -> MarketFrames:
    """MarketFrames from lists of record dicts per frame name (others empty)."""
    empty = MarketFrames.empty(ts(observed_until))
    parts = {
        name: frame_of(name, rows[name]) if name in rows else getattr(empty, name)
        for name in COLUMNS
    }
    unknown = set(rows) - set(COLUMNS)
    if unknown:
        raise KeyError(f"unknown frames {sorted(unknown)}")
    return MarketFrames(**parts, observed_until=ts(observed_until)).validate()


@pytest.fixture
def make_frames():
    return build_frames
