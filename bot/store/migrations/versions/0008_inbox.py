"""`inbox`: a platform request acknowledged and not yet run, stored before its 200 on either database
(HTTP only), so a process killed after the ack runs it once it is back (issue 17: the single-process
SQLite inbox acked after an in-memory enqueue only).

Only adds a table, so workers of the previous version keep running.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None
online_safe = True


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        *(sa.Column(name, sa.Text) for name in ("delivery", "channel", "body", "query", "content_type")),
        *(sa.Column(name, sa.Text) for name in ("owner", "received_at", "learner")),
        if_not_exists=True,
    )
    op.create_index("idx_inbox_delivery", "inbox", ["delivery"], unique=True, if_not_exists=True)


def downgrade() -> None:
    op.drop_table("inbox", if_exists=True)
