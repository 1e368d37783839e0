"""Recommendation cards from the marketplace rules (implement / dismiss, audited).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

Written by hand against services/db/models.py (Recommendation). ``open_key`` is UNIQUE
so the database itself keeps one open card per (rule, subject).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime()  # naive UTC
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "recommendations",
        sa.Column("id", ID, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("open_key", sa.String(length=200), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("impact", sa.Text(), nullable=False),
        sa.Column("roi", JSON, nullable=True),
        sa.Column("facts", JSON, nullable=True),
        sa.Column("thresholds", JSON, nullable=True),
        sa.Column("forecast_run_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendations")),
        sa.UniqueConstraint("open_key", name=op.f("uq_recommendations_open_key")),
    )
    op.create_index(op.f("ix_recommendations_key"), "recommendations", ["key"])
    op.create_index(
        op.f("ix_recommendations_state_priority"), "recommendations", ["state", "priority"]
    )


def downgrade() -> None:
    op.drop_table("recommendations")
