"""The public face of the simulator: :class:`World` and :func:`build_world`."""

from __future__ import annotations

import threading

import numpy as np

from services.api.rails_time import US_PER_DAY
from services.sandbox.store import VersionLog
from services.sandbox.world import interventions
from services.sandbox.world.config import MIN_LOOKAHEAD_DAYS, WorldConfig
from services.sandbox.world.sim import Simulator
from services.sandbox.world.truth import Truth, build_truth


class World:
    """A simulated marketplace: version logs for every resource, plus its ground truth.

    ``logs[resource]`` holds every record version generated so far (up to
    ``horizon_us``, with some already decided versions slightly beyond it); the API at a
    clock ``T`` shows each record's newest version with ``updated_at <= T``.
    """

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self._lock = threading.RLock()
        self.logs: dict[str, VersionLog] = {}
        self._truth: Truth | None = None
        sim.flush(self.logs)

    # ------------------------------------------------------------------ identity

    @property
    def config(self) -> WorldConfig:
        return self._sim.cfg

    @property
    def anchor_us(self) -> int:
        return self._sim.anchor_us

    @property
    def origin_us(self) -> int:
        """Start of the first simulated day (history plus a two-week warm-up)."""
        return self._sim.tl.origin_us

    @property
    def horizon_us(self) -> int:
        """Every day before this instant has been simulated."""
        return self._sim.tl.day_start(self._sim.day)

    @property
    def personas(self) -> dict[str, int]:
        """``sarah_chen`` and ``mike_ross`` (tutor ids), ``mike_ross_first_session``."""
        plan = self._sim.plan
        return dict(plan.ids) if plan is not None else {}

    @property
    def manager_ids(self) -> np.ndarray:
        return self._sim.manager_ids

    @property
    def bulk_update(self) -> tuple[int | None, np.ndarray]:
        """(stored µs of the ``update_all``, ids of the customers it touched)."""
        return self._sim.bulk_at_us, self._sim.bulk_ids

    @property
    def truth(self) -> Truth:
        with self._lock:
            if self._truth is None:
                self._truth = build_truth(self._sim)
            return self._truth

    # ------------------------------------------------------------------ helpers for the server

    def tutor_exists(self, tutor_id: int) -> bool:
        return 1 <= int(tutor_id) <= self._sim.tutors.n

    def manager_exists(self, manager_id: int) -> bool:
        return 1 <= int(manager_id) <= len(self._sim.manager_names)

    def tutor_manager_id(self, tutor_id: int) -> int | None:
        if not self.tutor_exists(tutor_id):
            return None
        return int(self._sim.tutors.manager_id[int(tutor_id) - 1])

    # ------------------------------------------------------------------ time

    def extend(self, until_us: int) -> None:
        """Simulate through ``until_us`` plus at least 14 more days (deterministic)."""
        with self._lock:
            sim = self._sim
            target = until_us + MIN_LOOKAHEAD_DAYS * US_PER_DAY - sim.tl.origin_us
            day = -(-target // US_PER_DAY)
            if day <= sim.day:
                return
            sim.run_until(day)
            sim.flush(self.logs)
            self._truth = None

    def record_intervention(self, tutor_id: int, intervention_type: str, at_us: int) -> None:
        """An intervention created through the API: from the first day not yet simulated
        (at least the day after ``at_us``), the tutor's hazard is multiplied by the
        type's true effect for ``intervention_effect_days``. Days already simulated
        (up to ``horizon_us``) are not rewritten."""
        with self._lock:
            interventions.external_effect(self._sim, tutor_id, intervention_type, at_us)
            self._truth = None


def build_world(config: WorldConfig | None = None) -> World:
    """Generate a world from its config: history up to the anchor and ``future_days``
    beyond it."""
    cfg = config if config is not None else WorldConfig()
    sim = Simulator(cfg)
    sim.run_until(sim.tl.anchor_day + 1 + cfg.future_days)
    return World(sim)
