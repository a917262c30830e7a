"""Baseline: the schema coach created before it had migrations (learners, messages, quizzes, cards, labs,
Teams references, managers and weekly nudges).

A SQLite file from that time has these tables and no version; it is stamped with this revision and
upgraded from here.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None
online_safe = True

SERIAL = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def text(name: str, **kw) -> sa.Column:
    return sa.Column(name, sa.Text, **kw)


def upgrade() -> None:
    op.create_table(
        "learners",
        text("id", primary_key=True),
        text("platform"),
        text("user"),
        text("name"),
        text("first_seen"),
        text("last_seen"),
    )
    op.create_table(
        "messages",
        sa.Column("id", SERIAL, primary_key=True),
        text("delivery"),
        text("conversation"),
        text("learner"),
        text("text"),
        text("action"),
        text("received_at"),
        text("status"),
        sa.Column("replies", sa.Integer),
    )
    op.create_index("idx_messages_delivery", "messages", ["delivery"], unique=True)
    op.create_index("idx_messages_conversation_status", "messages", ["conversation", "status"])
    op.create_table(
        "quiz_sessions",
        text("id", primary_key=True),
        text("learner"),
        text("quiz"),
        text("questions"),
        text("started_at"),
        text("finished_at"),
        sa.Column("correct", sa.Integer),
        sa.Column("total", sa.Integer),
        sa.Column("passed", sa.Integer),
    )
    op.create_table(
        "quiz_attempts",
        sa.Column("id", SERIAL, primary_key=True),
        text("session"),
        text("learner"),
        text("question"),
        text("chosen"),
        sa.Column("correct", sa.Integer),
        text("answered_at"),
    )
    op.create_index("idx_quiz_attempts_learner_question", "quiz_attempts", ["learner", "question"])
    op.create_table(
        "cards",
        text("learner", primary_key=True),
        text("question", primary_key=True),
        text("card"),
        text("due"),
        text("last_correct_at"),
    )
    op.create_table(
        "conversation_refs",
        text("learner", primary_key=True),
        text("conversation", primary_key=True),
        text("platform"),
        text("reference"),
        text("updated_at"),
    )
    op.create_table("managers", text("learner", primary_key=True), text("added_by"), text("added_at"))
    op.create_table(
        "nudge_schedules",
        text("id", primary_key=True),
        text("manager"),
        text("team"),
        text("members"),
        sa.Column("weekday", sa.Integer),
        text("at"),
        text("tz"),
        text("status"),
        text("created_at"),
    )
    op.create_table(
        "nudge_deliveries",
        sa.Column("id", SERIAL, primary_key=True),
        text("schedule"),
        text("week"),
        text("member"),
        text("questions"),
        text("status"),
        sa.Column("attempts", sa.Integer),
        text("next_at"),
        text("error"),
        text("claimed_by"),
        text("claimed_at"),
        text("sent_at"),
    )
    op.create_index(
        "idx_nudge_deliveries_schedule_week_member",
        "nudge_deliveries",
        ["schedule", "week", "member"],
        unique=True,
    )
    op.create_index("idx_nudge_deliveries_status", "nudge_deliveries", ["status"])
    op.create_table(
        "nudge_digests",
        text("schedule", primary_key=True),
        text("week", primary_key=True),
        text("status"),
        text("sent_at"),
    )
    op.create_table(
        "lab_runs",
        text("id", primary_key=True),
        text("learner"),
        text("lab"),
        text("started_at"),
        text("finished_at"),
        sa.Column("turns", sa.Integer),
        sa.Column("score", sa.Float),
        text("covered"),
        text("missed"),
    )


def downgrade() -> None:
    for table in (
        "lab_runs",
        "nudge_digests",
        "nudge_deliveries",
        "nudge_schedules",
        "managers",
        "conversation_refs",
        "cards",
        "quiz_attempts",
        "quiz_sessions",
        "messages",
        "learners",
    ):
        op.drop_table(table)
