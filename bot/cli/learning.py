"""`coach shell`, `coach replay` and `coach ask`: learning with the coach from the terminal."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import fail, out, runtime, setup_logging


def shell(
    user: Annotated[str, typer.Option("--user", help="Who you are in this chat.")] = "me",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens to stderr.")] = False,
) -> None:
    """Chat with the coach in this terminal: labs, quizzes, drill, progress and questions."""
    import asyncio

    from adapters.console import shell as run_shell

    setup_logging(verbose)
    rt = runtime()
    rt.index  # noqa: B018 - build the index before the first message

    async def main() -> None:
        async with rt.coach() as coach:
            await run_shell(coach, user, out)

    asyncio.run(main())


def replay(
    script: Annotated[Path, typer.Argument(help='JSONL turns: {"user", "text"} or {"user", "action"}.')],
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON lines (the only format; kept for clarity).")
    ] = True,
) -> None:
    """Run scripted turns through the coach and print one JSON line per reply."""
    import asyncio

    from adapters.console import replay as run_replay

    setup_logging(False)
    if not script.is_file():
        raise fail(f"no such file: {script}")
    rt = runtime()

    async def main() -> int:
        async with rt.coach() as coach:
            with script.open(encoding="utf-8") as lines:
                return await run_replay(coach, lines, sys.stdout)

    bad = asyncio.run(main())
    if bad:
        raise fail(f"{bad} line(s) of {script} could not be read")


def ask(
    question: Annotated[str, typer.Argument(help="A question about the lessons.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Ask one question; the answer cites the lessons or says they do not cover it."""
    import asyncio
    import uuid

    from adapters.console import inbound, render
    from bot.conversation import Coach

    setup_logging(False)
    rt = runtime()

    async def main() -> list:
        async with Coach.open(rt.deps, ":memory:") as coach:
            return await coach.handle(inbound("cli", question, conversation=f"ask:{uuid.uuid4().hex}"))

    replies = asyncio.run(main())
    if as_json:
        payload = [{"reply": r.text, "citations": [c.__dict__ for c in r.citations]} for r in replies]
        sys.stdout.write(json.dumps(payload[-1] if payload else {}, ensure_ascii=False) + "\n")
        return
    for reply in replies:
        render(out, reply)
