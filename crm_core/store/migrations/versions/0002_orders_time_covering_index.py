"""orders: time-ordered covering index for period and monthly aggregates

Replaces ix_orders_ordered_at (ordered_at) with ix_orders_time_status_customer
(ordered_at, status, customer_id, amount): queries over a date range (period KPIs, monthly
revenue, refunds in a window) read the index alone instead of looking every order up in
the table; anything that used the old index can use the new one's first column.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 11:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_ordered_at")
        batch_op.create_index(
            "ix_orders_time_status_customer",
            ["ordered_at", "status", "customer_id", "amount"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_time_status_customer")
        batch_op.create_index("ix_orders_ordered_at", ["ordered_at"], unique=False)
