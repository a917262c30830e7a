"""Group commit for the inbox: the acks in flight at once store their requests in one transaction.

An ack hands its request to `add` and waits for it to be durable; one writer task at a time takes
every request handed in meanwhile (and every finished one to delete) and writes them in one
transaction on the store's thread, so a burst of 100 acks costs a few transactions, not 100 (a batch
that fails is written again one request per transaction: one that cannot be stored fails alone). Deleting a
finished request waits for the next write (or `LINGER_S` of quiet): if the process dies first, the
request runs again after the restart and its turn finds it a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.store import Store
from bot.store.inbox import systemic, unstorable

log = logging.getLogger("coach.slack")
LINGER_S = 1.0  # longest a finished request's row waits for a write to ride along with


class Journal:
    """`add` a request before its ack; `done` once its turn ran."""

    def __init__(self, store: Store, channel: str = "slack"):
        self.store = store
        self.channel = channel
        self._adds: list[tuple[dict[str, Any], asyncio.Future[int | None]]] = []
        self._done: list[int] = []
        self._writer: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()  # a request was added: a lingering writer writes at once

    async def add(
        self, delivery: str | None, body: str, query: str, content_type: str, learner: str | None
    ) -> int | None:
        """Store a request durably; its id, or None if this delivery is stored already (a retry)."""
        return await self.submit(delivery, body, query, content_type, learner)

    def submit(
        self, delivery: str | None, body: str, query: str, content_type: str, learner: str | None
    ) -> asyncio.Future[int | None]:
        """`add`, as a future: the write goes on if its waiter stops waiting."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        request = {"delivery": delivery, "channel": self.channel, "body": body, "query": query}
        self._adds.append((request | {"content_type": content_type, "learner": learner}, future))
        self._arrived.set()
        self._wake()
        return future

    def done(self, row: int) -> None:
        """The request's turn ran: delete its row with the next write."""
        self._done.append(row)
        self._wake()

    async def flush(self) -> None:
        """Write what is pending now (at shutdown)."""
        self._arrived.set()
        self._wake(linger=False)
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    def _wake(self, linger: bool = True) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(linger))

    async def _write(self, linger: bool) -> None:
        while self._adds or self._done:
            if not self._adds and linger:  # only deletions: they wait for company, or LINGER_S
                self._arrived.clear()
                try:
                    async with asyncio.timeout(LINGER_S):
                        await self._arrived.wait()
                except TimeoutError:
                    pass
            adds, self._adds = self._adds, []
            done, self._done = self._done, []
            try:
                ids = await self.store.off_loop(self.store.inbox_write, [r for r, _ in adds], done)
            except Exception as exc:
                if len(adds) > 1 and not systemic(exc):  # one row may have failed them all: each alone
                    log.warning(
                        "storing %d requests in one transaction failed (%s): one by one", len(adds), exc
                    )
                    await self._one_by_one(adds, done)
                    continue
                _log_failure(exc)
                self._done[:0] = done  # the deletions ride along with the next write
                for _, future in adds:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), row in zip(adds, ids, strict=True):
                if not future.done():
                    future.set_result(row)

    async def _one_by_one(
        self, adds: list[tuple[dict[str, Any], asyncio.Future[int | None]]], done: list[int]
    ):
        """After a failed batch: the deletions, then each request, in a transaction of its own, so a
        request that cannot be stored fails alone and the others are acknowledged."""
        try:
            await self.store.off_loop(self.store.inbox_write, [], done)
        except Exception:
            self._done[:0] = done
        for request, future in adds:
            try:
                (row,) = await self.store.off_loop(self.store.inbox_write, [request], [])
            except Exception as exc:
                _log_failure(exc)
                if not future.done():
                    future.set_exception(exc)
                continue
            if not future.done():
                future.set_result(row)


def _log_failure(exc: Exception) -> None:
    if unstorable(exc):  # the request's own fault: one line, no traceback
        log.warning("a request cannot be stored before its ack: %s", str(exc).splitlines()[0])
    else:
        log.exception("storing requests before their ack failed")
