"""The store's connection and plumbing: one SQLite connection shared by threads and tasks, writes in
one transaction retried while another process holds the lock, reads under the same lock.

Every area of the store (`learners`, `quizzes`, `labs`, `nudges`, `references`) builds on `StoreBase`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from bot.store import schema

T = TypeVar("T")
BUSY_TIMEOUT_MS = 5000


def now_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def private_dir(path: Path) -> None:
    """Create the data directory readable by this user alone (0700), and make every file created from
    here on (databases, their -wal and -shm files, checkpoints, the index) 0600."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    os.umask(0o077)


class StoreBase:
    """The connection, the lock and the transaction helpers every area of the store uses."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if str(path) != ":memory:":
            private_dir(self.path.parent)
            self.path.touch(mode=0o600, exist_ok=True)
            self.path.chmod(0o600)  # learners' answers: readable by the service's user alone
        self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._conn.execute("PRAGMA secure_delete = ON")  # deleted rows ("forget me") are overwritten
        if str(path) != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; no fsync on every commit
        self.db = sqlite_utils.Database(self._conn)
        self._lock = threading.RLock()
        with self._lock, self._conn:
            schema.create(self.db)

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
