"""Which process stored a message early (`messages.owner`), so that a `waiting` message is owned up
to only when the process that stored it is gone (issue 16's review, finding 1).

Only adds a nullable column, so workers of the previous version keep running (their `waiting` rows
have no owner and are treated as before).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None
online_safe = True


def upgrade() -> None:
    if "owner" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("messages")}:
        op.add_column("messages", sa.Column("owner", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("owner")
