"""The sandbox marketplace simulator: the world the sandbox API serves.

    from services.sandbox.world import WorldConfig, build_world
    world = build_world(WorldConfig(scale="tiny" | "demo" | "full", seed=42, anchor_us=...))
    world.logs          # resource -> VersionLog, every resource of contract.RESOURCES
    world.anchor_us     # the simulated "now" (default: the current UTC hour)
    world.horizon_us    # simulated up to here (anchor + future_days, 21 by default)
    world.extend(t)     # simulate through t + 14 days; identical to a one-go build
    world.truth         # latent traits and true probabilities (see truth.py)
    world.personas      # {"sarah_chen": id, "mike_ross": id, "mike_ross_first_session": id}
    world.record_intervention(tutor_id, intervention_type, at_us)  # the app's writes

How the world works (each module's docstring has the detail):

- ``sim.py``: the day loop and the order of a day; per-day RNG streams.
- ``tutors.py``: archetypes, drifting engagement, the observable-driven churn hazard.
- ``customers.py``: latent health, segments, velocity, the customer churn hazard.
- ``supply.py`` / ``demand.py``: availability published 14 days ahead; seasonal
  booking requests matched to free tutor hours (own tutor first, then the market).
- ``sessions.py``: the session lifecycle and the rating models.
- ``calls.py``, ``engagement.py``: inbound calls and tutor engagement events.
- ``interventions.py``: risk-selected interventions with true hazard multipliers.
- ``personas.py``: Sarah Chen and Mike Ross, through the normal mechanisms.
- ``config.py``: scale knobs and every true coefficient, in one place.
"""

from services.sandbox.world.config import SCALES, ScaleKnobs, WorldConfig
from services.sandbox.world.truth import Truth
from services.sandbox.world.world import World, build_world

__all__ = ["SCALES", "ScaleKnobs", "Truth", "World", "WorldConfig", "build_world"]
