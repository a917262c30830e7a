"""A tutor's dialogue policy for one lab turn, as named steps over plain data:

    assess  →  record  →  correct  →  choose_focus  →  reply | debrief

`assess` is the brain's (see `flows.assessment`); the rest is here and knows nothing about storage
or channels. The policy names what the learner said, corrects a misconception first (with the lesson
passage behind the correction), follows what the learner just raised (else the most important open
point), and escalates help on a point — probe → hint → worked example from a lesson case → park it —
so no question is sent twice. Praise follows the level reached, not the turn number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flows.assessment import LEVELS, Assessment, best_level, tokens
from flows.brains.offline import in_sentence
from knowledge.schema import Lab, Misconception, RubricPoint

LEVEL_VALUE = {"mentioned": 0.4, "explained": 0.8, "applied": 1.0}
PROBE, HINT, WORKED, PARKED = 1, 2, 3, 4
SHORT_WORDS = 4
STRONGER = 0.15  # evidence this much more confident replaces the kept evidence at the same level


@dataclass
class Correction:
    point: RubricPoint
    misconception: Misconception
    evidence: str


@dataclass
class Plan:
    """What the coach will say this turn, as parts the lab flow renders with citations."""

    corrections: list[Correction] = field(default_factory=list)
    acknowledgement: str = ""
    help_text: str = ""
    help_point: RubricPoint | None = None  # the point the help is about (cited)
    focus: str | None = None
    finished: bool = False  # every point applied: time to debrief


# -- record -----------------------------------------------------------------------------------------


def record(lab: Lab, lab_state: dict, assessment: Assessment) -> list[str]:
    """Merge the turn's credits and misconceptions into the lab state; return the points that rose a
    level, or whose evidence this turn is clearly stronger at the same level (the strongest evidence
    for a point is what the debrief quotes, not the first passing mention)."""
    levels, covered, wrong = lab_state["levels"], lab_state["covered"], lab_state["wrong"]
    strength = lab_state.setdefault("strength", {})
    risen = []
    for credit in assessment.credits:
        before = levels.get(credit.point)
        after = best_level(before, credit.level)
        stronger = after == before and credit.confidence >= strength.get(credit.point, 1.0) + STRONGER
        if after != before or stronger:
            levels[credit.point] = after
            covered[credit.point] = credit.evidence
            strength[credit.point] = credit.confidence
            risen.append(credit.point)
    for found in assessment.wrong:
        if not any(w["misconception"] == found.misconception for w in wrong):
            wrong.append(
                {"point": found.point, "misconception": found.misconception, "evidence": found.evidence}
            )
    return risen


# -- correct ----------------------------------------------------------------------------------------


def correct(lab: Lab, assessment: Assessment) -> list[Correction]:
    out = []
    for found in assessment.wrong:
        hit = lab.misconception(found.misconception)
        if hit:
            out.append(Correction(hit[0], hit[1], found.evidence))
    return out


# -- choose focus -----------------------------------------------------------------------------------


def open_points(lab: Lab, lab_state: dict) -> list[RubricPoint]:
    """Points not applied and not parked: unshown before partly shown, then in rubric order (the
    rubric lists the points most important first, the way a tutor would take them)."""
    rungs, levels = lab_state["rungs"], lab_state["levels"]
    todo = [p for p in lab.rubric if levels.get(p.id) != "applied" and rungs.get(p.id, 0) < PARKED]
    return sorted(todo, key=lambda p: LEVELS.index(levels[p.id]) + 1 if p.id in levels else 0)


def raised(lab: Lab, text: str, candidates: list[RubricPoint]) -> RubricPoint | None:
    """An open point whose distinctive words the learner just used, without earning it yet."""
    said = f" {' '.join(tokens(text))} "
    for point in candidates:
        if any(f" {' '.join(tokens(cue))} " in said for cue in point.cues if tokens(cue)):
            return point
    return None


def choose_focus(
    lab: Lab, lab_state: dict, assessment: Assessment, text: str, risen: list[str]
) -> str | None:
    """What the learner just raised (a point they earned short of `applied`, a misconception, a point
    they named), else the point asked about last while help remains, else the most important open point."""
    candidates = open_points(lab, lab_state)
    ids = {p.id for p in candidates}
    for found in assessment.wrong:
        if found.point in ids:
            return found.point
    for pid in risen:
        if pid in ids and not _deepened(lab_state, pid):
            return pid
    if not risen and not assessment.wrong:
        near = [pid for pid in assessment.touched if pid in ids]
        if near:  # the learner is getting at a point: stay with it and help them make it
            return near[0]
    named = raised(lab, text, candidates) if assessment.kind == "answer" else None
    if named and named.id not in assessment.touched:
        return named.id
    if lab_state.get("focus") in ids and not risen and lab_state["focus"] not in assessment.touched:
        return lab_state["focus"]  # no progress: stay, and the help on it escalates
    # progress (or the learner just talked about the old focus): a fresh question, never one just answered
    fresh = [p for p in candidates if p.id not in assessment.touched]
    unasked = [p for p in fresh if lab_state["rungs"].get(p.id, 0) == 0]
    pick = unasked or fresh or candidates
    return pick[0].id if pick else None


def _deepened(lab_state: dict, pid: str) -> bool:
    level = lab_state["levels"].get(pid)
    return lab_state["rungs"].get(f"{pid}@{level}", 0) > 0


# -- reply ------------------------------------------------------------------------------------------


def acknowledge(lab: Lab, assessment: Assessment, risen: list[str], text: str, variant: int) -> str:
    """Name what the learner said, with praise that matches the level reached."""
    if assessment.kind == "term_list":
        return (
            "That's a list of terms, not yet an argument — pick one and tell me why it matters here.",
            "Names alone don't earn credit. Pick one and tell me why it matters here.",
            "Still a list. Choose the single item you'd act on first and give me your reason.",
        )[variant % 3]
    credits = [c for c in assessment.credits if c.point in risen]
    if credits:
        first = credits[0]
        area = in_sentence(lab.point(first.point).area)
        quote = f"“{first.evidence.rstrip('.')}”"
        if first.level == "applied":
            line = (
                f"{quote} — that's {area}, applied to this case with a reason.",
                f"Good: {area}, tied to the case — {quote}.",
            )
        elif first.level == "explained":
            line = (f"Good reasoning on {area}: {quote}.", f"That's a sound point on {area}: {quote}.")
        else:  # the idea is there without its depth: say so, then the deepening question asks for it
            line = (
                f"Yes — {quote} is part of {area}, and it counts.",
                f"Right, {quote}: that's {area}, and I've credited it.",
            )
        said = line[variant % 2]
        if len(credits) > 1:
            said += f" That also speaks to {in_sentence(lab.point(credits[1].point).area)}."
        return said
    if assessment.credits:  # sound, but nothing new
        area = in_sentence(lab.point(assessment.credits[0].point).area)
        return f"Agreed on {area} — you've already shown that one."
    if assessment.wrong or assessment.kind in ("idk", "empty"):
        return ""
    if assessment.touched:
        area = in_sentence(lab.point(assessment.touched[0]).area)
        quote = _quote(text)
        return (
            f"There's a piece of {area} in {quote} — let's build it out.",
            f"{quote} is heading toward {area}. Say what you'd actually do about it here.",
        )[variant % 2]
    if len(text.split()) < SHORT_WORDS:
        return (
            "Say a bit more — what would you ask, check or recommend, and why?",
            "Tell me more than that.",
        )[variant % 2]
    return (
        "I can't yet tie that to a specific part of the case.",
        "I'm not sure yet which part of the case that addresses.",
        "Let's bring it back to the case.",
    )[variant % 3]


def _quote(text: str, limit: int = 90) -> str:
    said = " ".join(text.split()).rstrip(".")
    return f"“{said if len(said) <= limit else said[: limit - 1].rstrip() + '…'}”"


def deepen(lab: Lab, lab_state: dict, point: RubricPoint) -> str | None:
    """Push a point the learner raised from its level toward `applied`, once per level."""
    level = lab_state["levels"].get(point.id)
    key = f"{point.id}@{level}"
    if level not in ("mentioned", "explained") or lab_state["rungs"].get(key):
        return None
    lab_state["rungs"][key] = 1
    if level == "mentioned":
        area = in_sentence(point.area)
        return (
            f"Now the depth: why does {area} matter for {lab.case}, and what exactly would you put in place?"
        )
    return f"Now make it concrete for {lab.case}: what exactly would you ask, check or change?"


def next_help(lab: Lab, lab_state: dict, point: RubricPoint) -> tuple[str, RubricPoint | None]:
    """The next rung of help on `point` (probe → hint → worked example → park and move on)."""
    rungs = lab_state["rungs"]
    rung = rungs.get(point.id, 0)
    rungs[point.id] = rung + 1
    if rung == 0:
        return point.probe, point
    if rung == 1:
        return f"A nudge on {in_sentence(point.area)}: {point.hint}", point
    if rung == 2:
        return (
            f"Here's how a lesson case handles {in_sentence(point.area)}: {point.worked_example} "
            "In your own words: what does that mean here?",
            point,
        )
    rungs[point.id] = PARKED
    parked = f"Let's park {in_sentence(point.area)} — it will be in your debrief."
    following = open_points(lab, lab_state)
    if not following:
        return parked, None
    text, cited = next_help(lab, lab_state, following[0])
    return f"{parked} {text}", cited


def smaller_question(lab: Lab, lab_state: dict, focus: RubricPoint | None, variant: int) -> str:
    """For "I don't know": a choice between two open areas, never the answer."""
    candidates = open_points(lab, lab_state)
    if focus is not None and focus in candidates:
        candidates.remove(focus)
        candidates.insert(0, focus)
    if len(candidates) >= 2:
        a, b = candidates[0], candidates[1 + variant % (len(candidates) - 1)]
        return (
            f"Let's make it smaller. Which looks like the bigger problem for {lab.case}: "
            f"{in_sentence(a.area)} or {in_sentence(b.area)}? Pick one and give me one reason."
        )
    if candidates:
        area = in_sentence(candidates[0].area)
        return f"Let's make it smaller: is {area} a problem here — yes or no, and why?"
    return "You've worked through every point — say *finish* for your debrief."


def all_applied(lab: Lab, lab_state: dict) -> bool:
    return all(lab_state["levels"].get(p.id) == "applied" for p in lab.rubric)


def score(lab: Lab, levels: dict[str, str]) -> int:
    """The weighted score: each point's weight times the value of the level reached."""
    total = sum(p.weight for p in lab.rubric)
    earned = sum(p.weight * LEVEL_VALUE.get(levels.get(p.id, ""), 0.0) for p in lab.rubric)
    return round(100 * earned / total)


def next_step(lab: Lab, levels: dict[str, str]) -> RubricPoint | None:
    """The one thing to practise next: the most important point at the lowest level."""
    todo = [p for p in lab.rubric if levels.get(p.id) != "applied"]
    if not todo:
        return None
    return min(todo, key=lambda p: (LEVELS.index(levels[p.id]) + 1 if p.id in levels else 0, -p.weight))
