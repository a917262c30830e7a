"""How much each word of a question weighs: the learner's own words in full, the course words a
synonym only means at a share, an idiom's words at nothing.
"""

from __future__ import annotations

import math

from knowledge.retrieval import content_words, words
from knowledge.text import stem, stem_set
from knowledge.vocabulary import load_vocabulary

MEANT = 0.5  # the weight of a course word the question only means, as a share of its own


Weights = dict[str, float]  # query stem -> how telling it is (idf in the course); missing = 1


def own_weights(question: str, weights: Weights) -> Weights:
    """A course word the question only means (a synonym's: "stale" → drift, "COE" → center,
    excellence, centralized) weighs less than the learner's own word: a unit saying "stale data"
    beats one saying "drift", and one word asked never weighs as three."""
    own = set(stem_set(question))
    vocab = load_vocabulary()
    # A phrase of words never searched ("get out of" → escape, "should own" → owner) says what it
    # means only through its course words: they are the learner's own.
    said = f" {' '.join(words(question))} "
    for phrase, means in _unsearched_phrases(vocab):
        if f" {phrase} " in said:
            own |= means
    # A phrase meaning one thing ("building blocks" → components) is that thing, not its words: its
    # words weigh nothing unless the question says them elsewhere ("building" is not "Building a
    # Platform"), what it means weighs as the learner's own.
    idiom: set[str] = set()
    for phrase, means in _idioms(vocab):
        if f" {phrase} " in said:
            own |= means
            rest = said.replace(f" {phrase} ", " ")
            idiom |= stem_set(phrase) - stem_set(rest)
    weighed = {s: w * (0.0 if s in idiom else 1.0 if s in own else MEANT) for s, w in weights.items()}
    # A learner's abbreviation weighs what it means ("org" as much as "organization"), not what its
    # rarity in the text would make it (the one "Talent & Org. Readiness").
    for word in words(question):
        means = vocab.means(word).split()
        meant = [weights[m] for m in stem_set(" ".join(means)) if m in weights]
        if meant and stem(word) in weighed and any(m.startswith(stem(word)) for m in means):
            weighed[stem(word)] = min(weighed[stem(word)], max(meant))
    return weighed


_UNSEARCHED: dict[int, list[tuple[str, frozenset[str]]]] = {}


_IDIOMS: dict[int, list[tuple[str, frozenset[str]]]] = {}


def _idioms(vocab) -> list[tuple[str, frozenset[str]]]:
    """The vocabulary's phrases of two or more searched words meaning one course word ("building
    blocks" → components), with its stems."""
    if id(vocab) not in _IDIOMS:
        _IDIOMS[id(vocab)] = [
            (said, stem_set(means))
            for said, means in vocab.synonyms.items()
            if len(content_words(said)) >= 2 and len(means.split()) == 1
        ]
    return _IDIOMS[id(vocab)]


def _unsearched_phrases(vocab) -> list[tuple[str, frozenset[str]]]:
    """The vocabulary's phrases made only of words never searched, with the stems they mean."""
    if id(vocab) not in _UNSEARCHED:
        _UNSEARCHED[id(vocab)] = [
            (said, stem_set(means))
            for said, means in vocab.synonyms.items()
            if " " in said and not content_words(said)
        ]
    return _UNSEARCHED[id(vocab)]


def _overlap(query: set[str], text: str) -> set[str]:
    return query & stem_set(text)


def _weigh(stems: set[str], weights: Weights) -> float:
    # fsum: the same total whatever order the set iterates in (it differs between processes), so
    # two units never swap places between workers on a last-bit rounding difference
    return math.fsum(weights.get(s, 1.0) for s in stems)
