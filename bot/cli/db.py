"""`coach db`: the schema's version and its migrations, on SQLite or PostgreSQL (`COACH_DATABASE_URL`)."""

from __future__ import annotations

import asyncio

import typer

from bot.cli.common import fail, out

db_app = typer.Typer(
    help="The database: schema version, migrations, pruning old checkpoints.", no_args_is_help=True
)


def _engine():
    from bot.config import Settings
    from bot.store.base import create_engine

    return create_engine(Settings().store_target)


@db_app.command("status")
def status() -> None:
    """Show the schema's version and the migrations this coach would run."""
    from bot.store.migrate import SchemaError, check

    try:
        found = check(_engine())
    except SchemaError as exc:
        raise fail(str(exc)) from None
    pending = ", ".join(found.pending) or "none"
    out.print(f"schema {found.current or 'empty'}; this coach: {found.head}; pending: {pending}")


@db_app.command("upgrade")
def upgrade() -> None:
    """Run every pending migration (stop the workers first if one is not online-safe), and set up the
    conversation checkpointer's tables. `coach serve` runs the online-safe ones itself."""
    from bot.checkpoints import open_checkpoints
    from bot.config import Settings
    from bot.store import migrate

    try:
        before, after = migrate.upgrade(_engine())
    except migrate.SchemaError as exc:
        raise fail(str(exc)) from None

    async def checkpointer() -> None:
        async with open_checkpoints(Settings().checkpoints_target, pool_size=1):
            pass

    asyncio.run(checkpointer())
    out.print(f"schema {before.current or 'empty'} → {after.current}")


@db_app.command("prune")
def prune() -> None:
    """Delete old conversation checkpoints, keeping each conversation's latest (run it daily)."""
    from bot.checkpoints import open_checkpoints
    from bot.config import Settings

    async def run() -> int:
        async with open_checkpoints(Settings().checkpoints_target, pool_size=2) as checkpoints:
            return await checkpoints.prune()

    out.print(f"pruned the checkpoints of {asyncio.run(run())} conversation(s)")
