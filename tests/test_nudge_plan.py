"""Planning a weekly nudge reads aggregates from the database (per member and question: the streak and
the last answer; what was asked and when); the sets it picks are the ones replaying every answer and
every earlier set in Python picks, on both backends."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from bench.nudges import seed_history
from bot.managers.nudges import QUESTIONS_PER_NUDGE, Nudges, ScheduleRequest
from bot.managers.spacing import SAME_WEEK, QuestionHistory, histories, pick_questions
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


def spelled_out_pick(
    order: list[str],
    history: dict[str, QuestionHistory],
    times_asked: dict[str, int],
    taken: set[str],
    now: datetime,
    n: int,
) -> list[str]:
    """The spacing rules written plainly (what `pick_questions` computed before it was made cheaper)."""
    usable = [q for q in history if q in order and q not in taken]
    wrong = sorted((q for q in usable if history[q].streak == 0), key=lambda q: history[q].last_at or now)
    fresh = sorted(
        (q for q in order if q not in history and q not in taken),
        key=lambda q: (times_asked.get(q, 0), order.index(q)),
    )
    back = sorted(
        (q for q in usable if history[q].streak and history[q].back_at() <= now),
        key=lambda q: history[q].back_at(),
    )
    return (wrong + fresh + back)[:n]


def test_picking_follows_the_spacing_rules_spelled_out():
    """Random histories that reach every rule: wrong ones, fresh ones, right ones whose gap passed or
    not, questions no longer in the course, this week's questions, ties in time."""
    rng = random.Random(11)
    for _ in range(3000):
        order = [f"Q{i}" for i in range(rng.randint(1, 8))]
        pool = [*order, "GONE1", "GONE2"]
        history = {
            q: QuestionHistory(
                rng.choice([0, 0, 1, 2, 3, 4, 7]), NOW - timedelta(days=rng.choice([1, 3, 8, 20, 40, 130]))
            )
            for q in rng.sample(pool, rng.randint(0, len(pool)))
        }
        asked = {q: rng.randint(0, 3) for q in rng.sample(pool, rng.randint(0, len(pool)))}
        taken = set(rng.sample(pool, rng.randint(0, 3)))
        n = rng.randint(1, 4)
        expected = spelled_out_pick(order, history, asked, taken, NOW, n)
        assert pick_questions(order, history, asked, taken, NOW, n) == expected
