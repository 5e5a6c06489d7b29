"""Runs record the run they were forked from and where (live control: fork).

Revision ID: 0006_run_forks
Revises: 0005_run_tags_notes
Create Date: 2026-12-02 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_run_forks"
down_revision: str | None = "0005_run_tags_notes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ADD COLUMN, never a batch ALTER: on SQLite a batch copies `runs` and drops the old
# table, and that DROP cascades to every run's callbacks and events. No foreign key for the
# same reason; a fork outlives its parent's deletion anyway.
def upgrade() -> None:
    op.add_column("runs", sa.Column("parent_id", sa.String(32), nullable=True))
    op.add_column("runs", sa.Column("fork_point", sa.JSON(), nullable=True))
    op.create_index("ix_runs_parent_id", "runs", ["parent_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_parent_id", "runs")
    op.drop_column("runs", "fork_point")
    op.drop_column("runs", "parent_id")
