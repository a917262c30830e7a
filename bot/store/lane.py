"""One thread for a SQLite store's calls from the event loop, woken once for all the calls waiting.

`asyncio.to_thread` wakes a pool thread for every call and the loop again (through its self-pipe) for
every result; a turn makes four store calls, and the hand-offs cost more CPU than the calls' SQL
(profiled under the bench's batches). SQLite's calls take turns under the store's lock anyway, so
here they run in order on one thread: a call made while the thread is busy joins the queue, and the
thread runs every queued call before it sleeps, handing each drained batch's results back to the loop
in one `call_soon_threadsafe`. Each call is still its own transaction, awaited by its caller, with
its caller's context variables (as `to_thread`), and its exception raised to its caller only.
PostgreSQL's calls run side by side on pooled connections: they keep `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_Call = tuple[contextvars.Context, Callable[..., Any], tuple, asyncio.Future]


class Lane:
    """Calls run in order on one daemon thread, started on first use; `close` ends it (a later call
    starts another)."""

    def __init__(self, name: str = "coach-store") -> None:
        self.name = name
        self._calls: deque[_Call] = deque()
        self._guard = threading.Lock()
        self._wake: queue.SimpleQueue[bool] | None = None  # the running thread's: True = calls wait
        self._busy = False  # the thread is running calls (or about to): no need to wake it
        self._thread: threading.Thread | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on the lane's thread; its result or exception here."""
        future = asyncio.get_running_loop().create_future()
        with self._guard:
            self._calls.append((contextvars.copy_context(), fn, args, future))
            wake, self._busy = not self._busy, True
            if self._wake is None:
                wake, self._wake = True, queue.SimpleQueue()
                self._thread = threading.Thread(
                    target=self._work, args=(self._wake,), name=self.name, daemon=True
                )
                self._thread.start()
            if wake:
                self._wake.put(True)
        return await future

    def close(self) -> None:
        """End the thread once the calls queued so far have run."""
        with self._guard:
            wake, thread, self._wake, self._thread = self._wake, self._thread, None, None
        if wake is not None and thread is not None:
            wake.put(False)
            if thread is not threading.current_thread():
                thread.join(timeout=30)

    def _work(self, wake: queue.SimpleQueue[bool]) -> None:
        while wake.get():
            while True:
                with self._guard:
                    if not self._calls:
                        self._busy = False
                        break
                    batch = list(self._calls)
                    self._calls.clear()
                done: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, bool, Any]]] = {}
                for context, fn, args, future in batch:
                    try:
                        outcome = (future, True, context.run(fn, *args))
                    except BaseException as exc:  # handed to the caller, like `to_thread`
                        outcome = (future, False, exc)
                    done.setdefault(future.get_loop(), []).append(outcome)
                for loop, outcomes in done.items():
                    with contextlib.suppress(RuntimeError):  # that loop closed: nobody waits any more
                        loop.call_soon_threadsafe(_settle, outcomes)


def _settle(outcomes: list[tuple[asyncio.Future, bool, Any]]) -> None:
    """On the loop: each caller's result or exception (a caller that gave up is skipped)."""
    for future, ok, value in outcomes:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
