"""The lesson's verdict on a yes/no question ("can we just grow our pilot into the platform?", "is
technology the main reason AI projects fail?"): a tutor answers "No — …" first when a sentence of the
passages found denies what the question asks, and gives no verdict the text does not state.

A sentence denies the question when it holds most of the question's (weighted) words and what a
negation in it governs ("…is **not** how many models are running, but…", "…**rather than**
replacing underwriters…") holds words the question asks about. Only "no" is read this way: a
sentence merely saying the question's words is no "yes" (it may say them of something else).
"""

from __future__ import annotations

import re

from flows.weights import Weights, _weigh
from knowledge.loader import Course
from knowledge.retrieval import Hit
from knowledge.text import sentences, stem_set
from knowledge.units import passage_units

# A part opening with an auxiliary asks yes or no ("is…", "can't we…", "did Ping An…"); one asking
# for something ("does the course say…", "can you list…", "is there…"), between options ("is it
# five or six?") or what to do ("should we build a platform?": a recommendation, flows/shape.py)
# does not.
YES_NO = re.compile(
    r"^(?:(?:and|so|but|also|ok|okay)\s+)?(?:is|are|was|were|isn't|aren't|wasn't|can|can't|could|does|do|"
    r"doesn't|don't|did|didn't|will|would|won't|has|have)\s+"
    r"(?!(?:there|you|u|anyone|anybody|someone|somebody|the (?:course|lesson|lessons|reading|article|"
    r"deck|slides?))\b)['\"‘“]?\w",
    re.IGNORECASE,
)
CHOICE = re.compile(r"\b(?:or|either|whether)\b(?! not\b| no\b)", re.IGNORECASE)
# What denies: the words a negation governs run to the contrast that follows ("not X, but Y").
NEGATION = re.compile(
    r"\b(?:not(?! only\b)|never|no longer|cannot|can't|isn't|aren't|wasn't|weren't|don't|doesn't|didn't|"
    r"won't|nor|rather than|instead of)\b",
    re.IGNORECASE,
)
SCOPE_END = re.compile(r"\bbut\b|[—–;:]| - |, (?:it|they|this|that) (?:is|are|was|were)\b", re.IGNORECASE)
HOLDS = 0.4  # the denying sentence holds this share of the question's weight
DENIED = 0.2  # ...and what its negation governs this share
PASSAGES = 4  # the verdict is looked for in the best passages found


ASKING = re.compile(r"(?:^|[,:;.!?]\s+|\s-\s)(?=\S)")
ANSWERS = re.compile(r"\byes\s*(?:or|/)\s*no\b", re.IGNORECASE)


# "is that a good measure?": the subject is what was said before it
POINTING = re.compile(r"^\W*\w+(?:n't)?\s+(?:that|it|this|they|those|these)\b", re.IGNORECASE)


def yes_no_parts(parts: list[str]) -> list[str]:
    """The clauses of the asking parts that ask yes or no, in order ("when pilots stall, is the
    technology the problem?" asks "is the technology the problem?"), each with what its pronoun
    points back to ("our dashboard counts live models. is that a good measure?")."""
    asked = []
    for part in parts:
        part = ANSWERS.sub("", part)
        for start in ASKING.finditer(part):
            clause = part[start.end() :].strip()
            if YES_NO.match(clause) and not CHOICE.search(clause):
                before = part[: start.start()].strip()
                asked.append(f"{before} {clause}" if POINTING.match(clause) else clause)
                break
    return asked


def without(text: str, sentence: str) -> str:
    """`text` with the verdict's sentence left out, when it holds it (it is told first already)."""
    return re.sub(r"  +", " ", text.replace(sentence, "")).replace(" \n", "\n").strip()


def denial(
    part: str, query: set[str], hits: list[Hit], course: Course, weights: Weights
) -> tuple[str, int] | None:
    """The sentence denying what `part` asks and its hit number, best first; None when no sentence of
    the best passages does (then there is no verdict to give)."""
    asked = query & stem_set(part)
    total = _weigh(asked, weights)
    if not asked or total <= 0:
        return None
    best: tuple[float, str, int] | None = None
    seen: set[str] = set()
    for n, hit in enumerate(hits, start=1):
        if hit.passage in seen:
            continue
        seen.add(hit.passage)
        if len(seen) > PASSAGES:
            break
        for unit in passage_units(course, hit.passage):
            body = " ".join([unit.text, *(text for _, text in unit.items)])
            for sentence in sentences(body):
                held = _weigh(asked & stem_set(sentence), weights)
                if held < HOLDS * total or (best and held <= best[0]):
                    continue
                if _weigh(asked & _denied(sentence), weights) >= DENIED * total:
                    best = (held, sentence.strip(), n)
    return (best[1], best[2]) if best else None


def _denied(sentence: str) -> frozenset[str]:
    """The stems a negation of the sentence governs, up to the contrast that ends it."""
    said = sentence.replace("’", "'")
    governed: set[str] = set()
    for cue in NEGATION.finditer(said):
        rest = said[cue.end() :]
        end = SCOPE_END.search(rest)
        governed |= stem_set(rest[: end.start()] if end else rest)
    return frozenset(governed)
