"""Quizzes in the store: sessions, every answer (attempt), and the fsrs spaced-repetition cards."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update

from bot.store.base import StoreBase, new_id, now_iso
from bot.store.schema import cards, quiz_attempts, quiz_sessions


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
        self.execute(quiz_sessions.insert().values(row))
        return session

    def finish_quiz_session(self, session: str, correct: int, passed: bool | None, at: datetime) -> None:
        values = {
            "finished_at": now_iso(at),
            "correct": correct,
            "passed": None if passed is None else int(passed),
        }
        self.execute(update(quiz_sessions).where(quiz_sessions.c.id == session).values(values))

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
        self.execute(quiz_attempts.insert().values(row))

    def attempts(self, learner: str) -> list[dict]:
        return self.rows(
            select(quiz_attempts).where(quiz_attempts.c.learner == learner).order_by(quiz_attempts.c.id)
        )

    def quiz_session(self, session: str) -> dict | None:
        rows = self.rows(select(quiz_sessions).where(quiz_sessions.c.id == session))
        return rows[0] if rows else None

    def session_attempts(self, session: str) -> list[dict]:
        return self.rows(
            select(quiz_attempts).where(quiz_attempts.c.session == session).order_by(quiz_attempts.c.id)
        )

    def attempts_in(self, sessions: list[str]) -> list[dict]:
        """Every answer given in these sessions (one query)."""
        if not sessions:
            return []
        return self.rows(
            select(quiz_attempts).where(quiz_attempts.c.session.in_(sessions)).order_by(quiz_attempts.c.id)
        )

    def attempts_of(self, learners: list[str]) -> list[dict]:
        """Every answer these learners gave (question, correct, when), in order."""
        A = quiz_attempts.c
        found: list[dict] = []
        for start in range(0, len(learners), 1000):
            chunk = learners[start : start + 1000]
            query = select(A.id, A.learner, A.question, A.correct, A.answered_at).where(A.learner.in_(chunk))
            found += self.rows(query)
        return sorted(found, key=lambda r: r["id"])

    def answer_streaks(self, learners: list[str]) -> list[tuple[str, str, int, str]]:
        """Per learner and question answered: (learner, question, streak, answered_at of the last
        answer), the streak being the right answers in a row that end with the last answer (0: it was
        wrong). Aggregated by the database, so the rows follow the questions a learner has seen, not
        how many times they answered them."""
        A, later, last = quiz_attempts.c, quiz_attempts.alias("later"), quiz_attempts.alias("last")
        wrong = case((func.coalesce(A.correct, 0) == 0, A.id))  # a missing grade counts as wrong
        found: list[tuple[str, str, int, str]] = []
        for start in range(0, len(learners), 1000):
            pairs = (
                select(
                    A.learner,
                    A.question,
                    func.max(A.id).label("last_id"),
                    func.coalesce(func.max(wrong), 0).label("wrong_id"),
                )
                .where(A.learner.in_(learners[start : start + 1000]))
                .group_by(A.learner, A.question)
                .subquery()
            )
            streak = (
                select(func.count())
                .where(
                    later.c.learner == pairs.c.learner,
                    later.c.question == pairs.c.question,
                    later.c.id > pairs.c.wrong_id,
                )
                .scalar_subquery()
            )
            query = select(pairs.c.learner, pairs.c.question, streak, last.c.answered_at).join(
                last, last.c.id == pairs.c.last_id
            )
            with self._read() as conn:
                found += conn.execute(query).all()  # type: ignore[arg-type]
        return found

    def open_nudge_sessions(self, learner: str) -> list[dict]:
        """The learner's weekly-nudge sets still open, oldest first."""
        S = quiz_sessions.c
        query = select(quiz_sessions).where(S.learner == learner, S.quiz == "nudge", S.finished_at.is_(None))
        return self.rows(query.order_by(S.started_at, S.id))

    def closed_nudge_session(self, learner: str) -> str | None:
        """The learner's most recent weekly-nudge set that closed with questions unanswered."""
        S = quiz_sessions.c
        answered = (
            select(func.count())
            .where(quiz_attempts.c.session == S.id)
            .correlate(quiz_sessions)
            .scalar_subquery()
        )
        query = (
            select(S.id)
            .where(S.learner == learner, S.quiz == "nudge", S.finished_at.is_not(None), answered < S.total)
            .order_by(S.finished_at.desc())
            .limit(1)
        )
        rows = self.rows(query)
        return rows[0]["id"] if rows else None

    def quiz_sessions(self, learner: str) -> list[dict]:
        return self.rows(
            select(quiz_sessions)
            .where(quiz_sessions.c.learner == learner)
            .order_by(quiz_sessions.c.started_at)
        )

    def ensure_quiz_session(self, row: dict) -> None:
        """Insert a session whose id is chosen by the caller, unless it exists already."""
        self.execute(self.insert(quiz_sessions).values(row).on_conflict_do_nothing())

    def cards(self, learner: str) -> dict[str, dict]:
        return {r["question"]: r for r in self.rows(select(cards).where(cards.c.learner == learner))}

    def save_card(self, learner: str, question: str, card: dict, due: str, correct_at: str | None) -> None:
        row: dict[str, Any] = {"learner": learner, "question": question, "card": json.dumps(card), "due": due}
        if correct_at:
            row["last_correct_at"] = correct_at
        statement = self.insert(cards).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["learner", "question"],
            set_={k: statement.excluded[k] for k in row if k not in ("learner", "question")},
        )
        self.execute(statement)

    def cards_of(self, learners: list[str]) -> list[dict]:
        """Every card of these learners: learner, question, due and last_correct_at (one query each
        thousand learners)."""
        columns = (cards.c.learner, cards.c.question, cards.c.due, cards.c.last_correct_at)
        found: list[dict] = []
        for start in range(0, len(learners), 1000):
            chunk = learners[start : start + 1000]
            found += self.rows(select(*columns).where(cards.c.learner.in_(chunk)))
        return found
