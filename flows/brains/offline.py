"""The offline coach: deterministic, no network. Rubric matching by cue phrases, Socratic templates,
extractive answers from the retrieved lesson text.

Cue matching is forgiving the way a reader is: words are lightly stemmed ("pipelines" finds
"pipeline"), the words of a cue may come in any order within a short window ("quality of the data"
finds "data quality"), and long words survive a typo ("goverance").
"""

from __future__ import annotations

import difflib
from functools import lru_cache

from flows.brains.base import Answer, LabContext, LabTurn, QAContext
from flows.shape import compose
from knowledge.schema import RubricPoint
from knowledge.text import sentences, stem_words, tokens

EVIDENCE_CHARS = 160
TYPO_MIN_LENGTH = 6
TYPO_RATIO = 0.85
SHORT_ANSWER_WORDS = 4

PRAISE = ("Good —", "Strong point —", "That's a useful angle —")
NUDGES = (
    "I'm not hearing a new angle yet.",
    "Let's push a little further.",
    "That doesn't move the diagnosis forward yet.",
)


@lru_cache(maxsize=4096)
def _similar(a: str, b: str) -> bool:
    if a == b:
        return True
    if min(len(a), len(b)) < TYPO_MIN_LENGTH:
        return False
    return difflib.SequenceMatcher(None, a, b).ratio() >= TYPO_RATIO


def cue_found(cue: list[str], text: list[str]) -> bool:
    """All words of `cue` within a window of len(cue)+2 words of `text`, in any order."""
    if not cue:
        return False
    window = len(cue) + 2 if len(cue) > 1 else 1
    for start, word in enumerate(text):
        if not _similar(word, cue[0]) and not any(_similar(word, c) for c in cue[1:]):
            continue
        span = text[start : start + window]
        if all(any(_similar(w, c) for w in span) for c in cue):
            return True
    return False


def assess(point: RubricPoint, text: str) -> str | None:
    """The learner's sentence that covers `point`, or None when the turn does not cover it."""
    found: set[str] = set()
    evidence: str | None = None
    for sentence in sentences(text):
        toks = tokens(sentence)
        for cue in point.cues:
            if cue not in found and cue_found(tokens(cue), toks):
                found.add(cue)
                evidence = evidence or sentence
    if len(found) < point.min_cues or evidence is None:
        return None
    return evidence if len(evidence) <= EVIDENCE_CHARS else evidence[: EVIDENCE_CHARS - 1].rstrip() + "…"


class OfflineBrain:
    """The embedded default coach. Same answers for the same inputs, every time."""

    name = "offline"
    remote = False

    async def lab_turn(self, ctx: LabContext) -> LabTurn:
        newly = {}
        if ctx.move == "answer":
            for point in ctx.uncovered():
                evidence = assess(point, ctx.text)
                if evidence:
                    newly[point.id] = evidence
        remaining = [p for p in ctx.uncovered() if p.id not in newly]
        focus = remaining[0] if remaining else None
        turn = len(ctx.history)
        parts: list[str] = []
        if ctx.move == "hint":
            point = next((p for p in remaining if p.id == ctx.focus), focus)
            if point is None:
                return LabTurn(
                    {}, "You've covered every point already — say *finish* for your debrief.", None
                )
            return LabTurn({}, f"Hint on *{in_sentence(point.area)}*: {point.hint}", point.id)
        if newly:
            areas = [in_sentence(ctx.lab.point(pid).area) for pid in newly]
            first = next(iter(newly.values()))
            parts.append(f"{PRAISE[turn % len(PRAISE)]} you're on {_join(areas)}: “{first}”")
        elif len(ctx.text.split()) < SHORT_ANSWER_WORDS:
            parts.append("Say a bit more — what exactly would you ask, check or recommend, and why?")
        else:
            parts.append(NUDGES[turn % len(NUDGES)])
        if focus is None:
            return LabTurn(newly, " ".join(parts), None)
        if not newly and focus.id == ctx.focus and ctx.stalls >= 1:
            parts.append(f"Still on *{in_sentence(focus.area)}*: {focus.hint}")
        else:
            parts.append(focus.probe)
        return LabTurn(newly, " ".join(parts), focus.id)

    async def answer(self, ctx: QAContext) -> Answer:
        """The answer unit(s) of the retrieved passages that the question asks for, given whole and
        cited (see flows.shape); without the course's structure, the best matching sentences."""
        question = ctx.question
        query = set(stem_words(ctx.search or ctx.question))
        said = " ".join(turn.get("answer", "") for turn in ctx.history)
        if ctx.course is not None:
            draft = compose(question, ctx.hits, ctx.course, query, ctx.weights)
            if draft.text and draft.text.split(" [")[0] not in said:
                return Answer(draft.text, draft.cited)
        scored: list[tuple[float, int, int, str]] = []
        for number, hit in enumerate(ctx.hits[:3], start=1):
            for position, sentence in enumerate(sentences(hit.text)):
                overlap = len(query & set(tokens(sentence))) - (2 if sentence in said else 0)
                if overlap > 0:
                    scored.append((overlap + 1.0 / number, number, position, sentence))
        if not scored:
            hit = ctx.hits[0]
            return Answer(f"{sentences(hit.text)[0]} [1]", [1])
        best = sorted(scored, key=lambda s: -s[0])[:2]
        best.sort(key=lambda s: (s[1], s[2]))
        text = " ".join(f"{s[3]} [{s[1]}]" for s in best)
        return Answer(text, sorted({s[1] for s in best}))


def in_sentence(name: str) -> str:
    """A name as it reads mid-sentence: "Data foundation" → "data foundation", "MLOps" stays."""
    return name if len(name) > 1 and name[1].isupper() else name[:1].lower() + name[1:]


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
