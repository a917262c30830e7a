"""Scripted learners through whole labs with the offline coach (knowledge/eval/lab-personas.yaml):
experts finish at 70% or more; novices, keyword-stuffers, confidently wrong and off-track learners
at 30% or less; no coach reply is sent twice in a run; every confidently wrong turn is answered with
its correction and a citation. And the labeled held-out turns meet the issue's targets."""

from __future__ import annotations

import pytest

from flows.assessment import load_labeled
from flows.brains.offline import OfflineBrain, assessor_for
from flows.lab_evaluation import HELDOUT_SET, load_personas, passes, run_persona, score_turns
from knowledge.loader import Course

SCRIPTS = load_personas()


@pytest.mark.parametrize("script", SCRIPTS, ids=[f"lab{s['lab']}-{s['persona']}" for s in SCRIPTS])
async def test_persona_finishes_where_it_should(course: Course, index, script: dict):
    run = await run_persona(course, index, OfflineBrain(), script)
    assert passes(run), (run.score, run.repeats, run.corrected, run.wrong_turns, run.transcript[-1][1][:400])


async def test_heldout_turns_meet_the_targets(course: Course):
    assessor = assessor_for(course)

    async def assess(row: dict):
        return assessor.assess(course.lab(row["lab"]), row["text"])

    report = await score_turns("heldout", load_labeled(HELDOUT_SET), assess)
    assert report.turns >= 120
    assert report.credit_precision >= 0.90
    assert report.credit_recall >= 0.75
    assert report.misconceptions_detected >= 0.80
    assert report.term_lists_credited == 0


def test_eval_labs_with_claude_needs_a_key(coach_env: dict[str, str]):
    from tests.conftest import coach_cli

    result = coach_cli("eval", "labs", "--brain", "claude", env=coach_env)
    assert (
        result.returncode == 1 and "ANTHROPIC_API_KEY" in result.stderr and "Traceback" not in result.stderr
    )


def test_the_heldout_personas_cover_every_lab_apart_from_the_dev_ones():
    from flows.lab_evaluation import HELDOUT_PERSONAS, PERSONAS

    heldout = load_personas(HELDOUT_PERSONAS)
    kinds = {(s["lab"], s["persona"]) for s in heldout}
    assert {(n, p) for n in (1, 2, 3, 4) for p in ("plain-spoken", "partial")} <= kinds
    dev_turns = {t for s in load_personas(PERSONAS) for t in s["turns"]}
    assert not dev_turns & {t for s in heldout for t in s["turns"]}
