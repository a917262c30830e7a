"""Where Teams members can be reached (issue 18): the teams and group chats the coach read a roster
in (`teams_places`) and who was in each (`teams_members`).

Only adds tables (each kept if a file from before migrations already has it), so workers of the
previous version keep running.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
online_safe = True


def text(name: str, **kw) -> sa.Column:
    return sa.Column(name, sa.Text, **kw)


def upgrade() -> None:
    op.create_table(
        "teams_places",
        text("id", primary_key=True),
        text("service_url"),
        text("tenant"),
        text("bot"),
        text("name"),
        text("seen_at"),
        if_not_exists=True,
    )
    op.create_table(
        "teams_members",
        text("member", primary_key=True),
        text("place", primary_key=True),
        text("seen_at"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("teams_members")
    op.drop_table("teams_places")
