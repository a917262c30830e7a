"""What every request must pass before Bolt or botbuilder see it.

The frameworks assume well-formed input: invalid JSON, a JSON array, bytes that are not UTF-8, a
broken `payload=` form or an activity without `from` end in a 500 and a traceback inside them. Here
each request body is read once (with a deadline, so a slow client cannot hold a connection), parsed
the way the framework will parse it, and refused with a 400 and one warning line if it cannot be.
Header reads are bounded by the server's keep-alive timeout (see `bot.server.runner_options`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web

log = logging.getLogger("coach.guard")
BODY_TIMEOUT = web.AppKey("body_timeout", float)
LOOPBACK_ONLY = web.AppKey("loopback_only", bool)  # Teams emulator mode: serviceUrl must be local
LOOPBACK_NAMES = {"localhost"}
CHECKED = web.RequestKey("checked", object)  # what a check parsed from the body, for its route to reuse
ARRIVED = web.RequestKey("arrived", float)  # the loop's time when a framework route's request came in


class BadRequest(ValueError):
    """A request body that cannot be what it claims to be; the message says why, for the log."""


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("body is not UTF-8") from None


MAX_DEPTH = 32  # nesting a platform's body never reaches (Slack's and Teams' run ~8 deep, cards included)


def _too_deep(value: Any) -> bool:
    """Whether objects and lists nest deeper than MAX_DEPTH (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth >= MAX_DEPTH:
                    return True
                stack.append((child, depth + 1))
    return False


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # thousands of "[" exhaust the decoder's stack
        raise BadRequest("invalid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest(f"JSON body is a {type(data).__name__}, not an object")
    # every later reader may recurse: none should meet a body that deep (a container needs an opening
    # bracket of its own, so text with fewer of them than MAX_DEPTH cannot nest that deep: not walked)
    if text.count("{") + text.count("[") > MAX_DEPTH and _too_deep(data):
        raise BadRequest(f"JSON nested deeper than {MAX_DEPTH}")
    # "\ud800" parses, but no database, log or HTTP client can encode it. A str decoded from UTF-8
    # holds no surrogate, so only a \u escape can make one: a body without one needs no second pass.
    if "\\u" in text:
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest("lone surrogate in a string") from None
    return data


# The fields Bolt and our listeners read without checking their type, wherever they appear.
SLACK_STRINGS = (
    "type", "token", "text", "ts", "thread_ts", "event_id", "api_app_id", "command", "trigger_id",
    "response_url", "user_id", "channel_id", "team_id", "enterprise_id", "action_id", "block_id", "value",
)  # fmt: skip
SLACK_IDS = ("user", "channel", "team", "enterprise")  # an id, or an object holding one
SLACK_OBJECTS = ("event", "message", "previous_message", "item", "assistant_thread", "view", "container")
MAX_KEY = 255  # longest delivery key taken (an event id, a trigger id)
SLACK_LISTS = ("authorizations", "actions")  # lists of objects


def _slack_shape(data: dict[str, Any], where: str = "body", depth: int = 0) -> None:
    """Refuse a body whose well-known fields have the wrong type: Bolt would fail on it with a 500."""
    if depth > 4:
        return
    for key in SLACK_STRINGS:
        if data.get(key) is not None and not isinstance(data[key], str):
            raise BadRequest(f"{where}.{key} is not a string")
    for key in SLACK_IDS:
        value = data.get(key)
        if isinstance(value, dict):
            _slack_shape(value, f"{where}.{key}", depth + 1)
            if value.get("id") is not None and not isinstance(value["id"], str):
                raise BadRequest(f"{where}.{key}.id is not a string")
        elif value is not None and not isinstance(value, str):
            raise BadRequest(f"{where}.{key} is neither an id nor an object")
    for key in SLACK_OBJECTS:
        value = data.get(key)
        if value is not None and not isinstance(value, dict):
            raise BadRequest(f"{where}.{key} is not an object")
        if value is not None:
            _slack_shape(value, f"{where}.{key}", depth + 1)
    for key in SLACK_LISTS:
        value = data.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            raise BadRequest(f"{where}.{key} is not a list of objects")
        for item in value or []:
            _slack_shape(item, f"{where}.{key}[]", depth + 1)


def _has_nul(value: Any) -> bool:
    """Whether a parsed body holds a NUL character in any key or string, however deep."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            return True
        if isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            stack += item
    return False


def _field(data: dict[str, Any], key: str) -> str | None:
    """`data[key]` as an id: a non-empty string, or an object's non-empty `id`."""
    value = data.get(key)
    value = value.get("id") if isinstance(value, dict) else value
    return value if isinstance(value, str) and value else None


def _slack_required(data: dict[str, Any]) -> None:
    """Refuse a request missing what Slack always sends and our listeners read unchecked (a signed
    message event without a `channel` reached its listener and failed there with a KeyError).

    Refused with a 400, not ignored with a 200: no real Slack delivery has these shapes, Bolt itself
    answers a request it has no listener for with a 404, and the 400 shows in the app's delivery log."""
    kind = data.get("type")
    for key in ("event_id", "trigger_id"):  # delivery keys: Slack's are a few dozen characters
        if len(data.get(key) or "") > MAX_KEY:
            raise BadRequest(f"{key} longer than {MAX_KEY} characters")
    if data.get("command") is not None and not _field(data, "user_id"):
        raise BadRequest("slash command without user_id")
    if kind == "block_actions":  # a click's user and channel are objects
        if not isinstance(data.get("user"), dict) or not _field(data, "user"):
            raise BadRequest("block_actions without user.id")
        if data.get("channel") is not None and not isinstance(data["channel"], dict):
            raise BadRequest("block_actions with a channel that is not an object")
        actions = data.get("actions")
        if not actions or not all(isinstance(a.get("action_id"), str) for a in actions):
            raise BadRequest("block_actions without actions (each with an action_id)")
    if kind != "event_callback":
        return
    event = data.get("event")
    if not isinstance(event, dict) or not event.get("type"):
        raise BadRequest("event_callback without an event type")
    needs: tuple[str, ...] = ()
    if event["type"] in ("message", "app_mention"):
        needs = ("channel", "ts")  # and a person's message (no subtype, no bot_id) names its sender
        needs += ("user",) if not (event.get("subtype") or event.get("bot_id")) else ()
    elif event["type"] == "app_home_opened":
        needs = ("user",)
    elif event["type"] in ("assistant_thread_started", "assistant_thread_context_changed"):
        thread = event.get("assistant_thread") or {}
        if not all(isinstance(thread.get(k), str) and thread[k] for k in ("channel_id", "thread_ts")):
            raise BadRequest(f"{event['type']} without assistant_thread.channel_id and thread_ts")
    for key in needs:  # an event's ids are plain strings (only a click's user is an object)
        if not isinstance(event.get(key), str) or not event[key]:
            raise BadRequest(f"{event['type']} event without {key} (a string)")


def parse_slack(text: str, content_type: str | None) -> dict[str, Any]:
    """A Slack body as Slack means it: JSON, a form whose `payload` field is JSON (interactivity), or
    a plain form (slash commands). Bolt's own `parse_body` looks for "payload" anywhere in the body,
    so a slash command whose text says "payload" parses to {}; here only a `payload` field counts."""
    if content_type == "application/json" or text.startswith("{"):
        return _json_object(text)
    form = dict(parse_qsl(text, keep_blank_values=True))
    return _json_object(form["payload"]) if "payload" in form else form


def check_slack(body: bytes, content_type: str) -> dict[str, Any]:
    """A body `parse_slack` can read, shaped as Slack sends it (the Slack route hands Bolt that parse:
    see adapters.slack.request); returns the parse."""
    text = _text(body)
    if not text:
        raise BadRequest("empty body")
    parsed = parse_slack(text, content_type)
    # no real Slack body has a NUL, and PostgreSQL cannot store one: raw, as JSON's \u0000 or a form's
    # %00. Parsed JSON holds one only if its text did, raw or escaped, so JSON without "\u" is not walked.
    escaped = "\\u" in text or not text.startswith("{")
    if "\x00" in text or (escaped and _has_nul(parsed)):
        raise BadRequest("body contains a NUL character")
    _slack_shape(parsed)
    _slack_required(parsed)
    if parsed.get("response_url"):
        url = urlsplit(parsed["response_url"])
        # Slack's are https (hooks.slack.com); plain http only to this machine (a local fake Slack)
        local = url.scheme == "http" and is_loopback(url.hostname or "")
        if not url.hostname or not (url.scheme == "https" or local):
            raise BadRequest("response_url is not an https URL")
    return parsed


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_teams(body: bytes, content_type: str, loopback_only: bool) -> dict[str, Any]:
    """An activity with a sender, a conversation and a usable serviceUrl (its JSON object, for
    `teams_activity`)."""
    if content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="Bot Framework activities are application/json")
    data = _json_object(_text(body))
    if not isinstance(data.get("type"), str) or not data["type"]:
        raise BadRequest("activity without a type")
    for field in ("from", "conversation", "recipient"):
        value = data.get(field)
        if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not value["id"]:
            raise BadRequest(f"activity without {field}.id")
    if not loopback_only and data.get("channelId") != "msteams":
        # the same app id and tokens also serve Web Chat and Direct Line, whose clients choose `from.id`:
        # an identity is `teams:<id>` only when Teams itself says who is speaking
        raise BadRequest("activity not from the msteams channel")
    _teams_accounts(data)
    url = data.get("serviceUrl")
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        host = parts.hostname if parts else None
    except ValueError:  # "http://[::1" and the like
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise BadRequest("activity without a valid serviceUrl")
    if loopback_only and not is_loopback(host):
        raise BadRequest("emulator mode replies only to a serviceUrl on this machine")
    return data


def _is_account(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), str)


def _teams_accounts(data: dict[str, Any]) -> None:
    """Refuse the account lists and mentions botbuilder reads without checking (a 500 otherwise)."""
    for field in ("membersAdded", "membersRemoved"):
        value = data.get(field)
        if value is not None and not (isinstance(value, list) and all(_is_account(m) for m in value)):
            raise BadRequest(f"activity {field} is not a list of accounts")
    entities = data.get("entities")
    objects = isinstance(entities, list) and all(isinstance(e, dict) for e in entities)
    if entities is not None and not objects:
        raise BadRequest("activity entities is not a list of objects")
    for entity in entities or []:
        if entity.get("type") == "mention" and not _is_account(entity.get("mentioned")):
            raise BadRequest("a mention without mentioned.id")
    if data["type"] == "invoke" and data.get("value") is not None and not isinstance(data["value"], dict):
        raise BadRequest("invoke value is not an object")


def teams_activity(data: dict[str, Any]) -> Any:
    """The checked activity as botbuilder's `Activity` (BadRequest if msrest cannot deserialize it).
    Called by the Teams route once the server has taken its requests in (`bot.intake`): msrest takes
    ~1.4 ms of CPU an activity, which Slack's acks in a burst would otherwise wait behind; the adapter
    then reuses it rather than deserialize the body again."""
    from botbuilder.schema import Activity  # here: a server without Teams never loads botbuilder

    try:
        return Activity().deserialize(data)
    except Exception as exc:  # msrest raises several kinds for fields of the wrong type
        raise BadRequest(f"activity does not deserialize ({type(exc).__name__})") from None


CHECKS: dict[str, Callable[[web.Request, bytes], Any]] = {
    "/slack/events": lambda request, body: check_slack(body, request.content_type),
    "/api/messages": lambda request, body: check_teams(
        body, request.content_type, request.app.get(LOOPBACK_ONLY, False)
    ),
}


@web.middleware
async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    """Read and check the body of framework routes; answer anything unexpected without a traceback."""
    check = CHECKS.get(request.path) if request.method == "POST" else None
    try:
        if check is not None and request.match_info.http_exception is None:
            request[ARRIVED] = asyncio.get_running_loop().time()  # a platform's deadline counts from here
            try:
                if request.content.is_eof():  # all of it is in already (nearly always): read at once
                    body = await request.read()
                else:  # asyncio.timeout, unlike wait_for, does not start a task per request
                    async with asyncio.timeout(request.app.get(BODY_TIMEOUT, 10.0)):
                        body = await request.read()
            except TimeoutError:
                log.warning("%s refused: body not received in time", request.path)
                raise web.HTTPRequestTimeout() from None
            try:
                checked = check(request, body)
                if checked is not None:
                    request[CHECKED] = checked
            except BadRequest as exc:
                log.warning("%s refused: %s", request.path, exc)
                raise web.HTTPBadRequest(text=f"bad request: {exc}") from None
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("%s failed", request.path)  # a bug of ours: the traceback belongs in the log
        return web.json_response({"ok": False, "error": "internal error"}, status=500)
