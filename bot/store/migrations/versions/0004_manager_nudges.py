"""Managers' weekly nudges grow up (issue 18): a digest outbox with retries and a chart, reminders,
channel rosters, members' opt-outs, notes for the next digest, and a cache of people's names.

Only adds tables and nullable columns (each kept if a file from before migrations already has it), so
workers of the previous version keep running.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None
online_safe = True

SERIAL = sa.BigInteger().with_variant(sa.Integer, "sqlite")

NEW_COLUMNS = {
    "nudge_schedules": {"channel": sa.Text, "roster": sa.Text, "remind_after_h": sa.Integer},
    "nudge_deliveries": {"planned_at": sa.Text, "reminded_at": sa.Text},
    "nudge_digests": {
        "attempts": sa.Integer,
        "next_at": sa.Text,
        "error": sa.Text,
        "chart": sa.Text,
        "claimed_at": sa.Text,
    },
}


def text(name: str, **kw) -> sa.Column:
    return sa.Column(name, sa.Text, **kw)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, columns in NEW_COLUMNS.items():
        have = {c["name"] for c in inspector.get_columns(table)}
        for name, kind in columns.items():
            if name not in have:
                op.add_column(table, sa.Column(name, kind))
    op.create_table(
        "nudge_optouts",
        sa.Column("id", SERIAL, primary_key=True),
        text("member"),
        text("kind"),
        text("until"),
        text("at"),
        if_not_exists=True,
    )
    op.create_index("idx_nudge_optouts_member", "nudge_optouts", ["member"], if_not_exists=True)
    op.create_table(
        "nudge_notes",
        sa.Column("id", SERIAL, primary_key=True),
        text("schedule"),
        text("note"),
        text("at"),
        if_not_exists=True,
    )
    op.create_table(
        "people",
        text("member", primary_key=True),
        text("name"),
        sa.Column("active", sa.Integer),
        text("fetched_at"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("people")
    op.drop_table("nudge_notes")
    op.drop_index("idx_nudge_optouts_member", table_name="nudge_optouts", if_exists=True)
    op.drop_table("nudge_optouts")
    for table, columns in NEW_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for name in columns:
                batch.drop_column(name)
