"""The nudge-planning benchmark over the learner store (`coach bench nudges`; also part of `coach bench`)."""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.managers.nudges import Nudges, ScheduleRequest
from bot.store import Store, now_iso
from knowledge.loader import Course


@dataclass
class NudgeBench:
    members: int
    cards: int
    runs_s: list[float]

    @property
    def median_s(self) -> float:
        return statistics.median(self.runs_s)

    def to_json(self) -> dict:
        return {
            "members": self.members,
            "cards": self.cards,
            "median_s": round(self.median_s, 4),
            "min_s": round(min(self.runs_s), 4),
            "max_s": round(max(self.runs_s), 4),
            "runs": len(self.runs_s),
        }


def seed_cards(store: Store, course: Course, members: list[str], now: datetime, seed: int = 7) -> int:
    """Give members a realistic spread of cards: newcomers, occasional and regular learners."""
    rng = random.Random(seed)
    questions = [q.id for q in course.questions]
    rows = []
    for member in members:
        for question in rng.sample(questions, rng.choice([0, 3, 8, 15, 31])):
            due = now + timedelta(days=rng.uniform(-10, 20))
            correct = now - timedelta(days=rng.uniform(0, 10)) if rng.random() < 0.6 else None
            rows.append(
                {
                    "learner": member,
                    "question": question,
                    "card": json.dumps({"card_id": 1}),
                    "due": now_iso(due),
                    "last_correct_at": now_iso(correct) if correct else None,
                }
            )
    store.insert_rows("cards", rows)
    return len(rows)


def bench_nudges(course: Course, members: int = 10_000, rounds: int = 3) -> NudgeBench:
    """Time planning and enqueueing one weekly window for `members` people on a file database."""
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        ids = [f"slack:U{i:07d}" for i in range(members)]
        cards = seed_cards(store, course, ids, now)
        nudges = Nudges(store, course)
        runs = []
        for week in range(rounds):
            schedule = nudges.create(
                "slack:UMANAGER", ScheduleRequest(0, "09:00", "UTC", "everyone"), "everyone", ids, now
            )
            started = time.perf_counter()
            planned = nudges.plan(schedule, f"2026-W{week}", now)
            runs.append(time.perf_counter() - started)
            assert planned == members
        store.close()
    return NudgeBench(members, cards, runs)
