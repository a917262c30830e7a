"""Q&A answers in the store: every grounded answer with its question, reply and citations, and the
👍/👎 each reader gave it (with an optional one-line reason)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select, update

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
        row = {
            "id": new_id(),
            "learner": learner,
            "conversation": conversation,
            "question": question,
            "reply": reply,
            "citations": json.dumps(passages),
            "asked_at": now_iso(at),
        }
        self.execute(self.statement("record_answer", answers.insert), row)  # built once, see `statement`
        return row["id"]

    def rate_answer(self, answer_id: str, learner: str, rating: str, at: datetime) -> bool:
        """Record (or change) one reader's rating of an answer; False when there is no such answer."""
        if rating not in RATINGS or not self.rows(select(answers.c.id).where(answers.c.id == answer_id)):
            return False
        row = {"answer": answer_id, "learner": learner, "rating": rating, "reason": "", "at": now_iso(at)}
        statement = self.insert(answer_feedback).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["answer", "learner"],
            set_={k: statement.excluded[k] for k in ("rating", "reason", "at")},
        )
        self.execute(statement)
        return True

    def add_feedback_reason(self, answer_id: str, learner: str, reason: str) -> None:
        text = " ".join(reason.split())[:MAX_REASON]
        f = answer_feedback.c
        self.execute(
            update(answer_feedback).where(f.answer == answer_id, f.learner == learner).values(reason=text)
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
