"""Administering the model registry without loading a model: the first-run check,
roll back and release with their audit rows, and nothing half done on a failure."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from ml.registry import ModelRegistry
from services.db.engine import make_engine
from services.db.migrate import migrate
from services.db.models import AuditEntry
from services.models_admin import (
    MODEL_NAMES,
    ModelAdminError,
    missing_models,
    release_pin,
    rollback_model,
)


class TinyModel:
    KIND = "tiny"

    def save(self, directory: Path) -> list[str]:
        (directory / "m.txt").write_text("m")
        return ["m.txt"]


def _save(root: Path, name: str = "tutor_churn") -> int:
    meta = {"metrics": {"auc": 0.7}, "key_metric": "auc"}
    return ModelRegistry(root, loaders={}).save(name, TinyModel(), meta).version


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    yield engine
    engine.dispose()


def test_missing_models_until_every_model_has_a_version(tmp_path):
    root = tmp_path / "models"
    assert missing_models(root) == list(MODEL_NAMES)
    assert missing_models(None) == list(MODEL_NAMES)
    for name in MODEL_NAMES[:-1]:
        _save(root, name)
    assert missing_models(root) == [MODEL_NAMES[-1]]
    _save(root, MODEL_NAMES[-1])
    assert missing_models(root) == []


def test_rollback_and_release_are_audited_and_checked(engine, tmp_path):
    root = tmp_path / "models"
    _save(root)
    _save(root)
    change = rollback_model(engine, root, "tutor_churn", 1, actor="desktop", reason="test")
    assert change.version == 1 and "v2 is the newest" in change.message
    assert ModelRegistry(root, loaders={}).pin("tutor_churn")["pinned"] == 1
    with pytest.raises(ModelAdminError, match="no version 7"):
        rollback_model(engine, root, "tutor_churn", 7, actor="desktop")
    # A version whose file was damaged cannot be pinned.
    (root / "tutor_churn" / "v0002" / "m.txt").write_text("changed")
    with pytest.raises(ModelAdminError, match="checksum"):
        rollback_model(engine, root, "tutor_churn", 2, actor="desktop")
    assert release_pin(engine, root, "tutor_churn", actor="desktop").version == 1
    with pytest.raises(ModelAdminError, match="not pinned"):
        release_pin(engine, root, "tutor_churn", actor="desktop")
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditEntry.action, AuditEntry.entity_type, AuditEntry.details).order_by(
                AuditEntry.id
            )
        ).all()
    assert [(a, t) for a, t, _ in rows] == [("model.rollback", "model"), ("model.release", "model")]
    assert rows[0][2] == {"version": 1, "previous_pin": None, "reason": "test"}


def test_no_pin_without_its_audit_row(tmp_path):
    root = tmp_path / "models"
    _save(root)
    _save(root)
    unmigrated = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")  # no audit table
    try:
        with pytest.raises(Exception, match="audit_log"):
            rollback_model(unmigrated, root, "tutor_churn", 1, actor="desktop")
    finally:
        unmigrated.dispose()
    assert ModelRegistry(root, loaders={}).pin("tutor_churn") is None
