"""How well the coach reads lab turns and runs labs, measured (`coach eval labs`).

Two measurements:
- **Labeled turns** (`knowledge/eval/labs-dev.jsonl`, `labs-heldout.jsonl`): each learner turn is
  labeled with the points it earns and at which level, or the misconception it shows, or nothing.
  Credit precision and recall count (turn, point) pairs; a misconception counts as detected when the
  assessor flags a misconception of the labeled point and gives that point no credit. The offline
  assessor is fitted on the knowledge files plus the dev split, so dev figures come from 5-fold
  cross-validation (each fold scored by a model that never saw it); held-out turns are never fitted
  on and never used to choose anything.
- **Persona runs** (`knowledge/eval/lab-personas.yaml`, dev; `lab-personas-heldout.yaml`, written
  before tuning by another voice and never tuned on): scripted learners talk to a real coach through
  the whole graph; we report final scores against each persona's expected range, replies repeated
  word for word, and whether every confidently wrong turn was answered with a correction and a
  citation.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from flows.assessment import DEV_SET, Assessment, Assessor, load_labeled, row_example
from knowledge.loader import Course

HELDOUT_SET = DEV_SET.parent / "labs-heldout.jsonl"
PERSONAS = DEV_SET.parent / "lab-personas.yaml"
HELDOUT_PERSONAS = DEV_SET.parent / "lab-personas-heldout.yaml"
FOLDS = 5
SEED = 13
# The final score each kind of learner should reach (inclusive); any other persona: 0-30%.
EXPECTED: dict[str, tuple[int, int]] = {"expert": (70, 100), "plain-spoken": (40, 85), "partial": (25, 65)}
WEAK = (0, 30)

Assess = Callable[[dict], Awaitable[Assessment]]


@dataclass
class TurnReport:
    split: str
    turns: int
    credit_precision: float
    credit_recall: float
    misconceptions: int
    misconceptions_detected: float
    level_agreement: float  # among correctly credited points, the share at the labeled level
    false_misconceptions: int  # turns flagged wrong that are not labeled wrong
    term_lists_credited: int
    errors: list[str] = field(default_factory=list)


@dataclass
class PersonaRun:
    lab: int
    persona: str
    score: int
    repeats: int  # coach replies identical to an earlier one in the same run
    wrong_turns: int
    corrected: int  # wrong turns answered with a correction and a citation
    transcript: list[tuple[str, str]] = field(default_factory=list)


async def score_turns(split: str, rows: list[dict], assess: Assess) -> TurnReport:
    tp = fp = fn = same_level = wrong = detected = false_wrong = listed = 0
    errors: list[str] = []
    for row in rows:
        got = await assess(row)
        predicted = {c.point: c.level for c in got.credits}
        gold: dict[str, str] = row.get("credits", {})
        for point, level in predicted.items():
            if point in gold:
                tp += 1
                same_level += level == gold[point]
            else:
                fp += 1
                errors.append(f"credited {point} ({level}): {row['text']}")
        for point in gold:
            if point not in predicted:
                fn += 1
                errors.append(f"missed {point}: {row['text']}")
        if row.get("misconception"):
            wrong += 1
            point = row["misconception"]
            if any(w.point == point for w in got.wrong) and point not in predicted:
                detected += 1
            else:
                errors.append(f"misconception of {point} not detected: {row['text']}")
        elif got.wrong:
            false_wrong += 1
            errors.append(f"flagged {got.wrong[0].misconception} wrongly: {row['text']}")
        if row.get("kind") == "term_list" and predicted:
            listed += 1
    return TurnReport(
        split,
        len(rows),
        tp / (tp + fp) if tp + fp else 1.0,
        tp / (tp + fn) if tp + fn else 1.0,
        wrong,
        detected / wrong if wrong else 1.0,
        same_level / tp if tp else 0.0,
        false_wrong,
        listed,
        errors,
    )


async def offline_turn_reports(course: Course) -> list[TurnReport]:
    """Dev by cross-validation, held-out by the assessor the coach runs with."""
    dev, heldout = load_labeled(DEV_SET), load_labeled(HELDOUT_SET)
    order = list(range(len(dev)))
    random.Random(SEED).shuffle(order)
    fold_of = {i: n % FOLDS for n, i in enumerate(order)}
    assessors = [
        Assessor(course.labs, [row_example(r) for i, r in enumerate(dev) if fold_of[i] != fold])
        for fold in range(FOLDS)
    ]
    index_of = {id(r): i for i, r in enumerate(dev)}

    async def dev_assess(row: dict) -> Assessment:
        return assessors[fold_of[index_of[id(row)]]].assess(course.lab(row["lab"]), row["text"])

    full = Assessor(course.labs)

    async def held_assess(row: dict) -> Assessment:
        return full.assess(course.lab(row["lab"]), row["text"])

    return [
        await score_turns("dev (5-fold)", dev, dev_assess),
        await score_turns("heldout", heldout, held_assess),
    ]


async def brain_turn_reports(course: Course, brain) -> list[TurnReport]:
    """The same turns read by another brain (Claude), each turn on its own."""
    from flows.brains.base import LabContext

    async def assess(row: dict) -> Assessment:
        lab = course.lab(row["lab"])
        ctx = LabContext(lab=lab, course=course, text=row["text"], levels={}, focus=None, history=[])
        return (await brain.lab_turn(ctx)).assessment

    return [
        await score_turns("dev", load_labeled(DEV_SET), assess),
        await score_turns("heldout", load_labeled(HELDOUT_SET), assess),
    ]


def load_personas(path: Path = PERSONAS) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


async def run_persona(course: Course, index, brain, script: dict) -> PersonaRun:
    """One scripted learner through the whole coach graph (router, lab flow, checkpoints, store),
    then `finish`."""
    from langgraph.checkpoint.memory import InMemorySaver

    from bot.messages import Inbound, Reply
    from bot.store import Store
    from flows.deps import Deps
    from flows.graph import build_graph

    graph = build_graph().compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "console:learner"}}
    with tempfile.TemporaryDirectory() as tmp:
        deps = Deps(course=course, index=index, store=Store(Path(tmp) / "coach.db"), brain=brain)

        async def say(text: str) -> list[Reply]:
            inbound = Inbound(platform="console", user="learner", conversation="console:learner", text=text)
            result = await graph.ainvoke(
                {"inbound": inbound.to_dict(), "replies": [], "intent": {}}, config=config, context=deps
            )
            return [Reply.from_dict(r) for r in result.get("replies", [])]

        transcript: list[tuple[str, str]] = []
        wrong_turns = corrected = 0
        await say(f"lab {script['lab']}")
        for text in [*script["turns"], "finish"]:
            replies = await say(text)
            said = "\n".join(r.text for r in replies)
            transcript.append((text, said))
            if script["persona"] == "confidently-wrong" and text != "finish":
                wrong_turns += 1
                reply = replies[-1] if replies else None
                corrected += bool(
                    reply and "correct one thing" in reply.text and reply.citations and "[1]" in reply.text
                )
        runs = deps.store.lab_runs("console:learner")
        deps.store.close()
    score = round(runs[-1]["score"] or 0) if runs and runs[-1]["finished_at"] else 0
    coach_lines = [said for _, said in transcript if "Debrief" not in said]
    repeats = len(coach_lines) - len(set(coach_lines))
    return PersonaRun(script["lab"], script["persona"], score, repeats, wrong_turns, corrected, transcript)


async def persona_runs(course: Course, index, brain, path: Path = PERSONAS) -> list[PersonaRun]:
    return [await run_persona(course, index, brain, script) for script in load_personas(path)]


def expected(persona: str) -> tuple[int, int]:
    return EXPECTED.get(persona, WEAK)


def passes(run: PersonaRun) -> bool:
    """The final score is in the persona's expected range (experts 70%+, plain-spoken 40-85%, partial
    25-65%, everyone else 30% or less); no reply is repeated; every wrong turn is corrected."""
    low, high = expected(run.persona)
    return low <= run.score <= high and run.repeats == 0 and run.corrected == run.wrong_turns


def to_json(turns: list[TurnReport], personas: list[PersonaRun], heldout: list[PersonaRun]) -> dict:
    return {
        "turns": [
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(t).items() if k != "errors"}
            for t in turns
        ],
        "personas": [_run_json(r) for r in personas],
        "heldout_personas": [_run_json(r) for r in heldout],
    }


def _run_json(run: PersonaRun) -> dict:
    return {k: v for k, v in asdict(run).items() if k != "transcript"} | {"passes": passes(run)}
