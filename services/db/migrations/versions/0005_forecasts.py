"""Demand forecasts: one run per daily forecast, its hourly points with supply.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

Written by hand against services/db/models.py (ForecastRun, ForecastPoint). Points go
with their run (ON DELETE CASCADE); (series, hour) is indexed for the accuracy of past
forecasts and the Forecast page.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime()  # naive UTC
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "forecast_runs",
        sa.Column("id", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=True),
        sa.Column("as_of", TS, nullable=False),
        sa.Column("horizon_hours", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("config", JSON, nullable=True),
        sa.Column("backtest", JSON, nullable=True),
        sa.Column("slots", JSON, nullable=True),
        sa.Column("errors", JSON, nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecast_runs")),
    )
    op.create_index(op.f("ix_forecast_runs_created_at"), "forecast_runs", ["created_at"])
    op.create_table(
        "forecast_points",
        sa.Column("id", ID, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("series", sa.String(length=64), nullable=False),
        sa.Column("hour", TS, nullable=False),
        sa.Column("mean", sa.Float(), nullable=False),
        sa.Column("lower", sa.Float(), nullable=False),
        sa.Column("upper", sa.Float(), nullable=False),
        sa.Column("supply", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["forecast_runs.id"],
            name=op.f("fk_forecast_points_run_id_forecast_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecast_points")),
        sa.UniqueConstraint(
            "run_id", "series", "hour", name=op.f("uq_forecast_points_run_id_series_hour")
        ),
    )
    op.create_index(op.f("ix_forecast_points_run_id"), "forecast_points", ["run_id"])
    op.create_index(op.f("ix_forecast_points_series_hour"), "forecast_points", ["series", "hour"])


def downgrade() -> None:
    op.drop_table("forecast_points")
    op.drop_table("forecast_runs")
