"""A local stand-in for the Bot Framework Connector service (the `serviceUrl` of Teams activities).

Records every activity the bot sends, replies to, or updates, and answers with an id like Teams does.
As strict as Teams where the coach depends on it:
- rosters (`members`, `pagedmembers` with continuation tokens, `members/{id}`) are answered only for
  teams and group chats the bot was added to (`teams`); anything else is 404 `ConversationNotFound`,
  an unknown member 404 `MemberNotFoundInConversation`; `pageSize` above 500 is 400;
- `create_conversation` needs the tenant, exactly one member, `isGroup` false and the bot's own id,
  and opens a 1:1 chat only with someone in a team the bot is in (else 403), the same id every time;
- a message over Teams' size limit (about 28 KB) is 413 `MessageSizeTooBig`; a chat with someone who
  left the tenant or removed the app (`gone`) is 403; `failures` answers the next calls with 5xx.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from bot.testing import STOP_GRACE_S, serve_on_loopback

MAX_MESSAGE_BYTES = 28_000
MAX_PAGE_SIZE = 500


@dataclass
class Sent:
    verb: str  # "send", "reply" or "update"
    conversation: str
    activity: dict[str, Any]
    target: str | None = None  # the activity replied to or updated


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@dataclass
class FakeConnector:
    sent: list[Sent] = field(default_factory=list)
    url: str = ""
    tenant: str = "t1"
    bot: str = "28:coach-bot"
    teams: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # team/chat id -> its members
    page_limit: int = MAX_PAGE_SIZE  # the most members one page holds (Teams may return fewer than asked)
    gone: set[str] = field(default_factory=set)  # members who left the tenant or removed the app
    closed: set[str] = field(default_factory=set)  # 1:1 conversations whose member removed the app
    failures: list[int] = field(default_factory=list)  # statuses for the next calls (transient errors)
    created: dict[str, str] = field(default_factory=dict)  # 1:1 conversation id -> member
    calls: list[str] = field(default_factory=list)  # "GET pagedmembers 19:x", "POST conversations", …
    _runner: web.AppRunner | None = None
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def start(self) -> FakeConnector:
        app = web.Application(middlewares=[self._failing])
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{target}", self._reply)
        app.router.add_put("/v3/conversations/{conversation}/activities/{target}", self._update)
        app.router.add_get("/v3/conversations/{conversation}/members", self._members)
        app.router.add_get("/v3/conversations/{conversation}/pagedmembers", self._paged)
        app.router.add_get("/v3/conversations/{conversation}/members/{member}", self._member)
        self._runner, self.url = await serve_on_loopback(app, shutdown_timeout=STOP_GRACE_S)
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def messages(self) -> list[Sent]:
        """What users would see: sent and replied messages (typing indicators left out)."""
        return [s for s in self.sent if s.verb != "update" and s.activity.get("type") == "message"]

    def to(self, conversation: str) -> list[Sent]:
        return [s for s in self.messages() if s.conversation == conversation]

    async def wait_for_messages(self, count: int, timeout: float = 10.0) -> list[Sent]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.messages()) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"expected {count} message(s); got {[s.activity.get('text') for s in self.sent]}"
                )
            await asyncio.sleep(0.02)
        return self.messages()

    # -- failures -----------------------------------------------------------------------------------

    @web.middleware
    async def _failing(self, request: web.Request, handler: Any) -> web.StreamResponse:
        conversation = unquote(request.match_info.get("conversation", ""))
        self.calls.append(f"{request.method} {request.path.rsplit('/', 1)[-1]} {conversation}".strip())
        if self.failures:
            return error(self.failures.pop(0), "ServiceError", "The service is unavailable.")
        return await handler(request)

    # -- rosters ----------------------------------------------------------------------------------

    def _roster(self, request: web.Request) -> list[dict[str, Any]] | None:
        return self.teams.get(unquote(request.match_info["conversation"]))

    async def _members(self, request: web.Request) -> web.Response:
        roster = self._roster(request)
        if roster is None:
            return error(404, "ConversationNotFound", "Conversation not found.")
        return web.json_response(roster)

    async def _paged(self, request: web.Request) -> web.Response:
        roster = self._roster(request)
        if roster is None:
            return error(404, "ConversationNotFound", "Conversation not found.")
        size = int(request.query.get("pageSize") or 200)
        if not 1 <= size <= MAX_PAGE_SIZE:
            return error(400, "BadArgument", f"pageSize must be between 1 and {MAX_PAGE_SIZE}.")
        start = int(request.query.get("continuationToken") or 0)
        end = start + min(size, self.page_limit)
        page: dict[str, Any] = {"members": roster[start:end]}
        if end < len(roster):
            page["continuationToken"] = str(end)
        return web.json_response(page)

    async def _member(self, request: web.Request) -> web.Response:
        conversation = unquote(request.match_info["conversation"])
        wanted = unquote(request.match_info["member"])
        roster = self.teams.get(conversation)
        if roster is None and conversation in self.created:
            roster = [
                m for team in self.teams.values() for m in team if m["id"] == self.created[conversation]
            ]
        if roster is None:
            return error(404, "ConversationNotFound", "Conversation not found.")
        found = next((m for m in roster if m["id"] == wanted), None)
        if found is None or wanted in self.gone:
            return error(404, "MemberNotFoundInConversation", "The member is not part of the roster.")
        return web.json_response(found)

    # -- conversations ------------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        tenant = body.get("tenantId") or ((body.get("channelData") or {}).get("tenant") or {}).get("id")
        members = body.get("members") or []
        if not tenant:
            return error(400, "BadSyntax", "Tenant ID is required to create a conversation.")
        if body.get("isGroup") or len(members) != 1:
            return error(400, "BadArgument", "A 1:1 conversation needs exactly one member and isGroup false.")
        if tenant != self.tenant or (body.get("bot") or {}).get("id") != self.bot:
            return error(403, "Forbidden", "The bot is not installed in this tenant.")
        member = members[0].get("id")
        in_a_team = any(m["id"] == member for team in self.teams.values() for m in team)
        if not in_a_team or member in self.gone:
            return error(403, "Forbidden", "The bot is not installed for the user.")
        conversation = f"a:1:{member}"
        self.created[conversation] = member
        return web.json_response({"id": conversation}, status=201)

    async def _record(self, verb: str, request: web.Request) -> web.Response:
        conversation = unquote(request.match_info["conversation"])
        if len(await request.read()) > MAX_MESSAGE_BYTES:
            return error(413, "MessageSizeTooBig", "Message size too big.")
        if conversation in self.closed or self.created.get(conversation) in self.gone:
            return error(403, "Forbidden", "The bot is not part of the conversation roster.")
        target = request.match_info.get("target")
        self.sent.append(Sent(verb, conversation, await request.json(), unquote(target) if target else None))
        return web.json_response({"id": target if verb == "update" else f"resp-{next(self._ids)}"})

    async def _send(self, request: web.Request) -> web.Response:
        return await self._record("send", request)

    async def _reply(self, request: web.Request) -> web.Response:
        return await self._record("reply", request)

    async def _update(self, request: web.Request) -> web.Response:
        return await self._record("update", request)
