"""Learners and their messages in the store: who was seen when, every inbound message (stored before
any work, so a duplicate delivery stops here and nothing is lost), and forgetting a learner.

A message's `status`: `waiting` (stored by the ack path, its turn not started yet), `received` (a turn
is working on it), `checkpointed` (the graph took it in: its replies are going out), then `answered` or
`failed` once its replies were delivered, `undelivered` when delivering them failed, `lost` once a
later turn owned up to it. `OWED` are the ones still owed.

A `waiting` message may belong to a turn that is alive and still waiting for its conversation, so it
is owned up to only when the process that stored it is provably gone (`waiting_is_dead`): its `owner`
names the process and the turn. On PostgreSQL each process holds a session-level advisory lock on its
own key, on one connection kept for its whole life; a free lock means a dead process. On SQLite only one
process serves a data folder, so another process's key means a dead one. In this process, the turn is
alive while its asyncio task runs (`waiting_turn`).
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from weakref import WeakValueDictionary

import sqlalchemy as sa
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from bot.store.base import StoreBase, now_iso
from bot.store.deferred import Write
from bot.store.schema import NAMED, PERSONAL, learners, messages

WAITING, RECEIVED, CHECKPOINTED, UNDELIVERED, LOST = (
    "waiting",
    "received",
    "checkpointed",
    "undelivered",
    "lost",
)
OWED = (WAITING, RECEIVED, CHECKPOINTED, UNDELIVERED)  # acknowledged, and not (known to be) answered
CONSUMED = (CHECKPOINTED, UNDELIVERED)  # the graph took these in: never to be sent again
_PROCESS = threading.Lock()
_process: dict[str, dict] = {}  # per database: "pid", "key", and on PostgreSQL the "conn" holding its lock
_live_turns: WeakValueDictionary[str, Any] = WeakValueDictionary()  # owner -> the task of its turn


class LearnerTables(StoreBase):
    """`learners` and `messages`; `forget` deletes a learner's rows from every personal table."""

    def touch_learner(self, learner: str, name: str | None, at: datetime) -> None:
        self._retry(lambda conn: self._touch(conn, learner, name, at))

    def _touch(self, conn: Connection, learner: str, name: str | None, at: datetime) -> None:
        def build() -> Any:
            statement = self.insert(learners)
            return statement.on_conflict_do_update(
                index_elements=["id"],
                set_={
                    "last_seen": statement.excluded.last_seen,
                    "name": func.coalesce(statement.excluded.name, learners.c.name),
                },
            )

        platform, _, user = learner.partition(":")
        stamp = now_iso(at)
        row = {"id": learner, "platform": platform, "user": user, "name": name}
        conn.execute(self.statement("touch_learner", build), row | {"first_seen": stamp, "last_seen": stamp})

    def record_inbound(
        self,
        delivery: str | None,
        conversation: str,
        learner: str,
        text: str,
        action: dict | None,
        at: datetime,
        status: str = RECEIVED,
        owner: str | None = None,
    ) -> int | None:
        """Store a message before any work on it; None if this delivery was already stored. A `waiting`
        message names its `owner` (from `waiting_turn`)."""
        row = self._message_row(delivery, conversation, learner, text, action, at, status, owner)
        return self._retry(lambda conn: self._record(conn, row))

    def take_in(
        self,
        name: str | None,
        delivery: str | None,
        conversation: str,
        learner: str,
        text: str,
        action: dict | None,
        at: datetime,
    ) -> tuple[int | None, list[dict]]:
        """A turn's arrival in one transaction: see the learner (`touch_learner`), store the message as
        `received` (`record_inbound`: None if this delivery was already stored), and read what the
        conversation still owes (`unanswered`, this message included)."""
        row = self._message_row(delivery, conversation, learner, text, action, at, RECEIVED, None)

        def work(conn: Connection) -> tuple[int | None, list[dict]]:
            self._touch(conn, learner, name, at)
            message = self._record(conn, row)
            return message, self._unanswered(conn, conversation)

        return self._retry(work)

    @staticmethod
    def _message_row(
        delivery: str | None,
        conversation: str,
        learner: str,
        text: str,
        action: dict | None,
        at: datetime,
        status: str,
        owner: str | None,
    ) -> dict[str, Any]:
        return {
            "delivery": delivery,
            "conversation": conversation,
            "learner": learner,
            "text": text,
            "action": json.dumps(action) if action else None,
            "received_at": now_iso(at),
            "status": status,
            "replies": 0,
            "owner": owner,
        }

    def _record(self, conn: Connection, row: dict[str, Any]) -> int | None:
        def build() -> Any:
            return self.insert(messages).on_conflict_do_nothing().returning(messages.c.id)

        return conn.execute(self.statement("record_inbound", build), row).scalar()

    def claim(self, message_id: int | None = None, delivery: str | None = None) -> int | None:
        """Take a stored message for this turn, which holds its conversation; None if it is not to be
        answered again (another turn answered it, or the graph already took it in).

        By id (the row this turn stored early): `waiting`, or `lost` if a later turn wrongly owned up
        to it. By delivery key (a platform's retry, a twin delivery): `waiting`, or `received` (under
        the conversation's lock, its turn is gone; the caller has checked that its checkpoint did not take
        it in)."""
        m = messages.c
        if message_id is not None:
            where = (m.id == message_id, m.status.in_((WAITING, LOST)))
        else:
            where = (m.delivery == delivery, m.status.in_((WAITING, RECEIVED)))
        statement = update(messages).where(*where).values(status=RECEIVED).returning(m.id)
        return self._retry(lambda conn: conn.execute(statement).scalar())

    def waiting_turn(self, task: Any) -> str:
        """An owner for a message a turn may store early: this process's key and a new turn key. The turn
        counts as alive while `task` (the asyncio task running it) is not done."""
        turn = f"{self._process_key()}/{secrets.token_hex(8)}"
        if task is not None:
            _live_turns[turn] = task
        return turn

    def waiting_is_dead(self, owner: str | None) -> bool:
        """Whether the turn that stored a `waiting` message is provably gone (see the module's doc).
        A row from before owners were recorded counts as dead, as it did then."""
        if not owner:
            return True
        key = owner.partition("/")[0]
        if key == self._process_key():
            task = _live_turns.get(owner)
            return task is None or task.done()
        if not self.postgres or not key.isdigit():  # one process per data folder: another's is dead
            return True
        with self.engine.connect() as conn:
            free = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": int(key)}).scalar()
            if free:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": int(key)})
            conn.commit()
        return bool(free)

    def _process_key(self) -> str:
        """This process's key for this database (a new one after a fork); on PostgreSQL its advisory
        lock is held from now on, on a connection of its own, until the process ends or this store
        closes."""
        where = str(self.engine.url)
        with _PROCESS:
            held = _process.get(where)
            if held is None or held["pid"] != os.getpid():
                key = secrets.randbits(62) + 1
                fresh: dict = {"pid": os.getpid(), "key": str(key), "store": self}
                if self.postgres:  # (a failure here leaves no key behind: the next call tries again)
                    conn = sa.create_engine(self.engine.url, poolclass=NullPool).connect()
                    conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
                    conn.commit()
                    fresh["conn"] = conn
                held = _process[where] = fresh
            return str(held["key"])

    def close(self) -> None:
        with _PROCESS:
            held = _process.get(str(self.engine.url))
            if held is not None and held["store"] is self and held["pid"] == os.getpid():
                del _process[str(self.engine.url)]
                if "conn" in held:
                    held["conn"].close()
        super().close()

    def mark_answered(
        self, message_id: int, replies: int, status: str = "answered", held: Sequence[Write] = ()
    ) -> None:
        """Record the outcome of a stored message and the writes its turn `held` (`bot.store.deferred`),
        in one transaction; a no-op, held writes included, if the message was deleted meanwhile
        ("forget me" during the turn), so nothing of the forgotten learner is written back."""

        def build() -> Any:
            return (
                update(messages)
                .where(messages.c.id == bindparam("message"))
                .values(status=bindparam("outcome"), replies=bindparam("count"))
            )

        statement = self.statement("mark_answered", build)
        outcome = {"message": message_id, "outcome": status, "count": replies}
        if not held:
            self.execute(statement, outcome)
            return

        def work(conn: Connection) -> None:
            if conn.execute(statement, outcome).rowcount:
                for write, params in held:
                    conn.execute(write, params)

        self.write(work)

    def unanswered(self, conversation: str | None = None) -> list[dict]:
        """Messages acknowledged but not answered: a process died before or during their turn, or
        delivering the replies failed."""
        if conversation:
            with self._read() as conn:
                return self._unanswered(conn, conversation)
        return self.rows(select(messages).where(messages.c.status.in_(OWED)).order_by(messages.c.id))

    def _unanswered(self, conn: Connection, conversation: str) -> list[dict]:
        def build() -> Any:
            m = messages.c
            owed = (m.status.in_(OWED), m.conversation == bindparam("conversation"))
            return select(messages).where(*owed).order_by(m.id)

        statement = self.statement("unanswered", build)
        return [dict(r) for r in conn.execute(statement, {"conversation": conversation}).mappings()]

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
            for table, column in NAMED:
                conn.execute(update(table).where(table.c[column] == learner).values({column: None}))
            return {
                table.name: conn.execute(delete(table).where(table.c[column] == learner)).rowcount
                for table, column in PERSONAL
            }

        counts = self._retry(work)
        if not self.postgres:  # no old page images of their rows left in SQLite's write-ahead log
            with self._lock, self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return counts
