"""`coach serve`: one aiohttp web server for every channel.

    GET  /healthz        liveness, the brain in use, which channels are on, and the warm-up (below)
    GET  /readyz         readiness: the database answers, its schema is current, the index is built
    POST /slack/events   Slack Events API, slash commands and interactivity (`adapters.slack.inbox`
                         verifies the signature and answers at once; Bolt runs the turn from a queue)
    POST /api/messages   Bot Framework activities from Teams (CloudAdapter verifies the bearer token)
    GET  /metrics        Prometheus metrics (`bot.metrics`): with COACH_METRICS_TOKEN as a bearer token,
                         or without one from this machine only (a proxied request is refused)

Teams is served only with `MicrosoftAppId` set, or with `COACH_TEAMS_EMULATOR=1` for local testing
without authentication, when the server listens on 127.0.0.1 only. Every body is checked by
`bot.guard` before a framework parses it.

With `SLACK_APP_TOKEN` set, Slack runs over Socket Mode instead (no public URL needed). Channels are
wired when the server starts, because they need the open coach (its checkpoint database).

The server listens once every configured channel can take a turn. What only some turns need and costs
a second or more to load (Claude's SDK, the semantic model and the chunks' embeddings) is loaded in a
background thread right after (`"warm_up": "running"`, then `"done"`): a turn that needs it first
waits for it rather than loading it again, and the heap is frozen again once it is in.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from bot import metrics
from bot.app import Runtime
from bot.config import Settings
from bot.conversation import Coach
from bot.guard import BODY_TIMEOUT, CHECKED, LOOPBACK_ONLY, BadRequest, guard, is_loopback, teams_activity
from bot.heap import freeze_startup_heap
from bot.intake import INTAKE, Intake, intake_first
from bot.logs import install_redaction, secrets_of
from bot.managers.clock import Dispatcher

log = logging.getLogger("coach.server")
COACH = web.AppKey("coach", Coach)
SLACK = web.AppKey("slack", Any)
TEAMS = web.AppKey("teams", Any)
SLACK_CLIENT = web.AppKey("slack_client", Any)
SLACK_SESSION = web.AppKey("slack_session", aiohttp.ClientSession)
DISPATCH = web.AppKey("dispatch", Any)
STATUS = web.AppKey("status", dict)
RUNTIME = web.AppKey("runtime", Any)
METRICS_TOKEN = web.AppKey("metrics_token", str)
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, **request.app[STATUS]})


async def slack_events(request: web.Request) -> web.Response:
    inbox = request.app.get(SLACK)
    if inbox is None:
        return web.json_response({"ok": False, "error": "Slack over HTTP is not configured"}, status=404)
    started = time.perf_counter()
    response = await inbox(request)
    metrics.ack("slack", started)
    return response


async def teams_messages(request: web.Request) -> web.Response:
    teams = request.app.get(TEAMS)
    if teams is None:
        return web.json_response({"ok": False, "error": "Teams is not configured"}, status=404)
    started = time.perf_counter()
    intake = request.app[INTAKE]
    intake.end(request)  # the turn runs inside this request: it waits like the others (`bot.intake`)
    await intake.quiet()
    try:
        request[CHECKED] = teams_activity(request[CHECKED])  # the JSON `bot.guard` checked
    except BadRequest as exc:
        log.warning("%s refused: %s", request.path, exc)
        raise web.HTTPBadRequest(text=f"bad request: {exc}") from None
    response = await teams.adapter.process(request, teams)  # a token it refuses raises 401
    metrics.ack("teams", started)
    return response or web.Response(status=201)


async def metrics_page(request: web.Request) -> web.Response:
    """The metrics, for a scraper holding the token, or (with no token set) for this machine only."""
    token = request.app.get(METRICS_TOKEN)
    if token:
        sent = request.headers.get("Authorization", "").encode("utf-8", "replace")
        if not hmac.compare_digest(sent, f"Bearer {token}".encode()):
            raise web.HTTPUnauthorized(
                text="/metrics needs Authorization: Bearer <COACH_METRICS_TOKEN>",
                headers={"WWW-Authenticate": "Bearer"},
            )
    elif not is_loopback(request.remote or "") or any(h in request.headers for h in PROXY_HEADERS):
        raise web.HTTPForbidden(text="/metrics is served to this machine only; set COACH_METRICS_TOKEN")
    body, content_type = metrics.render(request.headers.get("Accept"))
    return web.Response(body=body, headers={"Content-Type": content_type})


def runner_options(settings: Settings) -> dict[str, Any]:
    """aiohttp server options: a connection that has not sent a whole request head within the
    timeout (of connecting, or of its last response) is closed, so slow clients are cut off."""
    return {"keepalive_timeout": settings.http_timeout_s, "handler_cancellation": True}


async def readyz(request: web.Request) -> web.Response:
    """503 until this process can take turns: the database answers at the code's schema, the index
    is built."""
    from bot.store.migrate import check

    runtime = request.app[RUNTIME]
    checks: dict[str, str] = {"index": "built" if COACH in request.app else "building"}
    try:
        found = await asyncio.to_thread(check, runtime.store.engine)
        checks["database"] = "reachable"
        checks["migrations"] = "current" if found.is_current else f"{found.current} (needs {found.head})"
    except Exception as exc:  # unreachable, refused, or a schema from a newer coach
        checks["database"] = f"unavailable: {type(exc).__name__}"
    ready = checks["index"] == "built" and checks.get("migrations") == "current"
    return web.json_response({"ready": ready, **checks}, status=200 if ready else 503)


def create_app(runtime: Runtime) -> web.Application:
    install_redaction(secrets_of(runtime.settings))  # no token ever reaches a log, whoever logs it
    app = web.Application(client_max_size=2 * 1024 * 1024, middlewares=[guard, intake_first])
    app[INTAKE] = Intake()
    app[BODY_TIMEOUT] = runtime.settings.http_timeout_s
    app[LOOPBACK_ONLY] = emulator_mode(runtime.settings)
    app[STATUS] = {"brain": runtime.deps.brain.name, "slack": "off", "teams": "off"}
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_post("/slack/events", slack_events)
    app.router.add_post("/api/messages", teams_messages)
    metrics.configure(runtime.settings.metrics, runtime.settings.metrics_dir)
    if runtime.settings.metrics:
        token = runtime.settings.metrics_token
        app[METRICS_TOKEN] = token.get_secret_value() if token else ""
        app.router.add_get("/metrics", metrics_page)
    app.cleanup_ctx.append(lambda app: _lifecycle(app, runtime))
    return app


async def _lifecycle(app: web.Application, runtime: Runtime) -> AsyncIterator[None]:
    runtime.index  # noqa: B018 - build the index before the first request
    async with runtime.coach() as coach:
        app[COACH] = coach
        socket = await _start_slack(app, runtime, coach)
        _start_teams(app, runtime, coach)
        _start_dispatch(app, runtime)
        log.info("coach serving: %s", " ".join(f"{k}={v}" for k, v in app[STATUS].items()))
        freeze_startup_heap(collect=False)  # the collection waits for the warm-up (`bot.heap`)
        app[STATUS]["warm_up"] = "running"
        warming = asyncio.create_task(_warm_up(app, runtime))
        yield
        if not warming.done():
            await asyncio.wait([warming], timeout=30)
        if socket is not None:
            await socket.close_async()
        await _drain_background(app, timeout_s=30)
        if SLACK in app:
            await app[SLACK].close()
        if SLACK_SESSION in app:
            await app[SLACK_SESSION].close()


async def _drain_background(app: web.Application, timeout_s: float) -> None:
    """Let the turns, proactive replies and nudges under way finish (and any they start meanwhile:
    the Slack inbox starts a conversation's worker from a task), for at most `timeout_s`."""
    teams, inbox = app.get(TEAMS), app.get(SLACK)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        pending = (
            (teams.background if teams else set())
            | (inbox.background if inbox else set())
            | app[DISPATCH].background
        )
        left = deadline - asyncio.get_running_loop().time()
        if not pending or left <= 0:
            return
        await asyncio.wait(pending, timeout=left)


async def _warm_up(app: web.Application, runtime: Runtime) -> None:
    """Load what only some turns need, off the event loop, then freeze what it left on the heap."""
    from flows.brains import warm_up

    def load() -> None:
        warm_up(runtime.deps.brain)
        runtime.index.warm_up()

    try:
        await asyncio.to_thread(load)
    except Exception:  # a turn that needs it will try again, and say what failed
        log.exception("warm-up failed; turns load what they need themselves")
        app[STATUS]["warm_up"] = "failed"
        return
    freeze_startup_heap()
    app[STATUS]["warm_up"] = "done"


async def _start_slack(app: web.Application, runtime: Runtime, coach: Coach) -> Any:
    s = runtime.settings
    if not (s.slack_bot_token and s.slack_signing_secret):
        log.info("Slack is off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to turn it on")
        return None
    from adapters.slack.app import build_slack_app

    # one pooled session to the Slack Web API for the process's life (kept-alive connections)
    app[SLACK_SESSION] = aiohttp.ClientSession()
    socket_mode = bool(s.slack_app_token and s.slack_app_token.get_secret_value())
    bolt = build_slack_app(
        coach,
        token=s.slack_bot_token.get_secret_value(),
        signing_secret=s.slack_signing_secret.get_secret_value(),
        api_url=s.slack_api_url,
        session=app[SLACK_SESSION],
        process_before_response=not socket_mode,  # over HTTP the inbox has answered Slack already
    )
    app[SLACK_CLIENT] = bolt.client
    if socket_mode:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(bolt, s.slack_app_token.get_secret_value())
        await handler.connect_async()
        app[STATUS]["slack"] = "socket mode"
        return handler
    from adapters.slack.inbox import SlackInbox

    secret = s.slack_signing_secret.get_secret_value()
    app[SLACK] = inbox = SlackInbox(
        bolt, secret, runtime.store, across_processes=runtime.store.postgres, intake=app[INTAKE]
    )
    await inbox.resume()  # what a stopped process acknowledged and never ran goes first
    app[STATUS]["slack"] = "http"
    return None


def emulator_mode(settings: Settings) -> bool:
    """Teams without authentication: only when asked for, and never alongside an app id."""
    return settings.teams_emulator and not settings.teams_app_id


def _start_teams(app: web.Application, runtime: Runtime, coach: Coach) -> None:
    settings = runtime.settings
    if not (settings.teams_app_id or settings.teams_emulator):
        log.info("Teams is off: set MicrosoftAppId and MicrosoftAppPassword to turn it on")
        return
    from adapters.teams.adapter import make_adapter
    from adapters.teams.bot import CoachTeamsBot

    app[TEAMS] = CoachTeamsBot(coach, make_adapter(settings), settings.teams_app_id)
    if emulator_mode(settings):
        log.warning(
            "TEAMS AUTHENTICATION IS OFF (COACH_TEAMS_EMULATOR=1): /api/messages accepts unauthenticated "
            "requests and replies only to a serviceUrl on this machine. For local testing only."
        )
        app[STATUS]["teams"] = "emulator (no auth, loopback only)"
    else:
        app[STATUS]["teams"] = "on"


class SendNow:
    """Delivers enqueued nudges in the background when a manager says "send-now"."""

    def __init__(self, dispatcher: Dispatcher):
        self.dispatcher = dispatcher
        self.background: set[asyncio.Task] = set()

    async def __call__(self) -> None:
        task = asyncio.create_task(self.dispatcher.deliver_pending())
        self.background.add(task)
        task.add_done_callback(self.background.discard)


def _start_dispatch(app: web.Application, runtime: Runtime) -> None:
    senders: dict[str, Any] = {}
    if app.get(TEAMS) is not None:  # imported only when on: botbuilder alone takes a second to load
        from adapters.teams.bot import TeamsSender

        senders["teams"] = TeamsSender(
            app[TEAMS].adapter, runtime.settings.teams_app_id, runtime.store, runtime.deps.clock
        )
    if app.get(SLACK_CLIENT) is not None:
        from adapters.slack.sender import SlackSender

        senders["slack"] = SlackSender(app[SLACK_CLIENT])
    from bot.managers.commands import admin_identities

    admins = tuple(sorted(admin_identities(runtime.settings.managers)))
    dispatcher = Dispatcher(runtime.nudges, runtime.course, senders, clock=runtime.deps.clock, admins=admins)
    app[DISPATCH] = runtime.admin.send_now = SendNow(dispatcher)
    runtime.admin.notify = dispatcher.notify
    runtime.admin.people = dispatcher.people


async def serve(runtime: Runtime, host: str = "0.0.0.0", port: int | None = None) -> None:
    """Serve until Ctrl-C or SIGTERM (what platforms send to stop a web process), then shut down cleanly."""
    if emulator_mode(runtime.settings) and host != "127.0.0.1":
        log.warning("COACH_TEAMS_EMULATOR=1: listening on 127.0.0.1 only, not %s", host)
        host = "127.0.0.1"
    runner = web.AppRunner(create_app(runtime), **runner_options(runtime.settings))
    await runner.setup()
    await web.TCPSite(runner, host, port or runtime.settings.port).start()
    log.info("listening on http://%s:%s", host, port or runtime.settings.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("shutting down")
    finally:
        await runner.cleanup()
