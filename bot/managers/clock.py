"""The clock's work: plan due weekly windows, send the manager digests of finished windows, and
deliver enqueued nudges through each member's platform. `coach clock` runs `tick` in a loop; the
web server runs `deliver_pending` after a manager's "send-now".
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot import metrics
from bot.managers.nudges import MAX_ATTEMPTS, DeliveryError, Nudges, Schedule, Sender
from bot.managers.people import People
from bot.managers.report import build_report, report_png, report_text
from bot.messages import Reply
from flows.quiz import question_reply
from knowledge.loader import Course

log = logging.getLogger("coach.clock")


@dataclass
class TickReport:
    planned: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    digests: int = 0
    reminders: int = 0
    errors: list[str] = field(default_factory=list)


def nudge_replies(course: Course, questions: list[str], session: str, team: str, member: str) -> list[Reply]:
    """An intro and one question message per question, each with A-D buttons for this session, the
    options in the member's own order (the order their typed letters are read in)."""
    quiz = {
        "title": f"Weekly practice · {team}",
        "questions": questions,
        "session": session,
        "index": 0,
        "owner": member,
    }
    replies = [
        Reply(
            f"*Your weekly practice* — {len(questions)} quick question(s). "
            "Click an answer or type its letter.",
            kind="notice",
        )
    ]
    for index, qid in enumerate(questions):
        question = course.question(qid)
        if question is not None:
            replies.append(question_reply(question, {**quiz, "index": index}))  # type: ignore[arg-type]
    return replies


UNREACHABLE = "can't be reached"  # a Teams member the bot shares no chat or team with
GONE = ("user_not_found", "account_inactive", "user_disabled", "users_not_found", "removed from the team")
REMINDER = (
    "*A reminder:* {left} of your weekly practice question(s) from {team} are still open. "
    "Scroll up and click an answer, or type its letter. (Say *pause nudges* or *stop nudges* to opt out.)"
)


class Dispatcher:
    def __init__(
        self,
        nudges: Nudges,
        course: Course,
        senders: dict[str, Sender],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock_id: str | None = None,
        admins: tuple[str, ...] = (),
    ):
        self.nudges, self.course, self.senders, self.clock = nudges, course, senders, clock
        self.clock_id = clock_id or uuid.uuid4().hex[:8]
        self.admins = admins  # "platform:user" ids told when a digest cannot be delivered
        self.people = People(nudges.store, senders)

    async def tick(self) -> TickReport:
        """One pass: queue digests of finished windows, re-read rosters and plan due windows, then
        deliver every nudge, digest and reminder that is ready."""
        report = TickReport()
        now = self.clock()
        for schedule, week in await asyncio.to_thread(self.nudges.due_windows, now):
            for earlier in await asyncio.to_thread(self.nudges.weeks, schedule.id):
                if earlier < week:
                    await asyncio.to_thread(self.nudges.enqueue_digest, schedule.id, earlier)
            if not await asyncio.to_thread(self.nudges.deliveries, schedule.id, week):
                schedule = await self._refresh_roster(schedule, now)
            report.planned += await asyncio.to_thread(self.nudges.plan, schedule, week, now)
        await self.deliver_pending(report)
        await self.deliver_digests(report)
        await self.remind(report)
        return report

    async def _refresh_roster(self, schedule: Schedule, now: datetime) -> Schedule:
        """A channel's team is re-read each week: joiners are added, leavers dropped (and noted)."""
        if not schedule.channel:
            return schedule
        platform, _, channel = schedule.channel.partition(":")
        lookup = getattr(self.senders.get(platform), "channel_members", None)
        if lookup is None:
            return schedule
        try:
            found = {f"{platform}:{m}" for m in await lookup(channel)} - {schedule.manager}
        except DeliveryError as exc:
            await asyncio.to_thread(
                self.nudges.note, schedule.id, f"I couldn't re-read {schedule.team}'s members ({exc}).", now
            )
            return schedule
        last = set(json.loads(schedule.roster or "[]"))
        joined, left = found - last, last - found
        if not joined and not left:
            return schedule
        members = (set(schedule.members) | joined) - left  # people added or removed by hand stay so
        await asyncio.to_thread(
            self.nudges.update, schedule.id, members=sorted(members), roster=json.dumps(sorted(found))
        )
        names = await asyncio.to_thread(self.people.cached, sorted(joined | left))
        place = "team" if platform == "teams" else "channel"  # a Teams channel's members are its team's
        if joined:
            await asyncio.to_thread(
                self.nudges.note,
                schedule.id,
                f"Joined the {place}: " + ", ".join(names[m] for m in joined),
                now,
            )
        if left:
            await asyncio.to_thread(
                self.nudges.note, schedule.id, f"Left the {place}: " + ", ".join(names[m] for m in left), now
            )
        return await asyncio.to_thread(self.nudges.get, schedule.id) or schedule

    async def deliver_pending(self, report: TickReport | None = None) -> TickReport:
        report = report or TickReport()
        while (row := await asyncio.to_thread(self.nudges.claim, self.clock_id, self.clock())) is not None:
            await self._deliver(row, report)
        return report

    async def _deliver(self, row: dict, report: TickReport) -> None:
        schedule = await asyncio.to_thread(self.nudges.get, row["schedule"])
        questions = json.loads(row["questions"])
        platform = row["member"].partition(":")[0]
        sender = self.senders.get(platform)
        try:
            if not questions:
                raise DeliveryError("no questions left to ask this week", permanent=True)
            if sender is None:
                raise DeliveryError(f"no {platform} connection configured", permanent=False)
            session = await asyncio.to_thread(self.nudges.session_for, row, self.clock())
            team = schedule.team if schedule else "your team"
            await sender.deliver(
                row["member"], nudge_replies(self.course, questions, session, team, row["member"])
            )
        except DeliveryError as exc:
            await asyncio.to_thread(self.nudges.mark_failed, row, exc, self.clock())
            failed_for_good = exc.permanent or row["attempts"] >= MAX_ATTEMPTS
            report.failed += failed_for_good
            report.retried += not failed_for_good
            metrics.nudge("failed" if failed_for_good else "retry")
            report.errors.append(f"{row['member']}: {exc}")
            log.warning(
                "nudge %s to %s failed (%s): %s",
                row["id"],
                row["member"],
                "permanent" if failed_for_good else "will retry",
                exc,
            )
            if exc.permanent and schedule and any(g in str(exc) for g in GONE):
                await asyncio.to_thread(self._drop, schedule, row["member"], str(exc))
            elif exc.permanent and schedule and UNREACHABLE in str(exc):
                await asyncio.to_thread(self._unreachable, schedule, row["member"])
            return
        await asyncio.to_thread(self.nudges.mark_sent, row["id"], self.clock())
        report.sent += 1
        metrics.nudge("sent")

    def _drop(self, schedule: Schedule, member: str, why: str) -> None:
        """A deactivated or removed account leaves the team, and the manager reads why in the digest."""
        self.nudges.update(schedule.id, members=[m for m in schedule.members if m != member])
        name = self.people.cached([member])[member]
        self.nudges.note(
            schedule.id, f"{name} was dropped from the team: their account is gone ({why}).", self.clock()
        )

    def _unreachable(self, schedule: Schedule, member: str) -> None:
        """A member the coach has no way to reach: the manager reads why in the digest."""
        name = self.people.cached([member])[member]
        self.nudges.note(
            schedule.id,
            f"{name} can't be reached: they never talked to me and are in no team I was added "
            "to. Ask them to say hi to me once.",
            self.clock(),
        )

    # -- digests -----------------------------------------------------------------------------------

    async def deliver_digests(self, report: TickReport | None = None) -> TickReport:
        report = report or TickReport()
        while (row := await asyncio.to_thread(self.nudges.claim_digest, self.clock())) is not None:
            report.digests += await self._send_digest(row)
        return report

    async def digest_replies(self, schedule: Schedule, week: str, final: bool = True) -> tuple[Reply, Reply]:
        """The digest's text and its chart (as two replies: the text must not depend on the chart)."""
        names = await self.people.names(
            await asyncio.to_thread(self.nudges.people_of, schedule), self.clock()
        )
        store, now = self.nudges.store, self.clock()
        result = await asyncio.to_thread(build_report, store, self.course, schedule, week, names, now, final)
        text = Reply(report_text(result, self.course))
        chart = Reply(
            f"Chart · {schedule.team} · week of {week}",
            image=report_png(result),
            image_name=f"digest-{week}.png",
        )
        return text, chart

    async def _send_digest(self, row: dict) -> int:
        """Send one queued digest: text first; the chart follows, or a pointer to `report` replaces it."""
        schedule = await asyncio.to_thread(self.nudges.get, row["schedule"])
        if schedule is None:
            await asyncio.to_thread(self.nudges.digest_done, row, self.clock(), "none")
            return 0
        sender = self.senders.get(schedule.manager.partition(":")[0])
        try:
            if sender is None:
                raise DeliveryError("no connection for the manager's platform", permanent=False)
            text, chart = await self.digest_replies(schedule, row["week"])
            await sender.deliver(schedule.manager, [text])
            metrics.digest("sent")
        except DeliveryError as exc:
            final = await asyncio.to_thread(self.nudges.digest_failed, row, exc, self.clock())
            metrics.digest("failed" if final else "retry")
            log.warning("digest %s/%s to %s failed: %s", schedule.id, row["week"], schedule.manager, exc)
            if final:
                await self._alert_admins(schedule, row["week"], str(exc))
            return 0
        try:
            await sender.deliver(schedule.manager, [chart])
            shown = "sent"
        except DeliveryError as exc:
            log.info("digest chart %s/%s not delivered: %s", schedule.id, row["week"], exc)
            pointer = Reply(
                f"(The chart didn't come through. Say *report {schedule.id}* to see it.)", kind="notice"
            )
            try:
                await sender.deliver(schedule.manager, [pointer])
                shown = "pointer"
            except DeliveryError:
                shown = "missing"
        await asyncio.to_thread(self.nudges.digest_done, row, self.clock(), shown)
        return 1

    async def _alert_admins(self, schedule: Schedule, week: str, error: str) -> None:
        text = (
            f"*A digest could not be delivered.* The week of {week} digest for {schedule.team} "
            f"(`{schedule.id}`) never reached its manager {schedule.manager}: {error}. "
            f"They can still see it with *report {schedule.id}*."
        )
        for admin in self.admins:
            sender = self.senders.get(admin.partition(":")[0])
            if sender is None:
                continue
            try:
                await sender.deliver(admin, [Reply(text, kind="notice")])
            except DeliveryError as exc:
                log.error("could not tell admin %s about digest %s/%s: %s", admin, schedule.id, week, exc)

    # -- reminders ---------------------------------------------------------------------------------

    async def remind(self, report: TickReport | None = None) -> TickReport:
        """Once per set, for schedules that want it: a nudge to members who left questions open."""
        report = report or TickReport()
        for row in await asyncio.to_thread(self.nudges.reminders_due, self.clock()):
            if not await asyncio.to_thread(self.nudges.claim_reminder, row["id"], self.clock()):
                continue
            answered = await asyncio.to_thread(self.nudges.store.answered_count, f"nudge-{row['id']}")
            left = len(json.loads(row["questions"])) - answered
            schedule = await asyncio.to_thread(self.nudges.get, row["schedule"])
            sender = self.senders.get(row["member"].partition(":")[0])
            if sender is None or schedule is None or left <= 0:
                continue
            try:
                text = REMINDER.format(left=left, team=schedule.team)
                await sender.deliver(row["member"], [Reply(text, kind="notice")])
                report.reminders += 1
            except DeliveryError as exc:
                log.info("reminder to %s not delivered: %s", row["member"], exc)
        return report

    async def notify(self, person: str, text: str) -> bool:
        """Tell one person something now (a new manager, an admin); False if it could not be sent."""
        sender = self.senders.get(person.partition(":")[0])
        if sender is None:
            return False
        try:
            await sender.deliver(person, [Reply(text, kind="notice")])
        except DeliveryError as exc:
            log.info("could not notify %s: %s", person, exc)
            return False
        return True

    async def run(self, interval_s: float = 30.0) -> None:
        """Tick forever (until cancelled)."""
        log.info("clock %s started: checking every %.0f s", self.clock_id, interval_s)
        while True:
            try:
                result = await self.tick()
                if result.planned or result.sent or result.failed or result.digests:
                    log.info("clock tick: %s", result)
            except Exception:
                log.exception("clock tick failed; trying again next time")
            await asyncio.sleep(interval_s)
