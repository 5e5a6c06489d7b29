"""Sweeps: a table for each Optuna search, and each trial's run tagged with its sweep.

Revision ID: 0002_sweeps
Revises: 0001
Create Date: 2026-12-02 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_sweeps"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("n_trials", sa.Integer(), nullable=False),
        sa.Column("stopping", sa.Boolean(), nullable=False),
        sa.Column("study_name", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sweeps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sweeps_created_at"), ["created_at"], unique=False)
    # Plain ALTER TABLE ADD COLUMN, no foreign key: SQLite cannot add one without batch mode
    # copying `runs`, and dropping the old copy cascades to every run's callbacks and events.
    op.add_column("runs", sa.Column("sweep_id", sa.String(length=32), nullable=True))
    op.add_column("runs", sa.Column("trial_number", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_runs_sweep_id"), "runs", ["sweep_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_runs_sweep_id"), table_name="runs")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("trial_number")
        batch_op.drop_column("sweep_id")
    with op.batch_alter_table("sweeps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sweeps_created_at"))
    op.drop_table("sweeps")
