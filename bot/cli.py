"""The `coach` command line. Each command's docstring is its --help; errors are one line, exit 1."""

from __future__ import annotations

import contextlib
import json
import platform
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.app import Runtime
from bot.config import Settings, mask
from bot.conversation import Coach
from knowledge.loader import KnowledgeError, load_course

app = typer.Typer(
    help="coach: practise 'Building an AI-Ready Organization' in Slack, Teams or here.",
    no_args_is_help=True,
    add_completion=False,
)
knowledge_app = typer.Typer(help="Check and list the course content.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure quality.", no_args_is_help=True)
bench_app = typer.Typer(
    help="Measure speed. Without a subcommand: every benchmark, a table, and bench/results.json.",
    invoke_without_command=True,
)
app.add_typer(knowledge_app, name="knowledge")
app.add_typer(eval_app, name="eval")
app.add_typer(bench_app, name="bench")

out = Console()
err = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(1)


def runtime() -> Runtime:
    """A runtime whose course is known to load; bad knowledge files end the command cleanly."""
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


@app.command()
def doctor() -> None:
    """Show what is configured (Slack, Teams, Claude, database) without showing secrets."""
    s = Settings()
    table = Table(title="coach doctor", show_header=True)
    table.add_column("area")
    table.add_column("setting")
    table.add_column("value")
    table.add_row("python", "version", platform.python_version())
    table.add_row("database", "file", str(s.database_path))
    table.add_row("database", "index", str(s.index_path))
    table.add_row("claude", "ANTHROPIC_API_KEY", mask(s.anthropic_api_key))
    table.add_row("claude", "COACH_MODEL", s.model)
    table.add_row("claude", "brain in use", s.brain_name)
    table.add_row("slack", "SLACK_BOT_TOKEN", mask(s.slack_bot_token))
    table.add_row("slack", "SLACK_SIGNING_SECRET", mask(s.slack_signing_secret))
    table.add_row("slack", "SLACK_APP_TOKEN (Socket Mode)", mask(s.slack_app_token))
    table.add_row("teams", "MicrosoftAppId", s.teams_app_id or "not set (auth off, Emulator mode)")
    table.add_row("teams", "MicrosoftAppPassword", mask(s.teams_app_password))
    table.add_row("teams", "MicrosoftAppTenantId", s.teams_tenant_id or "not set")
    try:
        course = load_course(s.knowledge_dir)
        summary = (
            f"ok: {len(course.lessons)} lessons, {len(course.questions)} questions, {len(course.labs)} labs"
        )
    except KnowledgeError as exc:
        summary = f"{len(exc.problems)} problem(s): run `coach knowledge check`"
    table.add_row("knowledge", "content", summary)
    out.print(table)


@knowledge_app.command("check")
def knowledge_check(
    path: Annotated[
        Path | None, typer.Option("--dir", help="Content folder (default: the packaged course).")
    ] = None,
) -> None:
    """Validate every knowledge file; print each problem as `file: field: message`."""
    try:
        course = load_course(path or Settings().knowledge_dir)
    except KnowledgeError as exc:
        for problem in exc.problems:
            out.print(str(problem), highlight=False, markup=False)
        raise fail(f"{len(exc.problems)} problem(s)") from None
    out.print(
        f"ok: {len(course.lessons)} lessons, {len(course.readings)} supplementary readings, "
        f"{len(course.quizzes)} quizzes ({len(course.questions)} questions), {len(course.labs)} labs"
    )


@knowledge_app.command("list")
def knowledge_list() -> None:
    """List the lessons, readings, quizzes and labs that are loaded."""
    course = runtime().course
    table = Table(show_header=True)
    for col in ("kind", "id", "title", "contents"):
        table.add_column(col)
    for doc in course.lessons + course.readings:
        kind = f"lesson {doc.number}" if doc.kind == "lesson" else "supplementary"
        table.add_row(
            kind, doc.id, doc.title, f"{len(doc.sections)} sections, {len(doc.key_terms)} key terms"
        )
    for quiz in course.quizzes.values():
        extra = f", pass {quiz.pass_mark:.0%}" if quiz.pass_mark else ""
        table.add_row(
            quiz.kind.replace("_", " "), quiz.id, quiz.title, f"{len(quiz.questions)} questions{extra}"
        )
    for lab in sorted(course.labs.values(), key=lambda lab: lab.number):
        table.add_row(
            f"lab {lab.number}", lab.id, lab.title, f"{lab.coach_name}, {len(lab.rubric)} rubric points"
        )
    out.print(table)


@app.command()
def index() -> None:
    """Build the search index now (it is also built on first use and whenever the course changes)."""
    rt = runtime()
    idx = rt.index
    state = "built" if idx.rebuilt else "up to date"
    out.print(f"index {state}: {idx.chunk_count} chunks in {idx.path}")


def _print_result(result, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
        return
    if not result.grounded:
        out.print(
            "[yellow]The lessons do not cover this.[/yellow]" + (" Closest passages:" if result.hits else "")
        )
    for n, hit in enumerate(result.hits, start=1):
        out.print(
            f"[bold]{n}. {hit.label}[/bold]  [dim]{hit.id}  score {hit.score:.2f}[/dim]", highlight=False
        )
        text = hit.text if len(hit.text) <= 400 else hit.text[:400].rsplit(" ", 1)[0] + " …"
        out.print(f"   {text}", highlight=False, markup=False)


@app.command()
def search(
    query: Annotated[
        str | None, typer.Argument(help="What to look for; leave out for an interactive prompt.")
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="How many hits.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Search the course text; says when the lessons do not cover the question."""
    idx = runtime().index
    if query is not None:
        _print_result(idx.search(query, k=k), as_json)
        return
    out.print("Search the course. An empty line or Ctrl-D quits.")
    while True:
        try:
            line = input("search> ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not line:
            break
        _print_result(idx.search(line, k=k), as_json)


@eval_app.command("retrieval")
def eval_retrieval(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Recall@1, recall@3, MRR and off-topic rejection on knowledge/eval/retrieval.yaml."""
    from knowledge.evaluation import evaluate, load_eval_set

    report = evaluate(runtime().index, load_eval_set())
    if as_json:
        sys.stdout.write(json.dumps(report.to_json()) + "\n")
        return
    table = Table(title="retrieval evaluation")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_row("questions", str(report.questions), ">= 40")
    table.add_row("recall@1", f"{report.recall_at_1:.3f}", "")
    table.add_row("recall@3", f"{report.recall_at_3:.3f}", ">= 0.900")
    table.add_row("MRR", f"{report.mrr:.3f}", "")
    table.add_row("on-topic grounded", f"{report.on_topic_grounded:.3f}", "")
    table.add_row("off-topic rejected", f"{report.off_topic_rejected}/{report.off_topic}", ">= 9/10")
    out.print(table)
    for question, got in report.misses:
        out.print(f"[dim]miss: {question} → {', '.join(got)}[/dim]", highlight=False)


@bench_app.command("retrieval")
def bench_retrieval_cmd(
    rounds: Annotated[int, typer.Option(min=1, help="Passes over the evaluation queries.")] = 20,
    scale: Annotated[str, typer.Option(help="Corpus sizes to compare, as multiples of the course.")] = "1,20",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """p50/p99 query time of our FTS5 index vs a rank-bm25 baseline, same chunks and queries, same run."""
    from knowledge.evaluation import bench_retrieval, load_eval_set, scaled_chunks
    from knowledge.retrieval import Index

    rt = runtime()
    eval_set = load_eval_set()
    rows = []
    for copies in (int(x) for x in scale.split(",")):
        idx = rt.index if copies == 1 else Index(":memory:", rt.course, scaled_chunks(rt.index, copies))
        ours, baseline = bench_retrieval(idx, eval_set, rounds=max(1, rounds // copies))
        rows.append(
            {
                "chunks": idx.chunk_count,
                "ours_p50_ms": ours.p50_ms,
                "ours_p99_ms": ours.p99_ms,
                "baseline_p50_ms": baseline.p50_ms,
                "baseline_p99_ms": baseline.p99_ms,
                "speedup_p50": baseline.p50_ms / ours.p50_ms,
                "queries": ours.runs,
            }
        )
    if as_json:
        sys.stdout.write(json.dumps({"retrieval": rows}) + "\n")
        return
    machine = f"{platform.machine()}, Python {platform.python_version()}"
    table = Table(title=f"retrieval speed ({machine})")
    for col in (
        "chunks",
        "queries",
        "fts5 p50",
        "fts5 p99",
        "rank-bm25 p50",
        "rank-bm25 p99",
        "speed-up (p50)",
    ):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            str(r["chunks"]),
            str(r["queries"]),
            f"{r['ours_p50_ms']:.3f} ms",
            f"{r['ours_p99_ms']:.3f} ms",
            f"{r['baseline_p50_ms']:.3f} ms",
            f"{r['baseline_p99_ms']:.3f} ms",
            f"{r['speedup_p50']:.1f}x",
        )
    out.print(table)
    out.print("goal: fts5 p50 under 1 ms and at least 10x faster than rank-bm25")


def _logging(verbose: bool) -> None:
    from bot.logs import setup

    setup(Settings(), verbose)


@app.command()
def shell(
    user: Annotated[str, typer.Option("--user", help="Who you are in this chat.")] = "me",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens to stderr.")] = False,
) -> None:
    """Chat with the coach in this terminal: labs, quizzes, drill, progress and questions."""
    import asyncio

    from adapters.console import shell as run_shell

    _logging(verbose)
    rt = runtime()
    rt.index  # noqa: B018 - build the index before the first message

    async def main() -> None:
        async with rt.coach() as coach:
            await run_shell(coach, user, out)

    asyncio.run(main())


@app.command()
def replay(
    script: Annotated[Path, typer.Argument(help='JSONL turns: {"user", "text"} or {"user", "action"}.')],
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON lines (the only format; kept for clarity).")
    ] = True,
) -> None:
    """Run scripted turns through the coach and print one JSON line per reply."""
    import asyncio

    from adapters.console import replay as run_replay

    _logging(False)
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


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="A question about the lessons.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Ask one question; the answer cites the lessons or says they do not cover it."""
    import asyncio
    import uuid

    from adapters.console import inbound, render

    _logging(False)
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


@app.command()
def serve(
    port: Annotated[int | None, typer.Option(help="Port (default: $PORT or 3978).")] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "0.0.0.0",
) -> None:
    """Serve Slack (/slack/events or Socket Mode), Teams (/api/messages) and /healthz from one web server.

    Teams needs MicrosoftAppId; COACH_TEAMS_EMULATOR=1 serves it unauthenticated, on 127.0.0.1 only."""
    import asyncio

    from bot.server import serve as run_server

    _logging(True)
    rt = runtime()
    try:
        rt.admin  # noqa: B018 - COACH_MANAGERS is checked before anything listens
    except ValueError as exc:
        raise fail(str(exc)) from None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_server(rt, host, port))


slack_cli = typer.Typer(help="Slack app set-up.", no_args_is_help=True)
app.add_typer(slack_cli, name="slack")


@slack_cli.command("manifest")
def slack_manifest(
    url: Annotated[
        str | None, typer.Option(help="Your public base URL, e.g. https://coach.example.com")
    ] = None,
    socket_mode: Annotated[
        bool, typer.Option("--socket-mode", help="No public URL: use Socket Mode.")
    ] = False,
) -> None:
    """Print the Slack app manifest to paste into "Create New App → From an app manifest"."""
    import yaml

    from adapters.slack import manifest

    sys.stdout.write(yaml.safe_dump(manifest(url, socket_mode), sort_keys=False, allow_unicode=True))


teams_cli = typer.Typer(help="Teams app set-up.", no_args_is_help=True)
app.add_typer(teams_cli, name="teams")


@teams_cli.command("package")
def teams_package(
    out: Annotated[Path, typer.Option("--out", help="Where to write the zip.")] = Path(
        "data/coach-teams.zip"
    ),
    website: Annotated[str, typer.Option(help="Your https site (privacy and terms pages under it).")] = (
        "https://example.com/coach"
    ),
) -> None:
    """Zip the Teams app package (manifest.json with MicrosoftAppId as bot id, color.png, outline.png)."""
    from adapters.teams import PLACEHOLDER_ID, package

    settings = Settings()
    path = package(out, settings.teams_app_id, website)
    if not settings.teams_app_id:
        err.print(
            f"[yellow]MicrosoftAppId is not set: the bot id is the placeholder {PLACEHOLDER_ID}[/yellow]"
        )
    typer.echo(f"wrote {path}: upload it in Teams under Apps → Manage your apps → Upload an app")


def _senders(rt: Runtime) -> dict:
    """Delivery channels for nudges and digests, from the settings."""
    from adapters.slack.sender import SlackSender, make_client
    from adapters.teams.bot import TeamsSender, make_adapter

    s = rt.settings
    senders: dict = {"teams": TeamsSender(make_adapter(s), s.teams_app_id, rt.store)}
    if s.slack_bot_token and s.slack_bot_token.get_secret_value():
        senders["slack"] = SlackSender(make_client(s.slack_bot_token.get_secret_value(), s.slack_api_url))
    return senders


@app.command()
def clock(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between passes.")] = 30.0,
) -> None:
    """Run due weekly nudges and manager digests (Procfile `clock`). Safe to run twice at once."""
    import asyncio

    from bot.dispatch import Dispatcher

    _logging(True)
    rt = runtime()
    dispatcher = Dispatcher(rt.nudges, rt.course, _senders(rt), clock=rt.deps.clock)
    if once:
        result = asyncio.run(dispatcher.tick())
        out.print(
            f"planned {result.planned}, sent {result.sent}, failed {result.failed}, "
            f"to retry {result.retried}, digests {result.digests}"
        )
        return
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(dispatcher.run(interval))


def _as(who: str) -> tuple[str, str]:
    platform, _, user = who.partition(":")
    if not user:
        raise fail("--as needs platform:user, e.g. slack:U012ABC")
    return platform, user


@app.command()
def nudges(
    words: Annotated[
        list[str], typer.Argument(help="e.g. weekly mon 09:00 Europe/Berlin for slack:U1,slack:U2")
    ],
    who: Annotated[str, typer.Option("--as", help="The manager you act as: platform:user.")],
) -> None:
    """Manage weekly nudges as a manager: weekly … for …, list, pause|resume|cancel|send-now ID."""
    import asyncio

    from bot.dispatch import Dispatcher
    from bot.messages import Inbound

    rt = runtime()
    platform, user = _as(who)
    dispatcher = Dispatcher(rt.nudges, rt.course, _senders(rt), clock=rt.deps.clock)
    rt.admin.send_now = dispatcher.deliver_pending
    text = "nudges " + " ".join(words).replace(",", " ")
    replies = asyncio.run(rt.admin.handle(Inbound(platform, user, f"cli:{who}", text), operator=True))
    for reply in replies:
        out.print(reply.text, highlight=False, markup=False)


@app.command()
def report(
    team: Annotated[str, typer.Option("--team", help="A nudge id or team name.")],
    png: Annotated[Path | None, typer.Option("--png", help="Also write the bar chart here.")] = None,
) -> None:
    """A team's latest weekly digest as a table (and optionally the chart as a PNG)."""
    from bot.report import build_report, report_png

    rt = runtime()
    chosen = [s for s in rt.nudges.schedules() if team.lower() in (s.id.lower(), s.team.lower())]
    if not chosen:
        raise fail(f"no team or nudge called {team!r}; see `coach nudges list --as …`")
    schedule = chosen[-1]
    weeks = rt.nudges.weeks(schedule.id)
    if not weeks:
        raise fail(f"no nudges have gone out to {schedule.team} yet")
    result = build_report(rt.store, rt.course, schedule, weeks[-1])
    table = Table(title=f"{schedule.team} · week of {weeks[-1]}")
    for col in ("member", "delivery", "answered", "right"):
        table.add_column(col)
    for m in result.members:
        table.add_row(m.name, m.status, f"{m.answered} of {m.asked}", str(m.correct))
    out.print(table)
    score = f"{round(100 * result.average_score)}%" if result.average_score is not None else "—"
    out.print(f"completion {round(100 * result.completion_rate)}% · average score {score}")
    for qid, right, answered in result.weakest_questions():
        out.print(f"weak: {qid} ({right} of {answered} right)")
    if png:
        png.write_bytes(report_png(result))
        out.print(f"chart written to {png}")


@bench_app.command("nudges")
def bench_nudges_cmd(
    members: Annotated[int, typer.Option(min=1, help="Team size.")] = 10_000,
    rounds: Annotated[int, typer.Option(min=1)] = 3,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Time to plan and enqueue a weekly nudge for a team, card selection included (goal: 10,000 < 2 s)."""
    from bot.benchmarks import bench_nudges

    result = bench_nudges(runtime().course, members, rounds)
    if as_json:
        sys.stdout.write(json.dumps({"nudges": result.to_json()}) + "\n")
        return
    out.print(
        f"planned {result.members:,} members ({result.cards:,} cards): median {result.median_s:.3f} s "
        f"(min {min(result.runs_s):.3f}, max {max(result.runs_s):.3f}, {len(result.runs_s)} runs); goal < 2 s"
    )


@bench_app.callback()
def bench_all(
    ctx: typer.Context,
    conversations: Annotated[int, typer.Option(help="Concurrent conversations through coach serve.")] = 200,
    members: Annotated[int, typer.Option(help="Team size for nudge planning.")] = 10_000,
    results: Annotated[Path, typer.Option(help="Where to write the JSON.")] = Path("bench/results.json"),
) -> None:
    """Run every benchmark, print a table with each goal, and write the figures as JSON."""
    if ctx.invoked_subcommand is not None:
        return
    import asyncio

    from bot.bench import run_all

    rt = runtime()
    rt.index  # noqa: B018 - build it before measuring
    figures = asyncio.run(run_all(rt, conversations, members))
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    out.print(bench_table(figures))
    out.print(f"[dim]{figures['machine']} · written to {results}[/dim]", highlight=False)


def bench_table(f: dict) -> Table:
    table = Table(title="coach bench")
    for col in ("what", "measured", "goal", "met"):
        table.add_column(col)

    def row(what: str, measured: str, goal: str = "", met: bool | None = None) -> None:
        table.add_row(what, measured, goal, "" if met is None else ("yes" if met else "NO"))

    for r in f["retrieval"]:
        row(
            f"retrieval p50 / p99, {r['chunks']} chunks",
            f"FTS5 {r['fts5_p50_ms']:.3f} / {r['fts5_p99_ms']:.3f} ms · rank-bm25 {r['bm25_p50_ms']:.3f} / "
            f"{r['bm25_p99_ms']:.3f} ms · {r['speedup_p50']:.1f}x",
            "p50 < 1 ms, 10x",
            r["fts5_p50_ms"] < 1 and r["speedup_p50"] >= 10,
        )
    t = f["turns"]
    row(
        "offline turn p50 / p99",
        f"graph + checkpointer {t['graph_p50_ms']:.2f} / {t['graph_p99_ms']:.2f} ms · brain alone "
        f"{t['direct_p50_ms']:.2f} / {t['direct_p99_ms']:.2f} ms",
    )
    c = f["concurrency"]
    row(
        f"{c['conversations']} conversations, Claude {c['claude_s']:.0f} s: wall / Claude",
        f"{c['wall_over_claude']:.2f} ({c['wall_s']:.2f} s)",
        "< 1.5",
        c["wall_over_claude"] < 1.5,
    )
    row(
        "Slack ack p50 / p99",
        f"{c['slack_ack_p50_ms']:.1f} / {c['slack_ack_p99_ms']:.1f} ms",
        "p99 < 100 ms",
        c["slack_ack_p99_ms"] < 100,
    )
    row("Teams HTTP p99", f"{c['teams_http_p99_ms']:.1f} ms")
    row("errors", f"{c['errors']} ({c['answered']} of {c['conversations']} answered)", "0", c["errors"] == 0)
    rss = c["peak_rss_mb"]
    row("peak RSS of coach serve", f"{rss:.0f} MB" if rss else "n/a (no /proc)")
    n = f["nudges"]
    row(
        f"plan weekly nudge, {n['members']:,} members",
        f"{n['median_s']:.3f} s (min {n['min_s']:.3f}, max {n['max_s']:.3f})",
        "< 2 s",
        n["median_s"] < 2,
    )
    return table
