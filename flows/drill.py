"""Spaced repetition: which questions a drill asks, in what order, and how each answer moves the
learner's `fsrs` card.

A drill asks, in order: the questions the learner missed today (at once — not a minute later, when
the card happens to fall due), then overdue cards (oldest due first), then lesson-quiz questions never
seen (lesson by lesson, in quiz order), then module-test questions never seen — but only for lessons
whose quiz the learner has met, or once they have taken the test, so the test is not spoiled — and
last the remaining cards by due date.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from fsrs import Card, Rating

from bot.store import now_iso
from flows.deps import Deps

TODAY = timedelta(hours=24)  # "missed today": a miss in the last day that has not been put right since


def missed_today(deps: Deps, learner: str, now: datetime) -> list[str]:
    """Questions whose latest answer was wrong and given in the last day, in the order they were missed."""
    since = now_iso(now - TODAY)
    latest: dict[str, dict] = {}
    for attempt in deps.store.attempts(learner):  # oldest first
        latest.pop(attempt["question"], None)
        latest[attempt["question"]] = attempt
    return [q for q, a in latest.items() if not a["correct"] and a["answered_at"] >= since]


def drill_order(deps: Deps, learner: str, now: datetime) -> list[str]:
    """Every question the learner may be drilled on, most in need of review first (see the module doc)."""
    course = deps.course
    cards = deps.store.cards(learner)
    stamp = now_iso(now)
    by_due = sorted(cards.values(), key=lambda c: c["due"])
    overdue = [c["question"] for c in by_due if c["due"] <= stamp]
    later = [c["question"] for c in by_due if c["due"] > stamp]
    quizzes = sorted(
        (q for q in course.quizzes.values() if q.kind == "lesson_quiz"), key=lambda q: q.lesson or 0
    )
    unseen_lessons = [q.id for quiz in quizzes for q in quiz.questions if q.id not in cards]
    met = {quiz.lesson for quiz in quizzes if any(q.id in cards for q in quiz.questions)}
    test = course.module_test
    unseen_test: list[str] = []
    if test is not None:
        took_test = any(s["quiz"] == test.id for s in deps.store.quiz_sessions(learner))
        unseen_test = [q.id for q in test.questions if q.id not in cards and (took_test or q.lesson in met)]
    order = missed_today(deps, learner, now) + overdue + unseen_lessons + unseen_test + later
    known = {q.id for q in course.questions}
    return [q for q in dict.fromkeys(order) if q in known]


def review(deps: Deps, learner: str, question: str, correct: bool, now: datetime) -> datetime:
    """Review the learner's card for `question` (Good when right, Again when wrong); returns when it is
    due next."""
    row = deps.store.cards(learner).get(question)
    card = Card.from_dict(json.loads(row["card"])) if row else Card()
    card, _ = deps.scheduler.review_card(card, Rating.Good if correct else Rating.Again, now)
    deps.store.save_card(
        learner, question, card.to_dict(), now_iso(card.due), now_iso(now) if correct else None
    )
    return card.due


def _part_of_day(moment: datetime) -> str:
    hour = moment.hour
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 22:
        return "evening"
    return "night"


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def when(due: datetime, now: datetime) -> str:
    """A review time as people say it, read on the learner's clock (`now`'s timezone): "now",
    "in 10 minutes", "in 3 hours", "this evening", "tomorrow morning", "on Friday afternoon",
    "on 9 December"."""
    due = due.astimezone(now.tzinfo)
    seconds = (due - now).total_seconds()
    if seconds < 60:
        return "now"
    if seconds < 3600:
        return f"in {_plural(round(seconds / 60), 'minute')}"
    days = (due.date() - now.date()).days
    if seconds < 6 * 3600 and days == 0:
        return f"in {_plural(round(seconds / 3600), 'hour')}"
    part = _part_of_day(due)
    if part == "night" and due.hour < 5:
        days -= 1  # 1 a.m. belongs to the night before
    if days <= 0:
        return "tonight" if part == "night" else f"this {part}"
    if days == 1:
        return f"tomorrow {part}"
    if days < 7:
        return f"on {due:%A} {part}"
    return f"on {due.day} {due:%B}" + (f" {due.year}" if due.year != now.year else "")
