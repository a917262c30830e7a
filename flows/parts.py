"""A message asking several things, put together in one reply: the answers to the questions the
lessons cover, in the asker's order, each with its own citations, then one plain sentence naming the
questions they don't cover ("The lessons don't cover this: “how much did it cost?”")."""

from __future__ import annotations

import re

from bot.messages import Citation, Reply
from knowledge.text import stem_words

MARKER = re.compile(r"\[(\d{1,4})\]")  # a model-written "[n]"; a 5,000-digit n is no marker
UNCOVERED = "The lessons don't cover"


def joined(replies: list[Reply], uncovered: list[str]) -> Reply:
    """One reply from the answers to a message's questions: their texts in order, their citations
    numbered once per passage across them, and the questions not covered named last. A line of an
    answer saying nothing the answers before it did not is left out."""
    citations: list[Citation] = []
    texts: list[str] = []
    for reply in replies:
        numbers: dict[int, int] = {}
        for c in reply.citations:
            same = next((k for k in citations if k.passage == c.passage), None)
            if same is None:
                same = Citation(len(citations) + 1, c.label, c.passage, c.supplementary)
                citations.append(same)
            numbers[c.number] = same.number
        said = sentences("\n".join(texts))
        lines = [line for line in renumbered(reply.text, numbers).split("\n") if not sentences(line) <= said]
        if lines:
            texts.append("\n".join(lines))
    if uncovered:
        texts.append(not_covered(uncovered))
    return Reply("\n\n".join(texts), citations=citations)


def renumbered(text: str, numbers: dict[int, int]) -> str:
    """The text with each citation marker `[n]` written as `[numbers[n]]`."""
    return MARKER.sub(lambda m: f"[{numbers.get(int(m.group(1)), int(m.group(1)))}]", text)


def sentences(text: str) -> set[str]:
    """The sentences and lines of a reply, without citation markers: what it says."""
    bare = MARKER.sub(" ", text)
    return {" ".join(s.split()) for s in re.split(r"(?<=[.;!?])\s+|\n", bare) if s.strip()}


def not_covered(questions: list[str]) -> str:
    """The sentence naming the questions the lessons don't cover, each as asked."""
    asked = " or ".join(f"“{q.strip().rstrip('?').strip()}?”" for q in questions)
    return f"{UNCOVERED} {'this' if len(questions) == 1 else 'these'}: {asked}"


YEAR = re.compile(r"\b(19|20)\d\d\b")
REACH = 4  # words between a year and what it dates ("launched in 2017")


def dated(text: str, asked: set[str]) -> bool:
    """Whether a sentence of `text` gives a year within REACH words of a word of what is dated
    (`asked`, stems; any year when nothing is named)."""
    for sentence in re.split(r"(?<=[.;!?])\s+", MARKER.sub(" ", text)):
        said = sentence.split()
        years = [i for i, w in enumerate(said) if YEAR.search(w)]
        if years and not asked:
            return True
        at = [i for i, w in enumerate(said) if set(stem_words(w)) & asked]
        if any(abs(i - j) <= REACH for i in at for j in years):
            return True
    return False
