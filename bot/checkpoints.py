"""Conversation state and turn order, on either backend: LangGraph's own checkpointer and a lock per
conversation.

- SQLite (`checkpoints.db`): LangGraph's `SqliteSaver` on a thread of its own (`bot.threaded_saver`:
  one round trip per read or write, where aiosqlite's saver made seven a turn); turns of a
  conversation are ordered by an asyncio lock, which is enough because only one process serves a
  SQLite data folder.
- PostgreSQL (`COACH_DATABASE_URL`): `AsyncPostgresSaver` on a psycopg pool; turns are ordered across
  every worker and machine by a transaction-scoped advisory lock per conversation
  (`pg_advisory_xact_lock`), held on a connection of a second pool for the whole turn. PostgreSQL grants
  waiting locks first come, first served, and a killed worker's connection closes, freeing its lock.
  Every turn waits in PostgreSQL's queue itself (no in-process lock in front of it, which would let a
  later message on another worker overtake one waiting here). A channel acks only once its turn
  holds its conversation and stored its message, or the message is stored early (`bot.acks`); a turn
  still waiting for a pooled connection is outside that queue, so `Coach.handle` first lets earlier
  early-stored messages of live turns go first.

`prune` keeps each conversation's latest checkpoint only (one is written per turn); the clock runs it
on a schedule (`prune_forever`, `COACH_PRUNE_EVERY_H`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from bot.store.base import is_postgres, private_dir
from bot.store.migrate import MIGRATION_LOCK
from bot.threaded_saver import ThreadedSqliteSaver

log = logging.getLogger("coach.checkpoints")
TURN_LOCKS = 7_316  # the first key of every conversation's advisory lock: (TURN_LOCKS, hashtext(id))


def conninfo(url: str) -> str:
    """A libpq URL from a SQLAlchemy-style one (`postgresql+psycopg://` → `postgresql://`)."""
    scheme, _, rest = url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url


@dataclass
class Checkpoints:
    """A checkpointer, the turn lock of each conversation, and pruning of old checkpoints."""

    saver: BaseCheckpointSaver
    _lock_turn: Callable[[str], AbstractAsyncContextManager[None]] | None = None
    _prune: Callable[[], Any] | None = None
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _waiting: dict[str, int] = field(default_factory=dict)

    @asynccontextmanager
    async def turn(self, conversation: str, wait: float | None = None) -> AsyncIterator[None]:
        """Hold the conversation's turn: one turn at a time, in arrival order, across every worker
        (waiting at most `wait` seconds for it, if given: TimeoutError)."""
        lock = self._locks.setdefault(conversation, asyncio.Lock())  # SQLite's (one process)
        self._waiting[conversation] = self._waiting.get(conversation, 0) + 1
        try:
            async with AsyncExitStack() as held:
                async with asyncio.timeout(wait):
                    if self._lock_turn is None:
                        await held.enter_async_context(lock)
                    else:  # straight into PostgreSQL's queue, where every worker's turns wait in order
                        await held.enter_async_context(self._lock_turn(conversation))
                yield
        finally:
            self._waiting[conversation] -= 1
            if not self._waiting[conversation]:
                del self._waiting[conversation], self._locks[conversation]

    async def prune(self) -> int:
        """Delete every checkpoint but each conversation's latest; returns how many conversations it saw."""
        assert self._prune is not None
        return await self._prune()


@asynccontextmanager
async def open_checkpoints(target: Path | str, pool_size: int = 10) -> AsyncIterator[Checkpoints]:
    """The checkpointer for a data folder's `checkpoints.db` or a PostgreSQL URL, set up and ready."""
    if is_postgres(target):
        async with _postgres(conninfo(str(target)), pool_size) as checkpoints:
            yield checkpoints
        return
    async with _sqlite(target) as checkpoints:
        yield checkpoints


@asynccontextmanager
async def _sqlite(path: Path | str) -> AsyncIterator[Checkpoints]:
    if str(path) != ":memory:":
        private_dir(Path(path).parent)
    conn = sqlite3.connect(str(path), check_same_thread=False)  # used on the saver's thread only
    saver = ThreadedSqliteSaver(conn)
    try:

        def open_() -> None:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA secure_delete = ON")  # forgotten words are overwritten, not left
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints, no fsync per commit
            saver.setup()

        def prune_() -> int:
            latest = "SELECT thread_id, checkpoint_ns, max(checkpoint_id) FROM checkpoints GROUP BY 1, 2"
            kept = "SELECT thread_id, checkpoint_ns, checkpoint_id FROM checkpoints"
            with saver.lock:
                (threads,) = conn.execute("SELECT count(DISTINCT thread_id) FROM checkpoints").fetchone()
                key = "(thread_id, checkpoint_ns, checkpoint_id)"
                conn.execute(f"DELETE FROM checkpoints WHERE {key} NOT IN ({latest})")
                conn.execute(f"DELETE FROM writes WHERE {key} NOT IN ({kept})")
                conn.commit()
            return threads

        async def prune() -> int:
            return await saver.run(prune_)

        await saver.run(open_)
        yield Checkpoints(saver, _prune=prune)
    finally:
        await asyncio.to_thread(saver.close)  # the saver's thread finishes what it was given first


async def _lock_migrations(conn: Any) -> None:
    """The migration lock, polled (never waited for inside a statement): see `migrate.wait_for_lock`."""
    while True:
        row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK])).fetchone()
        if row and row[0]:
            return
        await asyncio.sleep(0.2)


@asynccontextmanager
async def _postgres(url: str, pool_size: int) -> AsyncIterator[Checkpoints]:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg import AsyncConnection
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    saver_kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    states = AsyncConnectionPool(url, min_size=1, max_size=pool_size, kwargs=saver_kwargs, open=False)
    # a turn waits here for a connection while every one holds a turn: long turns (Claude) make long waits
    locks = AsyncConnectionPool(url, min_size=1, max_size=pool_size, timeout=300, open=False)
    await states.open(wait=True)
    await locks.open(wait=True)
    try:
        saver = AsyncPostgresSaver(states)
        # one process sets the tables up at a time; autocommit, because the setup creates indexes
        # CONCURRENTLY, which waits for every open transaction
        async with await AsyncConnection.connect(url, autocommit=True) as conn:
            await _lock_migrations(conn)
            try:
                await saver.setup()
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])

        @asynccontextmanager
        async def lock_turn(conversation: str) -> AsyncIterator[None]:
            async with locks.connection() as conn, conn.transaction():
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [TURN_LOCKS, conversation]
                )
                yield

        async def prune() -> int:
            async with states.connection() as conn:
                rows = await conn.execute(
                    "SELECT thread_id FROM checkpoints WHERE checkpoint_ns = '' "
                    "GROUP BY thread_id HAVING count(*) > 1"
                )
                threads = [r["thread_id"] for r in await rows.fetchall()]
            await saver.aprune(threads, strategy="keep_latest")
            return len(threads)

        yield Checkpoints(saver, _lock_turn=lock_turn, _prune=prune)
    finally:
        await locks.close()
        await states.close()


async def prune_forever(target: Path | str, every_s: float) -> None:
    """Prune old checkpoints every `every_s` seconds (the clock runs this; several clocks are harmless:
    pruning twice deletes nothing more)."""
    while True:
        try:
            async with open_checkpoints(target, pool_size=1) as checkpoints:
                log.info("pruned the checkpoints of %d conversation(s)", await checkpoints.prune())
        except Exception:
            log.exception("pruning checkpoints failed; trying again next time")
        await asyncio.sleep(every_s)
