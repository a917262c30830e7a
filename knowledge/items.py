"""Item-writing checks for the quizzes: can a question be passed without knowing the lesson?

Three faults let a test-wise learner score without the knowledge (the classic item-writing rules):
the answer key repeats (two lesson quizzes share a key sequence, or one letter is the key far more
often than the others); the right option is the longest by a wide margin; an option borrows the
lesson's wording for the wrong concept (the right answer worded like another concept, or a distractor
worded like the right one). `coach knowledge check` prints these as warnings.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cache

import snowballstemmer

from knowledge.loader import Course, Problem
from knowledge.retrieval import content_words
from knowledge.schema import LETTERS, Question

WIDE_MARGIN = 1.25  # the right option is longer than every distractor by this factor
LONGEST_SHARE = 0.30  # at most this share of questions may have the right option as the longest
LETTER_SHARE = (0.20, 0.30)  # each letter is the key this share of the time overall
ECHO = 0.5  # share of an option's content words found in one unit of the lesson


@cache
def _stemmer():
    return snowballstemmer.stemmer("english")


def terms(text: str) -> frozenset[str]:
    """Stemmed content words."""
    return frozenset(_stemmer().stemWords([w.replace("-", " ") for w in content_words(text)]))


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


@dataclass(frozen=True)
class Unit:
    """One piece of lesson wording: a titled concept (an item or a key term) or a sentence."""

    concept: str  # the title, or the section id for a sentence
    titled: bool
    terms: frozenset[str]


def lesson_units(course: Course, lesson: int) -> dict[str, list[Unit]]:
    """The lesson's wording grouped by section id (key terms under `key-terms`)."""
    doc = course.lesson(lesson)
    if doc is None:
        return {}
    units: dict[str, list[Unit]] = {}
    for section in doc.sections:
        found = [Unit(section.id, False, terms(s)) for p in section.paragraphs for s in _sentences(p)]
        found += [Unit(i.title, True, terms(f"{i.title} {i.text}")) for i in section.items]
        units[section.id] = found
    units["key-terms"] = [Unit(k.term, True, terms(f"{k.term} {k.definition}")) for k in doc.key_terms]
    return units


def _named_by(concept: str, stem: frozenset[str]) -> bool:
    """Whether the stem names the concept: every word of its title, or of one of its "A / B" names."""
    return any(name and name <= stem for name in (terms(part) for part in concept.split("/")))


def share(option: str, unit: Unit) -> float:
    words = terms(option)
    return len(words & unit.terms) / len(words) if words else 0.0


def echo_faults(course: Course, question: Question) -> list[str]:
    """Options worded like the wrong concept, for a stem that names a concept of its lesson (an item
    or key term such as "hub-and-spoke"): the right option must read more like that concept than like
    any other; a distractor must not borrow that concept's words."""
    every = [u for units in lesson_units(course, question.lesson).values() for u in units]
    stem = terms(question.stem)
    named = {u.concept for u in every if u.titled and _named_by(u.concept, stem)}
    if not named:
        return []
    own = [u for u in every if u.concept in named]
    others = [u for u in every if u.titled and u.concept not in named]
    faults = []
    for letter in LETTERS:
        text = question.options[letter]
        best_own = max(share(text, u) for u in own)
        best_other = max(others, key=lambda u: share(text, u), default=None)
        other = share(text, best_other) if best_other else 0.0
        if letter == question.answer and best_other and other >= ECHO and other > best_own:
            faults.append(f"right option {letter} is worded like the lesson's {best_other.concept!r}")
        if letter != question.answer and best_own >= ECHO:
            faults.append(f"distractor {letter} is worded like the lesson's {min(named, key=len)!r}")
    return faults


def longest_margin(question: Question) -> float:
    """How much longer the right option is than the longest distractor (below 1: it is not the longest)."""
    right = len(question.correct_text)
    return right / max(len(t) for k, t in question.options.items() if k != question.answer)


@dataclass(frozen=True)
class KeyReport:
    questions: int
    letters: dict[str, int]
    lesson_keys: dict[str, str]  # quiz id -> key sequence
    right_longest: int
    wide_margin: list[str]


def key_report(course: Course) -> KeyReport:
    questions = course.questions
    letters = Counter(q.answer for q in questions)
    lesson_keys = {
        quiz.id: "".join(q.answer for q in quiz.questions)
        for quiz in sorted(course.quizzes.values(), key=lambda q: q.id)
        if quiz.kind == "lesson_quiz"
    }
    margins = {q.id: longest_margin(q) for q in questions}
    return KeyReport(
        len(questions),
        {letter: letters.get(letter, 0) for letter in LETTERS},
        lesson_keys,
        sum(m > 1 for m in margins.values()),
        [q for q, m in margins.items() if m >= WIDE_MARGIN],
    )


def item_warnings(course: Course) -> list[Problem]:
    """Every item-writing fault as a `Problem` (file, field, message)."""
    warnings: list[Problem] = []
    report = key_report(course)
    quiz_file = {
        q.id: (f"quizzes/{quiz.id}.yaml", i)
        for quiz in course.quizzes.values()
        for i, q in enumerate(quiz.questions)
    }
    seen: dict[str, str] = {}
    for quiz_id, keys in report.lesson_keys.items():
        if keys in seen:
            warnings.append(
                Problem(f"quizzes/{quiz_id}.yaml", "answer", f"key sequence {keys} is also {seen[keys]}'s")
            )
        seen.setdefault(keys, quiz_id)
    low, high = LETTER_SHARE
    for letter, count in report.letters.items():
        if not low <= count / report.questions <= high:
            warnings.append(
                Problem(
                    "quizzes", "answer", f"{letter} is the key in {count} of {report.questions} questions"
                )
            )
    if report.right_longest > LONGEST_SHARE * report.questions:
        warnings.append(
            Problem(
                "quizzes",
                "options",
                f"the right option is the longest in {report.right_longest} of {report.questions} questions",
            )
        )
    for qid in report.wide_margin:
        rel, i = quiz_file[qid]
        warnings.append(
            Problem(rel, f"questions.{i}.options", f"{qid}: the right option is the longest by a wide margin")
        )
    for question in course.questions:
        rel, i = quiz_file[question.id]
        for fault in echo_faults(course, question):
            warnings.append(Problem(rel, f"questions.{i}.options", f"{question.id}: {fault}"))
    return warnings
