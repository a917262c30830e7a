"""Small text helpers shared by the brains and the answer shaper: sentences and light stemming."""

from __future__ import annotations

import re
from functools import lru_cache

from knowledge.retrieval import content_words, words

SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English stemmer: enough to make plurals and verb forms meet ("stages", "stage" →
    "stag"; "operating", "operate" → "operat")."""
    for suffix, replacement, min_len in (
        ("ies", "y", 5),
        ("ing", "", 6),
        ("ed", "", 5),
        ("sses", "ss", 5),
        ("xes", "x", 5),
        ("ches", "ch", 6),
        ("shes", "sh", 6),
        ("s", "", 4),
    ):
        if word.endswith(suffix) and len(word) >= min_len and not word.endswith("ss"):
            word = word[: -len(suffix)] + replacement
            break
    if word.endswith("e") and len(word) >= 5:
        word = word[:-1]
    return word


def tokens(text: str) -> list[str]:
    return [stem(w) for w in words(text.replace("-", " "))]


def stem_words(text: str) -> list[str]:
    """The stemmed content words of a text (no stopwords), hyphenated words split."""
    return list(_stem_words(text))


@lru_cache(maxsize=8192)
def stem_set(text: str) -> frozenset[str]:
    """The distinct stemmed content words of a text (remembered, like `stem_words`)."""
    return frozenset(_stem_words(text))


@lru_cache(maxsize=8192)
def _stem_words(text: str) -> tuple[str, ...]:
    # remembered: the shaper reads the same course units for every question
    return tuple(stem(w) for w in content_words(text.replace("-", " ").replace("/", " ")))


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE.split(text) if s.strip()]
