"""Alerts: one row per alert, one open alert per (rule, subject).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

Written by hand against services/db/models.py:Alert. ``open_key`` is UNIQUE and NULL
once an alert is closed, which makes "one open alert per rule and subject" a database
guarantee on SQLite and PostgreSQL alike (NULLs are distinct on both). Audit entries
of alerts go to the existing ``audit_log`` (entity_type "alert").
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime()  # naive UTC
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
WHO = sa.String(length=128)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", ID, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("open_key", sa.String(length=200), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("subject_name", sa.String(), nullable=True),
        sa.Column("tutor_id", sa.BigInteger(), nullable=True),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("manager_id", sa.BigInteger(), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("next_step", sa.Text(), nullable=True),
        sa.Column("facts", JSON, nullable=True),
        sa.Column("thresholds", JSON, nullable=True),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=True),
        sa.Column("snoozed_until", TS, nullable=True),
        sa.Column("assignee", WHO, nullable=True),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("acknowledged_by", WHO, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("closed_by", WHO, nullable=True),
        sa.Column("close_reason", sa.String(length=32), nullable=True),
        sa.Column("cooldown_until", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("open_key", name=op.f("uq_alerts_open_key")),
    )
    op.create_index(op.f("ix_alerts_state_severity"), "alerts", ["state", "severity"])
    op.create_index(op.f("ix_alerts_key"), "alerts", ["key"])
    op.create_index(op.f("ix_alerts_tutor_id"), "alerts", ["tutor_id"])


def downgrade() -> None:
    op.drop_table("alerts")
