"""The model registry as the app administers it: is anything trained, roll back, release.

Light on purpose: the desktop's process imports this module (the System page, the
scheduler's first-run check) and must never import the model libraries, so nothing
here loads a model; ``ml.registry`` is used without loaders (metadata and checksums
only). Training and scoring, which do load models, run in their own processes
(services.training, services.scoring).

A roll-back pins one version of one model as the one every process loads, survives
restarts, and holds until it is released, also when a newer (even better) version is
trained; see ``ml.registry``. Every pin and release is written to the database's audit
log with who did it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml.registry import ModelRegistry, RegistryError

# The models scoring needs (services.scoring.MODELS; tests keep the two in step).
MODEL_NAMES = ("tutor_churn", "customer_churn", "first_session", "sessions_forecast")


class ModelAdminError(RuntimeError):
    """A roll-back or release that cannot be done; the message says why."""


def missing_models(models_dir: Path | None, names: tuple[str, ...] = MODEL_NAMES) -> list[str]:
    """The models with no saved version whose metadata reads (a few file reads)."""
    if models_dir is None:
        return list(names)
    registry = ModelRegistry(models_dir, loaders={})
    return [
        name for name in names if not any(v.metadata is not None for v in registry.versions(name))
    ]


@dataclass(frozen=True)
class PinChange:
    name: str
    version: int | None  # the pinned version (rollback) or the released one
    message: str


def rollback_model(
    engine: Any, models_dir: Path, name: str, version: int, *, actor: str, reason: str = ""
) -> PinChange:
    """Pin ``name`` at ``version`` (checksums verified) and audit it, in one step: if the
    audit row cannot be written, the pin is undone."""
    registry = ModelRegistry(models_dir, loaders={})
    before = registry.pin(name)
    try:
        registry.rollback(name, version, by=actor, reason=reason)
    except RegistryError as exc:
        raise ModelAdminError(str(exc)) from None
    try:
        _audit(
            engine,
            actor,
            "model.rollback",
            name,
            {
                "version": version,
                "previous_pin": None if before is None else before.get("pinned"),
                "reason": reason,
            },
        )
    except Exception:
        registry.restore_pin(name, before)
        raise
    newest = max((v.version for v in registry.versions(name)), default=version)
    return PinChange(
        name,
        version,
        f"{name} rolled back to v{version}: every scoring run uses it, also after newer "
        "versions are trained, until you release the pin"
        + (f" (v{newest} is the newest)" if newest > version else ""),
    )


def release_pin(engine: Any, models_dir: Path, name: str, *, actor: str) -> PinChange:
    """End the pin of ``name``: the best version is used again. Audited."""
    registry = ModelRegistry(models_dir, loaders={})
    before = registry.pin(name)
    if before is None:
        raise ModelAdminError(f"{name} is not pinned")
    registry.release(name)
    try:
        _audit(engine, actor, "model.release", name, {"version": before.get("pinned")})
    except Exception:
        registry.restore_pin(name, before)
        raise
    return PinChange(
        name,
        int(before["pinned"]),
        f"{name}: pin on v{before['pinned']} released; the best version is used again",
    )


def _audit(engine: Any, actor: str, action: str, name: str, details: dict[str, Any]) -> None:
    from sqlalchemy import insert

    from services.db.engine import begin_write
    from services.db.models import AuditEntry

    with begin_write(engine) as conn:
        conn.execute(
            insert(AuditEntry).values(
                at=datetime.now(UTC),
                actor=actor,
                action=action,
                entity_type="model",
                entity_id=name,
                details=details,
            )
        )
