"""Weekly quiz nudges: schedules, the per-member plan, and exactly-once delivery.

A schedule says "every Monday 09:00 Europe/Berlin, 3 questions to these members". For each weekly
window the clock *plans* one delivery row per member (unique on schedule, week and member, so two
clocks or a restarted clock plan it once), then *claims* rows one at a time with an atomic UPDATE
and sends them. A row is marked `sending` before the network call and `sent` after it; a row found
still `sending` by a later clock (its sender died mid-call) is marked `uncertain` and never resent:
a member may miss one nudge in a crash, but never gets two.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bot import heap
from bot.managers.spacing import SAME_WEEK, QuestionHistory, pick_questions
from bot.managers.wording import WEEKDAYS, ScheduleRequest, parse_schedule  # noqa: F401 - re-exported
from bot.messages import Reply
from bot.store import Store, now_iso, optouts
from knowledge.loader import Course

log = logging.getLogger("coach.nudges")

QUESTIONS_PER_NUDGE = 3
LATE_WINDOW = timedelta(days=2)  # a window missed by longer than this (clock down) is skipped
STALE_CLAIM = timedelta(minutes=10)
MAX_ATTEMPTS = 5
ID_TRIES = 8
FINAL_DIGEST_WITHIN = timedelta(days=14)  # a stopped schedule's last digest is queued this long after
NUDGE_QUIZ = "nudge"


class DeliveryError(Exception):
    """A nudge could not be delivered. Permanent errors (user gone, bot removed) are not retried.
    `posted`: how many of the replies went out before it failed (a retry resumes after them)."""

    def __init__(self, message: str, permanent: bool, posted: int = 0):
        super().__init__(message)
        self.permanent, self.posted = permanent, posted


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
    channel: str | None = None  # "slack:C123": the roster is re-read from it each week
    roster: str | None = None  # the channel's members when last read (JSON), to see who joined or left
    remind_after_h: int | None = None  # a mid-week reminder this many hours after the nudge (off: None)

    @classmethod
    def from_row(cls, row: dict) -> Schedule:
        return cls(**{**row, "members": tuple(json.loads(row["members"]))})

    def describe(self) -> str:
        remind = f" · reminder after {self.remind_after_h // 24} day(s)" if self.remind_after_h else ""
        return (
            f"`{self.id}` · every {WEEKDAYS[self.weekday].title()} {self.at} {self.tz} for {self.team} "
            f"({len(self.members)} member(s)){remind} · {self.status}"
        )

    def next_window(self, now: datetime) -> datetime:
        """The start of the first window after `now`, in the schedule's timezone."""
        current = self.window(now)
        return datetime.combine(
            current.date() + timedelta(days=7), current.timetz().replace(tzinfo=None), ZoneInfo(self.tz)
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


# -- choosing questions ----------------------------------------------------------------------------
# (wording in bot.managers.wording, spacing in bot.managers.spacing)


# -- the service -----------------------------------------------------------------------------------


class Nudges:
    """Schedules, planning and delivery of weekly nudges over the learner store."""

    def __init__(self, store: Store, course: Course):
        self.store, self.course = store, course

    # schedules

    def create(
        self,
        manager: str,
        request: ScheduleRequest,
        team: str,
        members: Iterable[str],
        at: datetime,
        channel: str | None = None,
    ) -> Schedule:
        row = {
            "id": "",
            "manager": manager,
            "team": request.name or team,
            "members": json.dumps(sorted(set(members))),
            "weekday": request.weekday,
            "at": request.at,
            "tz": request.tz,
            "status": "active",
            "created_at": now_iso(at),
            "channel": channel,
            "roster": json.dumps(sorted(set(members))) if channel else None,
            "remind_after_h": None,
        }
        for attempt in range(ID_TRIES):  # 6 hex digits (typed by people): a clash is rare, not impossible
            row["id"] = uuid.uuid4().hex[:6]
            try:
                self.store.insert_schedule(row)
                break
            except sa.exc.IntegrityError:
                if attempt == ID_TRIES - 1:
                    raise
        return Schedule.from_row(row)

    def update(self, schedule_id: str, **values: object) -> None:
        if "members" in values:
            values["members"] = json.dumps(sorted(set(values["members"])))  # type: ignore[arg-type]
        self.store.update_schedule(schedule_id, values)

    def note(self, schedule: str, text: str, now: datetime) -> None:
        """Something the manager should read in the next digest ("Dana's account was deactivated")."""
        self.store.add_note(schedule, text, now_iso(now))

    def notes(self, schedule: str, since: str, until: str) -> list[str]:
        return self.store.notes_between(schedule, since, until)

    def schedules(self, manager: str | None = None, status: str | None = None) -> list[Schedule]:
        return [Schedule.from_row(r) for r in self.store.schedule_rows(manager, status)]

    def get(self, schedule_id: str) -> Schedule | None:
        row = self.store.schedule_row(schedule_id)
        return Schedule.from_row(row) if row else None

    def set_status(self, schedule_id: str, status: str) -> None:
        self.store.set_schedule_status(schedule_id, status)

    def edit_members(
        self, schedule_id: str, add: Iterable[str] = (), remove: Iterable[str] = (), **values: object
    ) -> list[str] | None:
        """Add and remove members atomically (no lost update when two edits race); None: no schedule."""
        return self.store.edit_members(schedule_id, add, remove, **values)

    # a member's say

    def opted_out(self, member: str, now: datetime) -> str | None:
        """Why `member` gets no nudges now ("stopped", "paused until …"), or None."""
        return optouts.opted_out(self.store, [member], now).get(member)

    def withdraw(self, member: str, now: datetime, why: str) -> int:
        """Skip the member's nudges not yet sent and close their open sets (they opted out)."""
        return self.store.withdraw_member(member, now_iso(now), why)

    # planning

    def plan(self, schedule: Schedule, week: str, now: datetime) -> int:
        """Enqueue one delivery per member for the window `week`; returns how many were new.

        Opted-out members get a `skipped` row (so the digest can say so). Each member's earlier open
        sets of this schedule expire: a late answer to them is refused with a note."""
        with heap.paused():  # 10,000 members: ~300,000 rows and histories, no cycles (`bot.heap`)
            return self._plan(schedule, week, now)

    def _plan(self, schedule: Schedule, week: str, now: datetime) -> int:
        members = list(schedule.members)
        history: dict[str, dict[str, QuestionHistory]] = {m: {} for m in members}
        for member, question, streak, last_at in self.store.answer_streaks(members):
            history[member][question] = QuestionHistory(streak, datetime.fromisoformat(last_at))
        asked = self.store.questions_asked(members, now_iso(now - SAME_WEEK))
        never: tuple[Counter[str], set[str]] = (Counter(), set())
        out = optouts.opted_out(self.store, members, now)
        order = [q.id for q in self.course.questions]
        stamp = now_iso(now)
        rows = []
        for member in members:
            questions = (
                []
                if member in out
                else pick_questions(
                    order, history[member], *asked.get(member, never), now, QUESTIONS_PER_NUDGE
                )
            )
            rows.append(
                {
                    "schedule": schedule.id,
                    "week": week,
                    "member": member,
                    "questions": json.dumps(questions),
                    "status": "skipped" if member in out else "pending",
                    "error": out.get(member),
                    "attempts": 0,
                    "planned_at": stamp,
                }
            )

        return self.store.enqueue_deliveries(schedule.id, week, rows, expire_at=stamp)

    def due_windows(self, now: datetime) -> list[tuple[Schedule, str]]:
        """Active schedules whose current window has started and is not too old to send."""
        due = []
        for schedule in self.schedules(status="active"):
            window = schedule.window(now)
            created = datetime.fromisoformat(schedule.created_at)
            if window >= created - timedelta(minutes=1) and now - window <= LATE_WINDOW:
                due.append((schedule, schedule.week(window)))
        return due

    def stopped_windows(self, now: datetime) -> list[tuple[Schedule, str]]:
        """Paused or cancelled schedules whose last planned window has ended (lately): their last
        digest is due although no next window will queue it."""
        found = []
        for row, week in self.store.last_weeks(("paused", "cancelled")):
            schedule = Schedule.from_row(row)
            ended = schedule.next_window(window_start(week, schedule))
            if ended <= now <= ended + FINAL_DIGEST_WITHIN:
                found.append((schedule, week))
        return found

    # delivering

    def claim(self, clock_id: str, now: datetime) -> dict | None:
        """Atomically take the next delivery that is ready to send, or None."""
        return self.store.claim_delivery(clock_id, now_iso(now), now_iso(now - STALE_CLAIM))

    def mark_sent(self, delivery: int, now: datetime) -> None:
        self.store.update_delivery(delivery, {"status": "sent", "sent_at": now_iso(now), "error": None})

    def mark_skipped(self, delivery: int, why: str) -> None:
        """Not sent: the member opted out after it was planned."""
        self.store.update_delivery(delivery, {"status": "skipped", "error": why})

    def mark_uncertain(self, delivery: int, why: str) -> None:
        """A send that failed in an unknown way (it may have gone out): never repeated."""
        self.store.update_delivery(delivery, {"status": "uncertain", "error": why[:300]})

    def mark_failed(self, row: dict, error: DeliveryError, now: datetime, posted: int = 0) -> None:
        """A failed try; `posted` of the set's messages went out (a retry resumes after them)."""
        if error.permanent or row["attempts"] >= MAX_ATTEMPTS:
            values = {"status": "failed", "error": str(error)[:300]}
        else:
            backoff = timedelta(minutes=2 ** row["attempts"])
            values = {"status": "retry", "error": str(error)[:300], "next_at": now_iso(now + backoff)}
        self.store.update_delivery(row["id"], values | {"posted": posted})

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

    def people_of(self, schedule: Schedule) -> list[str]:
        """The schedule's members now and everyone it ever nudged (a digest shows some who left)."""
        return sorted(set(schedule.members) | set(self.store.delivery_members(schedule.id)))

    def deliveries(self, schedule: str, week: str | None = None) -> list[dict]:
        return self.store.delivery_rows(schedule, week)

    def weeks(self, schedule: str) -> list[str]:
        return self.store.delivery_weeks(schedule)

    # digests: an outbox like the nudges

    def enqueue_digest(self, schedule: str, week: str) -> bool:
        """Queue the digest of a finished window; True if it was not queued before."""
        return self.store.enqueue_digest(schedule, week)

    def claim_digest(self, now: datetime) -> dict | None:
        """Atomically take the next digest ready to send. A digest whose sender died mid-send is
        sent again: a manager getting a digest twice beats never getting it."""
        return self.store.claim_digest(now_iso(now), now_iso(now - STALE_CLAIM), MAX_ATTEMPTS)

    def abandoned_digests(self, now: datetime) -> list[dict]:
        """Digests whose every attempt died mid-send: marked failed, returned so admins are told."""
        return self.store.abandon_digests(now_iso(now - STALE_CLAIM), MAX_ATTEMPTS)

    def digest_done(self, row: dict, now: datetime, chart: str) -> None:
        values = {"status": "sent", "sent_at": now_iso(now), "chart": chart, "error": None}
        self.store.update_digest(row["schedule"], row["week"], values)

    def digest_failed(self, row: dict, error: DeliveryError, now: datetime) -> bool:
        """Record a failed digest send; True when it will not be tried again."""
        final = error.permanent or row["attempts"] >= MAX_ATTEMPTS
        values: dict = {"status": "failed" if final else "retry", "error": str(error)[:300]}
        if not final:
            values["next_at"] = now_iso(now + timedelta(minutes=2 ** row["attempts"]))
        self.store.update_digest(row["schedule"], row["week"], values)
        return final

    # mid-week reminders

    def reminders_due(self, now: datetime) -> list[dict]:
        """Sent deliveries of schedules with reminders on, old enough, never reminded, set not done."""
        rows = [
            r
            for r in self.store.reminder_rows()
            if datetime.fromisoformat(r["sent_at"]) + timedelta(hours=r["remind_after_h"]) <= now
        ]
        out = optouts.opted_out(self.store, sorted({r["member"] for r in rows}), now)
        return [r for r in rows if r["member"] not in out]

    def claim_reminder(self, delivery: int, now: datetime) -> bool:
        return self.store.claim_reminder(delivery, now_iso(now))


def window_start(week: str, schedule: Schedule) -> datetime:
    hour, minute = (int(x) for x in schedule.at.split(":"))
    return datetime.combine(date.fromisoformat(week), time(hour, minute), ZoneInfo(schedule.tz))
