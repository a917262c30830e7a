"""The store's connection and plumbing, one code path for both backends through SQLAlchemy Core.

`StoreBase(target)` opens a SQLite file (a path; the embedded default) or a PostgreSQL database (a
`postgresql://` URL). Writes run in one transaction each, retried briefly while another process holds
SQLite's lock; on PostgreSQL the pool hands each thread its own connection. The schema is brought to the
code's version when that is safe (see `migrate.py`); a database newer than the code refuses to open.

Every area of the store (`learners`, `quizzes`, `labs`, `nudges`, `references`) builds on `StoreBase`.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from bot.store import migrate, schema
from bot.store.lane import Lane

T = TypeVar("T")
BUSY_TIMEOUT_MS = 1000  # SQLite: wait this long for another process's write lock, then retry (`_retry`)
QMARK = re.compile(r"\?")


def now_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def private_dir(path: Path) -> None:
    """Create the data directory readable by this user alone (0700), and make every file created from
    here on (databases, their -wal and -shm files, checkpoints, the index) 0600. A directory others
    share (sticky or writable by all, like /tmp: a store put straight in it) keeps its mode: closing it
    would lock everyone else out of it."""
    existed = path.exists()
    path.mkdir(parents=True, exist_ok=True)
    if not existed or not path.stat().st_mode & (stat.S_ISVTX | stat.S_IWOTH):
        path.chmod(0o700)
    os.umask(0o077)


def is_postgres(target: Path | str) -> bool:
    return str(target).startswith(("postgresql:", "postgresql+", "postgres:"))


def sqlalchemy_url(target: Path | str) -> str:
    """The SQLAlchemy URL of a store target: a SQLite path, or a PostgreSQL URL (driver: psycopg 3)."""
    if is_postgres(target):
        return re.sub(r"^postgres(?:ql)?(?:\+\w+)?:", "postgresql+psycopg:", str(target))
    return f"sqlite:///{target}"


def create_engine(target: Path | str, pool_size: int = 5) -> Engine:
    """An engine for a store target; SQLite gets WAL, a busy timeout and Python's own transactions."""
    if is_postgres(target):
        return sa.create_engine(
            sqlalchemy_url(target), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
    memory = str(target) == ":memory:"
    if not memory:
        private_dir(Path(target).parent)
        Path(target).touch(mode=0o600, exist_ok=True)
        Path(target).chmod(0o600)  # learners' answers: readable by the service's user alone
    engine = sa.create_engine(
        "sqlite://" if memory else sqlalchemy_url(target),
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        poolclass=StaticPool if memory else None,
    )

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        dbapi_conn.execute("PRAGMA secure_delete = ON")  # deleted rows ("forget me") are overwritten
        if not memory:
            dbapi_conn.execute("PRAGMA journal_mode = WAL")
            dbapi_conn.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; no fsync on every commit

    return engine


class StoreBase:
    """The engine and the transaction helpers every area of the store uses."""

    def __init__(self, target: Path | str, upgrade: bool = True, pool_size: int = 5):
        self.target = target
        self.postgres = is_postgres(target)
        self.path = None if self.postgres else Path(target)
        self.engine = create_engine(target, pool_size)
        # SQLite: one writer at a time anyway, and ":memory:" is one shared connection
        self._lock = nullcontext() if self.postgres else threading.RLock()
        self._kept: Connection | None = None  # SQLite: the connection every call uses, under the lock
        self._kept_busy = False  # ... while a call uses it (a call inside a call takes a pooled one)
        self._statements: dict[str, Any] = {}
        self._lane = None if self.postgres else Lane()
        migrate.prepare(self.engine, upgrade=upgrade)

    def statement(self, name: str, build: Callable[[], T]) -> T:
        """The statement `name`, built by `build()` once per store and reused: its values come as
        parameters at execution (`bindparam`, or the insert's parameter dict). Building a Core statement
        with literal values, and walking it for SQLAlchemy's cache key, cost ~0.8 ms of CPU per call,
        more than the database's own work (most of a turn's store CPU, measured); a reused statement
        keeps its cache key, so a call costs the binding and the database."""
        statement = self._statements.get(name)
        if statement is None:
            statement = self._statements[name] = build()
        return statement

    # -- dialect-neutral statements ----------------------------------------------------------------

    def insert(self, table: sa.Table) -> Any:
        """`INSERT` with the backend's `ON CONFLICT` support (the same API on both dialects)."""
        return (postgresql if self.postgres else sqlite).insert(table)

    # -- transactions ------------------------------------------------------------------------------

    def _retry(self, work: Callable[[Connection], T], attempts: int = 6) -> T:
        """Run `work(conn)` in one transaction, retrying briefly while another process holds SQLite's lock."""
        for attempt in range(attempts):
            try:
                with self._lock, self._connection() as conn, conn.begin():
                    return work(conn)
            except sa.exc.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if self.postgres or not busy or attempt == attempts - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._lock, self._connection() as conn:
            try:
                yield conn
            finally:
                if conn.in_transaction():  # what returning it to the pool did: end the read
                    conn.rollback()

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """A connection for one call. PostgreSQL: a pooled one per call (threads run side by side).
        SQLite, whose calls take turns under the store's lock anyway: the one kept open for the store's
        life, since checking a connection out of the pool and back in (and resetting it) cost more CPU
        than a turn's small writes (~30 us of their ~80 us, measured); a failed call closes it."""
        if self.postgres or self._kept_busy:
            with self.engine.connect() as conn:
                yield conn
            return
        if self._kept is None:
            self._kept = self.engine.connect()
        self._kept_busy = True
        try:
            yield self._kept
        except BaseException:
            self._close_kept()
            raise
        finally:
            self._kept_busy = False

    def _close_kept(self) -> None:
        kept, self._kept = self._kept, None
        if kept is not None:
            kept.close()

    async def off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` off the event loop: on SQLite in the store's own thread, which runs the calls
        waiting for it in one wake-up (`bot.store.lane`); on PostgreSQL in a pool thread."""
        if self._lane is None:
            return await asyncio.to_thread(fn, *args)
        return await self._lane.run(fn, *args)

    def close(self) -> None:
        if self._lane is not None:
            self._lane.close()
        with self._lock:
            self._close_kept()
        self.engine.dispose()

    def write(self, work: Callable[[Connection], T]) -> T:
        """Run `work(conn)` (a SQLAlchemy connection) in one transaction."""
        return self._retry(work)

    def execute(self, statement: Any, params: Any = None) -> int:
        """Run one writing statement in its own transaction; returns the rows it touched."""
        return self._retry(lambda conn: conn.execute(statement, params).rowcount)

    def rows(self, statement: Any, params: Any = None) -> list[dict]:
        """The rows of a SQLAlchemy `select` (or other statement), as dicts."""
        with self._read() as conn:
            return [dict(r) for r in conn.execute(statement, params).mappings()]

    def read(self, sql: str, args: list | tuple = ()) -> list[dict]:
        """Rows of a portable SQL query with `?` placeholders (the same SQL must run on both backends)."""
        names = iter(range(len(args)))
        statement = sa.text(QMARK.sub(lambda _: f":p{next(names)}", sql))
        return self.rows(statement, {f"p{i}": v for i, v in enumerate(args)})

    def insert_rows(self, table: str, rows: list[dict]) -> None:
        """Insert many rows at once (bulk loads: benchmarks, imports)."""
        if rows:
            self.execute(schema.metadata.tables[table].insert(), rows)
