"""`coach serve --workers N`: N aiohttp worker processes under gunicorn (`aiohttp.GunicornWebWorker`).

gunicorn's master binds the port, forks the workers, restarts one that dies and passes SIGTERM on.
Each worker is a whole coach (its own database pool, checkpointer and HTTP sessions), so a conversation's
turns can reach any of them: they stay one at a time and in arrival order through PostgreSQL's advisory
lock per conversation (`bot/checkpoints.py`). On SQLite a turn lock is an asyncio lock inside one
process, so more than one worker is refused (`check_workers`). A turn a killed worker never answered is
owned up to on the conversation's next turn, as after any crash.
"""

from __future__ import annotations

import os
from typing import Any

from aiohttp import web
from gunicorn.app.base import BaseApplication

from bot.config import Settings


def check_workers(settings: Settings, workers: int) -> str | None:
    """Why `workers` cannot serve with these settings, or None."""
    if workers < 1:
        return "--workers must be 1 or more"
    if workers > 1 and not settings.database_url:
        return (
            "--workers above 1 needs COACH_DATABASE_URL (PostgreSQL): on SQLite each process orders only "
            "its own turns, so two workers could interleave one conversation. Run one worker, or use "
            "PostgreSQL (README: Run it at scale)."
        )
    return None


async def worker_app() -> web.AppRunner:
    """What each gunicorn worker serves: the whole coach app, with the server's own timeouts."""
    from bot.app import Runtime
    from bot.server import create_app, runner_options

    runtime = Runtime(Settings())
    return web.AppRunner(create_app(runtime), **runner_options(runtime.settings))


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's hook in the master when a worker exits (killed, replaced, stopped): its live gauges'
    files in `PROMETHEUS_MULTIPROC_DIR` are removed; its counters stay summed in /metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


class CoachWorkers(BaseApplication):
    """gunicorn, configured in code (no config file): `bind`, `workers` and the aiohttp worker class."""

    def __init__(self, host: str, port: int, workers: int, settings: Settings):
        self.options = {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "aiohttp.GunicornWebWorker",
            "graceful_timeout": 30,  # like `coach serve`: replies and nudges under way get 30 s to finish
            "timeout": 60,  # a worker whose loop is stuck this long is replaced
            "accesslog": None,
            "proc_name": "coach",
            "child_exit": child_exit,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return worker_app


def serve_workers(host: str, port: int, workers: int, settings: Settings) -> None:
    """Run gunicorn in the foreground until SIGTERM or Ctrl-C."""
    CoachWorkers(host, port, workers, settings).run()
