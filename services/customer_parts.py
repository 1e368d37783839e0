"""The customer health score's five components (DOMAIN.md "Customers"): the keys under
which services.scoring stores them, their labels and PRD weights, in the PRD's order.

A module of its own, with no imports, so the Customers page can lay out its component
bars at start-up without pulling in SQLAlchemy and pandas before the first paint."""

from __future__ import annotations

COMPONENTS: tuple[tuple[str, str, int], ...] = (
    ("first_session_success", "First-session success", 30),
    ("session_velocity", "Session velocity", 25),
    ("inbound_calls", "Inbound calls", 20),
    ("goal_status", "Goal status", 15),
    ("tutor_consistency", "Tutor consistency", 10),
)
