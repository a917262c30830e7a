"""`coach knowledge check|list`, `coach index`, `coach search` and `coach eval retrieval|qa|quiz`: the
course content (and its fidelity to the seed text), its search index, how well retrieval finds the right
passage, how well questions are answered, and what guessing scores on the quizzes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from bot.cli.common import fail, out, runtime

if TYPE_CHECKING:
    from flows.deps import Deps

knowledge_app = typer.Typer(help="Check and list the course content.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure quality.", no_args_is_help=True)


def course_dir(path: Path | None) -> Path:
    from bot.config import Settings
    from knowledge.loader import CONTENT_DIR

    return path or Settings().knowledge_dir or CONTENT_DIR


@knowledge_app.command("check")
def knowledge_check(
    path: Annotated[
        Path | None, typer.Option("--dir", help="Content folder (default: the packaged course).")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 on item-writing warnings too.")] = False,
) -> None:
    """Validate every knowledge file; print each problem as `file: field: message`, then warnings about
    quiz items a learner could pass without the knowledge (shared answer keys, a right option that is
    the longest by a wide margin, options worded like the wrong concept)."""
    from bot.config import Settings
    from knowledge.loader import KnowledgeError, load_course

    try:
        course = load_course(path or Settings().knowledge_dir)
    except KnowledgeError as exc:
        for problem in exc.problems:
            out.print(str(problem), highlight=False, markup=False)
        raise fail(f"{len(exc.problems)} problem(s)") from None
    from knowledge.items import item_warnings

    warnings = item_warnings(course)
    for warning in warnings:
        out.print(f"warning: {warning}", highlight=False, markup=False, soft_wrap=True)
    out.print(
        f"ok: {len(course.lessons)} lessons, {len(course.readings)} supplementary readings, "
        f"{len(course.quizzes)} quizzes ({len(course.questions)} questions), {len(course.labs)} labs"
        + (f"; {len(warnings)} item-writing warning(s)" if warnings else "")
    )
    if warnings and strict:
        raise typer.Exit(1)
    from knowledge.fidelity import SEEDS_DIR, check_fidelity

    if path is None and SEEDS_DIR.is_dir():
        fidelity = check_fidelity(SEEDS_DIR, course_dir(path))
        for problem in fidelity.problems:
            out.print(str(problem), highlight=False, markup=False)
        if fidelity.problems:
            raise fail(f"{len(fidelity.problems)} seed sentence(s) missing from the course files")
        out.print(
            f"ok: fidelity to {SEEDS_DIR}: {fidelity.checked} seed sentences, "
            f"{fidelity.removed} deliberately removed (knowledge/removed.yaml)"
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


@eval_app.command("quiz")
def eval_quiz(
    learners: Annotated[
        int, typer.Option(min=1, help="Learners per guesser (each sees their own order).")
    ] = 4,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What a learner who knows nothing scores on all 31 questions by guessing from the screen (longest
    option, always the same letter; held out: shortest option, most words from the stem) or by
    retaking every quiz with the letters of the last attempt, or by asking the coach each question
    first, through the real quiz flow in a private, offline database, and how many pass the module
    test; and the answer-key figures of the course files."""
    import asyncio
    import tempfile

    from adapters.console import replay
    from bot.conversation import Coach
    from bot.store import Store
    from flows.brains.offline import OfflineBrain
    from flows.deps import Deps
    from knowledge.evaluation import quiz_guessers
    from knowledge.items import key_report
    from knowledge.retrieval import Index

    course = runtime().course
    with tempfile.TemporaryDirectory() as tmp:
        deps = Deps(course, Index(":memory:", course), Store(Path(tmp) / "coach.db"), OfflineBrain())

        async def main():
            async with Coach.open(deps, Path(tmp) / "checkpoints.db") as coach:
                return await quiz_guessers(coach, replay, learners)

        scores = asyncio.run(main())
        deps.store.close()
    keys = key_report(course)
    figures = {
        "questions": keys.questions,
        "key_letters": keys.letters,
        "lesson_quiz_keys": keys.lesson_keys,
        "right_option_longest": keys.right_longest,
        "right_option_longest_by_wide_margin": keys.wide_margin,
        "guessers": [
            {
                "guesser": g.guesser,
                "split": g.split,
                "right": g.right,
                "asked": g.asked,
                "share": round(g.share, 3),
                "best_learner": round(g.best_learner, 3),
                "passed_module_test": g.passed,
                "pass_rate": round(g.pass_rate, 3),
            }
            for g in scores
        ],
    }
    if as_json:
        sys.stdout.write(json.dumps(figures) + "\n")
        return
    table = Table(title=f"quiz guessers ({learners} learner(s) each, all {keys.questions} questions)")
    for col in ("guesser", "split", "right", "share", "best learner", "passed the test"):
        table.add_column(col)
    for g in scores:
        table.add_row(
            g.guesser,
            g.split,
            f"{g.right} of {g.asked}",
            f"{g.share:.0%}",
            f"{g.best_learner:.0%}",
            f"{g.passed} of {g.learners} ({g.pass_rate:.0%})",
        )
    out.print(table)
    letters = ", ".join(f"{k} {v}" for k, v in keys.letters.items())
    out.print(f"keys by letter: {letters}")
    out.print("lesson quiz keys: " + ", ".join(f"{q} {k}" for q, k in keys.lesson_keys.items()))
    out.print(
        f"right option the longest: {keys.right_longest} of {keys.questions}; "
        f"by a wide margin: {', '.join(keys.wide_margin) or 'none'}"
    )


@eval_app.command("qa")
def eval_qa(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    misses: Annotated[bool, typer.Option("--misses", help="List every miss of the dev split.")] = False,
    cv: Annotated[
        bool, typer.Option("--cv", help="Cross-validate the answer-or-decline thresholds on dev (only).")
    ] = False,
    probe: Annotated[
        bool,
        typer.Option("--probe", help="Ask dev's questions reworded (frames, case, typos, other companies)."),
    ] = False,
    fit: Annotated[
        bool, typer.Option("--fit", help="Fit the learned answer-or-decline decision on dev (only).")
    ] = False,
) -> None:
    """Complete answers, citation accuracy, refusals and recall@3 per split (knowledge/eval/qa-*.yaml).

    dev is qa-dev.yaml … qa-dev9.yaml; the heldout splits are never tuned on."""
    import asyncio

    from flows.qa_eval import evaluate_split, splits

    deps = runtime().deps
    if cv:
        _cross_validate_qa(deps, as_json)
        return
    if probe:
        _probe_qa(deps, as_json)
        return
    if fit:
        from flows.qa_fit import write_model

        model = write_model(deps)
        out.print(f"wrote knowledge/decision.json: {len(model.names)} signals, threshold {model.threshold}")
        return

    async def main() -> list:
        return [await evaluate_split(deps, split) for split in splits()]

    reports = asyncio.run(main())
    if as_json:
        payload = {r.split: r.figures() for r in reports} | {"brain": deps.brain.name}
        sys.stdout.write(json.dumps(payload) + "\n")
        return
    targets = {
        "complete_answers": ">= 0.85",
        "off_topic_declined": ">= 0.90",
        "covered_wrongly_refused": "<= 0.05",
        "recall@3": ">= 0.95",
    }
    table = Table(title=f"Q&A evaluation ({deps.brain.name} brain)")
    table.add_column("metric")
    for r in reports:
        table.add_column(r.split, justify="right")
    table.add_column("target (heldout)", justify="right")
    for metric in reports[0].figures():
        table.add_row(metric, *(str(r.figures()[metric]) for r in reports), targets.get(metric, ""))
    out.print(table)
    if misses:
        for miss in reports[0].misses:
            out.print(f"[dim]{miss}[/dim]", highlight=False, markup=False)


def _probe_qa(deps: Deps, as_json: bool) -> None:
    """Dev's questions reworded: covered ones refused, off-topic ones answered (see flows/qa_probe.py)."""
    import asyncio

    from flows.qa_probe import probe

    found = asyncio.run(probe(deps))
    if as_json:
        payload = {
            p.rewrite: {"covered_refused": p.covered_refused, "uncovered_answered": p.uncovered_answered}
            for p in found
        }
        sys.stdout.write(json.dumps(payload) + "\n")
        return
    table = Table(title="Answer-or-decline on reworded dev questions")
    for column in ("rewrite", "covered refused", "off-topic answered"):
        table.add_column(column, justify="left" if column == "rewrite" else "right")
    for p in found:
        shown = [
            "—" if figure is None else str(figure) for figure in (p.covered_refused, p.uncovered_answered)
        ]
        table.add_row(p.rewrite, *shown)
    out.print(table)


def _cross_validate_qa(deps: Deps, as_json: bool) -> None:
    """The shipped thresholds' dev figures beside 5-fold cross-validated ones (see flows/qa_cv.py), and
    the rules beside the learned decision with one dev file left out (flows/qa_fit.py)."""
    from flows.qa_cv import cases, cross_validate, shipped
    from flows.qa_fit import dev_samples, leave_one_file_out

    found = cases(deps)
    rows = {
        "shipped thresholds, dev (tuned on it)": shipped(found),
        "5-fold CV on dev, x3": cross_validate(found),
    }
    folds = leave_one_file_out(dev_samples(deps))
    if as_json:
        payload = {
            name: {"wrongly_refused": r.wrongly_refused, "off_topic_declined": r.off_topic_declined}
            for name, r in rows.items()
        }
        payload["leave_one_file_out"] = {
            f.judged: {
                kind: {"wrongly_refused": r.wrongly_refused, "off_topic_declined": r.off_topic_declined}
                for kind, r in (("rules", f.rules), ("learned", f.model))
            }
            for f in folds
        }
        sys.stdout.write(json.dumps(payload) + "\n")
        return
    table = Table(title="Answer-or-decline thresholds: dev cross-validation")
    for column in ("", "covered wrongly refused", "off-topic declined"):
        table.add_column(column, justify="right" if column else "left")
    for name, r in rows.items():
        table.add_row(name, str(r.wrongly_refused), str(r.off_topic_declined))
    out.print(table)
    table = Table(
        title="Leave one dev file out: the rules (tuned on every file: optimistic) and the learned "
        "decision (fitted on the other files)"
    )
    for column in ("judged", "rules: refused", "rules: declined", "learned: refused", "learned: declined"):
        table.add_column(column, justify="right" if column != "judged" else "left")
    for f in folds:
        table.add_row(
            f.judged, *(str(v) for r in (f.rules, f.model) for v in (r.wrongly_refused, r.off_topic_declined))
        )
    out.print(table)
