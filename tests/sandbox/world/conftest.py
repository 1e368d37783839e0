"""Worlds shared by the simulator's tests: one tiny world per seed, one demo world."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from services.api.rails_time import parse_us
from services.sandbox.store import VersionLog
from services.sandbox.world import World, WorldConfig, build_world

ANCHOR_US = parse_us("2026-11-20T12:00:00Z")
SEED = 42


def visible(log: VersionLog, now_us: int) -> pd.DataFrame:
    """The records the API shows at ``now_us``, one row each, nulls as NaN/None."""
    rows = log.current_rows(now_us)
    data = {}
    for f in log.resource.fields:
        values, nulls = log.column(f.name, rows)
        if nulls is not None and nulls.any():
            values = pd.Series(values).where(~pd.Series(nulls))
        data[f.name] = values
    return pd.DataFrame(data)


def every_version(log: VersionLog) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    rows = np.arange(len(log))
    return {f.name: log.column(f.name, rows) for f in log.resource.fields}


@pytest.fixture(scope="session")
def tiny_world() -> World:
    return build_world(WorldConfig(scale="tiny", seed=SEED, anchor_us=ANCHOR_US))


@pytest.fixture(scope="session")
def demo_build() -> tuple[World, float]:
    started = time.perf_counter()
    world = build_world(WorldConfig(scale="demo", seed=SEED, anchor_us=ANCHOR_US))
    return world, time.perf_counter() - started


@pytest.fixture(scope="session")
def demo_world(demo_build: tuple[World, float]) -> World:
    return demo_build[0]


@pytest.fixture(scope="session")
def demo_frames(demo_world: World) -> dict[str, pd.DataFrame]:
    """Every resource as the API shows it at the anchor."""
    return {name: visible(log, ANCHOR_US) for name, log in demo_world.logs.items()}
