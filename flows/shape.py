"""Answers shaped by the question: what is asked (a definition, a number, a list, a comparison, a
recommendation) decides which answer unit of the retrieved passages is given, and the unit is given
whole — every item of a list, both sides of a comparison, the figure with the sentence that says
whose it is. Both brains use it: the offline brain answers with the units, Claude reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.loader import Course
from knowledge.retrieval import Hit
from knowledge.text import sentences, stem_words
from knowledge.units import Unit, passage_units

SHAPES = {
    "comparison": re.compile(
        r"\b(vs\.?|versus|compared?|comparison|difference|differences|differ|diff|pros|cons|"
        r"trade-?offs?|better)\b|\bor\b.*\?"
    ),
    "recommendation": re.compile(
        r"\b(should (we|i|you|my|our)|which (one|model|structure|approach|option)|recommend|"
        r"(we're|we are|i'm|i am) (just )?(starting|new|small|a |an |about)|best for|right (for|choice))\b"
    ),
    "number": re.compile(
        r"\b(how (many|much|long|big|often|fast)|what (percent|percentage|share|proportion|fraction)|"
        r"percent|number of|cost|costs|figure|figures|stats?|numbers)\b|%|\$"
    ),
    "list": re.compile(
        r"\b(what are|list|steps|stages|phases|dimensions|layers|tiers|pillars|components|practices|"
        r"mistakes|reasons|causes|types|models|imperatives|principles|checklist|metrics|alerts|all the|"
        r"ways|kinds|elements|parts|slas?|docs|documentation|bullet|bullets)\b"
    ),
    "definition": re.compile(
        r"^(what'?s|whats|what is|what are|define|definition|meaning|explain)\b|\bmean\b"
    ),
}
MAX_CHARS = 1300  # a chat reply: past this, list items keep their first sentence only
SENTENCES_PER_TEXT = 2


def question_shape(question: str) -> str:
    """The first shape whose cue the question carries, most specific first; "general" otherwise."""
    q = question.lower().replace("’", "'")
    for shape, cue in SHAPES.items():
        if cue.search(q):
            return shape
    return "general"


@dataclass(frozen=True)
class Choice:
    unit: Unit
    hit: int  # 1-based number of the hit whose passage the unit belongs to
    score: float
    covers: frozenset[str]  # query stems the unit holds
    text: str = ""  # for text units: the chosen sentences


def _overlap(query: set[str], text: str) -> set[str]:
    return query & set(stem_words(text))


Weights = dict[str, float]  # query stem -> how telling it is (idf in the course); missing = 1


def _weigh(stems: set[str], weights: Weights) -> float:
    return sum(weights.get(s, 1.0) for s in stems)


def candidates(
    question: str, hits: list[Hit], course: Course, query: set[str], weights: Weights
) -> list[Choice]:
    """Every unit of the retrieved passages, scored for this question's words and shape."""
    shape = question_shape(question)
    seen: dict[str, int] = {}
    for n, hit in enumerate(hits, start=1):
        seen.setdefault(hit.passage, n)
    found: list[Choice] = []
    for passage, n in seen.items():
        rank_bonus = 1.5 - 0.3 * (n - 1)
        for unit in passage_units(course, passage):
            title = _overlap(query, unit.title)
            covers = _overlap(query, unit.searchable)
            if not covers:
                continue
            score = _weigh(covers, weights) + 1.5 * _weigh(title, weights) + rank_bonus
            text = ""
            if unit.kind == "list":
                item_hits = sum(1 for t, x in unit.items if _overlap(query, f"{t} {x}"))
                score += {"list": 3, "comparison": 2, "recommendation": 2}.get(shape, 0)
                score += 0.5 * min(item_hits, 4)
                if shape in ("definition", "general", "number") and not title:
                    score -= 2
            elif unit.kind == "term":
                whole = set(stem_words(unit.title)) <= query
                score += (
                    3 if whole and shape in ("definition", "general", "comparison") else (1 if whole else -1)
                )
            elif unit.kind == "item":
                whole = bool(set(stem_words(unit.title))) and set(stem_words(unit.title)) <= query
                score += 2 if whole else 0
                if shape == "number" and re.search(r"\d", unit.title + unit.text):
                    score += 1
            else:
                text, covers = _best_sentences(unit.text, query, shape, weights)
                if not text:
                    continue
                score = (
                    len(covers) + rank_bonus + (1.5 if shape == "number" and re.search(r"\d", text) else 0)
                )
            found.append(Choice(unit, n, score, frozenset(covers), text))
    return sorted(found, key=lambda c: -c.score)


def _best_sentences(paragraph: str, query: set[str], shape: str, weights: Weights) -> tuple[str, set[str]]:
    """Up to two sentences of a paragraph that carry the question's words, in reading order."""
    said = sentences(paragraph)
    scored = []
    for i, s in enumerate(said):
        got = _overlap(query, s)
        bonus = 0.5 if shape == "number" and re.search(r"\d", s) else 0
        if got:
            scored.append((_weigh(got, weights) + bonus, i, got))
    if not scored:
        return "", set()
    best = sorted(scored, key=lambda x: -x[0])[:SENTENCES_PER_TEXT]
    keep = sorted(i for _, i, _ in best)
    if len(best) == 2 and best[1][0] < best[0][0] / 2:
        keep = [best[0][1]]
    # A sentence that leans on the one before ("These…", "This…") keeps it.
    if keep and keep[0] > 0 and re.match(r"(This|These|That|It|They|Those)\b", said[keep[0]]):
        keep.insert(0, keep[0] - 1)
    covers: set[str] = set()
    for _, _, got in best:
        covers |= got
    return " ".join(said[i] for i in keep), covers


def render(choice: Choice, room: int = MAX_CHARS) -> str:
    """One unit as chat text with its citation marker; lists as bullets, never ending on a colon."""
    unit, mark = choice.unit, f"[{choice.hit}]"
    if unit.kind == "list":
        lead = sentences(unit.text.strip())[-1] if unit.text.strip() else ""
        if lead == unit.title or not lead:
            lead = f"*{unit.title}*"
        lead = lead.rstrip(":").rstrip() + ":"
        full = [_bullet(t, x) for t, x in unit.items]
        if len("\n".join(full)) > room:
            full = [_bullet(t, sentences(x)[0] if x else "") for t, x in unit.items]
        text = f"{lead} {mark}\n" + "\n".join(full)
        if unit.note:
            text += f"\n_Note: {unit.note}_"
        return text
    if unit.kind in ("item", "term"):
        return f"*{unit.title}*: {unit.text.strip()} {mark}"
    return f"{choice.text or unit.text} {mark}"


def _bullet(title: str, text: str) -> str:
    return f"• *{title}* — {text}" if text else f"• {title}"


@dataclass(frozen=True)
class Draft:
    text: str
    cited: list[int]  # hit numbers
    covers: frozenset[str]  # query stems the chosen units hold
    units: list[Unit]


def compose(
    question: str, hits: list[Hit], course: Course, query: set[str], weights: Weights | None = None
) -> Draft:
    """The reply text and the hit numbers it cites: the best unit, and a second one when it adds
    something the question asks that the first does not hold (the other side, the other part)."""
    ranked = candidates(question, hits, course, query, weights or {})
    if not ranked:
        return Draft("", [], frozenset(), [])
    first = ranked[0]
    chosen = [first]
    covered = set(first.covers)
    shape = question_shape(question)
    for other in ranked[1:]:
        if len(chosen) >= 2:
            break
        new = other.covers - covered
        same_unit = other.unit == first.unit or (
            first.unit.kind == "list"
            and other.unit.passage == first.unit.passage
            and other.unit.kind == "item"
        )
        if same_unit or not new:
            continue
        if other.score < first.score * 0.5 and shape != "comparison":
            continue
        chosen.append(other)
        covered |= other.covers
    parts = []
    room = MAX_CHARS
    for choice in chosen:
        part = render(choice, room)
        room -= len(part)
        parts.append(part)
    text = "\n".join(parts).strip()
    if text.endswith(":"):
        text = text[:-1] + "."
    return Draft(text, sorted({c.hit for c in chosen}), frozenset(covered), [c.unit for c in chosen])
