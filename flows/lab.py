"""The lab flow: one data-driven Socratic exercise for all four labs.

Each learner turn runs the steps of `flows.lab_policy` in order — the brain *assesses* the turn,
the flow *records* what it shows, *corrects* a misconception first (citing the lesson), *chooses the
focus* and *replies*, or *debriefs* once every point is applied or the learner says finish. A
question about the course asked mid-lab is answered by the Q&A flow, and the lab resumes. Progress
is stored after every turn.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from bot.messages import Action, Choice, Citation, Inbound, Reply
from bot.store import new_id, now_iso
from flows import ask, lab_policy
from flows.brains.base import LabContext
from flows.brains.offline import in_sentence
from flows.deps import Deps
from flows.state import CoachState, LabState
from knowledge.schema import Lab

HISTORY_KEPT = 12
SAID_KEPT = 60
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
    levels = {pid: got["level"] for pid, got in resumed["covered"].items()} if resumed else {}
    covered = {pid: got["evidence"] for pid, got in resumed["covered"].items()} if resumed else {}
    lab_state: LabState = {
        "id": lab.id,
        "run": resumed["id"] if resumed else new_id(),
        "started_at": resumed["started_at"] if resumed else now_iso(now),
        "covered": covered,
        "levels": levels,
        "wrong": [],
        "rungs": {},
        "turns": resumed["turns"] if resumed else 0,
        "focus": None,
        "stuck": 0,
        "history": [{"role": "coach", "text": lab.opening_line}],
        "said": [lab.opening_line],
    }
    _save(deps, inbound.learner, lab, lab_state, finished=None)
    intro = (
        f"*Lab {lab.number} · {lab.title}* — with your _{lab.coach_name}_\n\n"
        f"*Scenario.* {lab.scenario}\n\n*Your task.* {lab.task}\n\n{lab.opening_line}"
    )
    if levels:
        areas = ", ".join(in_sentence(lab.point(pid).area) for pid in levels)
        intro += (
            f"\n\n_Welcome back: last time you showed {len(levels)} of {len(lab.rubric)} points ({areas})._"
        )
    return {
        "mode": "lab",
        "lab": lab_state,
        "quiz": None,
        "replies": [Reply(intro, choices=lab_buttons()).to_dict()],
    }


async def turn(state: CoachState, deps: Deps, inbound: Inbound, move: str) -> dict:
    """A learner answer ("answer") or a request for more help ("hint"): assess → record → correct →
    choose focus → reply | debrief."""
    lab_state, lab = _current(state, deps)
    lab_state = _fresh(lab_state)
    ctx = LabContext(
        lab=lab,
        course=deps.course,
        text=inbound.text,
        levels=dict(lab_state["levels"]),
        focus=lab_state["focus"],
        history=list(lab_state["history"]),
        move=move,  # type: ignore[arg-type]
    )
    result = await deps.brain.lab_turn(ctx)  # assess
    assessment = result.assessment
    if move == "answer" and assessment.kind == "question":
        return await _answer_question(state, deps, inbound, lab, lab_state)
    risen = lab_policy.record(lab, lab_state, assessment)
    corrections = lab_policy.correct(lab, assessment)
    if move == "answer":
        lab_state["turns"] += 1
        lab_state["history"].append({"role": "learner", "text": inbound.text})
        lab_state["stuck"] = lab_state["stuck"] + 1 if assessment.kind == "idk" else 0
    if lab_policy.all_applied(lab, lab_state):
        lead = lab_policy.acknowledge(lab, assessment, risen, inbound.text, len(lab_state["said"]))
        return await asyncio.to_thread(debrief, {**state, "lab": lab_state}, deps, inbound, lead)
    focus_id = lab_policy.choose_focus(lab, lab_state, assessment, inbound.text, risen)
    if result.message and result.focus in {p.id for p in lab_policy.open_points(lab, lab_state)}:
        focus_id = result.focus  # the brain worded its question about this point
    citations: list[Citation] = []
    parts: list[str] = []
    for fix in corrections:
        number = _number_for(citations, deps, fix.misconception.passage)
        parts.append(
            f"Let me correct one thing first. You said “{fix.evidence}” — "
            f"{fix.misconception.correction} [{number}]"
        )
    variant = len(lab_state["said"])
    if move == "answer":
        said = lab_policy.acknowledge(lab, assessment, risen, inbound.text, variant)
        if said:
            parts.append(said)
    focus = lab.point(focus_id) if focus_id else None
    if result.message and move == "answer":  # the brain's own wording of the follow-up
        parts.append(result.message)
        help_point = focus
        if focus is not None:
            lab_state["rungs"][focus.id] = lab_state["rungs"].get(focus.id, 0) + 1
    elif assessment.kind == "idk" and lab_state["stuck"] == 1:
        parts.append(lab_policy.smaller_question(lab, lab_state, focus, variant))
        help_point = None
    elif focus is None:
        parts.append(_all_worked(lab, lab_state, variant))
        help_point = None
    else:
        deeper = lab_policy.deepen(lab, lab_state, focus) if focus.id in risen else None
        if deeper:
            parts.append(deeper)
            help_point = focus
        else:
            text, help_point = lab_policy.next_help(lab, lab_state, focus)
            parts.append(text)
            focus_id = help_point.id if help_point else None
    if help_point is not None:
        parts[-1] += f" [{_number_for(citations, deps, help_point.passage)}]"
    shown = len(lab_state["levels"])
    text = " ".join(p for p in parts if p)
    text = _unrepeated(text, lab_state)
    lab_state["focus"] = focus_id
    lab_state["history"] = [*lab_state["history"], {"role": "coach", "text": text}][-HISTORY_KEPT:]
    lab_state["said"] = [*lab_state["said"], text][-SAID_KEPT:]
    await asyncio.to_thread(_save, deps, inbound.learner, lab, lab_state, None)  # off the event loop
    so_far = lab_policy.score(lab, lab_state["levels"])
    text += f"\n_{shown} of {len(lab.rubric)} points shown, {so_far}% so far._"
    return {"lab": lab_state, "replies": [Reply(text, lab_buttons(), citations).to_dict()]}


async def _answer_question(
    state: CoachState, deps: Deps, inbound: Inbound, lab: Lab, lab_state: dict
) -> dict:
    """The seam to the Q&A flow: a question about the course is answered from the lessons, then the
    lab resumes where it was (the question is not assessed as an answer)."""
    answered = await ask.ask(state, deps, inbound)
    assert answered is not None  # nothing withheld in a lab
    reply = Reply.from_dict(answered["replies"][-1])
    focus = lab.point(lab_state["focus"]) if lab_state.get("focus") else None
    focus = focus or next(iter(lab_policy.open_points(lab, lab_state)), None)
    citations = list(reply.citations)
    resume = "Back to the lab."
    if focus is not None:
        if lab_state["rungs"].get(focus.id, 0) == 0:
            help_text, point = lab_policy.next_help(lab, lab_state, focus)
        else:
            asked = sum(1 for t in lab_state["said"] if "Back to the lab" in t)
            help_text = (
                f"What would you say about {in_sentence(focus.area)} for {lab.case}?",
                f"Where do you stand on {in_sentence(focus.area)} here?",
                f"Let's pick up {in_sentence(focus.area)} again: what's your view for {lab.case}?",
            )[asked % 3]
            if "don't cover" not in reply.text:
                help_text = (
                    f"With that in mind, what would you say about {in_sentence(focus.area)} for {lab.case}?",
                    f"How does that change your view of {in_sentence(focus.area)} here?",
                    f"Now apply it: what does it mean for {in_sentence(focus.area)} in this case?",
                )[asked % 3]
            point = focus
        number = next((c.number for c in citations if c.passage == point.passage), None) if point else None
        if point is not None and number is None:
            number = len(citations) + 1
            citations.append(_citation(deps, number, point.passage))
        resume += f" {help_text}" + (f" [{number}]" if number else "")
        lab_state["focus"] = point.id if point else None
    text = f"{reply.text}\n\n{resume}"
    lab_state["said"] = [*lab_state["said"], text][-SAID_KEPT:]
    lab_state["history"] = [
        *lab_state["history"],
        {"role": "learner", "text": inbound.text},
        {"role": "coach", "text": text},
    ][-HISTORY_KEPT:]
    return {
        "lab": lab_state,
        "qa": answered.get("qa", []),
        "replies": [Reply(text, lab_buttons(), citations).to_dict()],
    }


def _all_worked(lab: Lab, lab_state: dict, variant: int) -> str:
    parked = [
        p
        for p in lab.rubric
        if lab_state["rungs"].get(p.id, 0) >= lab_policy.PARKED and lab_state["levels"].get(p.id) != "applied"
    ]
    if parked:
        areas = ", ".join(in_sentence(p.area) for p in parked)
        return (
            f"We've been through every point. Say *finish* for your debrief, or take another go at: {areas}.",
            f"That covers what we can work on now — *finish* gives your debrief (still open: {areas}).",
        )[variant % 2]
    return ("Say *finish* for your debrief.", "Whenever you're ready, say *finish* for your debrief.")[
        variant % 2
    ]


def _unrepeated(text: str, lab_state: dict) -> str:
    """Never send the same reply twice in a run: say so plainly when there is nothing new to ask."""
    if text not in lab_state["said"]:
        return text
    for lead in ("Once more, differently: ", "Still here. ", "Take your time. ", "Your move: "):
        if f"{lead}{text}" not in lab_state["said"]:
            return f"{lead}{text}"
    return f"(turn {lab_state['turns']}) {text}"


def missing(state: CoachState, deps: Deps) -> dict:
    """The areas not yet applied, where to read about them, and no solutions."""
    lab_state, lab = _current(state, deps)
    lab_state = _fresh(lab_state)
    levels = lab_state["levels"]
    shown = [f"{in_sentence(lab.point(pid).area)} ({level})" for pid, level in levels.items()]
    lines = [
        f"You've shown {len(shown)} of {len(lab.rubric)} areas" + (f": {', '.join(shown)}." if shown else ".")
    ]
    citations: list[Citation] = []
    untouched = [p for p in lab.rubric if p.id not in levels]
    deeper = [p for p in lab.rubric if p.id in levels and levels[p.id] != "applied"]
    for heading, points in (("Not yet touched — think about:", untouched), ("Worth taking deeper:", deeper)):
        if points:
            lines.append(heading)
            for point in points:
                number = _number_for(citations, deps, point.passage)
                lines.append(f"• {point.area} [{number}]")
    if untouched or deeper:
        lines.append("Pick one and tell me how it applies to the scenario.")
    return {"replies": [Reply("\n".join(lines), lab_buttons(), citations).to_dict()]}


def debrief(state: CoachState, deps: Deps, inbound: Inbound, lead: str | None = None) -> dict:
    """Per point the level reached with the learner's own words, misconceptions with corrections and
    citations, a weighted score, and one next step."""
    lab_state, lab = _current(state, deps)
    lab_state = _fresh(lab_state)
    levels, covered = lab_state["levels"], lab_state["covered"]
    score = lab_policy.score(lab, levels)
    citations: list[Citation] = []
    lines = [lead, ""] if lead else []
    lines.append(
        f"*Debrief · Lab {lab.number}: {lab.title}* — {score}% "
        f"({len(levels)} of {len(lab.rubric)} points shown, weighted by importance and depth)"
    )
    shown = [p for p in lab.rubric if p.id in levels]
    if shown:
        lines.append("\n*What you showed*")
        for point in shown:
            number = _number_for(citations, deps, point.passage)
            lines.append(f"• {point.area} — {levels[point.id]}: “{covered[point.id]}” [{number}]")
    missed = [p for p in lab.rubric if p.id not in levels]
    if missed:
        lines.append("\n*Not yet shown*")
        for point in missed:
            number = _number_for(citations, deps, point.passage)
            lines.append(f"• {point.area} — {point.description} [{number}]")
    if lab_state["wrong"]:
        lines.append("\n*Misconceptions to revisit*")
        for found in lab_state["wrong"]:
            hit = lab.misconception(found["misconception"])
            if hit:
                number = _number_for(citations, deps, hit[1].passage)
                lines.append(f"• You said “{found['evidence']}” — {hit[1].correction} [{number}]")
    step = lab_policy.next_step(lab, levels)
    if step:
        lines.append(f"\n*Practise next:* {in_sentence(step.area)} — {step.probe}")
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
    lab_state = _fresh(lab_state)
    _save(deps, inbound.learner, lab, lab_state, finished=None)
    return Reply(
        f"Lab {lab.number} paused with {len(lab_state['levels'])} of {len(lab.rubric)} points shown. "
        f"Say *lab {lab.number}* to pick it up again."
    )


# -- helpers ----------------------------------------------------------------------------------------


def _current(state: CoachState, deps: Deps) -> tuple[LabState, Lab]:
    lab_state = state["lab"]
    assert lab_state is not None
    return lab_state, deps.course.labs[lab_state["id"]]


def _fresh(lab_state: LabState) -> dict:
    """A copy safe to change, with the fields of runs checkpointed before levels existed."""
    fresh = {**lab_state}
    fresh["covered"] = dict(lab_state.get("covered") or {})
    fresh["levels"] = dict(lab_state.get("levels") or {pid: "mentioned" for pid in fresh["covered"]})
    fresh["strength"] = dict(lab_state.get("strength") or {})
    fresh["wrong"] = list(lab_state.get("wrong") or [])
    fresh["rungs"] = dict(lab_state.get("rungs") or {})
    fresh["history"] = list(lab_state.get("history") or [])
    fresh["said"] = list(lab_state.get("said") or [])
    fresh.setdefault("stuck", 0)
    fresh.setdefault("focus", None)
    fresh.setdefault("turns", 0)
    return fresh


def _citation(deps: Deps, number: int, passage: str) -> Citation:
    doc = deps.course.passage(passage)[0]
    return Citation(number, deps.course.cite(passage), passage, doc.supplementary)


def _number_for(citations: list[Citation], deps: Deps, passage: str) -> int:
    """The citation number of a passage, adding it to `citations` on first use."""
    for citation in citations:
        if citation.passage == passage:
            return citation.number
    citations.append(_citation(deps, len(citations) + 1, passage))
    return len(citations)


def _resume(deps: Deps, learner: str, lab: Lab) -> dict | None:
    """The learner's unfinished run of this lab, to continue where they paused."""
    runs = [r for r in deps.store.lab_runs(learner) if r["lab"] == lab.id and not r["finished_at"]]
    if not runs:
        return None
    run = runs[-1]
    known = {p.id for p in lab.rubric}
    covered = {}
    for pid, got in dict(run["covered"]).items():
        if pid in known:  # older runs stored only the evidence
            covered[pid] = got if isinstance(got, dict) else {"level": "mentioned", "evidence": got}
    run["covered"] = covered
    return run


def _save(
    deps: Deps,
    learner: str,
    lab: Lab,
    lab_state: dict,
    finished: datetime | None,
    score: float | None = None,
) -> None:
    levels, covered = lab_state["levels"], lab_state["covered"]
    deps.store.save_lab_run(
        {
            "id": lab_state["run"],
            "learner": learner,
            "lab": lab.id,
            "started_at": lab_state["started_at"],
            "finished_at": now_iso(finished) if finished else None,
            "turns": lab_state["turns"],
            "score": score,
            "covered": {
                pid: {"level": level, "evidence": covered.get(pid, "")} for pid, level in levels.items()
            },
            "missed": [p.id for p in lab.rubric if p.id not in levels],
        }
    )
