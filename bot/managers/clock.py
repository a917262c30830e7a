"""The clock's work: plan due weekly windows, send the manager digests of finished windows, and
deliver enqueued nudges through each member's platform. `coach clock` runs `tick` in a loop; the
web server runs `deliver_pending` after a manager's "send-now". What to send is planned in
`bot/managers/nudges.py`; the digest is built in `bot/managers/report.py`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.managers.nudges import DeliveryError, Nudges, Schedule, Sender
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


class Dispatcher:
    def __init__(
        self,
        nudges: Nudges,
        course: Course,
        senders: dict[str, Sender],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock_id: str | None = None,
    ):
        self.nudges, self.course, self.senders, self.clock = nudges, course, senders, clock
        self.clock_id = clock_id or uuid.uuid4().hex[:8]

    async def tick(self) -> TickReport:
        """One pass: digests for finished windows, plans for due windows, then every delivery."""
        report = TickReport()
        now = self.clock()
        for schedule, week in self.nudges.due_windows(now):
            for earlier in self.nudges.weeks(schedule.id):
                if earlier < week and self.nudges.claim_digest(schedule.id, earlier, now):
                    report.digests += await self.send_digest(schedule, earlier)
            report.planned += self.nudges.plan(schedule, week, now)
        await self.deliver_pending(report)
        return report

    async def deliver_pending(self, report: TickReport | None = None) -> TickReport:
        report = report or TickReport()
        while (row := self.nudges.claim(self.clock_id, self.clock())) is not None:
            await self._deliver(row, report)
        return report

    async def _deliver(self, row: dict, report: TickReport) -> None:
        schedule = self.nudges.get(row["schedule"])
        questions = json.loads(row["questions"])
        platform = row["member"].partition(":")[0]
        sender = self.senders.get(platform)
        try:
            if not questions:
                raise DeliveryError("no questions left to ask this week", permanent=True)
            if sender is None:
                raise DeliveryError(f"no {platform} connection configured", permanent=False)
            session = self.nudges.session_for(row, self.clock())
            team = schedule.team if schedule else "your team"
            await sender.deliver(
                row["member"], nudge_replies(self.course, questions, session, team, row["member"])
            )
        except DeliveryError as exc:
            self.nudges.mark_failed(row, exc, self.clock())
            failed_for_good = exc.permanent or row["attempts"] >= 5
            report.failed += failed_for_good
            report.retried += not failed_for_good
            report.errors.append(f"{row['member']}: {exc}")
            log.warning(
                "nudge %s to %s failed (%s): %s",
                row["id"],
                row["member"],
                "permanent" if failed_for_good else "will retry",
                exc,
            )
            return
        self.nudges.mark_sent(row["id"], self.clock())
        report.sent += 1

    async def send_digest(self, schedule: Schedule, week: str) -> int:
        """The manager's digest for a finished window; 1 if it went out."""
        result = build_report(self.nudges.store, self.course, schedule, week)
        reply = Reply(
            report_text(result, self.course), image=report_png(result), image_name=f"digest-{week}.png"
        )
        sender = self.senders.get(schedule.manager.partition(":")[0])
        try:
            if sender is None:
                raise DeliveryError("no connection for the manager's platform", permanent=False)
            await sender.deliver(schedule.manager, [reply])
        except DeliveryError as exc:
            log.warning("digest %s/%s to %s failed: %s", schedule.id, week, schedule.manager, exc)
            self.nudges.mark_digest(schedule.id, week, "failed")
            return 0
        self.nudges.mark_digest(schedule.id, week, "sent")
        return 1

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
