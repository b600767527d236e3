"""stored frames: per-customer facts and other frames computed from the store, kept as
Parquet for the data version they were computed at, so a restart or a second app
process reads them instead of aggregating the orders again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 02:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stored_frames",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("data_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_frames")),
        sa.UniqueConstraint("name", "key", name="uq_stored_frames_name_key"),
    )


def downgrade() -> None:
    op.drop_table("stored_frames")
