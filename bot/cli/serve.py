"""`coach serve`: the web server for every channel (Procfile `web`)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import fail, runtime, setup_logging


def serve(
    port: Annotated[int | None, typer.Option(help="Port (default: $PORT or 3978).")] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "0.0.0.0",
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes (gunicorn's aiohttp worker; default: $WEB_CONCURRENCY or 1). "
            "More than 1 needs COACH_DATABASE_URL."
        ),
    ] = None,
) -> None:
    """Serve Slack (/slack/events or Socket Mode), Teams (/api/messages), /healthz and /readyz from one
    web server, in one process or several (`--workers`).

    Teams needs MicrosoftAppId; COACH_TEAMS_EMULATOR=1 serves it unauthenticated, on 127.0.0.1 only."""
    from bot.heap import paused_during_startup

    with paused_during_startup():  # until the server's start-up freezes the heap (`bot.heap`)
        _serve(port, host, workers)


def _serve(port: int | None, host: str, workers: int | None) -> None:
    import asyncio

    from bot.metrics import problem as metrics_problem
    from bot.workers import check_workers

    setup_logging(True)
    rt = runtime()
    count = workers or rt.settings.web_workers
    # the settings are checked before the server's imports (LangGraph, the channels' SDKs: seconds of
    # CPU), so a mistake in them is one line at once
    if why := check_workers(rt.settings, count) or metrics_problem(rt.settings.metrics_dir):
        raise fail(why)
    if not rt.settings.postgres_url and not _only_server(rt.settings.data_dir):
        raise fail(
            f"another `coach serve` is running on {rt.settings.data_dir}: one server per SQLite data "
            "folder (two would each take the other's queued messages as lost); stop it first, or set "
            "COACH_DATABASE_URL to run several"
        )
    try:
        rt.admin  # noqa: B018 - COACH_MANAGERS is checked, the schema migrated, before anything listens
    except ValueError as exc:
        raise fail(str(exc)) from None
    from bot.heap import freeze_startup_heap
    from bot.server import emulator_mode
    from bot.server import serve as run_server
    from bot.workers import serve_workers

    if count == 1:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_server(rt, host, port))
        return
    if emulator_mode(rt.settings):
        host = "127.0.0.1"  # as in one process: an unauthenticated Teams endpoint stays on this machine
    rt.index  # noqa: B018 - built once here, so the workers only open it
    asyncio.run(_set_up_checkpoints(rt.settings.checkpoints_target))  # once, before the workers start
    rt.store.close()  # the workers open their own pools after the fork
    freeze_startup_heap()  # before the fork: the workers share the start-up heap, and collect again
    serve_workers(host, port or rt.settings.port, count, rt.settings)


_HELD: list[object] = []  # the open lock file, held for the process's life


def _only_server(data_dir: Path) -> bool:
    """Take the data folder's server lock (released when this process ends, however it ends); False if
    another live process holds it."""
    import fcntl

    data_dir.mkdir(parents=True, exist_ok=True)
    lock = (data_dir / "serve.lock").open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return False
    _HELD.append(lock)
    return True


async def _set_up_checkpoints(target: object) -> None:
    from bot.checkpoints import open_checkpoints

    async with open_checkpoints(target, pool_size=1):  # type: ignore[arg-type]
        pass
