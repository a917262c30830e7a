"""The lab flow: one data-driven Socratic exercise for all four labs.

The brain assesses each learner turn against the lab's rubric and words the next probe; this module
keeps the score: it merges coverage, counts stalls, attaches the lesson citation behind every nudge,
stores progress after every turn and decides when to debrief.
"""

from __future__ import annotations

from datetime import datetime

from bot.messages import Action, Choice, Citation, Inbound, Reply
from bot.store import new_id, now_iso
from flows.brains.base import LabContext
from flows.brains.offline import in_sentence
from flows.deps import Deps
from flows.state import CoachState, LabState
from knowledge.schema import Lab, RubricPoint

HISTORY_KEPT = 12
LAB_BUTTONS = (("Hint", "hint"), ("What am I missing?", "what am I missing"), ("Finish", "finish"))


def lab_buttons() -> list[Choice]:
    return [Choice(label, Action("command", command)) for label, command in LAB_BUTTONS]


def lab_menu(deps: Deps) -> Reply:
    labs = sorted(deps.course.labs.values(), key=lambda lab: lab.number)
    lines = [f"• *Lab {lab.number}* · {lab.title} — {lab.subtitle}" for lab in labs]
    choices = [Choice(f"Lab {lab.number}", Action("command", f"lab {lab.number}")) for lab in labs]
    return Reply("Which lab? Say *lab 1* to *lab 4*.\n" + "\n".join(lines), choices=choices)


def start(state: CoachState, deps: Deps, inbound: Inbound, number: int | None) -> dict:
    lab = deps.course.lab(number) if number else None
    if lab is None:
        return {"replies": [lab_menu(deps).to_dict()]}
    now = deps.clock()
    resumed = _resume(deps, inbound.learner, lab)
    covered = resumed["covered"] if resumed else {}
    run = resumed["id"] if resumed else new_id()
    lab_state: LabState = {
        "id": lab.id,
        "run": run,
        "started_at": resumed["started_at"] if resumed else now_iso(now),
        "covered": covered,
        "turns": resumed["turns"] if resumed else 0,
        "focus": None,
        "stalls": 0,
        "hints": 0,
        "history": [{"role": "coach", "text": lab.opening_line}],
    }
    _save(deps, inbound.learner, lab, lab_state, finished=None)
    intro = (
        f"*Lab {lab.number} · {lab.title}* — with your _{lab.coach_name}_\n\n"
        f"*Scenario.* {lab.scenario}\n\n*Your task.* {lab.task}\n\n{lab.opening_line}"
    )
    if covered:
        areas = ", ".join(in_sentence(lab.point(pid).area) for pid in covered)
        intro += (
            f"\n\n_Welcome back: last time you covered {len(covered)} of {len(lab.rubric)} points ({areas})._"
        )
    return {
        "mode": "lab",
        "lab": lab_state,
        "quiz": None,
        "replies": [Reply(intro, choices=lab_buttons()).to_dict()],
    }


async def turn(state: CoachState, deps: Deps, inbound: Inbound, move: str) -> dict:
    """A learner answer ("answer") or a request for a stronger nudge ("hint")."""
    lab_state, lab = _current(state, deps)
    ctx = LabContext(
        lab=lab,
        course=deps.course,
        text=inbound.text,
        covered=dict(lab_state["covered"]),
        focus=lab_state["focus"],
        history=list(lab_state["history"]),
        move=move,  # type: ignore[arg-type]
        stalls=lab_state["stalls"],
    )
    result = await deps.brain.lab_turn(ctx)
    newly = {pid: ev for pid, ev in result.newly_covered.items() if lab.point(pid) and pid not in ctx.covered}
    covered = {**ctx.covered, **newly}
    focus = result.focus if result.focus and result.focus not in covered else _first_open(lab, covered)
    history = ctx.history
    if move == "answer":
        history.append({"role": "learner", "text": inbound.text})
    history.append({"role": "coach", "text": result.message})
    lab_state = {
        **lab_state,
        "covered": covered,
        "turns": lab_state["turns"] + (move == "answer"),
        "focus": focus,
        "stalls": 0 if newly or move != "answer" else lab_state["stalls"] + 1,
        "hints": lab_state["hints"] + (move == "hint"),
        "history": history[-HISTORY_KEPT:],
    }
    if len(covered) == len(lab.rubric):
        return debrief({**state, "lab": lab_state}, deps, inbound, lead=result.message)
    _save(deps, inbound.learner, lab, lab_state, finished=None)
    text, citations = result.message, []
    point = lab.point(focus) if focus else None
    if point:
        text += " [1]"
        citations = [_citation(deps, 1, point)]
    text += f"\n_{len(covered)} of {len(lab.rubric)} points covered._"
    return {"lab": lab_state, "replies": [Reply(text, lab_buttons(), citations).to_dict()]}


def missing(state: CoachState, deps: Deps) -> dict:
    """The areas still open, where to read about them, and no solutions."""
    lab_state, lab = _current(state, deps)
    open_points = [p for p in lab.rubric if p.id not in lab_state["covered"]]
    done = [lab.point(pid).area for pid in lab_state["covered"]]
    lines = [
        f"You've covered {len(done)} of {len(lab.rubric)} areas" + (f": {', '.join(done)}." if done else ".")
    ]
    citations: list[Citation] = []
    if open_points:
        lines.append("Still open — think about:")
        for point in open_points:
            number = _number_for(citations, deps, point)
            lines.append(f"• {point.area} [{number}]")
        lines.append("Pick one and tell me how it applies to the scenario.")
    return {"replies": [Reply("\n".join(lines), lab_buttons(), citations).to_dict()]}


def debrief(state: CoachState, deps: Deps, inbound: Inbound, lead: str | None = None) -> dict:
    """Covered vs missed points with citations, a score, and one thing to practise next."""
    lab_state, lab = _current(state, deps)
    covered = lab_state["covered"]
    hit = [p for p in lab.rubric if p.id in covered]
    missed = [p for p in lab.rubric if p.id not in covered]
    score = round(100 * len(hit) / len(lab.rubric))
    citations: list[Citation] = []
    lines = [lead, ""] if lead else []
    lines.append(
        f"*Debrief · Lab {lab.number}: {lab.title}* — {score}% ({len(hit)} of {len(lab.rubric)} points)"
    )
    if hit:
        lines.append("\n*What you covered*")
        for point in hit:
            number = _number_for(citations, deps, point)
            lines.append(f"• {point.area}: “{covered[point.id]}” [{number}]")
    if missed:
        lines.append("\n*What you missed*")
        for point in missed:
            number = _number_for(citations, deps, point)
            lines.append(f"• {point.area} — {point.description} [{number}]")
        lines.append(f"\n*Practise next:* {in_sentence(missed[0].area)} — {missed[0].probe}")
    else:
        lines.append(f"\n*Practise next:* {lab.practice_default}")
    lines.append("\nSay *lab N* for another lab, *drill* for quiz practice or *progress* to see your record.")
    _save(deps, inbound.learner, lab, lab_state, finished=deps.clock(), score=score)
    return {
        "mode": "idle",
        "lab": None,
        "replies": [Reply("\n".join(lines), citations=citations, kind="debrief").to_dict()],
    }


def stop(state: CoachState, deps: Deps, inbound: Inbound) -> Reply:
    lab_state, lab = _current(state, deps)
    _save(deps, inbound.learner, lab, lab_state, finished=None)
    return Reply(
        f"Lab {lab.number} paused with {len(lab_state['covered'])} of {len(lab.rubric)} points covered. "
        f"Say *lab {lab.number}* to pick it up again."
    )


# -- helpers ----------------------------------------------------------------------------------------


def _current(state: CoachState, deps: Deps) -> tuple[LabState, Lab]:
    lab_state = state["lab"]
    assert lab_state is not None
    return lab_state, deps.course.labs[lab_state["id"]]


def _first_open(lab: Lab, covered: dict[str, str]) -> str | None:
    return next((p.id for p in lab.rubric if p.id not in covered), None)


def _citation(deps: Deps, number: int, point: RubricPoint) -> Citation:
    doc = deps.course.passage(point.passage)[0]
    return Citation(number, deps.course.cite(point.passage), point.passage, doc.supplementary)


def _number_for(citations: list[Citation], deps: Deps, point: RubricPoint) -> int:
    """The citation number of the point's passage, adding it to `citations` on first use."""
    for citation in citations:
        if citation.passage == point.passage:
            return citation.number
    citations.append(_citation(deps, len(citations) + 1, point))
    return len(citations)


def _resume(deps: Deps, learner: str, lab: Lab) -> dict | None:
    """The learner's unfinished run of this lab, to continue where they paused."""
    runs = [r for r in deps.store.lab_runs(learner) if r["lab"] == lab.id and not r["finished_at"]]
    if not runs:
        return None
    run = runs[-1]
    known = {p.id for p in lab.rubric}
    run["covered"] = {pid: ev for pid, ev in dict(run["covered"]).items() if pid in known}
    return run


def _save(
    deps: Deps,
    learner: str,
    lab: Lab,
    lab_state: LabState,
    finished: datetime | None,
    score: float | None = None,
) -> None:
    covered = lab_state["covered"]
    deps.store.save_lab_run(
        {
            "id": lab_state["run"],
            "learner": learner,
            "lab": lab.id,
            "started_at": lab_state["started_at"],
            "finished_at": now_iso(finished) if finished else None,
            "turns": lab_state["turns"],
            "score": score,
            "covered": covered,
            "missed": [p.id for p in lab.rubric if p.id not in covered],
        }
    )
