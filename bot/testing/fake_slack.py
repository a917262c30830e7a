"""A local stand-in for the Slack Web API (and response_url), served over real HTTP on loopback.

Bolt's web client is pointed at it with `base_url`; every call is recorded with its arguments and
answered the way Slack answers. `fail_next` scripts errors such as a 429 with Retry-After (its
"response_url" key: the response_url's own refusals, e.g. 404 `expired_url`);
`errors_next` scripts Slack's `ok: false` answers; `users` and `channels` are the workspace's people
(for `users.info`, unknown ids are `user_not_found`) and channel rosters.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.testing import STOP_GRACE_S, serve_on_loopback
from bot.testing.slack_scopes import METHOD_SCOPES, manifest_scopes

BOT_USER = "UCOACHBOT"
BOT_ID = "BCOACH"
TEAM = "T0001"


@dataclass
class Call:
    method: str
    args: dict[str, Any]


@dataclass
class FakeSlack:
    calls: list[Call] = field(default_factory=list)
    fail_next: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    refuse_users: dict[str, str] = field(
        default_factory=dict
    )  # user id -> Slack error for conversations.open
    delay_s: dict[str, float] = field(default_factory=dict)  # method -> seconds to wait before answering
    refuse_next: dict[str, list[str]] = field(default_factory=dict)  # user id -> errors, one per DM opening
    errors_next: dict[str, list[str]] = field(default_factory=dict)  # method -> Slack errors (HTTP 200)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # user id -> users.info "user"
    channels: dict[str, list[str]] = field(default_factory=dict)  # channel id -> members
    uploads: dict[str, bytes] = field(default_factory=dict)
    refuse_methods: dict[str, str] = field(default_factory=dict)  # method -> Slack error it answers with
    scopes: frozenset[str] = field(default_factory=manifest_scopes)  # what the app was granted
    channel_members: dict[str, list[str]] = field(default_factory=dict)  # channel -> members (else a default)
    url: str = ""
    _runner: web.AppRunner | None = None
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"{self.url}/respond/{name}"

    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk reads some methods with GET
        app.router.add_post("/respond/{name}", self._respond)
        app.router.add_post("/upload/{file}", self._upload)
        self._runner, self.url = await serve_on_loopback(app, shutdown_timeout=STOP_GRACE_S)
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def of(self, method: str) -> list[dict[str, Any]]:
        return [c.args for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The recorded calls of `method` once there are at least `count` (fails after `timeout`)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.of(method)) < count:
            if asyncio.get_running_loop().time() > deadline:
                seen = [c.method for c in self.calls]
                raise AssertionError(f"expected {count} {method} call(s); recorded: {seen}")
            await asyncio.sleep(0.02)
        return self.of(method)

    def outputs(self) -> int:
        """Messages a user would see: posts, ephemeral notes and updates."""
        return sum(
            1 for c in self.calls if c.method in ("chat.postMessage", "chat.postEphemeral", "chat.update")
        )

    async def wait_for_total(self, count: int, timeout: float = 10.0, settle: float = 0.0) -> None:
        """Wait until at least `count` user-visible messages went out (then `settle` seconds of quiet)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.outputs() < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"expected {count} messages; got {self.outputs()}")
            await asyncio.sleep(0.01)
        seen = -1
        while settle and seen != self.outputs():
            seen = self.outputs()
            await asyncio.sleep(settle)

    async def _args(self, request: web.Request) -> dict[str, Any]:
        """Arguments as Slack reads them: query string, form fields or a JSON body."""
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            return {**args, **await request.json()}
        args.update(await request.post())
        for key in ("blocks", "view", "prompts"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        return args

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file"]] = await request.read()
        return web.Response(text="OK")

    def channels_with(self, method: str = "chat.postMessage") -> dict[str, int]:
        """How many `method` calls went to each channel."""
        counts: dict[str, int] = {}
        for args in self.of(method):
            counts[args["channel"]] = counts.get(args["channel"], 0) + 1
        return counts

    async def _respond(self, request: web.Request) -> web.Response:
        name, args = f"response_url:{request.match_info['name']}", await request.json()
        scripted = self.fail_next.get("response_url")
        if scripted:  # as Slack answers an expired or refused response_url: a status and a plain word
            status, headers = scripted.pop(0)
            self.calls.append(Call(f"{name}!{status}", args))
            return web.Response(
                status=status, text="expired_url" if status == 404 else "error", headers=headers
            )
        self.calls.append(Call(name, args))
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        if self.delay_s.get(method):
            await asyncio.sleep(self.delay_s[method])
        if method == "conversations.open" and args.get("users") in self.refuse_users:
            self.calls.append(Call(f"{method}!", args))
            return web.json_response({"ok": False, "error": self.refuse_users[args["users"]]})
        needed = METHOD_SCOPES.get(method)
        if needed is None or (needed and not needed & self.scopes):  # as strict as Slack
            self.calls.append(Call(f"{method}!", args))
            error = "unknown_method" if needed is None else "missing_scope"
            return web.json_response({"ok": False, "error": error, "needed": ",".join(sorted(needed or ()))})
        if method in self.refuse_methods:
            self.calls.append(Call(f"{method}!", args))
            return web.json_response({"ok": False, "error": self.refuse_methods[method]})
        if method == "conversations.open" and self.refuse_next.get(str(args.get("users"))):
            error = self.refuse_next[str(args.get("users"))].pop(0)
            self.calls.append(Call(f"{method}!{error}", args))
            return web.json_response({"ok": False, "error": error})
        if self.errors_next.get(method):
            error = self.errors_next[method].pop(0)
            self.calls.append(Call(f"{method}!{error}", args))
            return web.json_response({"ok": False, "error": error})
        if method == "users.info" and args.get("user") not in self.users:
            self.calls.append(Call(f"{method}!", args))
            return web.json_response({"ok": False, "error": "user_not_found"})
        if method == "conversations.members" and self.channels and args.get("channel") not in self.channels:
            self.calls.append(Call(f"{method}!", args))
            return web.json_response({"ok": False, "error": "channel_not_found"})
        scripted = self.fail_next.get(method)
        if scripted:
            status, headers = scripted.pop(0)
            self.calls.append(Call(f"{method}!{status}", args))
            return web.json_response({"ok": False, "error": "ratelimited"}, status=status, headers=headers)
        self.calls.append(Call(method, args))
        ts = f"1700000000.{next(self._ts):06d}"
        answers: dict[str, dict[str, Any]] = {
            "auth.test": {
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
                "team_id": TEAM,
                "user": "coach",
                "team": "Acme",
            },
            "chat.postMessage": {
                "channel": args.get("channel"),
                "ts": ts,
                "message": {"text": args.get("text")},
            },
            "chat.update": {"channel": args.get("channel"), "ts": args.get("ts")},
            "chat.postEphemeral": {"message_ts": ts},
            "conversations.open": {"channel": {"id": f"D{str(args.get('users', 'X'))[1:]}"}},
            "views.publish": {"view": {"id": "V1"}},
            "files.getUploadURLExternal": {
                "upload_url": f"{self.url}/upload/F{ts[-6:]}",
                "file_id": f"F{ts[-6:]}",
            },
            "files.completeUploadExternal": {
                "files": [{"id": f["id"]} for f in json.loads(args.get("files", "[]"))]
            },
            "users.info": {"user": self.users.get(str(args.get("user")), {})},
            "conversations.members": {
                "members": (
                    self.channel_members[args.get("channel", "")]
                    if args.get("channel", "") in self.channel_members
                    else [*self.channels.get(str(args.get("channel")), ["U1", "U2", "U3"]), BOT_USER]
                ),
                "response_metadata": {"next_cursor": ""},
            },
        }
        return web.json_response({"ok": True, **answers.get(method, {})})
