"""`coach eval labs`: how well the coach reads lab turns (labeled dev and held-out turns) and how scripted
learners fare in whole labs (see flows/lab_evaluation.py)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated, Literal

import typer
from rich.table import Table

from bot.cli.common import fail, out, runtime

TARGETS = {"heldout": {"precision": 0.90, "recall": 0.75, "misconceptions": 0.80}}


def _claude_brain(rt):
    settings = rt.settings
    if not (settings.anthropic_api_key and settings.anthropic_api_key.get_secret_value()):
        raise fail("--brain claude needs ANTHROPIC_API_KEY")
    from flows.brains import claude_brain

    return claude_brain(settings)


def eval_labs(
    brain: Annotated[
        Literal["offline", "claude"], typer.Option(help="Which coach reads the turns.")
    ] = "offline",
    as_json: Annotated[bool, typer.Option("--json")] = False,
    errors: Annotated[bool, typer.Option("--errors", help="List the dev turns read wrongly.")] = False,
) -> None:
    """Credit precision/recall, misconception detection and level agreement on the labeled lab turns
    (dev by 5-fold cross-validation, held-out never fitted on), and scripted persona runs, dev and
    held-out (expert, plain-spoken, partial, novice, keyword-stuffer, confidently wrong, off-track):
    final score against the persona's expected range, replies repeated word for word, wrong turns
    corrected with a citation."""
    from flows import lab_evaluation as ev
    from flows.brains.offline import OfflineBrain

    rt = runtime()
    course, index = rt.course, rt.index

    async def measure():
        if brain == "claude":
            claude = _claude_brain(rt)
            try:
                turns = await ev.brain_turn_reports(course, claude)
                personas = await ev.persona_runs(course, index, claude)
                heldout = await ev.persona_runs(course, index, claude, ev.HELDOUT_PERSONAS)
            finally:
                await claude.aclose()
        else:
            offline = OfflineBrain()
            turns = await ev.offline_turn_reports(course)
            personas = await ev.persona_runs(course, index, offline)
            heldout = await ev.persona_runs(course, index, offline, ev.HELDOUT_PERSONAS)
        return turns, personas, heldout

    turns, personas, heldout = asyncio.run(measure())
    if as_json:
        sys.stdout.write(json.dumps({"brain": brain, **ev.to_json(turns, personas, heldout)}) + "\n")
        return
    table = Table(title=f"lab turns ({brain})")
    for col in ("split", "turns", "precision", "recall", "misconceptions", "levels", "false wrong", "lists"):
        table.add_column(col, justify="right")
    for t in turns:
        target = TARGETS.get(t.split, {})
        table.add_row(
            t.split,
            str(t.turns),
            f"{t.credit_precision:.3f}" + (f" (≥{target['precision']})" if target else ""),
            f"{t.credit_recall:.3f}" + (f" (≥{target['recall']})" if target else ""),
            f"{t.misconceptions_detected:.3f} of {t.misconceptions}"
            + (f" (≥{target['misconceptions']})" if target else ""),
            f"{t.level_agreement:.3f}",
            str(t.false_misconceptions),
            str(t.term_lists_credited),
        )
    out.print(table)
    for title, group in (
        ("persona runs (dev)", personas),
        ("persona runs (held-out, never tuned on)", heldout),
    ):
        out.print(_persona_table(ev, title, group))
    if errors:
        for t in turns:
            if not t.split.startswith("heldout"):
                for line in t.errors:
                    out.print(f"[dim]{t.split}: {line}[/dim]", highlight=False, markup=False)


def _persona_table(ev, title: str, runs: list) -> Table:
    table = Table(title=f"{title}: {sum(map(ev.passes, runs))} of {len(runs)} in range")
    for col in ("lab", "persona", "score", "expected", "repeats", "corrected", "ok"):
        table.add_column(col)
    for r in runs:
        low, high = ev.expected(r.persona)
        corrected = f"{r.corrected}/{r.wrong_turns}" if r.wrong_turns else "—"
        table.add_row(
            str(r.lab),
            r.persona,
            f"{r.score}%",
            f"{low}-{high}%",
            str(r.repeats),
            corrected,
            "yes" if ev.passes(r) else "NO",
        )
    return table
