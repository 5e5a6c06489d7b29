"""External runs: runs trained outside the server report over /ws/report with a write key.

Revision ID: 0004_external_runs
Revises: 0003_run_placement
Create Date: 2026-12-02 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_external_runs"
down_revision: str | None = "0003_run_placement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch (copy-and-move) alteration: on SQLite, dropping the old
    # runs table would cascade to the callbacks that reference it.
    op.add_column(
        "runs", sa.Column("external", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("runs", sa.Column("write_key_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "write_key_hash")
    op.drop_column("runs", "external")
