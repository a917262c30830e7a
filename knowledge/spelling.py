"""Misspellings repaired against the course's own words: a word the course never uses that is close
to one it does ("fatcors" → "factors", "porduction" → "production", "Mihcelangelo" → "michelangelo").

Two tests, both keeping the first letter ("partner" is no typo of "Gartner"): a close match by
`difflib`'s ratio, or exactly one course word (or one course word family's stem: "recomend" →
"recommended") a single slip of the keys away (two neighbouring letters swapped, one left out,
doubled or mistyped). A word English's lexicon knows is never a
misspelling ("phrase" is not "phase", "remote" is not "remove"), only, when British, the same word
spelt the American way the course uses ("standardise" → "standardize").
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import Protocol

TYPO_MIN = 5  # shorter words have too many near ones
TYPO_MAX = 30  # a longer token ("aaaa…", a pasted hash) is no misspelt word, and its near ones cost O(n²)
TYPO_CUTOFF = 0.85
# Answers about single words a learner wrote are remembered, but boundedly: a flood of made-up words must
# not grow a long-lived worker without end.
WORD_CACHE = 8192
LETTERS = "abcdefghijklmnopqrstuvwxyz"
# The number words, a closed class English's lexicon (lemminflect) leaves out: "three" is no slip
# for "there", nor "seven" for "seen".
_UNITS = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
_TENS = "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand"
_ORDINALS = "first second third fourth fifth sixth seventh eighth ninth tenth twelfth twentieth hundredth"
NUMBER_WORDS = frozenset(f"{_UNITS} {_TENS} {_ORDINALS} million billion trillion".split())


class Words(Protocol):
    def doc_freq(self, word: str) -> tuple[int, float]: ...
    def vocabulary(self) -> list[str]: ...


@lru_cache(maxsize=WORD_CACHE)
def known_to_english(word: str) -> bool:
    """Whether English's lexicon (lemminflect's, shipped in its wheel) knows the word."""
    from lemminflect import getAllLemmas

    return bool(getAllLemmas(word))


def one_slip(word: str, known: frozenset[str]) -> str | None:
    """The word of `known` one slip of the keys from `word` (the first letter kept), if exactly one."""
    if len(word) > TYPO_MAX:
        return None
    cuts = [(word[:i], word[i:]) for i in range(1, len(word) + 1)]
    near = {a + b[1:] for a, b in cuts if b}
    near |= {a + b[1] + b[0] + b[2:] for a, b in cuts if len(b) > 1}
    near |= {a + c + b[1:] for a, b in cuts if b for c in LETTERS}
    near |= {a + c + b for a, b in cuts for c in LETTERS}
    found = sorted((near - {word}) & known)
    return found[0] if len(found) == 1 else None


# British spellings and their American forms, at a word's end: standardise, analyse, behaviour, centre.
BRITISH = (
    (re.compile(r"is(e|ed|es|ing|ation|ations|er|ers)$"), r"iz\1"),
    (re.compile(r"ys(e|ed|es|ing)$"), r"yz\1"),
    (re.compile(r"our(s|ed|ing|ite|ites)?$"), r"or\1"),
    (re.compile(r"tre(s|d)?$"), r"ter\1"),
    (re.compile(r"ll(ed|ing|er|ers)$"), r"l\1"),
    (re.compile(r"ogue(s)?$"), r"og\1"),
)


def american(word: str) -> str:
    """The American spelling of a British one ("standardise" → "standardize"), else the word."""
    for british, us in BRITISH:
        if british.search(word):
            return british.sub(us, word)
    return word


@lru_cache(maxsize=4)
def _by_first_letter(index: Words) -> dict[str, list[str]]:
    """The course's words grouped by their first letter (a repair keeps the first letter)."""
    groups: dict[str, list[str]] = {}
    for w in index.vocabulary():
        groups.setdefault(w[:1], []).append(w)
    return groups


@lru_cache(maxsize=WORD_CACHE)
def repaired(index: Words, word: str) -> str | None:
    """The course word a misspelt question word means, or None (a course word, too short, or no
    course word close enough)."""
    if not TYPO_MIN <= len(word) <= TYPO_MAX or index.doc_freq(word)[0]:
        return None
    if known_to_english(word):  # only the same word spelt the other side of the Atlantic
        variant = american(word)
        return variant if variant != word and index.doc_freq(variant)[0] else None
    alike = _by_first_letter(index).get(word[:1], [])
    near = difflib.get_close_matches(word, alike, n=1, cutoff=TYPO_CUTOFF)
    return near[0] if near else one_slip(word, frozenset(alike)) or family_slip(word, alike)


def family_slip(word: str, alike: list[str]) -> str | None:
    """The course word whose stem `word` is one slip from, when the course only writes other forms
    of it ("recomend" → "recommended": the course says "recommended", "recommendations")."""
    from knowledge.text import stem

    family: dict[str, str] = {}
    for w in sorted(alike, key=len):
        if len(root := stem(w)) >= TYPO_MIN:
            family.setdefault(root, w)
    root = one_slip(word, frozenset(family))
    return family[root] if root else None


@lru_cache(maxsize=WORD_CACHE)
def everyday_slip(word: str) -> str | None:
    """The everyday or chat word a word English doesn't know is a slip for ("isntead", "bascially",
    "soemone", "diffrence"): it says how the learner asks, as the word meant would."""
    from knowledge.vocabulary import everyday_words, load_vocabulary

    if len(word) < TYPO_MIN or known_to_english(word) or word in NUMBER_WORDS:
        return None
    return one_slip(word, everyday_words() | load_vocabulary().chat)


@lru_cache(maxsize=WORD_CACHE)
def learner_slip(word: str) -> str | None:
    """The learner's word the vocabulary reads (`knowledge/vocabulary.yaml`: "forcing", "charging")
    that a word English doesn't know is one slip from ("forcnig"), so its synonyms are read too."""
    from knowledge.vocabulary import load_vocabulary

    if not TYPO_MIN <= len(word) <= TYPO_MAX or known_to_english(word) or word in NUMBER_WORDS:
        return None
    return one_slip(word, load_vocabulary().learner_words)
