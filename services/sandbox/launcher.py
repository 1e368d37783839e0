"""Starting the sandbox marketplace: in-process for the app, standalone for the CLI."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass

from services.api.rails_time import US_PER_HOUR
from services.sandbox.clock import SandboxClock
from services.sandbox.faults import FaultConfig
from services.sandbox.server import SandboxServer
from services.sandbox.world import World, WorldConfig, build_world

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RunningSandbox:
    server: SandboxServer
    world: World
    token: str

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def clock(self) -> SandboxClock:
        return self.server.clock

    def stop(self) -> None:
        self.server.stop()


def floor_to_hour(us: int) -> int:
    return us - us % US_PER_HOUR


def now_us() -> int:
    return time.time_ns() // 1000


def start_sandbox(
    *,
    scale: str = "demo",
    seed: int = 42,
    anchor_us: int | None = None,
    port: int = 0,
    token: str | None = None,
    realtime: bool = True,
    speed: float = 1.0,
    faults: FaultConfig | None = None,
    time_precision: int = 3,
    start: bool = True,
) -> RunningSandbox:
    """Generate the world and serve it on 127.0.0.1.

    ``anchor_us`` fixes the world (same seed + anchor = same marketplace, so a database
    synced yesterday still matches today). With ``realtime`` the clock then runs from the
    present, not from the anchor: the world fast-forwards to now and keeps moving.
    """
    anchor = floor_to_hour(now_us()) if anchor_us is None else anchor_us
    started = time.perf_counter()
    world = build_world(WorldConfig(scale=scale, seed=seed, anchor_us=anchor))
    log.info(
        "sandbox world (%s, seed %d) built in %.1fs", scale, seed, time.perf_counter() - started
    )
    if realtime:
        clock = SandboxClock.realtime(max(anchor, now_us()), speed=speed)
    else:
        clock = SandboxClock.fixed(anchor)
    token = token or secrets.token_urlsafe(24)
    server = SandboxServer(
        world,
        token,
        port=port,
        faults=faults,
        time_precision=time_precision,
        clock=clock,
    )
    if start:
        server.start()
    return RunningSandbox(server=server, world=world, token=token)
