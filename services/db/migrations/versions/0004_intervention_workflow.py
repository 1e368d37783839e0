"""Intervention workflow: SLA tracking, escalations and hold-outs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

Written by hand against services/db/models.py (InterventionTracking,
InterventionEscalation, InterventionHoldout). The interventions table itself keeps the
API's columns only; the local workflow lives beside it, one row per intervention, and
goes with it (ON DELETE CASCADE).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime()  # naive UTC
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "intervention_tracking",
        sa.Column("local_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("policy", JSON, nullable=True),
        sa.Column("sla_started_at", TS, nullable=True),
        sa.Column("sla_seconds", sa.Integer(), nullable=True),
        sa.Column("sla_deadline", TS, nullable=True),
        sa.Column("pauses", JSON, nullable=True),
        sa.Column("breached_at", TS, nullable=True),
        sa.Column("auto_created", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("risk_at_creation", sa.Float(), nullable=True),
        sa.Column("outcome_result", sa.String(length=16), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("outcome_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["local_id"],
            ["interventions.local_id"],
            name=op.f("fk_intervention_tracking_local_id_interventions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("local_id", name=op.f("pk_intervention_tracking")),
    )
    op.create_table(
        "intervention_escalations",
        sa.Column("id", ID, nullable=False),
        sa.Column("intervention_local_id", sa.BigInteger(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("due_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["intervention_local_id"],
            ["interventions.local_id"],
            name=op.f("fk_intervention_escalations_intervention_local_id_interventions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intervention_escalations")),
    )
    op.create_index(
        op.f("ix_intervention_escalations_intervention_local_id"),
        "intervention_escalations",
        ["intervention_local_id"],
    )
    op.create_table(
        "intervention_holdouts",
        sa.Column("id", ID, nullable=False),
        sa.Column("tutor_id", sa.BigInteger(), nullable=False),
        sa.Column("intervention_type", sa.String(length=64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("risk_at_creation", sa.Float(), nullable=True),
        sa.Column("source_alert_key", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intervention_holdouts")),
    )
    op.create_index(
        op.f("ix_intervention_holdouts_intervention_type_at"),
        "intervention_holdouts",
        ["intervention_type", "at"],
    )
    op.create_index(
        op.f("ix_intervention_holdouts_tutor_id"), "intervention_holdouts", ["tutor_id"]
    )


def downgrade() -> None:
    op.drop_table("intervention_holdouts")
    op.drop_table("intervention_escalations")
    op.drop_table("intervention_tracking")
