"""Runs record what they ask of their executor and where it placed them (the Ray backend).

Revision ID: 0003_run_placement
Revises: 0002_sweeps
Create Date: 2026-12-02 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_run_placement"
down_revision: str | None = "0002_sweeps"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ADD COLUMN, never a batch ALTER: on SQLite a batch copies `runs` and drops the old
# table, and that DROP cascades to every run's callbacks and events.
def upgrade() -> None:
    op.add_column("runs", sa.Column("resources", sa.JSON(), nullable=True))
    op.add_column("runs", sa.Column("placement", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "placement")
    op.drop_column("runs", "resources")
