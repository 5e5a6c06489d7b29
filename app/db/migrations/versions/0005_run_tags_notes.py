"""Runs get tags, a note and their duration; indexes for sorting the runs list (issue 11).

Revision ID: 0005_run_tags_notes
Revises: 0004_external_runs
Create Date: 2026-12-02 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_run_tags_notes"
down_revision: str | None = "0004_external_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SORT_INDEXES = {
    "ix_runs_created_at_id": ["created_at", "id"],
    "ix_runs_name_id": ["name", "id"],
    "ix_runs_recipe_id": ["recipe", "id"],
    "ix_runs_status_id": ["status", "id"],
    "ix_runs_duration_id": ["duration", "id"],
}


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tags", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("note", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("duration", sa.Float(), server_default="0", nullable=False))
        for name, columns in SORT_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        for name in SORT_INDEXES:
            batch_op.drop_index(name)
        batch_op.drop_column("duration")
        batch_op.drop_column("note")
        batch_op.drop_column("tags")
