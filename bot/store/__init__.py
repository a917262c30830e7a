"""Learner data through SQLAlchemy Core, on SQLite (the embedded default) or PostgreSQL
(`COACH_DATABASE_URL`): `Store` is the interface the flows, the managers and the channels use.

The schema is in one place (`schema.py`) with its numbered migrations (`migrate.py`); each area's
reads and writes are in its own module (`learners`, `quizzes`, `labs`, `nudges`, `references`,
`answers`, `optouts`) as a class over the shared engine (`base.py`). `Store` only combines them, so call sites
keep one object:
`store.record_attempt(...)`. Conversation checkpoints belong to LangGraph's own checkpointers.
"""

from __future__ import annotations

from bot.store.answers import AnswerTables
from bot.store.base import StoreBase, is_postgres, new_id, now_iso
from bot.store.confirmations import ConfirmationTables
from bot.store.inbox import InboxTables
from bot.store.labs import LabTables
from bot.store.learners import LearnerTables
from bot.store.migrate import SchemaError
from bot.store.nudges import NudgeTables
from bot.store.optouts import PeopleTables
from bot.store.quizzes import QuizTables
from bot.store.references import ReferenceTables
from bot.store.teams import TeamsTables

__all__ = ["SchemaError", "Store", "StoreBase", "is_postgres", "new_id", "now_iso"]


class Store(
    InboxTables,
    LearnerTables,
    QuizTables,
    LabTables,
    NudgeTables,
    ReferenceTables,
    AnswerTables,
    PeopleTables,
    TeamsTables,
    ConfirmationTables,
):
    """All reads and writes of learner data. Safe to share between threads and tasks."""
