"""Taking requests in comes before running turns, on the one event loop they share.

An event loop runs every callback that is ready before it reads its sockets again. In a burst, each
Slack request that was acked started its turn at once (Bolt's middleware, the listener, the store),
so the next request's ack waited behind those turns' steps, and the last of 100 acks behind nearly all
of them: p50 ≈ p99 ≈ 420 ms (`coach bench`), though an ack itself takes under a millisecond.

Here a request counts as being taken in once `bot.guard` has read and checked its body, until it is
answered (a Slack event, command or click) or handed to its turn (a Teams activity); a turn waits until
no request is being taken in *and none came in* over the last `SETTLE_PASSES` loop passes, for at most
`MAX_WAIT_S` (so a flood of requests cannot hold turns back for longer). Turns already under way go on
as before. The passes matter: a Slack ack begins and ends within one callback, so "nothing being taken
in" held between almost every two requests of a burst, and turns started in the middle of it (traced:
20-60 turn starts inside a 100-ack burst, up to 37 ms of the loop). A request's bytes are read in one
pass and counted in the next, so two quiet passes mean the sockets had nothing more. The turns
waiting share one check (`_settle`), released together.

(A second event loop on its own thread for the turns was measured too: slower, because both threads
then share one interpreter lock, and each of an ack's socket calls hands the lock to the busy turn
thread and waits for it back.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

MAX_WAIT_S = 0.5
SETTLE_PASSES = 2  # loop passes with no new request before turns start


class Intake:
    """Counts the requests being taken in; `quiet()` returns once there are none and none came in."""

    def __init__(self) -> None:
        self._requests: set[int] = set()  # ids of the requests being taken in
        self._begun = 0  # requests counted so far
        self._idle = asyncio.Event()
        self._idle.set()
        self._settling: asyncio.Task[None] | None = None

    @property
    def taking(self) -> int:
        return len(self._requests)

    def begin(self, request: web.Request) -> None:
        self._requests.add(id(request))
        self._begun += 1
        self._idle.clear()

    def end(self, request: web.Request) -> None:
        """The request is answered, or handed to its turn (idempotent)."""
        self._requests.discard(id(request))
        if not self._requests:
            self._idle.set()

    async def quiet(self) -> None:
        """Wait until no request is being taken in and none began for `SETTLE_PASSES` loop passes (at
        most `MAX_WAIT_S`). Every turn waiting meanwhile waits on the same check."""
        if self._settling is None or self._settling.done():
            self._settling = asyncio.create_task(self._settle())
        await asyncio.shield(self._settling)

    async def _settle(self) -> None:
        """A request's bytes are read in one loop pass and counted (`begin`) in the next, so quiet
        means: nothing being taken in, and nothing counted over the passes that would show it."""
        try:
            async with asyncio.timeout(MAX_WAIT_S):
                while True:
                    await self._idle.wait()
                    begun = self._begun
                    for _ in range(SETTLE_PASSES):
                        await asyncio.sleep(0)
                    if self._begun == begun and not self._requests:
                        return
        except TimeoutError:
            pass


INTAKE = web.AppKey("intake", Intake)


@web.middleware
async def intake_first(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Count a platform's POST as being taken in until it is answered (or its handler says sooner)."""
    intake = request.app.get(INTAKE)
    if intake is None or request.method != "POST":
        return await handler(request)
    intake.begin(request)
    try:
        return await handler(request)
    finally:
        intake.end(request)
