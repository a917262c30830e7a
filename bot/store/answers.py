"""Q&A answers in the store: every grounded answer with its question, reply and citations, and the
👍/👎 each reader gave it (with an optional one-line reason)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update

from bot.store.base import StoreBase, new_id, now_iso
from bot.store.schema import answer_feedback, answers

RATINGS = ("good", "bad")
MAX_REASON = 300


class AnswerTables(StoreBase):
    """`answers` and `answer_feedback`."""

    def record_answer(
        self, learner: str, conversation: str, question: str, reply: str, passages: list[str], at: datetime
    ) -> str:
        """Keep one answer; its id travels in the 👍/👎 buttons."""
        statement, row = self.answer_row(learner, conversation, question, reply, passages, at)
        self.execute(statement, row)
        return row["id"]

    def answer_row(
        self, learner: str, conversation: str, question: str, reply: str, passages: list[str], at: datetime
    ) -> tuple[Any, dict[str, Any]]:
        """The insert keeping one answer and its row (with the answer's new id), to write now
        (`record_answer`) or with the turn's `checkpointed` mark (`bot.store.deferred`)."""
        row = {
            "id": new_id(),
            "learner": learner,
            "conversation": conversation,
            "question": question,
            "reply": reply,
            "citations": json.dumps(passages),
            "asked_at": now_iso(at),
        }
        return self.statement("record_answer", answers.insert), row  # built once, see `statement`

    def rate_answer(self, answer_id: str, learner: str, rating: str, at: datetime) -> bool:
        """Record (or change) one reader's rating of an answer; False when there is no such answer."""

        def exists() -> Any:  # the statements are built once (see `StoreBase.statement`)
            return select(answers.c.id).where(answers.c.id == bindparam("rated"))

        def upsert() -> Any:
            statement = self.insert(answer_feedback)
            return statement.on_conflict_do_update(
                index_elements=["answer", "learner"],
                set_={k: statement.excluded[k] for k in ("rating", "reason", "at")},
            )

        if rating not in RATINGS:
            return False
        if not self.rows(self.statement("answer_exists", exists), {"rated": answer_id}):
            return False
        row = {"answer": answer_id, "learner": learner, "rating": rating, "reason": "", "at": now_iso(at)}
        self.execute(self.statement("rate_answer", upsert), row)
        return True

    def add_feedback_reason(self, answer_id: str, learner: str, reason: str) -> None:
        def build() -> Any:
            f = answer_feedback.c
            where = (f.answer == bindparam("rated"), f.learner == bindparam("reader"))
            return update(answer_feedback).where(*where).values(reason=bindparam("text"))

        text = " ".join(reason.split())[:MAX_REASON]
        self.execute(
            self.statement("feedback_reason", build), {"rated": answer_id, "reader": learner, "text": text}
        )

    def answer_feedback(self, bad_only: bool = False, learner: str | None = None) -> list[dict]:
        """Rated answers, newest first: question, reply, citations, rating, reason and who rated.
        `learner` limits the list to that reader's own ratings."""
        sql = (
            "SELECT f.answer, f.learner, f.rating, f.reason, f.at, a.question, a.reply, a.citations "
            "FROM answer_feedback f JOIN answers a ON a.id = f.answer WHERE 1 = 1"
        )
        args: list[str] = []
        if bad_only:
            sql += " AND f.rating = 'bad'"
        if learner is not None:
            sql += " AND f.learner = ?"
            args.append(learner)
        rows = self.read(sql + " ORDER BY f.at DESC, f.answer", args)
        for row in rows:
            row["citations"] = json.loads(row["citations"] or "[]")
        return rows


def per_passage(rows: list[dict]) -> dict[str, dict[str, int]]:
    """How many 👍 and 👎 each cited passage collected."""
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        for passage in row["citations"]:
            tally = counts.setdefault(passage, {"good": 0, "bad": 0})
            tally[row["rating"]] += 1
    return counts
