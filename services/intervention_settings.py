"""Settings of the intervention workflow: the policy table, the team calendar, escalation.

Part of ``services.settings.Settings`` (field ``interventions``); kept in its own module
so the policy's shape sits next to its defaults. Qt-free, like every setting.
"""

from __future__ import annotations

from datetime import date, time

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.intervention_policy import DEFAULT_POLICY, TypePolicy
from services.sla import SlaError, TeamCalendar


def _hhmm(v: str) -> str:
    try:
        hh, mm = (int(x) for x in v.strip().split(":"))
    except (ValueError, AttributeError):
        raise ValueError("must be a time as HH:MM, e.g. 09:00") from None
    if not (0 <= hh < 24 and 0 <= mm < 60):
        raise ValueError("must be a time as HH:MM, e.g. 09:00")
    return f"{hh:02d}:{mm:02d}"


class TypeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sla_hours: float = Field(gt=0, le=24 * 90)
    auto_create: bool = True
    # Share of would-be auto-created interventions of this type left untreated at
    # random: a control group for an unbiased effectiveness estimate (0 = none).
    holdout_share: float = Field(default=0.0, ge=0, le=0.5)


class CalendarSettings(BaseModel):
    """The team's working hours in its own zone (business-hours SLAs)."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = "America/New_York"
    workdays: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])  # Monday = 0
    start: str = "09:00"
    end: str = "17:00"
    holidays: list[date] = Field(default_factory=list)

    @field_validator("start", "end")
    @classmethod
    def _times(cls, v: str) -> str:
        return _hhmm(v)

    @model_validator(mode="after")
    def _usable(self) -> CalendarSettings:
        try:
            self.calendar()
        except SlaError as exc:
            raise ValueError(str(exc)) from None
        return self

    def calendar(self) -> TeamCalendar:
        return TeamCalendar(
            timezone=self.timezone,
            workdays=frozenset(self.workdays),
            start=time.fromisoformat(self.start),
            end=time.fromisoformat(self.end),
            holidays=frozenset(self.holidays),
        )


def _default_types() -> dict[str, TypeSettings]:
    return {t: TypeSettings(sla_hours=p.sla_hours) for t, p in DEFAULT_POLICY.items()}


class InterventionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    types: dict[str, TypeSettings] = Field(default_factory=_default_types)
    # Count SLA time only in the team calendar's working hours.
    business_hours_only: bool = False
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    # Who hears about a breached SLA (a name or an e-mail address); None: nobody.
    escalation_contact: str | None = None
    # The manager this desktop's user is (for "mine"); None: not a manager.
    my_manager_id: int | None = Field(default=None, ge=1)

    @field_validator("types")
    @classmethod
    def _known_types(cls, v: dict[str, TypeSettings]) -> dict[str, TypeSettings]:
        unknown = sorted(set(v) - set(DEFAULT_POLICY))
        if unknown:
            raise ValueError(f"unknown intervention types: {', '.join(unknown)}")
        return {**_default_types(), **v}

    @field_validator("escalation_contact")
    @classmethod
    def _contact(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None

    def policy(self, intervention_type: str) -> TypePolicy:
        """The default policy of the type with this team's SLA hours."""
        base = DEFAULT_POLICY[intervention_type]
        mine = self.types.get(intervention_type)
        if mine is None:
            return base
        return TypePolicy(
            base.intervention_type, base.trigger, mine.sla_hours, base.priority, base.before_session
        )

    def team_calendar(self) -> TeamCalendar | None:
        return self.calendar.calendar() if self.business_hours_only else None
