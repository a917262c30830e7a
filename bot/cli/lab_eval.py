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
    key = settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else ""
    if not key:
        raise fail("--brain claude needs ANTHROPIC_API_KEY")
    from flows.brains.claude import ClaudeBrain

    return ClaudeBrain(
        api_key=key,
        model=settings.model,
        base_url=settings.anthropic_base_url,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
    )


def eval_labs(
    brain: Annotated[
        Literal["offline", "claude"], typer.Option(help="Which coach reads the turns.")
    ] = "offline",
    as_json: Annotated[bool, typer.Option("--json")] = False,
    errors: Annotated[bool, typer.Option("--errors", help="List the dev turns read wrongly.")] = False,
) -> None:
    """Credit precision/recall, misconception detection and level agreement on the labeled lab turns
    (dev by 5-fold cross-validation, held-out never fitted on), and scripted persona runs (expert,
    novice, keyword-stuffer, confidently wrong, off-track × 4 labs): final score, replies repeated
    word for word, wrong turns corrected with a citation."""
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
            finally:
                await claude.aclose()
        else:
            turns = await ev.offline_turn_reports(course)
            personas = await ev.persona_runs(course, index, OfflineBrain())
        return turns, personas

    turns, personas = asyncio.run(measure())
    if as_json:
        sys.stdout.write(json.dumps({"brain": brain, **ev.to_json(turns, personas)}) + "\n")
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
    runs = Table(title="persona runs (expert ≥ 70%, others ≤ 30%)")
    for col in ("lab", "persona", "score", "repeats", "corrected", "ok"):
        runs.add_column(col)
    for r in personas:
        corrected = f"{r.corrected}/{r.wrong_turns}" if r.wrong_turns else "—"
        runs.add_row(
            str(r.lab), r.persona, f"{r.score}%", str(r.repeats), corrected, "yes" if ev.passes(r) else "NO"
        )
    out.print(runs)
    if errors:
        for t in turns:
            if not t.split.startswith("heldout"):
                for line in t.errors:
                    out.print(f"[dim]{t.split}: {line}[/dim]", highlight=False, markup=False)
