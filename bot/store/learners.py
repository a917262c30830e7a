"""Learners and their messages in the store: who was seen when, every inbound message (stored before
any work, so a duplicate delivery stops here and nothing is lost), and forgetting a learner.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from bot.store.base import StoreBase, now_iso


class LearnerTables(StoreBase):
    """`learners` and `messages`; `forget` deletes a learner's rows from every personal table."""

    def touch_learner(self, learner: str, name: str | None, at: datetime) -> None:
        platform, _, user = learner.partition(":")

        # Plain SQL on the hot path (every message): sqlite-utils' upsert introspects the table each call.
        sql = (
            "INSERT INTO learners (id, platform, user, name, first_seen, last_seen) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "last_seen = excluded.last_seen, name = coalesce(excluded.name, name)"
        )
        stamp = now_iso(at)
        self._retry(lambda: self._conn.execute(sql, [learner, platform, user, name, stamp, stamp]))

    def record_inbound(
        self,
        delivery: str | None,
        conversation: str,
        learner: str,
        text: str,
        action: dict | None,
        at: datetime,
    ) -> int | None:
        """Store a message before any work on it; None if this delivery was already stored."""
        row = {
            "delivery": delivery,
            "conversation": conversation,
            "learner": learner,
            "text": text,
            "action": json.dumps(action) if action else None,
            "received_at": now_iso(at),
            "status": "received",
            "replies": 0,
        }

        columns = ", ".join(row)
        sql = f"INSERT INTO messages ({columns}) VALUES ({', '.join('?' for _ in row)})"

        def work() -> int | None:
            try:
                return self._conn.execute(sql, list(row.values())).lastrowid
            except sqlite3.IntegrityError:
                return None

        return self._retry(work)

    def mark_answered(self, message_id: int, replies: int, status: str = "answered") -> None:
        """Record the outcome of a stored message (a no-op if it was deleted meanwhile: "forget me")."""
        sql = "UPDATE messages SET status = ?, replies = ? WHERE id = ?"
        self._retry(lambda: self._conn.execute(sql, [status, replies, message_id]))

    def unanswered(self, conversation: str | None = None) -> list[dict]:
        """Messages stored but never answered (the process died mid-turn)."""
        where, args = "status = 'received'", []
        if conversation:
            where += " AND conversation = ?"
            args.append(conversation)
        with self._read() as db:
            return list(db["messages"].rows_where(where, args, order_by="id"))

    PERSONAL_TABLES = (
        ("quiz_attempts", "learner"),
        ("quiz_sessions", "learner"),
        ("cards", "learner"),
        ("lab_runs", "learner"),
        ("messages", "learner"),
        ("conversation_refs", "learner"),
        ("nudge_deliveries", "member"),
        ("nudge_optouts", "member"),
        ("people", "member"),
        ("managers", "learner"),
        ("answer_feedback", "learner"),
        ("answers", "learner"),
        ("learners", "id"),
    )

    def conversations_of(self, learner: str) -> list[str]:
        """Conversations the learner spoke in where nobody else did (their DMs and own threads)."""
        rows = self.read(
            "SELECT conversation FROM messages GROUP BY conversation "
            "HAVING sum(learner = ?) > 0 AND sum(learner != ?) = 0",
            [learner, learner],
        )
        return [r["conversation"] for r in rows]

    def words_in(self, learner: str, conversation: str) -> tuple[list[str], list[str]]:
        """What the learner sent in a conversation, and the ids of the answers the coach gave them there."""
        where, args = "WHERE learner = ? AND conversation = ?", [learner, conversation]
        texts = self.read(f"SELECT DISTINCT text FROM messages {where} AND text != ''", args)
        answers = self.read(f"SELECT id FROM answers {where}", args)
        return [r["text"] for r in texts], [r["id"] for r in answers]

    def forget(self, learner: str) -> dict[str, int]:
        """Delete every row about `learner`; returns how many rows each table lost."""

        def work() -> dict[str, int]:
            counts = {}
            for table, column in self.PERSONAL_TABLES:
                cursor = self._conn.execute(f"DELETE FROM [{table}] WHERE [{column}] = ?", [learner])
                counts[table] = cursor.rowcount
            return counts

        counts = self._retry(work)
        with self._lock:  # no old page images of their rows left in the write-ahead log
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return counts
