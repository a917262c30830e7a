"""The offline coach: deterministic, no network. Lab turns are read by the evidence assessor
(`flows.assessment`: a classifier fitted from the rubric's own examples and misconceptions, with a
snowball stemmer and rapidfuzz); the lab flow's policy words the reply from the rubric. Answers are
extractive: the retrieved lesson sentences that best match the question.
"""

from __future__ import annotations

import re

from flows.assessment import Assessment, Assessor
from flows.brains.base import Answer, LabContext, LabTurn, QAContext
from flows.shape import compose
from knowledge.loader import Course
from knowledge.text import sentences, stem_words, tokens

_ASSESSORS: dict[str, Assessor] = {}


def assessor_for(course: Course) -> Assessor:
    """The course's assessor, fitted once per process (per course version) and shared."""
    if course.content_hash not in _ASSESSORS:
        _ASSESSORS[course.content_hash] = Assessor(course.labs)
    return _ASSESSORS[course.content_hash]


class OfflineBrain:
    """The embedded default coach. Same answers for the same inputs, every time."""

    name = "offline"
    remote = False

    async def lab_turn(self, ctx: LabContext) -> LabTurn:
        if ctx.move != "answer":
            return LabTurn(Assessment("empty"))
        return LabTurn(assessor_for(ctx.course).assess(ctx.lab, ctx.text))

    async def answer(self, ctx: QAContext) -> Answer:
        """The answer unit(s) of the retrieved passages that the question asks for, given whole and
        cited (see flows.shape); without the course's structure, the best matching sentences."""
        question = ctx.question
        query = set(stem_words(ctx.search or ctx.question))
        said = " ".join(turn.get("answer", "") for turn in ctx.history)
        if ctx.shaped and ctx.shaped.split(" [")[0] not in said:  # the units chosen for it, given as they are
            return Answer(ctx.shaped, sorted({int(n) for n in re.findall(r"\[(\d+)\]", ctx.shaped)}))
        if ctx.course is not None:
            draft = compose(question, ctx.hits, ctx.course, query, ctx.weights, ctx.names)
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


__all__ = ["OfflineBrain", "assessor_for", "in_sentence"]
