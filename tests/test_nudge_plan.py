"""Planning a weekly nudge reads aggregates from the database (per member and question: the streak and
the last answer; what was asked and when); the sets it picks are the ones replaying every answer and
every earlier set in Python picks, on both backends."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from bench.nudges import seed_history
from bot.managers.nudges import QUESTIONS_PER_NUDGE, Nudges, ScheduleRequest
from bot.managers.spacing import SAME_WEEK, histories, pick_questions
from bot.store import Store, now_iso
from knowledge.loader import Course

BACKENDS = ("sqlite", "postgres")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def replayed_plan(store: Store, course: Course, members: list[str]) -> dict[str, list[str]]:
    """The sets a plan must pick, from every answer and every earlier set, one row at a time."""
    attempts: dict[str, list[dict]] = {m: [] for m in members}
    for row in store.attempts_of(members):
        attempts[row["learner"]].append(row)
    asked: dict[str, dict[str, int]] = {m: {} for m in members}
    taken: dict[str, set[str]] = {m: set() for m in members}
    for row in store.read("SELECT member, questions, planned_at FROM nudge_deliveries"):
        for q in json.loads(row["questions"] or "[]"):
            asked[row["member"]][q] = asked[row["member"]].get(q, 0) + 1
            if (row["planned_at"] or "") > now_iso(NOW - SAME_WEEK):
                taken[row["member"]].add(q)
    order = [q.id for q in course.questions]
    return {
        m: pick_questions(order, histories(attempts[m]), asked[m], taken[m], NOW, QUESTIONS_PER_NUDGE)
        for m in members
    }


def test_streaks_from_the_database_match_replaying_every_answer(store: Store, course: Course):
    rng = random.Random(3)
    questions = [q.id for q in course.questions][:6]
    rows = [
        {
            "session": "s",
            "learner": f"slack:U{rng.randrange(20)}",
            "question": rng.choice(questions),
            "chosen": "A",
            "correct": rng.choice([0, 1, 1, None]),  # an answer never graded counts as wrong
            "answered_at": now_iso(NOW - timedelta(hours=rng.uniform(0, 2000))),  # not in id order
        }
        for _ in range(600)
    ]
    store.insert_rows("quiz_attempts", rows)
    learners = sorted({r["learner"] for r in rows})
    attempts: dict[str, list[dict]] = {m: [] for m in learners}
    for row in store.attempts_of(learners):
        attempts[row["learner"]].append(row)
    expected = {(m, q, h.streak, h.last_at) for m in learners for q, h in histories(attempts[m]).items()}
    found = {
        (m, q, streak, datetime.fromisoformat(at)) for m, q, streak, at in store.answer_streaks(learners)
    }
    assert found == expected


def test_a_plan_over_a_quarter_of_history_picks_what_replaying_it_picks(store: Store, course: Course):
    members = [f"slack:U{i:04d}" for i in range(300)]
    seed_history(store, course, members, NOW)
    store.insert_rows(  # one set earlier this week (not asked again) and one with no questions recorded
        "nudge_deliveries",
        [
            {
                "schedule": "x",
                "week": "w",
                "member": members[0],
                "questions": json.dumps(["T1", "T2"]),
                "status": "sent",
                "attempts": 1,
                "planned_at": now_iso(NOW - timedelta(days=1)),
            },
            {
                "schedule": "y",
                "week": "w",
                "member": members[1],
                "questions": None,
                "status": "failed",
                "attempts": 1,
                "planned_at": None,
            },
        ],
    )
    expected = replayed_plan(store, course, members)
    nudges = Nudges(store, course)
    schedule = nudges.create("slack:UM", ScheduleRequest(0, "09:00", "UTC", "all"), "all", members, NOW)
    assert nudges.plan(schedule, "2026-11-23", NOW) == len(members)
    planned = {r["member"]: json.loads(r["questions"]) for r in nudges.deliveries(schedule.id)}
    assert planned == expected
    assert {len(q) for q in planned.values()} == {QUESTIONS_PER_NUDGE}
