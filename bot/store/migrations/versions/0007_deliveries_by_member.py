"""An index on `nudge_deliveries.member`: planning a weekly nudge reads every earlier set of the
schedule's members (what each was asked, and when), which scanned the whole table once per 1,000
members (issue 17: 10,000 members with 12 weeks of sets).

Only adds an index, so workers of the previous version keep running during and after it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None
online_safe = True


def upgrade() -> None:
    op.create_index("idx_nudge_deliveries_member", "nudge_deliveries", ["member"], if_not_exists=True)


def downgrade() -> None:
    op.drop_index("idx_nudge_deliveries_member", table_name="nudge_deliveries", if_exists=True)
