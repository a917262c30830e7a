"""LangGraph's SQLite checkpointer, each async call one round trip to a thread of its own.

`AsyncSqliteSaver` (aiosqlite) hands every step of a call to its connection's thread and back: the
cursor, the statement, each fetch, closing the cursor, the commit. A turn's read and write of a new
conversation's checkpoint are seven round trips (nine once it has one), each waking that thread and
then the event loop. LangGraph's synchronous `SqliteSaver` runs the same SQL on the same tables; run
whole on one worker thread, a read is one round trip and a write another. The one thread keeps the
connection's calls in order, as aiosqlite's did.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from langgraph.checkpoint.sqlite import SqliteSaver

T = TypeVar("T")


class ThreadedSqliteSaver(SqliteSaver):
    """`SqliteSaver` whose async methods run the sync ones on one worker thread (`close` ends it)."""

    def __init__(self, conn: sqlite3.Connection):
        super().__init__(conn)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoints")

    async def run(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`work(*args, **kwargs)` on the saver's thread (e.g. a statement of one's own on `conn`)."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, partial(work, *args, **kwargs))

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self.conn.close()

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self.run(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        found = await self.run(lambda: list(self.list(config, filter=filter, before=before, limit=limit)))
        for item in found:
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await self.run(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        await self.run(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await self.run(self.delete_thread, thread_id)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return await self.run(self.get_delta_channel_history, config=config, channels=channels)
