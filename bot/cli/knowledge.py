"""`coach knowledge check|list`, `coach index`, `coach search` and `coach eval retrieval`: the course
content, its search index, and how well retrieval finds the right passage."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bot.cli.common import fail, out, runtime
from bot.config import Settings
from knowledge.loader import KnowledgeError, load_course

knowledge_app = typer.Typer(help="Check and list the course content.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure quality.", no_args_is_help=True)


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
