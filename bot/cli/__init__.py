"""The `coach` command line, one module per command group; each command's docstring is its --help and
errors are one line, exit 1.

    learning   shell, replay, ask                     knowledge  knowledge check|list, index, search, eval
    serve      serve (Procfile `web`)                 managers   clock (Procfile `clock`), nudges, report
    channels   slack manifest, teams package          doctor     doctor
    bench      bench [retrieval|nudges]                   feedback   feedback (👍/👎 on answers)
    lab_eval   eval labs                                db         db status|upgrade|prune
"""

from __future__ import annotations

import typer

from bot.cli import bench, channels, db, doctor, feedback, knowledge, lab_eval, learning, managers, serve

app = typer.Typer(
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
