"""Q&A answers and the 👍/👎 feedback on them (issue 14).

Only adds tables (kept if a file already has them from before migrations), so workers of the previous
version keep running.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
online_safe = True


def text(name: str, **kw) -> sa.Column:
    return sa.Column(name, sa.Text, **kw)


def upgrade() -> None:
    op.create_table(
        "answers",
        text("id", primary_key=True),
        text("learner"),
        text("conversation"),
        text("question"),
        text("reply"),
        text("citations"),
        text("asked_at"),
        if_not_exists=True,
    )
    op.create_table(
        "answer_feedback",
        text("answer", primary_key=True),
        text("learner", primary_key=True),
        text("rating"),
        text("reason"),
        text("at"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("answer_feedback")
    op.drop_table("answers")
