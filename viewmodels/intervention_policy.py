"""The intervention policy as the Settings dialog edits it: plain values out of the
current settings, and the edited values validated back into them (the message names the
field when a value is refused)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from services.intervention_policy import DEFAULT_POLICY
from services.intervention_settings import InterventionSettings

TYPE_ORDER = tuple(DEFAULT_POLICY)


def policy_rows(current: InterventionSettings) -> list[dict[str, Any]]:
    """One row per type: label, trigger, SLA hours, auto-create, hold-out share."""
    out = []
    for t in TYPE_ORDER:
        mine = current.types[t]
        out.append(
            {
                "type": t,
                "label": t.replace("_", " ").capitalize(),
                "trigger": DEFAULT_POLICY[t].trigger,
                "sla_hours": mine.sla_hours,
                "auto_create": mine.auto_create,
                "holdout_share": mine.holdout_share,
                "before_session": DEFAULT_POLICY[t].before_session,
            }
        )
    return out


def parse_policy(raw: dict[str, Any]) -> InterventionSettings:
    """Validate the dialog's values; ValueError with readable reasons when refused."""
    try:
        return InterventionSettings.model_validate(raw)
    except ValidationError as exc:
        reasons = "; ".join(
            "interventions." + ".".join(str(p) for p in e["loc"]) + f": {e['msg']}"
            for e in exc.errors()
        )
        raise ValueError(reasons) from None
