"""Learner data in SQLite through sqlite-utils. The whole schema is in `Store._create`.

Tables: `learners`, `messages` (every inbound message, stored before any work so nothing is lost),
`quiz_sessions`, `quiz_attempts`, `cards` (one fsrs card per learner and question), `lab_runs` and
`conversation_refs` (how to reach a learner proactively on Teams).
Conversation checkpoints live in a separate file owned by LangGraph's SQLite checkpointer.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import sqlite_utils

T = TypeVar("T")
BUSY_TIMEOUT_MS = 5000


def now_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def new_id() -> str:
    return uuid.uuid4().hex[:12]


class Store:
    """All reads and writes of learner data. Safe to share between threads and tasks."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if str(path) != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; no fsync on every commit
        self.db = sqlite_utils.Database(self._conn)
        self._lock = threading.RLock()
        self._create()

    def _create(self) -> None:
        db = self.db
        with self._lock, self._conn:
            db["learners"].create(
                {"id": str, "platform": str, "user": str, "name": str, "first_seen": str, "last_seen": str},
                pk="id",
                if_not_exists=True,
            )
            db["messages"].create(
                {
                    "id": int,
                    "delivery": str,
                    "conversation": str,
                    "learner": str,
                    "text": str,
                    "action": str,
                    "received_at": str,
                    "status": str,
                    "replies": int,
                },
                pk="id",
                if_not_exists=True,
            )
            db["messages"].create_index(["delivery"], unique=True, if_not_exists=True)
            db["messages"].create_index(["conversation", "status"], if_not_exists=True)
            db["quiz_sessions"].create(
                {
                    "id": str,
                    "learner": str,
                    "quiz": str,
                    "questions": str,
                    "started_at": str,
                    "finished_at": str,
                    "correct": int,
                    "total": int,
                    "passed": int,
                },
                pk="id",
                if_not_exists=True,
            )
            db["quiz_attempts"].create(
                {
                    "id": int,
                    "session": str,
                    "learner": str,
                    "question": str,
                    "chosen": str,
                    "correct": int,
                    "answered_at": str,
                },
                pk="id",
                if_not_exists=True,
            )
            db["quiz_attempts"].create_index(["learner", "question"], if_not_exists=True)
            db["cards"].create(
                {"learner": str, "question": str, "card": str, "due": str, "last_correct_at": str},
                pk=("learner", "question"),
                if_not_exists=True,
            )
            db["conversation_refs"].create(
                {"learner": str, "conversation": str, "platform": str, "reference": str, "updated_at": str},
                pk=("learner", "conversation"),
                if_not_exists=True,
            )
            db["managers"].create(
                {"learner": str, "added_by": str, "added_at": str}, pk="learner", if_not_exists=True
            )
            db["nudge_schedules"].create(
                {
                    "id": str,
                    "manager": str,
                    "team": str,
                    "members": str,
                    "weekday": int,
                    "at": str,
                    "tz": str,
                    "status": str,
                    "created_at": str,
                    "channel": str,
                    "remind_after_h": int,
                },
                pk="id",
                if_not_exists=True,
            )
            db["nudge_deliveries"].create(
                {
                    "id": int,
                    "schedule": str,
                    "week": str,
                    "member": str,
                    "questions": str,
                    "status": str,
                    "attempts": int,
                    "next_at": str,
                    "error": str,
                    "claimed_by": str,
                    "claimed_at": str,
                    "sent_at": str,
                    "planned_at": str,
                    "reminded_at": str,
                },
                pk="id",
                if_not_exists=True,
            )
            db["nudge_deliveries"].create_index(
                ["schedule", "week", "member"], unique=True, if_not_exists=True
            )
            db["nudge_deliveries"].create_index(["status"], if_not_exists=True)
            db["nudge_digests"].create(
                {
                    "schedule": str,
                    "week": str,
                    "status": str,
                    "sent_at": str,
                    "attempts": int,
                    "next_at": str,
                    "error": str,
                    "chart": str,
                    "claimed_at": str,
                },
                pk=("schedule", "week"),
                if_not_exists=True,
            )
            db["nudge_optouts"].create(
                {"id": int, "member": str, "kind": str, "until": str, "at": str},
                pk="id",
                if_not_exists=True,
            )
            db["nudge_notes"].create(
                {"id": int, "schedule": str, "note": str, "at": str}, pk="id", if_not_exists=True
            )
            db["people"].create(
                {"member": str, "name": str, "active": int, "fetched_at": str},
                pk="member",
                if_not_exists=True,
            )
            self._add_missing_columns()
            db["lab_runs"].create(
                {
                    "id": str,
                    "learner": str,
                    "lab": str,
                    "started_at": str,
                    "finished_at": str,
                    "turns": int,
                    "score": float,
                    "covered": str,
                    "missed": str,
                },
                pk="id",
                if_not_exists=True,
            )

    NEW_COLUMNS: ClassVar[dict[str, dict[str, type]]] = {
        "nudge_schedules": {"channel": str, "remind_after_h": int},
        "nudge_deliveries": {"planned_at": str, "reminded_at": str},
        "nudge_digests": {"attempts": int, "next_at": str, "error": str, "chart": str, "claimed_at": str},
    }

    def _add_missing_columns(self) -> None:
        """Databases made by an older coach get the columns added since."""
        for table, columns in self.NEW_COLUMNS.items():
            have = self.db[table].columns_dict
            for name, kind in columns.items():
                if name not in have:
                    self.db[table].add_column(name, kind)

    # -- plumbing -----------------------------------------------------------------------------

    def _retry(self, work: Callable[[], T], attempts: int = 5) -> T:
        """Run a write, retrying briefly if another process holds the database lock."""
        for attempt in range(attempts):
            try:
                with self._lock, self._conn:
                    return work()
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == attempts - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    @contextmanager
    def _read(self) -> Iterator[sqlite_utils.Database]:
        with self._lock:
            yield self.db

    def close(self) -> None:
        self._conn.close()

    def write(self, work: Callable[[sqlite_utils.Database], T]) -> T:
        """Run `work(db)` in one transaction, retried if another process holds the lock."""
        return self._retry(lambda: work(self.db))

    def read(self, sql: str, args: list | tuple = ()) -> list[dict]:
        with self._read() as db:
            return [dict(r) for r in db.query(sql, args)]

    # -- learners and messages ----------------------------------------------------------------

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

    # -- quizzes --------------------------------------------------------------------------------

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

    # -- spaced repetition cards ------------------------------------------------------------------

    def cards(self, learner: str) -> dict[str, dict]:
        with self._read() as db:
            return {r["question"]: r for r in db["cards"].rows_where("learner = ?", [learner])}

    def save_card(self, learner: str, question: str, card: dict, due: str, correct_at: str | None) -> None:
        row: dict[str, Any] = {"learner": learner, "question": question, "card": json.dumps(card), "due": due}
        if correct_at:
            row["last_correct_at"] = correct_at
        self._retry(lambda: self.db["cards"].upsert(row, pk=("learner", "question")))

    # -- labs -------------------------------------------------------------------------------------

    def save_lab_run(self, run: dict) -> None:
        row = {**run, "covered": json.dumps(run["covered"]), "missed": json.dumps(run["missed"])}
        self._retry(lambda: self.db["lab_runs"].upsert(row, pk="id"))

    def lab_runs(self, learner: str) -> list[dict]:
        with self._read() as db:
            rows = list(db["lab_runs"].rows_where("learner = ?", [learner], order_by="started_at"))
        for r in rows:
            r["covered"] = json.loads(r["covered"] or "[]")
            r["missed"] = json.loads(r["missed"] or "[]")
        return rows

    # -- where to reach a learner proactively ---------------------------------------------------------

    def save_reference(self, learner: str, conversation: str, reference: dict, at: datetime) -> None:
        """Remember how to message a learner in a conversation later (Teams proactive messages)."""
        platform = learner.partition(":")[0]
        sql = (
            "INSERT INTO conversation_refs (learner, conversation, platform, reference, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(learner, conversation) "
            "DO UPDATE SET reference = excluded.reference, updated_at = excluded.updated_at"
        )
        values = [learner, conversation, platform, json.dumps(reference, sort_keys=True), now_iso(at)]
        self._retry(lambda: self._conn.execute(sql, values))

    def references(self, learner: str) -> list[dict]:
        """The learner's stored conversation references, most recently used first."""
        with self._read() as db:
            rows = list(
                db["conversation_refs"].rows_where("learner = ?", [learner], order_by="updated_at desc")
            )
        for r in rows:
            r["reference"] = json.loads(r["reference"])
        return rows

    # -- forgetting a learner -----------------------------------------------------------------------

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

    def forget(self, learner: str) -> dict[str, int]:
        """Delete every row about `learner`; returns how many rows each table lost."""

        def work() -> dict[str, int]:
            counts = {}
            for table, column in self.PERSONAL_TABLES:
                cursor = self._conn.execute(f"DELETE FROM [{table}] WHERE [{column}] = ?", [learner])
                counts[table] = cursor.rowcount
            return counts

        return self._retry(work)
