"""Quizzes in the store: sessions, every answer (attempt), and the fsrs spaced-repetition cards."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.store.base import StoreBase, new_id, now_iso


class QuizTables(StoreBase):
    """`quiz_sessions`, `quiz_attempts` and `cards` (one per learner and question)."""

    def start_quiz_session(self, learner: str, quiz: str, questions: list[str], at: datetime) -> str:
        session = new_id()
        row = {
            "id": session,
            "learner": learner,
            "quiz": quiz,
            "questions": json.dumps(questions),
            "started_at": now_iso(at),
            "correct": 0,
            "total": len(questions),
        }
        self._retry(lambda: self.db["quiz_sessions"].insert(row))
        return session

    def finish_quiz_session(self, session: str, correct: int, passed: bool | None, at: datetime) -> None:
        values = {
            "finished_at": now_iso(at),
            "correct": correct,
            "passed": None if passed is None else int(passed),
        }
        self._retry(lambda: self.db["quiz_sessions"].update(session, values))

    def record_attempt(
        self, session: str, learner: str, question: str, chosen: str, correct: bool, at: datetime
    ) -> None:
        row = {
            "session": session,
            "learner": learner,
            "question": question,
            "chosen": chosen,
            "correct": int(correct),
            "answered_at": now_iso(at),
        }
        self._retry(lambda: self.db["quiz_attempts"].insert(row))

    def attempts(self, learner: str) -> list[dict]:
        with self._read() as db:
            return list(db["quiz_attempts"].rows_where("learner = ?", [learner], order_by="id"))

    def quiz_session(self, session: str) -> dict | None:
        with self._read() as db:
            return next(db["quiz_sessions"].rows_where("id = ?", [session]), None)

    def session_attempts(self, session: str) -> list[dict]:
        with self._read() as db:
            return list(db["quiz_attempts"].rows_where("session = ?", [session], order_by="id"))

    def quiz_sessions(self, learner: str) -> list[dict]:
        with self._read() as db:
            return list(db["quiz_sessions"].rows_where("learner = ?", [learner], order_by="started_at"))

    def ensure_quiz_session(self, row: dict) -> None:
        """Insert a session whose id is chosen by the caller, unless it exists already."""
        self._retry(lambda: self.db["quiz_sessions"].insert(row, ignore=True))

    def cards(self, learner: str) -> dict[str, dict]:
        with self._read() as db:
            return {r["question"]: r for r in db["cards"].rows_where("learner = ?", [learner])}

    def save_card(self, learner: str, question: str, card: dict, due: str, correct_at: str | None) -> None:
        row: dict[str, Any] = {"learner": learner, "question": question, "card": json.dumps(card), "due": due}
        if correct_at:
            row["last_correct_at"] = correct_at
        self._retry(lambda: self.db["cards"].upsert(row, pk=("learner", "question")))

    def cards_of(self, learners: list[str]) -> list[dict]:
        """Every card of these learners: learner, question, due and last_correct_at (one query)."""
        return self.read(
            "SELECT learner, question, due, last_correct_at FROM cards "
            "WHERE learner IN (SELECT value FROM json_each(?))",
            [json.dumps(learners)],
        )
