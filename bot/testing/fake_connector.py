"""A local stand-in for the Bot Framework Connector service (the `serviceUrl` of Teams activities).

Records every activity the bot sends, replies to, or updates, and answers with an id like Teams does.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from bot.testing import serve_on_loopback


@dataclass
class Sent:
    verb: str  # "send", "reply" or "update"
    conversation: str
    activity: dict[str, Any]
    target: str | None = None  # the activity replied to or updated


@dataclass
class FakeConnector:
    sent: list[Sent] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def start(self) -> FakeConnector:
        app = web.Application()
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{target}", self._reply)
        app.router.add_put("/v3/conversations/{conversation}/activities/{target}", self._update)
        self._runner, self.url = await serve_on_loopback(app)
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def messages(self) -> list[Sent]:
        """What users would see: sent and replied messages (typing indicators left out)."""
        return [s for s in self.sent if s.verb != "update" and s.activity.get("type") == "message"]

    async def wait_for_messages(self, count: int, timeout: float = 10.0) -> list[Sent]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.messages()) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"expected {count} message(s); got {[s.activity.get('text') for s in self.sent]}"
                )
            await asyncio.sleep(0.02)
        return self.messages()

    async def _record(self, verb: str, request: web.Request) -> web.Response:
        conversation = unquote(request.match_info["conversation"])
        target = request.match_info.get("target")
        self.sent.append(Sent(verb, conversation, await request.json(), unquote(target) if target else None))
        return web.json_response({"id": target if verb == "update" else f"resp-{next(self._ids)}"})

    async def _send(self, request: web.Request) -> web.Response:
        return await self._record("send", request)

    async def _reply(self, request: web.Request) -> web.Response:
        return await self._record("reply", request)

    async def _update(self, request: web.Request) -> web.Response:
        return await self._record("update", request)
