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
from typing import Any

from bot import metrics
from bot.managers.nudges import MAX_ATTEMPTS, DeliveryError, Nudges, Schedule, Sender
from bot.managers.people import People
from bot.managers.report import TeamReport, build_report, report_png, report_text
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
        for schedule, week in await self._guarded(
            report, "finding due windows", self.nudges.due_windows, now
        ):
            await self._guarded(report, f"planning {schedule.id}", self._plan, schedule, week, now, report)
        for schedule, week in await self._guarded(
            report, "stopped schedules", self.nudges.stopped_windows, now
        ):
            await self._guarded(
                report, f"last digest {schedule.id}", self.nudges.enqueue_digest, schedule.id, week
            )
        for phase in (self.deliver_pending, self.deliver_digests, self.remind):
            await self._guarded(report, phase.__name__, phase, report)
        return report

    async def _guarded(self, report: TickReport, what: str, work: Callable, *args: object) -> Any:
        """`work(*args)` (a coroutine function, or a blocking one run off the loop); an unexpected
        error is logged and reported, so one failing schedule or phase never stops the rest."""
        try:
            if asyncio.iscoroutinefunction(work):
                return await work(*args)
            return await asyncio.to_thread(work, *args)
        except Exception as exc:
            log.exception("clock: %s failed", what)
            report.errors.append(f"{what}: {type(exc).__name__}: {exc}")
            return []

    async def _plan(self, schedule: Schedule, week: str, now: datetime, report: TickReport) -> None:
        """Queue the digests of the schedule's finished windows, re-read its roster, plan `week`."""
        for earlier in await asyncio.to_thread(self.nudges.weeks, schedule.id):
            if earlier < week:
                await asyncio.to_thread(self.nudges.enqueue_digest, schedule.id, earlier)
        if not await asyncio.to_thread(self.nudges.deliveries, schedule.id, week):
            schedule = await self._refresh_roster(schedule, now)
        report.planned += await asyncio.to_thread(self.nudges.plan, schedule, week, now)

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
        # people added or removed by hand stay so; an edit made meanwhile is kept (a locked row)
        await asyncio.to_thread(
            self.nudges.edit_members, schedule.id, joined, left, roster=json.dumps(sorted(found))
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
            try:
                await self._deliver(row, report)
            except Exception as exc:  # a bug, not the network: never resent (it may have gone out)
                log.exception("nudge %s to %s failed unexpectedly", row["id"], row["member"])
                report.errors.append(f"{row['member']}: {type(exc).__name__}: {exc}")
                await asyncio.to_thread(self.nudges.mark_uncertain, row["id"], f"{type(exc).__name__}: {exc}")
        return report

    async def _deliver(self, row: dict, report: TickReport) -> None:
        schedule = await asyncio.to_thread(self.nudges.get, row["schedule"])
        questions = json.loads(row["questions"])
        platform = row["member"].partition(":")[0]
        sender = self.senders.get(platform)
        done = row.get("posted") or 0  # a retry resumes after what went out: each message once
        why = await asyncio.to_thread(self.nudges.opted_out, row["member"], self.clock())
        if why is not None:  # opted out after this was planned (a retry, or "stop" mid-fan-out)
            await asyncio.to_thread(self.nudges.mark_skipped, row["id"], why)
            return
        try:
            if not questions:
                raise DeliveryError("no questions left to ask this week", permanent=True)
            if sender is None:
                raise DeliveryError(f"no {platform} connection configured", permanent=False)
            session = await asyncio.to_thread(self.nudges.session_for, row, self.clock())
            team = schedule.team if schedule else "your team"
            replies = nudge_replies(self.course, questions, session, team, row["member"])[done:]
            if replies:
                await sender.deliver(row["member"], replies)
        except DeliveryError as exc:
            await asyncio.to_thread(self.nudges.mark_failed, row, exc, self.clock(), done + exc.posted)
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
        self.nudges.edit_members(schedule.id, remove=[member])
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
        for row in await asyncio.to_thread(self.nudges.abandoned_digests, self.clock()):
            schedule = await asyncio.to_thread(self.nudges.get, row["schedule"])
            metrics.digest("failed")
            if schedule is not None:
                await self._alert_admins(schedule, row["week"], row["error"])
        while (row := await asyncio.to_thread(self.nudges.claim_digest, self.clock())) is not None:
            report.digests += await self._send_digest(row)
        return report

    async def digest_report(self, schedule: Schedule, week: str, final: bool = True) -> TeamReport:
        """The figures of one digest (the text and the chart are drawn from them)."""
        names = await self.people.names(
            await asyncio.to_thread(self.nudges.people_of, schedule), self.clock()
        )
        store, now = self.nudges.store, self.clock()
        return await asyncio.to_thread(build_report, store, self.course, schedule, week, names, now, final)

    async def _send_digest(self, row: dict) -> int:
        """Send one queued digest: text first (it never waits on the chart); the chart follows, or
        a pointer to `report` replaces it. Any failure before the text went out is a failed try."""
        schedule = await asyncio.to_thread(self.nudges.get, row["schedule"])
        if schedule is None:
            await asyncio.to_thread(self.nudges.digest_done, row, self.clock(), "none")
            return 0
        sender = self.senders.get(schedule.manager.partition(":")[0])
        try:
            if sender is None:
                raise DeliveryError("no connection for the manager's platform", permanent=False)
            result = await self.digest_report(schedule, row["week"])
            await sender.deliver(schedule.manager, [Reply(report_text(result, self.course))])
            metrics.digest("sent")
        except Exception as exc:
            error = (
                exc
                if isinstance(exc, DeliveryError)
                else DeliveryError(f"{type(exc).__name__}: {exc}", False)
            )
            if not isinstance(exc, DeliveryError):
                log.exception("digest %s/%s failed unexpectedly", schedule.id, row["week"])
            final = await asyncio.to_thread(self.nudges.digest_failed, row, error, self.clock())
            metrics.digest("failed" if final else "retry")
            log.warning("digest %s/%s to %s failed: %s", schedule.id, row["week"], schedule.manager, error)
            if final:
                await self._alert_admins(schedule, row["week"], str(error))
            return 0
        try:
            chart = Reply(
                f"Chart · {schedule.team} · week of {row['week']}",
                image=await asyncio.to_thread(report_png, result),  # seconds of CPU: off the event loop
                image_name=f"digest-{row['week']}.png",
            )
            await sender.deliver(schedule.manager, [chart])
            shown = "sent"
        except Exception as exc:  # the chart is a bonus: drawing or sending it never costs the digest
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
            try:
                report.reminders += await self._remind_one(row)
            except Exception as exc:  # claimed first, so never sent twice; the rest still go
                log.exception("reminder %s to %s failed unexpectedly", row["id"], row["member"])
                report.errors.append(f"reminder {row['member']}: {type(exc).__name__}: {exc}")
        return report

    async def _remind_one(self, row: dict) -> int:
        """Remind one member (1) or not (0): only with a way to reach them, a set left open, and no
        opt-out since the list was read; claimed before sending, so never twice."""
        sender = self.senders.get(row["member"].partition(":")[0])
        if sender is None:  # left unclaimed: a clock with this platform's connection sends it
            return 0
        if await asyncio.to_thread(self.nudges.opted_out, row["member"], self.clock()):
            return 0
        if not await asyncio.to_thread(self.nudges.claim_reminder, row["id"], self.clock()):
            return 0
        answered = await asyncio.to_thread(self.nudges.store.answered_count, f"nudge-{row['id']}")
        left = len(json.loads(row["questions"])) - answered
        schedule = await asyncio.to_thread(self.nudges.get, row["schedule"])
        if schedule is None or left <= 0:
            return 0
        try:
            text = REMINDER.format(left=left, team=schedule.team)
            await sender.deliver(row["member"], [Reply(text, kind="notice")])
        except DeliveryError as exc:
            log.info("reminder to %s not delivered: %s", row["member"], exc)
            return 0
        return 1

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
