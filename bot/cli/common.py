"""What every `coach` command shares: the consoles, one-line errors, a runtime whose course loads, logging."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from bot.app import Runtime

out = Console()
err = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(1)


def runtime() -> Runtime:
    """A runtime whose course is known to load; bad knowledge files end the command cleanly."""
    from bot.app import Runtime
    from bot.config import Settings
    from knowledge.loader import KnowledgeError

    rt = Runtime(Settings())
    try:
        rt.course  # noqa: B018 - load now so problems surface before any work starts
    except KnowledgeError as exc:
        for problem in exc.problems:
            err.print(str(problem), highlight=False, markup=False)
        raise fail(
            f"{len(exc.problems)} problem(s) in the knowledge files; run `coach knowledge check`"
        ) from None
    return rt


def setup_logging(verbose: bool) -> None:
    from bot.config import Settings
    from bot.logs import setup

    setup(Settings(), verbose)
