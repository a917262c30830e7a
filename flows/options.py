"""The order a learner sees a question's options in, and the mapping from a shown letter back to
the option.

Each attempt at a quiz gets one arrangement of the four positions (one of the 24), used for every
question of that attempt. A learner's first attempt at any quiz uses their own arrangement (picked by
a hash of the learner id): stable for a learner, different between learners, and — because it is one
permutation of positions — it keeps what the course files guarantee: each letter is the key equally
often, no two lesson quizzes share a key sequence. A retake (attempt 2, 3, …) gets a fresh
arrangement, deterministic from learner, quiz and attempt (so a resumed attempt keeps its order) and
never the previous attempt's, so the letters of the last attempt do not answer the next one. An
independent shuffle per question would undo the balance. Buttons carry the option id, so a click
means the same option whatever letter it was shown under; a typed letter is read through the
attempt's arrangement. Attempts store the option's text, never the letter.
"""

from __future__ import annotations

import hashlib
from itertools import permutations

from knowledge.schema import LETTERS, Letter, Question

ARRANGEMENTS: list[tuple[Letter, ...]] = list(permutations(LETTERS))


def _pick(seed: str, among: list[tuple[Letter, ...]]) -> tuple[Letter, ...]:
    digest = hashlib.sha256(seed.encode()).digest()
    return among[int.from_bytes(digest[:4], "big") % len(among)]


def arrangement(learner: str, quiz: str = "", attempt: int = 1) -> tuple[Letter, ...]:
    """The option ids in the order this learner sees them in `attempt` of `quiz` (position A first)."""
    order = _pick(f"options:{learner}", ARRANGEMENTS)
    for n in range(2, attempt + 1):
        order = _pick(f"options:{learner}:{quiz}:{n}", [a for a in ARRANGEMENTS if a != order])
    return order


def shown(question: Question, learner: str, quiz: str = "", attempt: int = 1) -> dict[Letter, Letter]:
    """Shown letter -> option id, in display order."""
    return dict(zip(LETTERS, arrangement(learner, quiz, attempt), strict=True))


def shown_options(question: Question, learner: str, quiz: str = "", attempt: int = 1) -> dict[Letter, str]:
    """Shown letter -> option text, in display order."""
    return {letter: question.options[o] for letter, o in shown(question, learner, quiz, attempt).items()}


def letter_of(question: Question, learner: str, option: str, quiz: str = "", attempt: int = 1) -> Letter:
    """The letter this learner sees an option id under."""
    return next(k for k, oid in shown(question, learner, quiz, attempt).items() if oid == option)
