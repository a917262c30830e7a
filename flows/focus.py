"""What a fact question asks for, and whether a reply gives it.

A question asking a fact ("how much did Uber charge…", "who is Uber's current CEO?", "when was Nirvana
shut down?") names a thing and asks one attribute of it. A good tutor answers only when the text
gives THAT attribute: a passage about Uber is no answer to what Uber charges. So the question's
words are split into the names it mentions (the course's companies, people, years) and the rest,
its focus (charge, current, shut down), and the reply must hold most of the focus, weighted by how
telling each word is; chat words and politeness weigh nothing. The learner's own organisation ("our
company's CEO", "our Singapore office") is something no lesson can know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flows.deps import Deps
from knowledge.retrieval import content_words
from knowledge.text import stem, stem_words
from knowledge.vocabulary import load_vocabulary

# Words that only say a fact is asked (a figure, a time), not which fact.
CUES = frozenset(["exactly", "roughly", "approximately", "total", "year", "years"])
# A reply must hold at least this share of the focus (idf-weighted) to answer a fact question.
MIN_FOCUS = 0.34
OWN_ORGANISATION = re.compile(
    r"\b(our|my)\b(?: [\w'-]+){0,2} (company|company's|office|offices|org|organisation|organization|"
    r"firm|department|building|ceo|cfo|cto|payroll|hr|intranet|drive|laptop|salary|salaries|team|teams|"
    r"staff|headcount)\b",
    re.IGNORECASE,
)
ADVICE = re.compile(r"\b(should|could|would|ought|need|needs|recommend)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Focus:
    share: float  # of the focus's weight, what the reply holds
    missing: list[str]  # the focus words the reply does not hold


def focus_words(deps: Deps, question: str) -> list[str]:
    """The question's words that say what is asked: not the names it mentions, not chat words."""
    vocab, names = load_vocabulary(), deps.index.names()
    return [w for w in content_words(question) if w not in vocab.chat and w not in names and w not in CUES]


def focus(deps: Deps, question: str, reply: str) -> Focus:
    """How much of what the question asks for (its focus) the reply's own words hold."""
    vocab = load_vocabulary()
    said = set(stem_words(reply))
    total = held = 0.0
    missing: list[str] = []
    for word in focus_words(deps, question):
        weight = deps.index.doc_freq(word)[1]
        total += weight
        meant = {stem(word), *stem_words(vocab.means(word))}
        if meant & said:
            held += weight
        else:
            missing.append(word)
    return Focus(held / total if total else 1.0, missing)


def own_organisation(question: str) -> bool:
    """Whether a question asks a fact about the learner's own organisation ("who is our CEO?", "how
    many people are on our data team?"); asking advice for it ("how big should our team be?") is not."""
    return bool(OWN_ORGANISATION.search(question)) and not ADVICE.search(question)
