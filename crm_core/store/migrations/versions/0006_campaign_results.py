"""campaign results: holdout members of an export, the campaign made from an export, and
a small index of the orders that carry a campaign id

- export_members.is_control: a member held out as control (never in the file, not
  counted as contacted);
- campaigns.export_id: the export a campaign was created from (at most one campaign
  per export);
- ix_orders_campaign: orders with a campaign_id (a few per cent of all), for the
  attributed revenue of every campaign without reading all orders.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("export_members") as batch:
        batch.add_column(
            sa.Column("is_control", sa.Boolean(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("export_id", sa.Integer(), nullable=True))
        batch.create_index("ix_campaigns_export", ["export_id"], unique=True)
    op.create_index(
        "ix_orders_campaign",
        "orders",
        ["campaign_id", "status", "amount"],
        unique=False,
        sqlite_where=sa.text("campaign_id IS NOT NULL"),
        postgresql_where=sa.text("campaign_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_campaign", table_name="orders")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_index("ix_campaigns_export")
        batch.drop_column("export_id")
    with op.batch_alter_table("export_members") as batch:
        batch.drop_column("is_control")
