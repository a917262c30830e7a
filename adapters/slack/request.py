"""The Bolt request our Slack route dispatches: Bolt's own, with the body parsed by `bot.guard`.

Bolt's `parse_body` treats any form body containing the letters "payload" as an interactivity
payload, so `/coach what is payload` reaches Bolt as {} and is never answered. The raw body (what the
signature covers) stays Bolt's; only the parsed body and the context built from it are replaced.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from aiohttp import web
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.guard import parse_slack


class SlackRequest(AsyncBoltRequest):
    """An `AsyncBoltRequest` whose form bodies are parsed field by field (see the module docstring)."""

    def __init__(self, *, body: str, context: dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(body=body, context=context, **kwargs)
        # a body starting with "{" Bolt parsed as JSON, as `parse_slack` does (an event: nearly every
        # request): parsed again, and its context built again, it would come out the same
        if self.mode == "http" and self.raw_body and not self.raw_body.startswith("{"):
            self.body = parse_slack(self.raw_body, (self.content_type or "").strip().lower())
            self.context = build_async_context(AsyncBoltContext(context or {}), self.body)

    def to_copyable(self) -> SlackRequest:
        """The copy Bolt hands lazy listeners, parsed the same way."""
        return SlackRequest(
            body=self.raw_body,
            query=self.query,
            headers=self.headers,
            context=self.context.to_copyable(),
            mode=self.mode,
        )

    @classmethod
    def later(cls, body: str, query: str, headers: dict[str, str]) -> Callable[[], SlackRequest]:
        """The request, to be built when called: building it parses the body twice more (Bolt's
        parse, then ours) and its context, work an ack path that only verifies and queues skips."""
        return partial(cls, body=body, query=query, headers=headers)

    @classmethod
    async def of(cls, request: web.Request) -> SlackRequest:
        """The Bolt request for an aiohttp request (the guard has already checked its body)."""
        return cls(body=await request.text(), query=request.query_string, headers=dict(request.headers))
