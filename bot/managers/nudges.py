"""Weekly quiz nudges, the managers' side: schedules, the per-member plan, and exactly-once delivery.

A schedule says "every Monday 09:00 Europe/Berlin, 3 questions to these members". For each weekly
window the clock *plans* one delivery row per member (unique on schedule, week and member, so two
clocks or a restarted clock plan it once), then *claims* rows one at a time with an atomic UPDATE
and sends them. A row is marked `sending` before the network call and `sent` after it; a row found
still `sending` by a later clock (its sender died mid-call) is marked `uncertain` and never resent:
a member may miss one nudge in a crash, but never gets two.

The rows live in the store (`bot/store/nudges.py`); the clock that runs all this is
`bot/managers/clock.py`, the digest sent after each window `bot/managers/report.py`.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.messages import Reply
from bot.store import Store, now_iso
from knowledge.loader import Course

log = logging.getLogger("coach.nudges")

QUESTIONS_PER_NUDGE = 3
RECENTLY_CORRECT = timedelta(days=3)
LATE_WINDOW = timedelta(days=2)  # a window missed by longer than this (clock down) is skipped
STALE_CLAIM = timedelta(minutes=10)
MAX_ATTEMPTS = 5
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NUDGE_QUIZ = "nudge"


class DeliveryError(Exception):
    """A nudge could not be delivered. Permanent errors (user gone, bot removed) are not retried."""

    def __init__(self, message: str, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


class Sender(Protocol):
    async def deliver(self, learner: str, replies: list[Reply]) -> None: ...


@dataclass(frozen=True)
class Schedule:
    id: str
    manager: str
    team: str
    members: tuple[str, ...]
    weekday: int
    at: str
    tz: str
    status: str
    created_at: str

    @classmethod
    def from_row(cls, row: dict) -> Schedule:
        return cls(**{**row, "members": tuple(json.loads(row["members"]))})

    def describe(self) -> str:
        return (
            f"`{self.id}` · every {WEEKDAYS[self.weekday].title()} {self.at} {self.tz} for {self.team} "
            f"({len(self.members)} member(s)) · {self.status}"
        )

    def window(self, now: datetime) -> datetime:
        """The start of the most recent weekly window at or before `now` (timezone-aware)."""
        zone = ZoneInfo(self.tz)
        local = now.astimezone(zone)
        hour, minute = (int(x) for x in self.at.split(":"))
        days_back = (local.weekday() - self.weekday) % 7
        day = local.date() - timedelta(days=days_back)
        start = datetime.combine(day, time(hour, minute), zone)
        if start > local:
            start -= timedelta(days=7)
        return start

    def week(self, window: datetime) -> str:
        return window.date().isoformat()


# -- parsing ---------------------------------------------------------------------------------------

SCHEDULE_TEXT = re.compile(
    r"^weekly\s+(?P<day>[a-z]+)\s+(?P<hh>\d{1,2}):(?P<mm>\d{2})(?:\s+(?P<tz>[A-Za-z_]+(?:/[A-Za-z_+\-0-9]+)*))?"
    r"\s+for\s+(?P<team>.+)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ScheduleRequest:
    weekday: int
    at: str
    tz: str
    team_text: str


def parse_schedule(text: str, default_tz: str = "UTC") -> ScheduleRequest | str:
    """`weekly mon 09:00 [Europe/Berlin] for <team>` → a request, or a message saying what is wrong."""
    match = SCHEDULE_TEXT.match(text.strip())
    usage = (
        "Use: *nudges weekly <day> <HH:MM> [timezone] for <team>*, "
        "e.g. `nudges weekly mon 09:00 Europe/Berlin for #sales`."
    )
    if not match:
        return usage
    day = match["day"][:3].lower()
    if day not in WEEKDAYS:
        return f"I don't know the day “{match['day']}”. {usage}"
    hh, mm = int(match["hh"]), int(match["mm"])
    if hh > 23 or mm > 59:
        return f"{match['hh']}:{match['mm']} is not a time of day. {usage}"
    tz = match["tz"] or default_tz
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return f"I don't know the timezone “{tz}” — use a name like Europe/Berlin or America/New_York."
    return ScheduleRequest(WEEKDAYS.index(day), f"{hh:02d}:{mm:02d}", tz, match["team"].strip())


# -- choosing questions ----------------------------------------------------------------------------


def pick_questions(
    course_order: list[str],
    cards: dict[str, tuple[str, str | None]],
    now_stamp: str,
    recent_stamp: str,
    n: int,
) -> list[str]:
    """The n questions a member most needs: overdue cards (oldest due first), then questions never
    seen (course order), then the rest by due date; never one answered correctly since `recent_stamp`.
    A newcomer (no cards) gets new questions first. `cards` maps question → (due, last_correct_at)."""
    fresh = [q for q in course_order if q not in cards]
    if not cards:
        return fresh[:n]
    eligible = {
        q: due for q, (due, correct_at) in cards.items() if not (correct_at and correct_at > recent_stamp)
    }
    by_due = sorted(eligible, key=eligible.__getitem__)
    overdue = [q for q in by_due if eligible[q] <= now_stamp]
    later = [q for q in by_due if eligible[q] > now_stamp]
    return (overdue + fresh + later)[:n]


# -- the service -----------------------------------------------------------------------------------


class Nudges:
    """Schedules, planning and delivery of weekly nudges over the learner store."""

    def __init__(self, store: Store, course: Course):
        self.store, self.course = store, course

    # schedules

    def create(
        self, manager: str, request: ScheduleRequest, team: str, members: Iterable[str], at: datetime
    ) -> Schedule:
        row = {
            "id": uuid.uuid4().hex[:6],
            "manager": manager,
            "team": team,
            "members": json.dumps(sorted(set(members))),
            "weekday": request.weekday,
            "at": request.at,
            "tz": request.tz,
            "status": "active",
            "created_at": now_iso(at),
        }
        self.store.insert_schedule(row)
        return Schedule.from_row(row)

    def schedules(self, manager: str | None = None, status: str | None = None) -> list[Schedule]:
        return [Schedule.from_row(r) for r in self.store.schedule_rows(manager, status)]

    def get(self, schedule_id: str) -> Schedule | None:
        row = self.store.schedule_row(schedule_id)
        return Schedule.from_row(row) if row else None

    def set_status(self, schedule_id: str, status: str) -> None:
        self.store.set_schedule_status(schedule_id, status)

    # planning

    def plan(self, schedule: Schedule, week: str, now: datetime) -> int:
        """Enqueue one delivery per member for the window `week`; returns how many were new.

        One query reads every member's cards; one insert writes every row (existing ones are kept)."""
        members = list(schedule.members)
        cards: dict[str, dict[str, tuple[str, str | None]]] = {m: {} for m in members}
        for row in self.store.cards_of(members):
            cards[row["learner"]][row["question"]] = (row["due"], row["last_correct_at"])
        order = [q.id for q in self.course.questions]
        stamp, recent = now_iso(now), now_iso(now - RECENTLY_CORRECT)
        rows = [
            {
                "schedule": schedule.id,
                "week": week,
                "member": member,
                "questions": json.dumps(
                    pick_questions(order, cards[member], stamp, recent, QUESTIONS_PER_NUDGE)
                ),
                "status": "pending",
                "attempts": 0,
            }
            for member in members
        ]
        return self.store.enqueue_deliveries(schedule.id, week, rows)

    def due_windows(self, now: datetime) -> list[tuple[Schedule, str]]:
        """Active schedules whose current window has started and is not too old to send."""
        due = []
        for schedule in self.schedules(status="active"):
            window = schedule.window(now)
            created = datetime.fromisoformat(schedule.created_at)
            if window >= created - timedelta(minutes=1) and now - window <= LATE_WINDOW:
                due.append((schedule, schedule.week(window)))
        return due

    # delivering

    def claim(self, clock_id: str, now: datetime) -> dict | None:
        """Atomically take the next delivery that is ready to send, or None."""
        return self.store.claim_delivery(clock_id, now_iso(now), now_iso(now - STALE_CLAIM))

    def mark_sent(self, delivery: int, now: datetime) -> None:
        self.store.update_delivery(delivery, {"status": "sent", "sent_at": now_iso(now), "error": None})

    def mark_failed(self, row: dict, error: DeliveryError, now: datetime) -> None:
        if error.permanent or row["attempts"] >= MAX_ATTEMPTS:
            values = {"status": "failed", "error": str(error)[:300]}
        else:
            backoff = timedelta(minutes=2 ** row["attempts"])
            values = {"status": "retry", "error": str(error)[:300], "next_at": now_iso(now + backoff)}
        self.store.update_delivery(row["id"], values)

    def session_for(self, row: dict, now: datetime) -> str:
        """The quiz session of a delivery (created once; its id is derived from the delivery's)."""
        session = f"nudge-{row['id']}"
        values = {
            "id": session,
            "learner": row["member"],
            "quiz": NUDGE_QUIZ,
            "questions": row["questions"],
            "started_at": now_iso(now),
            "correct": 0,
            "total": len(json.loads(row["questions"])),
        }
        self.store.ensure_quiz_session(values)
        return session

    def deliveries(self, schedule: str, week: str | None = None) -> list[dict]:
        return self.store.delivery_rows(schedule, week)

    def weeks(self, schedule: str) -> list[str]:
        return self.store.delivery_weeks(schedule)

    def claim_digest(self, schedule: str, week: str, now: datetime) -> bool:
        """True exactly once per (schedule, week): whoever claims first sends the digest."""
        return self.store.claim_digest(schedule, week, now_iso(now))

    def mark_digest(self, schedule: str, week: str, status: str) -> None:
        self.store.set_digest_status(schedule, week, status)


def window_start(week: str, schedule: Schedule) -> datetime:
    hour, minute = (int(x) for x in schedule.at.split(":"))
    return datetime.combine(date.fromisoformat(week), time(hour, minute), ZoneInfo(schedule.tz))
