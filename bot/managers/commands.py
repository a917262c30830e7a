"""What managers and admins type in chat, outside the coaching flows: managers, weekly nudges, team
reports and "forget me" (the terminal's versions are in `bot/cli/managers.py`).

Who may do what: admins are the users listed in `COACH_MANAGERS`; they may add and remove managers.
Managers (admins, and those added) may schedule nudges for a team and see its reports — their own
schedules only. Everyone else sees only their own data, and is told so politely.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from bot.managers.nudges import Nudges, ScheduleRequest, parse_schedule
from bot.managers.report import build_report, report_png, report_text
from bot.messages import Action, Choice, Inbound, Reply
from bot.store import Store, now_iso
from knowledge.loader import Course

COMMAND = re.compile(
    r"^\s*(?:/?coach\s+)?(nudges?|reports?|managers?|forget\s+me)\b\s*(.*)$", re.IGNORECASE | re.DOTALL
)
FORGET_CONFIRM = "forget me confirm"
EXPLICIT_MEMBER = re.compile(r"\b((?:slack|teams|console):[\w:.@-]+)")
NOT_A_MANAGER = (
    "Only managers can schedule nudges or see team reports — and everyone sees only their own data. "
    "Ask an admin to add you with *managers add @you*. Your own progress: say *progress*."
)


def is_admin_command(text: str) -> bool:
    return bool(COMMAND.match(text or ""))


@dataclass
class Admin:
    store: Store
    course: Course
    nudges: Nudges
    admins: frozenset[str]  # from COACH_MANAGERS: "slack:U123" or a bare platform user id
    clock: Callable[[], datetime]
    send_now: Callable[[], Awaitable[object]] | None = None  # delivers enqueued nudges right away
    forget_threads: Callable[[list[str]], Awaitable[None]] | None = None  # deletes checkpoints

    # -- who is who --------------------------------------------------------------------------------

    def is_admin(self, learner: str) -> bool:
        return learner in self.admins or learner.partition(":")[2] in self.admins

    def is_manager(self, learner: str) -> bool:
        return self.is_admin(learner) or bool(
            self.store.read("SELECT 1 FROM managers WHERE learner = ?", [learner])
        )

    # -- dispatch ------------------------------------------------------------------------------------

    async def handle(self, inbound: Inbound) -> list[Reply]:
        text = inbound.action.value if inbound.action else inbound.text
        match = COMMAND.match(text)
        assert match is not None
        word, rest = match.group(1).lower(), match.group(2).strip()
        if word.startswith("forget"):
            return await self._forget(inbound, rest)
        if inbound.shared and not word.startswith("report"):
            return [
                Reply("Manager commands work in a direct message with me.", kind="notice", ephemeral=True)
            ]
        if word.startswith("manager"):
            return [self._managers(inbound, rest)]
        if not self.is_manager(inbound.learner):
            return [Reply(NOT_A_MANAGER, kind="notice", ephemeral=True)]
        if word.startswith("nudge"):
            return [await self._nudges(inbound, rest)]
        return self._report(inbound, rest)

    # -- managers ----------------------------------------------------------------------------------

    def _managers(self, inbound: Inbound, rest: str) -> Reply:
        verb, _, _ = rest.partition(" ")
        verb = verb.lower() or "list"
        if verb == "list":
            if not self.is_manager(inbound.learner):
                return Reply(NOT_A_MANAGER, kind="notice", ephemeral=True)
            added = [r["learner"] for r in self.store.read("SELECT learner FROM managers ORDER BY learner")]
            lines = [
                "*Managers*",
                *(f"• {a} (admin)" for a in sorted(self.admins)),
                *(f"• {m}" for m in added),
            ]
            return Reply("\n".join(lines))
        if verb not in ("add", "remove"):
            return Reply("Use *managers list*, *managers add @someone* or *managers remove @someone*.")
        if not self.is_admin(inbound.learner):
            return Reply(
                "Only an admin (listed in COACH_MANAGERS) can add or remove managers.",
                kind="notice",
                ephemeral=True,
            )
        people = self._people(inbound, rest)
        if not people:
            return Reply(f"Who should I {verb}? Mention them, e.g. *managers {verb} @dana*.")
        now = now_iso(self.clock())
        if verb == "add":
            rows = [{"learner": p, "added_by": inbound.learner, "added_at": now} for p in people]
            self.store.add_managers(rows)
            return Reply(f"Added {len(people)} manager(s): {', '.join(people)}.")
        for person in people:
            self.store.remove_manager(person)
        return Reply(f"Removed {len(people)} manager(s): {', '.join(people)}.")

    def _people(self, inbound: Inbound, text: str) -> list[str]:
        mentioned = [f"{inbound.platform}:{m}" for m in inbound.mentions]
        return list(dict.fromkeys(mentioned + EXPLICIT_MEMBER.findall(text)))

    # -- nudges ------------------------------------------------------------------------------------

    async def _nudges(self, inbound: Inbound, rest: str) -> Reply:
        verb, _, arg = rest.partition(" ")
        verb, arg = verb.lower(), arg.strip()
        if verb in ("", "list"):
            mine = self.nudges.schedules(manager=inbound.learner)
            live = [s for s in mine if s.status != "cancelled"]
            if not live:
                return Reply(
                    "You have no nudges yet. Try *nudges weekly mon 09:00 Europe/Berlin for #your-team*."
                )
            return Reply("*Your weekly nudges*\n" + "\n".join(f"• {s.describe()}" for s in live))
        if verb == "weekly":
            return self._schedule(inbound, rest)
        if verb in ("pause", "resume", "cancel", "send-now", "sendnow"):
            schedule = self.nudges.get(arg.strip("`"))
            if schedule is None or schedule.manager != inbound.learner:
                return Reply(f"You have no nudge with id “{arg}”. Say *nudges list* to see yours.")
            if verb == "send-now" or verb == "sendnow":
                week = f"manual-{now_iso(self.clock())}"
                planned = self.nudges.plan(schedule, week, self.clock())
                if self.send_now is not None:
                    await self.send_now()
                return Reply(f"Sending now: {planned} nudge(s) for {schedule.team}.")
            status = {"pause": "paused", "resume": "active", "cancel": "cancelled"}[verb]
            self.nudges.set_status(schedule.id, status)
            return Reply(f"Nudge `{schedule.id}` is now {status}.")
        return Reply(
            "Nudge commands: *nudges weekly <day> <HH:MM> [timezone] for <team>*, *nudges list*, "
            "*nudges pause|resume|cancel <id>*, *nudges send-now <id>*."
        )

    def _schedule(self, inbound: Inbound, rest: str) -> Reply:
        request = parse_schedule(rest)
        if isinstance(request, str):
            return Reply(request)
        members, team = self._team(inbound, request)
        if not members:
            return Reply(
                "Which team? Name a channel (*for #sales*), mention people (*for @ana @ben*) or, in Teams, "
                "say *for this team* in the team's channel."
            )
        schedule = self.nudges.create(inbound.learner, request, team, members, self.clock())
        return Reply(f"Scheduled: {schedule.describe()}. Each member gets 3 questions picked for them.")

    def _team(self, inbound: Inbound, request: ScheduleRequest) -> tuple[list[str], str]:
        if inbound.roster is not None:
            members = [f"{inbound.platform}:{m}" for m in inbound.roster]
            return members, inbound.roster_name or f"{len(members)} people"
        people = self._people(inbound, request.team_text)
        return people, f"{len(people)} people"

    # -- reports -------------------------------------------------------------------------------------

    def _report(self, inbound: Inbound, rest: str) -> list[Reply]:
        target = rest.strip("` ").lower()
        mine = [s for s in self.nudges.schedules(manager=inbound.learner) if s.status != "cancelled"]
        chosen = [s for s in mine if target in (s.id.lower(), s.team.lower())] if target else mine
        if not chosen:
            return [
                Reply("No team of yours by that name. Say *nudges list* to see your teams.", ephemeral=True)
            ]
        replies = []
        for schedule in chosen:
            weeks = self.nudges.weeks(schedule.id)
            if not weeks:
                replies.append(
                    Reply(f"No nudges have gone out to {schedule.team} yet.", ephemeral=inbound.shared)
                )
                continue
            result = build_report(self.store, self.course, schedule, weeks[-1])
            replies.append(
                Reply(
                    report_text(result, self.course),
                    image=report_png(result),
                    image_name=f"report-{schedule.id}.png",
                    ephemeral=inbound.shared,
                )
            )
        return replies

    # -- forget me -------------------------------------------------------------------------------------

    async def _forget(self, inbound: Inbound, rest: str) -> list[Reply]:
        confirmed = (
            inbound.action is not None and inbound.action.value == FORGET_CONFIRM
        ) or rest.lower() == "confirm"
        if not confirmed:
            return [
                Reply(
                    "This deletes everything I keep about you: quiz answers, review cards, lab results, "
                    "messages and our conversation history. It cannot be undone. Are you sure?",
                    choices=[
                        Choice("Yes, delete my data", Action("command", FORGET_CONFIRM)),
                        Choice("No, keep it", Action("command", "help")),
                    ],
                    kind="notice",
                    ephemeral=inbound.shared,
                )
            ]
        learner = inbound.learner
        threads = sorted(set(self.store.conversations_of(learner)) | self._spoken_in(learner))
        if self.forget_threads is not None:
            await self.forget_threads(threads)
        self._leave_teams(learner)
        self.store.forget(learner)
        return [
            Reply(
                "Done: I've deleted your quiz answers, review cards, lab results, messages and "
                "conversation history.",
                kind="notice",
                ephemeral=inbound.shared,
            )
        ]

    def _spoken_in(self, learner: str) -> set[str]:
        rows = self.store.read("SELECT DISTINCT conversation FROM messages WHERE learner = ?", [learner])
        return {r["conversation"] for r in rows}

    def _leave_teams(self, learner: str) -> None:
        """Drop the learner from every team list and drop the schedules they manage."""
        for schedule in self.nudges.schedules():
            if schedule.manager == learner:
                self.store.delete_schedule(schedule.id)
            elif learner in schedule.members:
                members = json.dumps([m for m in schedule.members if m != learner])
                self.store.update_schedule(schedule.id, {"members": members})
