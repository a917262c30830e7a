"""A local stand-in for the Anthropic Messages API, served over real HTTP on loopback.

The real `anthropic` SDK is pointed at it with `base_url`. Each request is recorded; each answer is
taken from a script of outcomes: a tool call, a text, an HTTP error status, or a delay.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.testing import STOP_GRACE_S, serve_on_loopback


@dataclass
class Outcome:
    tool_input: dict[str, Any] | None = None
    text: str | None = None
    status: int = 200
    delay_s: float = 0.0


@dataclass
class FakeAnthropic:
    script: list[Outcome] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    default: Outcome = field(default_factory=lambda: Outcome(text="(no scripted answer)"))
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> FakeAnthropic:
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        self._runner, self.url = await serve_on_loopback(app, shutdown_timeout=STOP_GRACE_S)
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _messages(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"body": body, "headers": {k.lower(): v for k, v in request.headers.items()}})
        outcome = self.script.pop(0) if self.script else self.default
        if outcome.delay_s:
            await asyncio.sleep(outcome.delay_s)
        if outcome.status != 200:
            kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(outcome.status, "api_error")
            return web.json_response(
                {"type": "error", "error": {"type": kind, "message": kind}},
                status=outcome.status,
                headers={"retry-after-ms": "10"},
            )
        if outcome.tool_input is not None:
            tool = body["tools"][0]["name"]
            content = [{"type": "tool_use", "id": "toolu_01", "name": tool, "input": outcome.tool_input}]
            stop = "tool_use"
        else:
            content, stop = [{"type": "text", "text": outcome.text or ""}], "end_turn"
        return web.json_response(
            {
                "id": f"msg_{len(self.requests)}",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": content,
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": {"input_tokens": 1200, "output_tokens": 80, "cache_read_input_tokens": 1000},
            }
        )
