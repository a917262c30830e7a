"""The answer log: every grounded Q&A answer with its question, reply and citations, and the 👍/👎
each reader gave it (with an optional one-line reason). Tables `answers` and `answer_feedback`,
created on first use so the rest of the store does not need to know about them.
"""

from __future__ import annotations

import json
import weakref
from datetime import datetime

from bot.storage import Store, new_id, now_iso

RATINGS = ("good", "bad")
MAX_REASON = 300
_READY: weakref.WeakSet[Store] = weakref.WeakSet()


def _tables(store: Store) -> None:
    if store in _READY:
        return

    def create(db) -> None:
        db["answers"].create(
            {
                "id": str,
                "learner": str,
                "conversation": str,
                "question": str,
                "reply": str,
                "citations": str,
                "asked_at": str,
            },
            pk="id",
            if_not_exists=True,
        )
        db["answer_feedback"].create(
            {"answer": str, "learner": str, "rating": str, "reason": str, "at": str},
            pk=("answer", "learner"),
            if_not_exists=True,
        )

    store.write(create)
    _READY.add(store)


def record_answer(
    store: Store,
    learner: str,
    conversation: str,
    question: str,
    reply: str,
    passages: list[str],
    at: datetime,
) -> str:
    """Keep one answer; its id travels in the 👍/👎 buttons."""
    _tables(store)
    answer_id = new_id()
    row = {
        "id": answer_id,
        "learner": learner,
        "conversation": conversation,
        "question": question,
        "reply": reply,
        "citations": json.dumps(passages),
        "asked_at": now_iso(at),
    }
    store.write(lambda db: db["answers"].insert(row))
    return answer_id


def rate(store: Store, answer_id: str, learner: str, rating: str, at: datetime) -> bool:
    """Record (or change) one reader's rating of an answer; False when there is no such answer."""
    _tables(store)
    if rating not in RATINGS or not store.read("SELECT 1 FROM answers WHERE id = ?", [answer_id]):
        return False
    row = {"answer": answer_id, "learner": learner, "rating": rating, "reason": "", "at": now_iso(at)}
    store.write(lambda db: db["answer_feedback"].upsert(row, pk=("answer", "learner")))
    return True


def add_reason(store: Store, answer_id: str, learner: str, reason: str) -> None:
    _tables(store)
    text = " ".join(reason.split())[:MAX_REASON]
    store.write(
        lambda db: db.execute(
            "UPDATE answer_feedback SET reason = ? WHERE answer = ? AND learner = ?",
            [text, answer_id, learner],
        )
    )


def feedback(store: Store, bad_only: bool = False, learner: str | None = None) -> list[dict]:
    """Rated answers, newest first: question, reply, citations, rating, reason and who rated.
    `learner` limits the list to that reader's own ratings."""
    _tables(store)
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
    rows = store.read(sql + " ORDER BY f.at DESC, f.answer", args)
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
