"""ticket service fields: the status the service system gave a ticket, the agent who
handled it and the reason the customer gave (a return or quality reason, free text), for
the Service page's CSAT by agent and its reason counts.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=True))
        batch.add_column(sa.Column("agent", sa.String(64), nullable=True))
        batch.add_column(sa.Column("reason", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("reason")
        batch.drop_column("agent")
        batch.drop_column("status")
