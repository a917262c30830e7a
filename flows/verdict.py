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
# ...and end with its clause: at a contrast, a dash or a comma ("Rather than mass layoffs, AT&T launched…"
# denies the layoffs, not what AT&T launched)
SCOPE_END = re.compile(r"\bbut\b|[—–;:,]| - ", re.IGNORECASE)
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


# What a yes/no question is about: the first words after its auxiliary ("does **culture matter** for AI
# adoption?", "is **AI governance basically** a checkbox?"); none when that is a pronoun ("can't we
# just…", "did they keep…"): then its verb says what is asked.
PRONOUNS = frozenset(["i", "we", "you", "they", "it", "he", "she", "this", "that", "these", "those", "there"])
DETERMINERS = frozenset(["the", "a", "an", "our", "my", "your", "their", "its", "his", "her"])
LEADING = frozenset(["and", "so", "but", "also", "ok", "okay"])
SUBJECT_WORDS = 3


def subject_of(part: str) -> frozenset[str]:
    """The stems of the first SUBJECT_WORDS words of a yes/no clause after its auxiliary."""
    said = re.findall(r"[\w&'-]+", part.lower())
    said = said[1:] if said and said[0] in LEADING else said
    said = [w for w in said[1:] if w not in DETERMINERS]
    if not said or said[0] in PRONOUNS:
        return frozenset()
    return stem_set(" ".join(said[:SUBJECT_WORDS]))


def denial(
    part: str, query: set[str], hits: list[Hit], course: Course, weights: Weights
) -> tuple[str, int] | None:
    """The sentence denying what `part` asks and its hit number, best first; None when no sentence of
    the best passages does (then there is no verdict to give). A sentence that never names what the
    question is about denies nothing of it ("does culture matter…?" is not denied by a sentence on
    technology adoption)."""
    asked = query & stem_set(part)
    total = _weigh(asked, weights)
    if not asked or total <= 0:
        return None
    about = subject_of(part) & asked
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
                stems = stem_set(sentence)
                held = _weigh(asked & stems, weights)
                if held < HOLDS * total or (best and held <= best[0]) or (about and not about & stems):
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
