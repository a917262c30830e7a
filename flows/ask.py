"""The Q&A flow: retrieve, then answer briefly with numbered citations, or say plainly that the
lessons do not cover the question. Follow-ups in the same conversation are read with the previous
question, so "and why does that matter?" finds the passage the first question found.
"""

from __future__ import annotations

import re

from bot.messages import Citation, Inbound, Reply
from flows.brains.base import QAContext
from flows.deps import Deps
from flows.state import CoachState, QATurn
from knowledge.retrieval import Hit, SearchResult

PASSAGES = 3
KEPT_TURNS = 3
FOLLOW_UP = re.compile(
    r"\b(it|its|that|this|these|those|they|them|their|there|more|why|example|elaborate|else|also)\b"
    r"|^(and|but|so|what about)\b",
    re.IGNORECASE,
)
FOLLOW_UP_WORDS = 8
MARKER = re.compile(r"\[(\d+)\]")
DECLINE = "The lessons don't cover"


def retrieve(deps: Deps, text: str, previous: list[QATurn]) -> SearchResult:
    """Search for the question alone; for a short or referring follow-up, with the previous question."""
    alone = deps.index.search(text, k=PASSAGES)
    if not previous:
        return alone
    referring = bool(FOLLOW_UP.search(text)) and len(text.split()) <= FOLLOW_UP_WORDS
    if alone.grounded and not referring:
        return alone
    combined = deps.index.search(f"{previous[-1]['question']} {text}", k=PASSAGES)
    return combined if combined.grounded else alone


def not_covered(result: SearchResult, deps: Deps) -> Reply:
    lessons: list[int] = []
    for hit in result.hits:
        if hit.lesson and hit.lesson not in lessons:
            lessons.append(hit.lesson)
    if not lessons:
        lessons = [doc.number for doc in deps.course.lessons if doc.number]
    closest = "; ".join(f"Lesson {n}: {deps.course.lesson(n).title}" for n in lessons[:2])
    return Reply(
        f"{DECLINE} that, so I won't guess. "
        f"The closest material is in {closest}. Ask me about AI readiness, governance, talent and culture, "
        "or scaling AI — or say *help* to see what else I can do."
    )


def _citations(hits: list[Hit], cited: list[int], text: str) -> tuple[str, list[Citation]]:
    """Keep the cited hits (or the best one), one number per passage, and rewrite the markers."""
    renumber: dict[int, int] = {}
    citations: list[Citation] = []
    for n in cited or [1]:
        hit = hits[n - 1]
        same = next((c for c in citations if c.passage == hit.passage), None)
        if same is None:
            same = Citation(len(citations) + 1, hit.label, hit.passage, hit.source != "lesson")
            citations.append(same)
        renumber[n] = same.number
    text = MARKER.sub(lambda m: f"[{renumber[int(m.group(1))]}]" if int(m.group(1)) in renumber else "", text)
    return re.sub(r"(\[\d+\])(\s*\1)+", r"\1", text).strip(), citations


async def answer(deps: Deps, question: str, previous: list[QATurn] | None = None) -> Reply:
    """The reply to one question: grounded and cited, or a plain decline naming the closest lessons.

    This is the one entry point for Q&A from any flow (the ask node, a question asked mid-quiz or
    mid-lab); `previous` holds the conversation's earlier Q&A turns for follow-ups.
    """
    previous = previous or []
    result = retrieve(deps, question, previous)
    if not result.grounded:
        return not_covered(result, deps)
    history = [{"question": t["question"], "answer": t.get("answer", "")} for t in previous]
    search = result.query if result.query != question else None
    reply_answer = await deps.brain.answer(QAContext(question, result.hits, history, search))
    text, citations = _citations(result.hits, reply_answer.cited, reply_answer.text)
    return Reply(text, citations=citations)


def declined(reply: Reply) -> bool:
    """Whether a Q&A reply declined (in whole or in part) rather than answered."""
    return not reply.citations or reply.text.startswith(DECLINE)


async def ask(state: CoachState, deps: Deps, inbound: Inbound) -> dict:
    previous = list(state.get("qa") or [])
    reply = await answer(deps, inbound.text, previous)
    turn: QATurn = {
        "question": inbound.text,
        "passages": [c.passage for c in reply.citations],
        "answer": reply.text if reply.citations else "(not covered)",
    }
    return {"qa": [*previous, turn][-KEPT_TURNS:], "replies": [reply.to_dict()]}
