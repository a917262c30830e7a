"""Indexes for the scans found at 100k learners: a quiz answer read its session's attempts and the
learner's sessions by scanning (66 ms per answer); lab runs and "forget me" scanned too.

Only adds indexes, so workers of the previous version keep running during and after it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
online_safe = True

INDEXES = (
    ("idx_quiz_attempts_session", "quiz_attempts", ["session"]),
    ("idx_quiz_sessions_learner", "quiz_sessions", ["learner"]),
    ("idx_lab_runs_learner", "lab_runs", ["learner"]),
    ("idx_messages_learner", "messages", ["learner"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, if_not_exists=True)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table, if_exists=True)
