"""The `coach` command line, one module per command group; each command's docstring is its --help and
errors are one line, exit 1.

    learning   shell, replay, ask                     knowledge  knowledge check|list, index, search, eval
    serve      serve (Procfile `web`)                 managers   clock (Procfile `clock`), nudges, report
    channels   slack manifest, teams package          doctor     doctor
    bench      bench [retrieval|nudges]                   feedback   feedback (👍/👎 on answers)
    lab_eval   eval labs                                db         db status|upgrade|prune
"""

from __future__ import annotations

import sys

import click
import typer
from typer.core import TyperGroup

from bot.cli import bench, channels, db, doctor, feedback, knowledge, lab_eval, learning, managers, serve
from bot.cli.common import fail


class _Commands(TyperGroup):
    """Every command: a database this code cannot use (`SchemaError`, written by a newer coach or needing
    `coach db upgrade`) ends it with that one line, exit 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except RuntimeError as exc:
            migrate = sys.modules.get("bot.store.migrate")  # loaded by whatever opened the database
            if migrate is None or not isinstance(exc, migrate.SchemaError):
                raise
            raise fail(str(exc)) from None


app = typer.Typer(
    cls=_Commands,
    help="coach: practise 'Building an AI-Ready Organization' in Slack, Teams or here.",
    no_args_is_help=True,
    add_completion=False,
)
for command in (
    doctor.doctor,
    knowledge.index,
    knowledge.search,
    learning.shell,
    learning.replay,
    learning.ask,
    feedback.feedback,
    serve.serve,
    managers.clock,
    managers.nudges,
    managers.report,
):
    app.command()(command)
app.add_typer(knowledge.knowledge_app, name="knowledge")
knowledge.eval_app.command("labs")(lab_eval.eval_labs)
app.add_typer(knowledge.eval_app, name="eval")
app.add_typer(bench.bench_app, name="bench")
app.add_typer(db.db_app, name="db")
app.add_typer(channels.slack_cli, name="slack")
app.add_typer(channels.teams_cli, name="teams")
