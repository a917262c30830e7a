"""What managers and admins type in chat, outside the coaching flows: managers, weekly nudges, team
reports and "forget me" (the terminal's versions are in `bot/cli/managers.py`).

Who may do what: admins are the users listed in `COACH_MANAGERS`; they may add and remove managers.
Managers (admins, and those added) may schedule nudges for a team and see its reports — their own
schedules only. Everyone else sees only their own data, and is told so politely.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.managers.nudges import Nudges, ScheduleRequest, parse_schedule
from bot.managers.report import build_report, report_png, report_text
from bot.messages import Action, Choice, Inbound, Reply
from bot.store import Store, now_iso
from knowledge.loader import Course

PLATFORMS = ("slack", "teams", "console")
FORGET_TTL = timedelta(minutes=10)
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


def admin_identities(entries: str) -> frozenset[str]:
    """COACH_MANAGERS ("slack:U123, teams:29:abc") as exact `platform:id` identities. A bare id means
    Slack (Slack ids have no colon); anything else with a colon must name a platform, or start fails."""
    found = set()
    for entry in (e.strip() for e in entries.split(",")):
        if not entry:
            continue
        platform, sep, user = entry.partition(":")
        if not sep:
            found.add(f"slack:{entry}")
        elif platform in PLATFORMS and user:
            found.add(entry)
        else:
            raise ValueError(
                f"COACH_MANAGERS entry {entry!r} names no platform: write slack:U123 or teams:<id> "
                "(Teams ids such as 29:abc need the teams: prefix)"
            )
    return frozenset(found)


@dataclass
class Admin:
    store: Store
    course: Course
    nudges: Nudges
    admins: frozenset[str]  # exact "platform:id" identities, from `admin_identities(COACH_MANAGERS)`
    clock: Callable[[], datetime]
    send_now: Callable[[], Awaitable[object]] | None = None  # delivers enqueued nudges right away
    forget_threads: Callable[[list[str]], Awaitable[None]] | None = None  # deletes checkpoints
    _forget_nonces: dict[tuple[str, str], tuple[str, datetime]] = field(default_factory=dict)

    # -- who is who --------------------------------------------------------------------------------

    def is_admin(self, learner: str) -> bool:
        return learner in self.admins  # exact: "teams:slack:UADMIN" is not "slack:UADMIN"

    def is_manager(self, learner: str) -> bool:
        return self.is_admin(learner) or bool(
            self.store.read("SELECT 1 FROM managers WHERE learner = ?", [learner])
        )

    # -- dispatch ------------------------------------------------------------------------------------

    async def handle(self, inbound: Inbound, operator: bool = False) -> list[Reply]:
        """`operator`: the command comes from the server's shell (`coach nudges --as …`), whose user
        may name members by id; in a chat, members must be people the platform vouches for."""
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
            return [await self._nudges(inbound, rest, operator or inbound.platform == "console")]
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
            self.store.write(lambda db: db["managers"].upsert_all(rows, pk="learner"))
            return Reply(f"Added {len(people)} manager(s): {', '.join(people)}.")
        for person in people:
            self.store.write(lambda db, p=person: db.execute("DELETE FROM managers WHERE learner = ?", [p]))
        return Reply(f"Removed {len(people)} manager(s): {', '.join(people)}.")

    def _people(self, inbound: Inbound, text: str) -> list[str]:
        mentioned = [f"{inbound.platform}:{m}" for m in inbound.mentions]
        return list(dict.fromkeys(mentioned + EXPLICIT_MEMBER.findall(text)))

    # -- nudges ------------------------------------------------------------------------------------

    async def _nudges(self, inbound: Inbound, rest: str, operator: bool) -> Reply:
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
            return self._schedule(inbound, rest, operator)
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

    def _schedule(self, inbound: Inbound, rest: str, operator: bool) -> Reply:
        request = parse_schedule(rest)
        if isinstance(request, str):
            return Reply(request)
        members, team, refused = self._team(inbound, request, operator)
        left_out = "\n".join(f"• {why}" for why in refused)
        if not members:
            hint = (
                "Which team? Name a channel you are in (*for #sales*), mention people (*for @ana @ben*) or, "
                "in Teams, say *for this team* in the team's channel."
            )
            return Reply(f"{hint}\nLeft out:\n{left_out}" if refused else hint)
        schedule = self.nudges.create(inbound.learner, request, team, members, self.clock())
        text = f"Scheduled: {schedule.describe()}. Each member gets 3 questions picked for them."
        return Reply(f"{text}\nLeft out:\n{left_out}" if refused else text)

    def _team(
        self, inbound: Inbound, request: ScheduleRequest, operator: bool
    ) -> tuple[list[str], str, list[str]]:
        """The members a manager may nudge, the team's name, and who was left out (and why).

        A manager reaches people on their own platform only: a channel or team they belong to (its
        roster, read from the platform) or people they mention. Ids typed as text are taken only from
        the server's operator, because nothing vouches that a chat user can reach them."""
        if inbound.roster is not None:
            name = inbound.roster_name or "that channel"
            if inbound.user not in inbound.roster:
                return [], name, [f"you are not a member of {name}, so I can't nudge its members for you"]
            return [f"{inbound.platform}:{m}" for m in inbound.roster], name, []
        members = [f"{inbound.platform}:{m}" for m in inbound.mentions]
        refused = []
        for typed in EXPLICIT_MEMBER.findall(request.team_text):
            if operator:
                members.append(typed)
            elif typed.partition(":")[0] != inbound.platform:
                refused.append(f"{typed}: not on {inbound.platform.title()}, where you manage")
            else:
                refused.append(f"{typed}: mention people with @ so I know you can reach them")
        members = list(dict.fromkeys(members))
        return members, f"{len(members)} people", refused

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
        """Delete on a confirmation that only this learner, in this conversation, could have sent: the
        button carries a one-time code issued to them here, valid for ten minutes. Typed "forget me
        confirm" (or a forged click with someone else's id) only asks again."""
        key = (inbound.learner, inbound.conversation)
        now = self.clock()
        value = inbound.action.value if inbound.action is not None else f"forget me {rest}"
        code = value[len(FORGET_CONFIRM) :].strip() if value.lower().startswith(FORGET_CONFIRM) else ""
        issued = self._forget_nonces.get(key)
        confirmed = bool(
            code and issued and secrets.compare_digest(code, issued[0]) and now - issued[1] <= FORGET_TTL
        )
        if not confirmed:
            nonce = secrets.token_urlsafe(12)
            self._forget_nonces[key] = (nonce, now)
            return [
                Reply(
                    "This deletes everything I keep about you: quiz answers, review cards, lab results, "
                    "messages and our conversation history. It cannot be undone. Are you sure?",
                    choices=[
                        Choice("Yes, delete my data", Action("command", f"{FORGET_CONFIRM} {nonce}")),
                        Choice("No, keep it", Action("command", "help")),
                    ],
                    kind="notice",
                    ephemeral=inbound.shared,
                )
            ]
        del self._forget_nonces[key]
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
                self.store.write(
                    lambda db, s=schedule: db.execute("DELETE FROM nudge_schedules WHERE id = ?", [s.id])
                )
            elif learner in schedule.members:
                members = json.dumps([m for m in schedule.members if m != learner])
                self.store.write(
                    lambda db, s=schedule, m=members: db["nudge_schedules"].update(s.id, {"members": m})
                )
