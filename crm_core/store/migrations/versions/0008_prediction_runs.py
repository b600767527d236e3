"""prediction runs: each fit of the CLV and churn models with its parameters, backtest
and author (prediction_runs), and the scores it gave each customer
(customer_predictions), which audiences, tags and the RFM member list read.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHOP_ID = sa.String(64).with_variant(sa.String(64, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "prediction_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("data_version", sa.String(64), nullable=True),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("churn_scorer", sa.String(16), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_runs")),
    )
    op.create_table(
        "customer_predictions",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", SHOP_ID, nullable=False),
        sa.Column("probability_alive", sa.Float(), nullable=True),
        sa.Column("purchases_30d", sa.Float(), nullable=True),
        sa.Column("purchases_90d", sa.Float(), nullable=True),
        sa.Column("purchases_365d", sa.Float(), nullable=True),
        sa.Column("next_order_date", sa.Date(), nullable=True),
        sa.Column("expected_order_value", sa.Float(), nullable=True),
        sa.Column("clv_12m", sa.Float(), nullable=True),
        sa.Column("churn_risk", sa.Float(), nullable=True),
        sa.Column("churn_drivers", sa.String(255), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["prediction_runs.id"],
            name=op.f("fk_customer_predictions_run_id_prediction_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "customer_id", name=op.f("pk_customer_predictions")),
    )


def downgrade() -> None:
    op.drop_table("customer_predictions")
    op.drop_table("prediction_runs")
