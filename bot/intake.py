"""Taking requests in comes before running turns, on the one event loop they share.

An event loop runs every callback that is ready before it reads its sockets again. In a burst, each
Slack request that was acked started its turn at once (Bolt's middleware, the listener, the store),
so the next request's ack waited behind those turns' steps, and the last of 100 acks behind nearly all
of them: p50 ≈ p99 ≈ 420 ms (`coach bench`), though an ack itself takes under a millisecond.

Here a request counts as being taken in once `bot.guard` has read and checked its body, until it is
answered (a Slack event, command or click) or handed to its turn (a Teams activity); a turn waits until
no request is being taken in before it starts, for at most `MAX_WAIT_S` (so a flood of requests cannot
hold turns back for longer). Turns already under way go on as before.

(A second event loop on its own thread for the turns was measured too: slower, because both threads
then share one interpreter lock, and each of an ack's socket calls hands the lock to the busy turn
thread and waits for it back.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

MAX_WAIT_S = 0.5


class Intake:
    """Counts the requests being taken in; `quiet()` returns once there are none."""

    def __init__(self) -> None:
        self._requests: set[int] = set()  # ids of the requests being taken in
        self._quiet = asyncio.Event()
        self._quiet.set()

    @property
    def taking(self) -> int:
        return len(self._requests)

    def begin(self, request: web.Request) -> None:
        self._requests.add(id(request))
        self._quiet.clear()

    def end(self, request: web.Request) -> None:
        """The request is answered, or handed to its turn (idempotent)."""
        self._requests.discard(id(request))
        if not self._requests:
            self._quiet.set()

    async def quiet(self) -> None:
        """Wait until no request is being taken in (at most `MAX_WAIT_S`): requests whose bytes have
        arrived meanwhile are counted one loop pass later, so a turn looks again after that pass."""
        try:
            async with asyncio.timeout(MAX_WAIT_S):
                while self.taking:
                    await self._quiet.wait()
                    await asyncio.sleep(0)
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
