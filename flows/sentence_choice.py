"""Which sentences of a paragraph answer: the ones carrying the question's words, the one holding
the fact a number / who / when question asks, a definition's own sentence, and the sentence a
chosen one leans on.
"""

from __future__ import annotations

import re
from functools import lru_cache

from flows.question import FACTS
from flows.weights import Weights, _overlap, _weigh
from knowledge.text import sentences, stem_set

DEFINING = 1.5  # a definition question: a sentence saying what the thing is scores this much more


SENTENCES_PER_TEXT = 2


# A paragraph this short (about 130 words) is one answer unit, given whole: the authors' own cut keeps
# a claim with its reason and its source. Longer ones give their best sentences.
WHOLE_PARAGRAPH = 800


@lru_cache(maxsize=8192)
def cut_sentences(text: str) -> tuple[str, ...]:
    """`sentences`, remembered (the same paragraphs are cut for every question)."""
    return tuple(sentences(text))


# What a who / when question is answered by: a sentence naming someone, a sentence with a year.
NAMED = re.compile(r"(?<!^)(?<![.!?] )\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)+\b|\b[A-Z]{2,}\b(?!\s*:)")


# A sentence that leans on the one before it ("They are…", "Without these…").
REFERS = re.compile(
    r"(This|These|That|It|They|Those|Such|(With|Without|Of|In|For|Beyond) (this|these|that|those|them|it))\b"
)


YEAR = re.compile(r"\b(19|20)\d\d\b")


IS = re.compile(r"^((?:[\w&'’\"“”()-]+ ){1,6}?)(?:is|are|refers to|means|describes)\b")


def is_defining(sentence: str, query: set[str]) -> bool:
    """Whether a sentence says what something asked about is ("The inflection point is the moment…")."""
    return bool(query & _defined(sentence))


@lru_cache(maxsize=8192)
def _defined(sentence: str) -> frozenset[str]:
    """The stems of what a sentence says something is about ("The inflection point" is…), or none."""
    said = IS.match(sentence)
    return stem_set(said.group(1)) if said else frozenset()


# Headings that name a text's form, not its topic: "Frequently Asked Questions" answers no question
# about questions, and a learner asking what questions a framework asks is not asking for the FAQ.
FORM = re.compile(
    r"^(frequently asked questions|faqs?|introduction|conclusion|opening|key takeaways?|summary)\b", re.I
)


def topic_of(heading: str) -> str:
    """The part of a section heading that says what the section is about ("" for a FAQ)."""
    return "" if FORM.match(heading.strip()) else heading


@lru_cache(maxsize=8192)
def tells_shape(shape: str, text: str) -> bool:
    """Whether a text can answer a who / when question (names someone / has a year); True for other
    shapes."""
    if shape == "who":
        return bool(NAMED.search(text))
    if shape == "when":
        return bool(YEAR.search(text))
    return True


INLINE_LIST = re.compile(r"^(?P<lead>[^:]{3,200}):\s+[^:,]+,[^:,]+,[^:]+$")


def lists_inline(sentence: str, query: set[str]) -> bool:
    """Whether a sentence lists, after a colon, the things it names right before it in the question's
    words ("…five key dimensions: Strategic Alignment & Vision, Data Foundation & Governance, …")."""
    said = INLINE_LIST.match(sentence)
    return bool(said and query & stem_set(" ".join(said["lead"].split()[-3:])))


def is_fact(shape: str, sentence: str) -> bool:
    """Whether a sentence holds the kind of fact a number / who / when question asks for."""
    return bool(re.search(r"\d", sentence)) if shape == "number" else tells_shape(shape, sentence)


def _fact_sentences(
    scored: list[tuple[float, int, set[str]]], said: tuple[str, ...], shape: str, weights: Weights
) -> list[tuple[float, int, set[str]]]:
    """The best sentence holding the fact asked for, then each sentence that holds more of what the
    question asks (whose figure it is), best first, until they hold all the paragraph holds of it: the
    unit is chosen, and the answer judged, on the same words as when it is given whole."""
    facts = [x for x in scored if is_fact(shape, said[x[1]])]
    chosen = [max(facts, key=lambda x: x[0])]
    covered = set(chosen[0][2])
    while True:
        rest = [x for x in scored if x not in chosen and x[2] - covered]
        if not rest:
            break
        more = max(rest, key=lambda x: (_weigh(x[2] - covered, weights), x[0]))
        chosen.append(more)
        covered |= more[2]
    return chosen


def best_sentences(
    paragraph: str,
    query: set[str],
    shape: str,
    weights: Weights,
    one_fact: bool = False,
) -> tuple[str, set[str]]:
    """Up to two sentences of a paragraph that carry the question's words, in reading order; for a
    question asking `one_fact`, the sentence holding it and those holding the rest of what is asked."""
    said = cut_sentences(paragraph)
    scored = []
    for i, s in enumerate(said):
        got = _overlap(query, s)
        if not got:
            continue
        bonus = 0.5 if shape == "number" and re.search(r"\d", s) else 0
        if shape in ("who", "when") and tells_shape(shape, s):
            bonus += 1.5
        if shape == "list" and re.search(r":[^:]+,[^:]+,", s):  # an inline list: "causes: a, b, c"
            bonus += 2
        if shape == "definition" and is_defining(s, query):
            bonus += DEFINING
        scored.append((_weigh(got, weights) + bonus, i, got))
    if not scored:
        return "", set()
    # A number / who / when question asks for one fact: the sentence that holds it (with its source
    # and any sentence it leans on), not the whole short paragraph it is buried in.
    short = len(paragraph) <= WHOLE_PARAGRAPH
    fact = short and one_fact and shape in FACTS and any(is_fact(shape, said[i]) for _, i, _ in scored)
    if short and not fact:
        covers = set().union(*(got for *_, got in scored))
        return " ".join(said), covers
    best = sorted(scored, key=lambda x: -x[0])[:SENTENCES_PER_TEXT]
    if fact:
        best = _fact_sentences(scored, said, shape, weights)
    keep = sorted(i for _, i, _ in best)
    # A weak second sentence is dropped, unless it holds a part of the question the first does not
    # ("what was the % and how many did they ask?": one sentence per part).
    if not fact and len(best) == 2 and best[1][0] < best[0][0] / 2 and not (best[1][2] - best[0][2]):
        keep = [best[0][1]]
        best = best[:1]
    # A sentence that leans on the one before ("These…", "Without these…") keeps it, and so on back.
    for i in list(keep):
        while i > 0 and REFERS.match(said[i]) and i - 1 not in keep:
            keep.append(i - 1)
            i -= 1
    keep.sort()
    covers: set[str] = set()
    for _, _, got in best:
        covers |= got
    return " ".join(said[i] for i in keep), covers
