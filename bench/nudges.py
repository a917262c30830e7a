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
    attempts: int  # answers in the store before planning (what spacing reads)
    deliveries: int  # earlier weekly sets in the store (what "asked before" and "this week" read)
    runs_s: list[float]
    cpu_s: list[float]  # this process's CPU time per run (wall time waits for a core on a busy machine)

    @property
    def median_s(self) -> float:
        return statistics.median(self.runs_s)

    @property
    def median_cpu_s(self) -> float:
        return statistics.median(self.cpu_s)

    def to_json(self) -> dict:
        return {
            "members": self.members,
            "attempts": self.attempts,
            "deliveries": self.deliveries,
            "median_s": round(self.median_s, 4),
            "median_cpu_s": round(self.median_cpu_s, 4),
            "min_s": round(min(self.runs_s), 4),
            "max_s": round(max(self.runs_s), 4),
            "runs": len(self.runs_s),
        }


HISTORY_WEEKS = 12  # a quarter of weekly nudges before the timed one
ANSWER_RATES = (0.0, 0.4, 0.8, 1.0)  # silent, occasional, regular and keen members
RIGHT_RATE = 0.65


def seed_history(
    store: Store, course: Course, members: list[str], now: datetime, seed: int = 7
) -> tuple[int, int]:
    """What planning reads after a quarter of weekly nudges: for each member and week a delivered set
    of three questions, and the answers they gave (some members never answer, some always; about two
    in three answers right). Returns (attempts, deliveries)."""
    rng = random.Random(seed)
    questions = [q.id for q in course.questions]
    deliveries, attempts = [], []
    for member in members:
        answers = rng.choice(ANSWER_RATES)
        for week in range(HISTORY_WEEKS):
            sent = now - timedelta(weeks=HISTORY_WEEKS - week)
            picked = rng.sample(questions, 3)
            deliveries.append(
                {
                    "schedule": "history",
                    "week": (sent.date()).isoformat(),
                    "member": member,
                    "questions": json.dumps(picked),
                    "status": "sent",
                    "attempts": 1,
                    "planned_at": now_iso(sent),
                    "sent_at": now_iso(sent),
                }
            )
            for question in picked:
                if rng.random() < answers:
                    attempts.append(
                        {
                            "session": f"nudge-history-{member}-{week}",
                            "learner": member,
                            "question": question,
                            "chosen": "A",
                            "correct": int(rng.random() < RIGHT_RATE),
                            "answered_at": now_iso(sent + timedelta(hours=rng.uniform(1, 72))),
                        }
                    )
    store.insert_rows("nudge_deliveries", deliveries)
    store.insert_rows("quiz_attempts", attempts)
    return len(attempts), len(deliveries)


def bench_nudges(course: Course, members: int = 10_000, rounds: int = 3) -> NudgeBench:
    """Time planning and enqueueing one weekly window for `members` people on a file database that
    holds a quarter of their earlier nudges and answers."""
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        ids = [f"slack:U{i:07d}" for i in range(members)]
        attempts, deliveries = seed_history(store, course, ids, now)
        nudges = Nudges(store, course)
        runs, cpu = [], []
        for week in range(rounds):
            schedule = nudges.create(
                "slack:UMANAGER", ScheduleRequest(0, "09:00", "UTC", "everyone"), "everyone", ids, now
            )
            started, started_cpu = time.perf_counter(), time.process_time()
            planned = nudges.plan(schedule, f"2026-W{week}", now)
            runs.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            assert planned == members
        store.close()
    return NudgeBench(members, attempts, deliveries, runs, cpu)
