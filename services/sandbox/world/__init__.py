"""The sandbox marketplace simulator: the world the sandbox API serves.

``build_world(WorldConfig(scale="tiny"|"demo"|"full", seed=..., anchor_us=...))``
returns a :class:`World` whose ``logs`` hold every version of every resource of
``services.api.contract.RESOURCES`` and whose ``truth`` holds what the models should
recover. See ``sim.py`` for the day loop and the module docstrings for each mechanism.
"""

from services.sandbox.world.config import SCALES, ScaleKnobs, WorldConfig
from services.sandbox.world.truth import Truth
from services.sandbox.world.world import World, build_world

__all__ = ["SCALES", "ScaleKnobs", "Truth", "World", "WorldConfig", "build_world"]
