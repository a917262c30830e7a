"""`confirmations` (one-time codes: "forget me"'s Yes works on any worker and after a restart, where an
in-memory code landed on the wrong worker half the time) and `nudge_deliveries.posted` (how many of a
set's messages went out, so a retry resumes after them instead of re-sending the set whole).

Only adds a table and a nullable column, so workers of the previous version keep running.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None
online_safe = True


def upgrade() -> None:
    op.create_table(
        "confirmations",
        sa.Column("code", sa.Text, primary_key=True),
        *(sa.Column(name, sa.Text) for name in ("purpose", "learner", "conversation", "expires_at")),
        if_not_exists=True,
    )
    if "posted" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("nudge_deliveries")}:
        op.add_column("nudge_deliveries", sa.Column("posted", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("nudge_deliveries") as batch:
        batch.drop_column("posted")
    op.drop_table("confirmations", if_exists=True)
