"""The app's settings: one typed, versioned model shared by the GUI and the CLI.

Qt-free on purpose (the GUI keeps only window geometry in QSettings) so that
``tutormax sync`` run from cron uses exactly the defaults the desktop shows. Secrets are
never part of it: the API token lives in the OS keychain (``services.credentials``), and
a URL carrying credentials is refused.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from services.intervention_settings import InterventionSettings

SETTINGS_VERSION = 1


class SettingsError(ValueError):
    """The settings file exists but cannot be used; the message names file and field."""


class SandboxSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scale: Literal["tiny", "demo", "full"] = "demo"
    seed: int = Field(default=42, ge=0)
    # Fixed at first start: the sandbox regenerates the same world from seed + anchor on
    # every launch (and fast-forwards its clock to now), so the local database stays
    # consistent with it across restarts.
    anchor: datetime | None = None

    @field_validator("anchor")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("must carry a time zone (UTC)")
        return v.astimezone(UTC) if v is not None else None


class SyncSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_limit: int = Field(default=1000, ge=1, le=1000)
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    max_attempts: int = Field(default=6, ge=1, le=20)
    # Resources fetched at the same time (the server is usually the bottleneck).
    concurrency: int = Field(default=3, ge=1, le=9)
    # Overrides of DOMAIN.md's cadences, minutes per resource.
    cadence_minutes: dict[str, int] = Field(default_factory=dict)


def _hhmm(v: str) -> str:
    try:
        hh, mm = (int(x) for x in v.strip().split(":"))
    except (ValueError, AttributeError):
        raise ValueError("must be a time as HH:MM, e.g. 02:00") from None
    if not (0 <= hh < 24 and 0 <= mm < 60):
        raise ValueError("must be a time as HH:MM, e.g. 02:00")
    return f"{hh:02d}:{mm:02d}"


class ScheduleSettings(BaseModel):
    """Background jobs while the app is open (DOMAIN.md "Schedules")."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # Local time of the nightly jobs (retraining).
    nightly_at: str = "02:00"

    @field_validator("nightly_at")
    @classmethod
    def _nightly(cls, v: str) -> str:
        return _hhmm(v)


class NotificationSettings(BaseModel):
    """Desktop notifications: quiet hours in the user's zone, rate limit, de-duplication."""

    model_config = ConfigDict(extra="forbid")

    desktop: bool = True
    quiet_hours: bool = True
    quiet_start: str = "22:00"
    quiet_end: str = "07:00"
    # IANA zone name; None means the system's.
    timezone: str | None = None
    max_per_window: int = Field(default=5, ge=1, le=100)
    window_minutes: int = Field(default=10, ge=1, le=1440)
    dedupe_hours: int = Field(default=24, ge=0, le=24 * 30)

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _times(cls, v: str) -> str:
        return _hhmm(v)


class DashboardSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Sessions a day; None means "the mean of the same weekday over four weeks".
    daily_session_target: int | None = Field(default=None, ge=1)


# The metric streams of services.anomalies (a test holds the two lists together; the
# settings stay light to import, without pandas).
ANOMALY_METRICS = (
    "bookings",
    "cancellation_rate",
    "average_rating",
    "no_show_rate",
    "inbound_calls",
    "logins",
)
# Per metric: default, lowest, highest, and what it means (for messages and the editor).
ANOMALY_LIMITS: dict[str, tuple[float, float, float, str]] = {
    "z": (2.0, 0.5, 10.0, "standard deviations from the same hour's history"),
    "wow": (0.20, 0.01, 5.0, "relative change week over week (0.20 = 20 %)"),
    "drops": (3, 1, 14, "days in a row worse than the week before"),
}
MAX_COOLDOWN_HOURS = 24 * 365


class AlertSettings(BaseModel):
    """Thresholds of the alert rules (DOMAIN.md "Alerts"); each alert keeps the ones that
    fired it. Windows are days before the scoring run's as-of instant."""

    model_config = ConfigDict(extra="forbid")

    # For editors: the bounds of the per-metric anomaly thresholds and the cooldowns.
    ANOMALY_METRICS: ClassVar[tuple[str, ...]] = ANOMALY_METRICS
    ANOMALY_LIMITS: ClassVar[dict[str, tuple[float, float, float, str]]] = ANOMALY_LIMITS
    MAX_COOLDOWN_HOURS: ClassVar[int] = MAX_COOLDOWN_HOURS

    # Tutor churn: an alert from P(churn 30 d) >= high; Critical from >= critical.
    churn_high: float = Field(default=0.50, gt=0, le=1)
    churn_critical: float = Field(default=0.70, gt=0, le=1)
    no_sessions_days: int = Field(default=14, ge=1, le=365)
    no_login_days: int = Field(default=7, ge=1, le=365)
    # Ratings of the last rating_window_days: average below low_rating, at least
    # min_ratings of them (one bad rating is not a trend).
    rating_window_days: int = Field(default=14, ge=1, le=90)
    low_rating: float = Field(default=3.5, ge=1, le=5)
    min_ratings: int = Field(default=3, ge=1, le=100)
    # First sessions rated below 4 (DOMAIN.md: successful = 4 or 5) in the window.
    poor_first_sessions: int = Field(default=2, ge=1, le=100)
    first_session_window_days: int = Field(default=14, ge=1, le=90)
    # First-session success rate over the trailing 30 days, now vs a week ago: a relative
    # drop above this, with at least min_first_sessions rated in each window.
    first_session_drop: float = Field(default=0.20, gt=0, le=1)
    min_first_sessions: int = Field(default=4, ge=1, le=100)
    # Reschedules by the tutor as a share of their sessions in the window.
    reschedule_window_days: int = Field(default=14, ge=1, le=90)
    reschedule_rate: float = Field(default=0.20, gt=0, le=1)
    min_reschedules: int = Field(default=3, ge=1, le=100)
    technical_issues: int = Field(default=3, ge=1, le=100)
    technical_window_days: int = Field(default=14, ge=1, le=90)
    # Upcoming first sessions this many hours ahead, with P(poor) or the tutor's
    # P(churn 30 d) at or above first_session_risk.
    first_session_horizon_hours: int = Field(default=72, ge=1, le=24 * 14)
    first_session_risk: float = Field(default=0.50, gt=0, le=1)
    # Customer triggers (DOMAIN.md "Customers").
    customer_calls: int = Field(default=2, ge=1, le=100)
    customer_calls_days: int = Field(default=14, ge=1, le=90)
    customer_poor_first_rating: float = Field(default=3.0, ge=1, le=5)
    # A poor first session matters while the customer is new (days of tenure).
    customer_poor_first_window_days: int = Field(default=30, ge=1, le=365)
    customer_idle_days: int = Field(default=14, ge=1, le=365)
    customer_idle_min_sessions: int = Field(default=3, ge=1, le=100)
    customer_lapsed_days: int = Field(default=21, ge=1, le=365)
    # The at-risk flag is about the lapse happening: it stays this many days after the
    # customer lapsed (a call then can still win them back), then expires instead of
    # sitting in the queue for the months a lost customer stays lost.
    customer_lapsed_window_days: int = Field(
        default=14,
        ge=1,
        le=365,
        title="Customer at-risk flag lasts (days after lapsing)",
        description=(
            "How long a regular customer who stopped booking stays flagged at risk. The "
            "flag is raised when they pass the lapse threshold and closes on its own this "
            "many days later, when a call is unlikely to win them back."
        ),
    )
    customer_slow_start_days: int = Field(default=7, ge=1, le=90)
    customer_slow_start_sessions: int = Field(default=3, ge=1, le=100)
    customer_velocity_drop: float = Field(default=0.50, gt=0, le=1)
    # A completed goal is an opportunity while fresh (the customer record changed lately).
    customer_goal_recent_days: int = Field(default=14, ge=1, le=365)
    customer_velocity_min_sessions: int = Field(default=4, ge=1, le=100)
    # A closed alert does not fire again for this long unless its severity rises.
    cooldown_hours: int = Field(default=72, ge=0, le=24 * 90)
    # Per-rule overrides of cooldown_hours. A completed goal stays completed: once the
    # opportunity is handled it should not come back for a quarter.
    cooldown_hours_by_rule: dict[str, int] = Field(
        default_factory=lambda: {"customer_goal_completed": 24 * 90}
    )
    # Rules switched off by name.
    disabled_rules: list[str] = Field(default_factory=list)
    # Metric anomalies (services.anomalies): per metric, overrides of the defaults
    # {"z": 2.0 SDs, "wow": 0.20 change week over week, "drops": 3 days in a row},
    # e.g. {"inbound_calls": {"z": 3.0}}.
    anomaly_thresholds: dict[str, dict[str, float]] = Field(default_factory=dict)
    # Supply against forecast demand (DOMAIN.md "Marketplace"): an hour at least
    # shortage_lead_hours ahead with coverage (tutor-hours offered / forecast bookings)
    # below shortage_coverage is a shortage; above surplus_coverage, a surplus. Read by
    # the supply_shortage rule and stored with each daily forecast's slots.
    shortage_lead_hours: float = Field(default=12.0, ge=0, le=168, title="Shortage lead (hours)")
    shortage_coverage: float = Field(default=0.80, gt=0, le=2, title="Shortage: coverage below")
    surplus_coverage: float = Field(default=1.30, ge=1, le=10, title="Surplus: coverage above")

    @field_validator("anomaly_thresholds")
    @classmethod
    def _anomaly_thresholds(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for metric, values in v.items():
            if metric not in ANOMALY_METRICS:
                raise ValueError(
                    f"unknown metric {metric!r}; the metrics are {', '.join(ANOMALY_METRICS)}"
                )
            for key, value in values.items():
                if key not in ANOMALY_LIMITS:
                    raise ValueError(f"{metric}: unknown threshold {key!r}; use z, wow or drops")
                _default, low, high, meaning = ANOMALY_LIMITS[key]
                if not low <= value <= high:
                    raise ValueError(
                        f"{metric}.{key} ({meaning}) must be from {low:g} to {high:g}, "
                        f"not {value:g}"
                    )
                if key == "drops" and value != int(value):
                    raise ValueError(f"{metric}.drops must be a whole number of days")
        return v

    @field_validator("cooldown_hours_by_rule")
    @classmethod
    def _cooldowns(cls, v: dict[str, int]) -> dict[str, int]:
        for name, hours in v.items():
            if not 0 <= hours <= MAX_COOLDOWN_HOURS:
                raise ValueError(
                    f"cooldown of {name} must be from 0 to {MAX_COOLDOWN_HOURS} hours "
                    f"(0: no cooldown), not {hours}"
                )
        return v

    @model_validator(mode="after")
    def _consistent(self) -> AlertSettings:
        # Otherwise every High churn alert would already be Critical.
        if self.churn_critical < self.churn_high:
            raise ValueError(
                f"churn_critical ({self.churn_critical}) must not be below churn_high "
                f"({self.churn_high})"
            )
        # An hour cannot be short and in surplus at once.
        if self.surplus_coverage <= self.shortage_coverage:
            raise ValueError(
                f"surplus_coverage ({self.surplus_coverage:.0%}) must exceed "
                f"shortage_coverage ({self.shortage_coverage:.0%})"
            )
        return self

    def anomaly_threshold(self, metric: str, key: str) -> float:
        """The threshold in force: the override, else the default."""
        default = ANOMALY_LIMITS[key][0]
        return self.anomaly_thresholds.get(metric, {}).get(key, default)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = SETTINGS_VERSION
    # None means the built-in sandbox marketplace.
    api_url: str | None = None
    ca_bundle: str | None = None
    # None means the SQLite file in the app's data folder.
    database_url: str | None = None
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    interventions: InterventionSettings = Field(default_factory=InterventionSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip().rstrip("/")
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as https://ops.example.com")
        if parts.username or parts.password:
            raise ValueError("must not contain credentials; the token goes in the keychain")
        if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("must use https (plain http only for 127.0.0.1)")
        return v

    @property
    def uses_sandbox(self) -> bool:
        return self.api_url is None


def load_settings(path: Path) -> Settings:
    """Read the settings file; a missing file gives the defaults."""
    if not path.exists():
        return Settings()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise SettingsError(f"settings file {path} must hold a JSON object")
    raw = _migrate(raw)
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise SettingsError(f"invalid settings in {path}: {problems}") from None


def save_settings(settings: Settings, path: Path) -> None:
    """Write atomically (a crash never leaves half a file), readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = settings.model_dump_json(indent=2)
    fd, tmp = tempfile.mkstemp(prefix=".settings-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _migrate(raw: dict) -> dict:
    """Bring an older settings file up to SETTINGS_VERSION (none yet: version 1 is first)."""
    version = raw.get("version", SETTINGS_VERSION)
    if not isinstance(version, int) or version > SETTINGS_VERSION:
        raise SettingsError(
            f"settings version {version!r} is newer than this app understands "
            f"({SETTINGS_VERSION}); upgrade TutorMax Desktop"
        )
    return raw
