"""Learners and their messages in the store: who was seen when, every inbound message (stored before
any work, so a duplicate delivery stops here and nothing is lost), and forgetting a learner.

A message's `status`: `waiting` (stored by the ack path, its turn not started yet), `received` (a turn
is working on it), then `answered` or `failed` once its replies were delivered, `undelivered` when
delivering them failed, `lost` once a later turn owned up to it. `OWED` are the ones still owed.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import delete, func, select, update

from bot.store.base import StoreBase, now_iso
from bot.store.schema import PERSONAL, learners, messages

WAITING, RECEIVED, UNDELIVERED = "waiting", "received", "undelivered"
OWED = (WAITING, RECEIVED, UNDELIVERED)  # acknowledged, and not (known to be) answered


class LearnerTables(StoreBase):
    """`learners` and `messages`; `forget` deletes a learner's rows from every personal table."""

    def touch_learner(self, learner: str, name: str | None, at: datetime) -> None:
        platform, _, user = learner.partition(":")
        stamp = now_iso(at)
        statement = self.insert(learners).values(
            id=learner, platform=platform, user=user, name=name, first_seen=stamp, last_seen=stamp
        )
        statement = statement.on_conflict_do_update(
            index_elements=["id"],
            set_={
                "last_seen": statement.excluded.last_seen,
                "name": func.coalesce(statement.excluded.name, learners.c.name),
            },
        )
        self.execute(statement)

    def record_inbound(
        self,
        delivery: str | None,
        conversation: str,
        learner: str,
        text: str,
        action: dict | None,
        at: datetime,
        status: str = RECEIVED,
    ) -> int | None:
        """Store a message before any work on it; None if this delivery was already stored."""
        row = {
            "delivery": delivery,
            "conversation": conversation,
            "learner": learner,
            "text": text,
            "action": json.dumps(action) if action else None,
            "received_at": now_iso(at),
            "status": status,
            "replies": 0,
        }
        statement = self.insert(messages).values(row).on_conflict_do_nothing().returning(messages.c.id)
        return self._retry(lambda conn: conn.execute(statement).scalar())

    def claim(self, message_id: int | None = None, delivery: str | None = None) -> int | None:
        """Take a `waiting` message (by id or by delivery key) for this turn; None if it is not waiting
        (another turn took it, or a later turn owned up to it)."""
        m = messages.c
        where = m.id == message_id if message_id is not None else m.delivery == delivery
        statement = update(messages).where(where, m.status == WAITING).values(status=RECEIVED).returning(m.id)
        return self._retry(lambda conn: conn.execute(statement).scalar())

    def mark_answered(self, message_id: int, replies: int, status: str = "answered") -> None:
        """Record the outcome of a stored message (a no-op if it was deleted meanwhile: "forget me")."""
        self.execute(
            update(messages).where(messages.c.id == message_id).values(status=status, replies=replies)
        )

    def unanswered(self, conversation: str | None = None) -> list[dict]:
        """Messages acknowledged but not answered: a process died before or during their turn, or
        delivering the replies failed."""
        query = select(messages).where(messages.c.status.in_(OWED)).order_by(messages.c.id)
        if conversation:
            query = query.where(messages.c.conversation == conversation)
        return self.rows(query)

    def messages(self, conversation: str | None = None) -> list[dict]:
        """Stored messages in arrival order (all of them, or one conversation's)."""
        query = select(messages).order_by(messages.c.id)
        if conversation:
            query = query.where(messages.c.conversation == conversation)
        return self.rows(query)

    def names_of(self, people: list[str]) -> dict[str, str]:
        """The display names known for these learners (those without one are left out)."""
        found: dict[str, str] = {}
        for start in range(0, len(people), 1000):
            query = select(learners.c.id, learners.c.name).where(
                learners.c.id.in_(people[start : start + 1000])
            )
            found |= {r["id"]: r["name"] for r in self.rows(query) if r["name"]}
        return found

    def conversations_spoken_in(self, learner: str) -> set[str]:
        """Every conversation the learner sent a message in (shared ones too)."""
        query = select(messages.c.conversation).where(messages.c.learner == learner).distinct()
        return {r["conversation"] for r in self.rows(query)}

    def conversations_of(self, learner: str) -> list[str]:
        """Conversations the learner spoke in where nobody else did (their DMs and own threads)."""
        theirs = func.sum(func.cast(messages.c.learner == learner, messages.c.replies.type))
        others = func.sum(func.cast(messages.c.learner != learner, messages.c.replies.type))
        query = (
            select(messages.c.conversation)
            .group_by(messages.c.conversation)
            .having(theirs > 0)
            .having(others == 0)
        )
        return [r["conversation"] for r in self.rows(query)]

    def words_in(self, learner: str, conversation: str) -> tuple[list[str], list[str]]:
        """What the learner sent in a conversation, and the ids of the answers the coach gave them there."""
        where, args = "WHERE learner = ? AND conversation = ?", [learner, conversation]
        texts = self.read(f"SELECT DISTINCT text FROM messages {where} AND text != ''", args)
        answers = self.read(f"SELECT id FROM answers {where}", args)
        return [r["text"] for r in texts], [r["id"] for r in answers]

    def forget(self, learner: str) -> dict[str, int]:
        """Delete every row about `learner`; returns how many rows each table lost."""

        def work(conn) -> dict[str, int]:
            return {
                table.name: conn.execute(delete(table).where(table.c[column] == learner)).rowcount
                for table, column in PERSONAL
            }

        counts = self._retry(work)
        if not self.postgres:  # no old page images of their rows left in SQLite's write-ahead log
            with self._lock, self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return counts
