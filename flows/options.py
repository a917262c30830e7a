"""The order a learner sees a question's options in, and the mapping from a shown letter back to
the option.

Each learner gets one fixed arrangement of the four positions (one of the 24, picked by a hash of
the learner id), used for every question: the order is stable for a learner and question, differs
between learners, and — because it is one permutation of positions — keeps what the course files
guarantee for every learner: each letter is the key equally often, no two lesson quizzes share a key
sequence. An independent shuffle per question would undo that balance. Buttons carry the option id,
so a click means the same option whatever letter it was shown under; a typed letter is read through
the learner's arrangement. Attempts store the option's text, never the letter.
"""

from __future__ import annotations

import hashlib
from itertools import permutations

from knowledge.schema import LETTERS, Letter, Question

ARRANGEMENTS: list[tuple[Letter, ...]] = list(permutations(LETTERS))


def arrangement(learner: str) -> tuple[Letter, ...]:
    """The option ids in the order this learner sees them (position A first)."""
    digest = hashlib.sha256(f"options:{learner}".encode()).digest()
    return ARRANGEMENTS[int.from_bytes(digest[:4], "big") % len(ARRANGEMENTS)]


def shown(question: Question, learner: str) -> dict[Letter, Letter]:
    """Shown letter -> option id, in display order."""
    return dict(zip(LETTERS, arrangement(learner), strict=True))


def shown_options(question: Question, learner: str) -> dict[Letter, str]:
    """Shown letter -> option text, in display order."""
    return {letter: question.options[option] for letter, option in shown(question, learner).items()}


def letter_of(question: Question, learner: str, option: str) -> Letter:
    """The letter this learner sees an option id under."""
    return next(letter for letter, oid in shown(question, learner).items() if oid == option)
