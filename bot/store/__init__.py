"""Learner data in SQLite through sqlite-utils: `Store` is the interface the flows, the managers and the
channels use.

The schema is in one place (`schema.py`); each area's reads and writes are in its own module
(`learners`, `quizzes`, `labs`, `nudges`, `references`, `answers`) as a class over the shared connection
(`base.py`). `Store` only combines them, so call sites keep one object: `store.record_attempt(...)`.
Conversation checkpoints live in a separate file owned by LangGraph's SQLite checkpointer.
"""

from __future__ import annotations

from bot.store.answers import AnswerTables
from bot.store.base import StoreBase, new_id, now_iso
from bot.store.labs import LabTables
from bot.store.learners import LearnerTables
from bot.store.nudges import NudgeTables
from bot.store.quizzes import QuizTables
from bot.store.references import ReferenceTables
from bot.store.teams import TeamsTables

__all__ = ["Store", "StoreBase", "new_id", "now_iso"]


class Store(LearnerTables, QuizTables, LabTables, NudgeTables, ReferenceTables, AnswerTables, TeamsTables):
    """All reads and writes of learner data. Safe to share between threads and tasks."""
