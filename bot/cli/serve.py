"""`coach serve`: the web server for every channel (Procfile `web`)."""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer

from bot.cli.common import fail, runtime, setup_logging


def serve(
    port: Annotated[int | None, typer.Option(help="Port (default: $PORT or 3978).")] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "0.0.0.0",
) -> None:
    """Serve Slack (/slack/events or Socket Mode), Teams (/api/messages) and /healthz from one web server.

    Teams needs MicrosoftAppId; COACH_TEAMS_EMULATOR=1 serves it unauthenticated, on 127.0.0.1 only."""
    import asyncio

    from bot.server import serve as run_server

    setup_logging(True)
    rt = runtime()
    try:
        rt.admin  # noqa: B018 - COACH_MANAGERS is checked before anything listens
    except ValueError as exc:
        raise fail(str(exc)) from None
    from bot.metrics import problem

    if why := problem(rt.settings.metrics_dir):
        raise fail(why)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_server(rt, host, port))
