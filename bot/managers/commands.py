"""Commands outside the coaching flows: managers, weekly nudges, team reports and "forget me".

Who may do what: admins are the users listed in `COACH_MANAGERS`; they may add and remove managers.
Managers (admins, and those added) may schedule nudges for a team and see its reports — their own
schedules only. Everyone else sees only their own data, and is told so politely.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.managers.nudges import QUESTIONS_PER_NUDGE, Nudges, Schedule, window_start
from bot.managers.people import People
from bot.managers.report import build_report, report_png, report_text
from bot.managers.wording import WEEKDAYS, ScheduleRequest, parse_schedule
from bot.messages import Action, Choice, Inbound, Reply
from bot.store import Store, now_iso
from bot.store.optouts import known_names
from knowledge.loader import Course

PLATFORMS = ("slack", "teams", "console")
FORGET_TTL = timedelta(minutes=10)
COMMAND = re.compile(
    r"^\s*(?:/?coach\s+)?(nudges?|reports?|managers?|forget\s+me)\b\s*(.*)$", re.IGNORECASE | re.DOTALL
)
FORGET_CONFIRM = "forget me confirm"
FORGET = "forget me"  # the purpose of its confirmation codes
EXPLICIT_MEMBER = re.compile(r"\b((?:slack|teams|console):[\w:.@-]+)")
WELCOME_MANAGER = (
    "You're now a manager in coach: you can send your team a few weekly practice questions and get "
    "a digest of who is behind on what. Try *nudges weekly mon 09:00 Europe/Berlin for #your-team* "
    "(or mention people), then *nudges list* and *report*."
)
SCHEDULE_VERBS = ("pause", "resume", "cancel", "send-now", "sendnow", "add", "remove", "remind", "reassign")
NUDGE_HELP = (
    'Nudge commands: *nudges weekly <day> <time> [timezone] for <team> [as "name"]*, *nudges list*, '
    "*nudges pause|resume|cancel|send-now ID*, *nudges add|remove @someone ID*, "
    "*nudges remind ID on [after N days]|off*; admins: *nudges all*, *nudges reassign ID @someone*."
)
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
    # forget_threads(learner, alone, shared): deletes their own threads' checkpoints, scrubs shared ones
    forget_threads: Callable[[str, list[str], list[str]], Awaitable[None]] | None = None
    notify: Callable[[str, str], Awaitable[bool]] | None = None  # tells one person something now
    people: People | None = None  # display names from the platform
    # called with each learner once their data is deleted: channels drop what they cache of them
    forgotten: list[Callable[[str], None]] = field(default_factory=list)

    # -- who is who --------------------------------------------------------------------------------

    def is_admin(self, learner: str) -> bool:
        return learner in self.admins  # exact: "teams:slack:UADMIN" is not "slack:UADMIN"

    def is_manager(self, learner: str) -> bool:
        return self.is_admin(learner) or self.store.is_listed_manager(learner)

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
        in_team = word.startswith("nudge") and inbound.roster is not None  # "for this team" in its channel
        if inbound.shared and not word.startswith("report") and not in_team:
            return [
                Reply("Manager commands work in a direct message with me.", kind="notice", ephemeral=True)
            ]
        if word.startswith("manager"):
            return [await self._managers(inbound, rest)]
        if not await asyncio.to_thread(self.is_manager, inbound.learner):
            return [Reply(NOT_A_MANAGER, kind="notice", ephemeral=True)]
        if word.startswith("nudge"):
            return [await self._nudges(inbound, rest, operator or inbound.platform == "console")]
        return await self._report(inbound, rest)

    # -- managers ----------------------------------------------------------------------------------

    async def _managers(self, inbound: Inbound, rest: str) -> Reply:
        verb, _, _ = rest.partition(" ")
        verb = verb.lower() or "list"
        if verb == "list":
            if not await asyncio.to_thread(self.is_manager, inbound.learner):
                return Reply(NOT_A_MANAGER, kind="notice", ephemeral=True)
            added = await asyncio.to_thread(self.store.manager_ids)
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
        people, _ = self._people(inbound, rest, operator=True)  # an admin may name exact ids
        if not people:
            return Reply(f"Who should I {verb}? Mention them, e.g. *managers {verb} @dana*.")
        now = now_iso(self.clock())
        if verb == "add":
            rows = [{"learner": p, "added_by": inbound.learner, "added_at": now} for p in people]
            await asyncio.to_thread(self.store.add_managers, rows)
            told = [p for p in people if await self._tell(p, WELCOME_MANAGER)]
            note = f" I've told {len(told)} of them how to start." if told else ""
            return Reply(f"Added {len(people)} manager(s): {', '.join(people)}.{note}")
        paused = []
        for person in people:
            await asyncio.to_thread(self.store.remove_manager, person)
            if self.is_admin(person):
                continue
            for schedule in await asyncio.to_thread(self.nudges.schedules, manager=person, status="active"):
                await asyncio.to_thread(self.nudges.set_status, schedule.id, "paused")
                paused.append(schedule)
        text = f"Removed {len(people)} manager(s): {', '.join(people)}."
        if paused:
            text += (
                f" I paused their {len(paused)} nudge schedule(s): "
                + ", ".join(f"`{s.id}` ({s.team})" for s in paused)
                + ". Give one to another manager with *nudges reassign ID @someone*, or *nudges cancel ID*."
            )
        return Reply(text)

    async def _tell(self, person: str, text: str) -> bool:
        if self.notify is None:
            return False
        try:
            return await self.notify(person, text)
        except Exception:  # telling is a courtesy; the command itself worked
            return False

    def _people(self, inbound: Inbound, text: str, operator: bool) -> tuple[list[str], list[str]]:
        """The people a command names, and who was refused (and why): a manager reaches people on
        their own platform by mentioning them; ids typed as text count only from the server's operator."""
        members = [f"{inbound.platform}:{m}" for m in inbound.mentions]
        refused = []
        for typed in EXPLICIT_MEMBER.findall(text):
            if operator:
                members.append(typed)
            elif typed.partition(":")[0] != inbound.platform:
                refused.append(f"{typed}: not on {inbound.platform.title()}, where you manage")
            else:
                refused.append(f"{typed}: mention people with @ so I know you can reach them")
        return list(dict.fromkeys(members)), refused

    # -- nudges ------------------------------------------------------------------------------------

    async def _nudges(self, inbound: Inbound, rest: str, operator: bool) -> Reply:
        verb, _, arg = rest.partition(" ")
        verb, arg = verb.lower(), arg.strip()
        if verb in ("", "list"):
            mine = await asyncio.to_thread(self.nudges.schedules, manager=inbound.learner)
            live = [s for s in mine if s.status != "cancelled"]
            if not live:
                return Reply(
                    "You have no nudges yet. Try *nudges weekly mon 09:00 Europe/Berlin for #your-team*."
                )
            return Reply("*Your weekly nudges*\n" + "\n".join(f"• {s.describe()}" for s in live))
        if verb == "all":
            if not self.is_admin(inbound.learner):
                return Reply("Only an admin can see every schedule.", kind="notice")
            every = [s for s in await asyncio.to_thread(self.nudges.schedules) if s.status != "cancelled"]
            if not every:
                return Reply("Nobody has scheduled nudges yet.")
            return Reply(
                "*Every weekly nudge*\n" + "\n".join(f"• {s.describe()} · manager {s.manager}" for s in every)
            )
        if verb in SCHEDULE_VERBS:
            found = re.search(r"`?\b([0-9a-f]{6})\b`?", arg)
            schedule = await asyncio.to_thread(self.nudges.get, found.group(1)) if found else None
            mine = schedule is not None and (
                schedule.manager == inbound.learner
                or (self.is_admin(inbound.learner) and verb in ("cancel", "pause", "resume", "reassign"))
            )
            if schedule is None or not mine:
                return Reply(f"You have no nudge with id “{arg}”. Say *nudges list* to see yours.")
            if refused := self._refuse_on_status(schedule, verb):
                return refused
            if verb in ("send-now", "sendnow"):
                return await self._send_now(schedule)
            if verb in ("add", "remove"):
                return await asyncio.to_thread(self._edit_team, inbound, schedule, verb, arg, operator)
            if verb == "remind":
                return await asyncio.to_thread(self._remind, schedule, arg)
            if verb == "reassign":
                return await self._reassign(inbound, schedule, arg, operator)
            status = {"pause": "paused", "resume": "active", "cancel": "cancelled"}[verb]
            await asyncio.to_thread(self.nudges.set_status, schedule.id, status)
            return Reply(f"Nudge `{schedule.id}` is now {status}.")
        if " for " in f" {rest} ".lower() or verb in ("weekly", "every") or verb[:3] in WEEKDAYS:
            return await self._schedule(inbound, rest, operator)
        return Reply(NUDGE_HELP)

    @staticmethod
    def _refuse_on_status(schedule: Schedule, verb: str) -> Reply | None:
        """A cancelled schedule takes only *resume*; a paused one sends nothing until resumed."""
        if schedule.status == "cancelled" and verb != "resume":
            return Reply(
                f"Nudge `{schedule.id}` ({schedule.team}) is cancelled, so I changed nothing. "
                f"Say *nudges resume {schedule.id}* to bring it back first."
            )
        if schedule.status == "paused" and verb in ("send-now", "sendnow"):
            return Reply(
                f"Nudge `{schedule.id}` ({schedule.team}) is paused, so I sent nothing. "
                f"Say *nudges resume {schedule.id}* first, then *nudges send-now {schedule.id}*."
            )
        return None

    async def _send_now(self, schedule: Schedule) -> Reply:
        """Send this week's set now; it counts toward the current week (one set per member a week)."""
        now = self.clock()
        week = schedule.week(schedule.window(now))
        planned = await asyncio.to_thread(self.nudges.plan, schedule, week, now)
        if self.send_now is not None:
            await self.send_now()
        if not planned:
            first = schedule.next_window(now).strftime("%A %d %b, %H:%M")
            return Reply(
                f"This week's questions already went to {schedule.team}. The next set goes out {first} "
                f"{schedule.tz}."
            )
        return Reply(f"Sending now: {planned} nudge(s) for {schedule.team}, counted as the week of {week}.")

    def _edit_team(self, inbound: Inbound, schedule: Schedule, verb: str, arg: str, operator: bool) -> Reply:
        people, refused = self._people(inbound, arg, operator or verb == "remove")  # removing is always safe
        if verb == "add":
            people, refused = self._nudgeable(people, refused)
        if not people:
            hint = f"Who should I {verb}? Mention them, e.g. *nudges {verb} @dana {schedule.id}*."
            return Reply(hint + "".join(f"\n• {why}" for why in refused))
        before = set(schedule.members)
        changed = [p for p in people if (p not in before) == (verb == "add")]
        add, remove = (people, []) if verb == "add" else ([], people)
        members = self.nudges.edit_members(schedule.id, add, remove) or []  # no lost update
        names = self._names(changed)
        done = "Added" if verb == "add" else "Removed"
        if not changed:
            return Reply(f"No change: {schedule.team} already {'has' if verb == 'add' else 'lacks'} them.")
        note = ""
        if schedule.channel:
            note = f" (I re-read {schedule.team}'s channel weekly: people who join or leave it come and go.)"
        return Reply(
            f"{done} {', '.join(names[p] for p in changed)} {'to' if verb == 'add' else 'from'} "
            f"{schedule.team}: now {len(members)} member(s).{note}"
        )

    def _remind(self, schedule: Schedule, arg: str) -> Reply:
        words = arg.lower().split()
        if "off" in words:
            self.nudges.update(schedule.id, remind_after_h=None)
            return Reply(f"No more mid-week reminders for {schedule.team}.")
        typed = [int(w) for w in words if w.isascii() and w.isdigit() and w != schedule.id]
        if any(not 1 <= n <= 6 for n in typed):
            return Reply(
                f"A reminder can come 1 to 6 days after the questions (before the next set), not "
                f"{typed[0]}: e.g. *nudges remind {schedule.id} on after 2 days*."
            )
        days = typed[0] if typed else 2
        self.nudges.update(schedule.id, remind_after_h=24 * days)
        return Reply(
            f"Members of {schedule.team} who haven't answered get one reminder {days} day(s) after their "
            "questions go out. Turn it off with *nudges remind " + schedule.id + " off*."
        )

    async def _reassign(self, inbound: Inbound, schedule: Schedule, arg: str, operator: bool) -> Reply:
        if not self.is_admin(inbound.learner):
            return Reply("Only an admin can give a schedule to another manager.", kind="notice")
        people, _ = self._people(inbound, arg, operator)  # the server's CLI names the manager by id
        if len(people) != 1 or not await asyncio.to_thread(self.is_manager, people[0]):
            return Reply("Name one manager to take it over, e.g. *nudges reassign ID @dana*.")
        await asyncio.to_thread(self.nudges.update, schedule.id, manager=people[0], status="active")
        await self._tell(
            people[0],
            f"You now manage the weekly nudges for {schedule.team} (`{schedule.id}`): "
            "say *nudges list* and *report* to see them.",
        )
        return Reply(f"`{schedule.id}` ({schedule.team}) now belongs to {people[0]} and is active.")

    def _reachable(self, member: str) -> bool:
        """Teams lets a bot message only people it shares a chat or a team with; elsewhere, anyone."""
        if not member.startswith("teams:"):
            return True
        return bool(self.store.references(member) or self.store.places_of(member))

    def _names(self, members: list[str]) -> dict[str, str]:
        people = self.people or People(self.store)
        return people.cached(members)

    async def _schedule(self, inbound: Inbound, rest: str, operator: bool) -> Reply:
        request = parse_schedule(rest)
        if isinstance(request, str):
            return Reply(request)
        if inbound.roster_error and inbound.platform == "teams":
            return Reply(
                f"I couldn't read the members of {inbound.roster_name or 'this team'} "
                f"({inbound.roster_error}). Nothing was scheduled: try again in a moment."
            )
        if inbound.roster_error:
            return Reply(
                f"I couldn't read the members of {inbound.roster_name or 'that channel'} "
                f"(Slack refused `conversations.members`: {inbound.roster_error}). "
                "Invite me to the channel (*/invite @coach*) and "
                "try again, or mention the people instead (*for @ana @ben*)."
            )
        members, team, refused = self._team(inbound, request, operator)
        left_out = "\n".join(f"• {why}" for why in refused)
        if not members:
            hint = (
                "Which team? Name a channel you are in (*for #sales*), mention people (*for @ana @ben*) or, "
                "in Teams, say *for this team* in the team's channel."
            )
            return Reply(f"{hint}\nLeft out:\n{left_out}" if refused else hint)
        schedule = await asyncio.to_thread(
            self.nudges.create,
            inbound.learner,
            request,
            team,
            members,
            self.clock(),
            channel=inbound.roster_channel,
        )
        if self.people is not None:
            names = await self.people.names([*schedule.members, schedule.manager], self.clock())
        else:
            names = await asyncio.to_thread(self._names, list(schedule.members))
        first = schedule.next_window(self.clock())
        if schedule.window(self.clock()) >= datetime.fromisoformat(schedule.created_at):
            first = schedule.window(self.clock())
        listed = ", ".join(sorted(names[m] for m in schedule.members))
        unreachable = sorted(names[m] for m in schedule.members if not self._reachable(m))
        cant = (
            f"\n• Can't reach yet: {', '.join(unreachable)} (they never talked to me and are in no team I "
            "was added to, so Teams won't let me message them; ask them to say hi to me once)"
            if unreachable
            else ""
        )
        return Reply(
            f"Scheduled `{schedule.id}`: *{schedule.team}*, {QUESTIONS_PER_NUDGE} questions each, every "
            f"{first.strftime('%A')} at {schedule.at} {schedule.tz}.\n"
            f"• Members ({len(schedule.members)}): {listed}\n"
            f"• First send: {first.strftime('%A %d %B %Y, %H:%M')} {schedule.tz}{cant}\n"
            f"Change it with *nudges add|remove @someone {schedule.id}*, *nudges pause {schedule.id}*."
            + (f"\nLeft out:\n{left_out}" if refused else "")
        )

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
            members = [f"{inbound.platform}:{m}" for m in inbound.roster if m != inbound.user]
            return members, name, []  # the manager reads the digest rather than answering nudges
        members, refused = self._nudgeable(*self._people(inbound, request.team_text, operator))
        return members, f"team of {len(members)}", refused

    @staticmethod
    def _nudgeable(people: list[str], refused: list[str]) -> tuple[list[str], list[str]]:
        """Only Slack and Teams members can be nudged: nothing can message a console user later."""
        kept = [p for p in people if not p.startswith("console:")]
        refused += [
            f"{p}: the console can't be messaged later; nudges go to Slack or Teams"
            for p in people
            if p not in kept
        ]
        return kept, refused

    # -- reports -------------------------------------------------------------------------------------

    async def _report(self, inbound: Inbound, rest: str) -> list[Reply]:
        target = rest.strip("` ").lower()
        mine = [
            s
            for s in await asyncio.to_thread(self.nudges.schedules, manager=inbound.learner)
            if s.status != "cancelled"
        ]
        chosen = [s for s in mine if target in (s.id.lower(), s.team.lower())] if target else mine
        if not chosen:
            return [
                Reply("No team of yours by that name. Say *nudges list* to see your teams.", ephemeral=True)
            ]
        replies = []
        for schedule in chosen:
            weeks = await asyncio.to_thread(self.nudges.weeks, schedule.id)
            if not weeks:
                replies.append(
                    Reply(f"No nudges have gone out to {schedule.team} yet.", ephemeral=inbound.shared)
                )
                continue
            now = self.clock()
            everyone = await asyncio.to_thread(self.nudges.people_of, schedule)
            names = await self.people.names(everyone, now) if self.people else None
            final = now >= schedule.next_window(window_start(weeks[-1], schedule))
            result = await asyncio.to_thread(
                build_report, self.store, self.course, schedule, weeks[-1], names, now, final
            )
            replies.append(
                Reply(
                    report_text(result, self.course),
                    image=await asyncio.to_thread(report_png, result),  # CPU-bound: off the event loop
                    image_name=f"report-{schedule.id}.png",
                    ephemeral=inbound.shared,
                )
            )
        return replies

    # -- forget me -------------------------------------------------------------------------------------

    async def _forget(self, inbound: Inbound, rest: str) -> list[Reply]:
        """Delete on a confirmation that only this learner, in this conversation, could have sent: the
        button carries a one-time code issued to them here, valid for ten minutes, kept in the
        database (`bot/store/confirmations.py`), so the click may land on any worker. Typed "forget
        me confirm" (or a forged click with someone else's id) only asks again."""
        now = self.clock()
        value = inbound.action.value if inbound.action is not None else f"forget me {rest}"
        code = value[len(FORGET_CONFIRM) :].strip() if value.lower().startswith(FORGET_CONFIRM) else ""
        where = (FORGET, inbound.learner, inbound.conversation)
        if not await asyncio.to_thread(self.store.use_code, code, *where, now):
            issued = await asyncio.to_thread(self.store.issue_code, *where, now, FORGET_TTL)
            return [
                Reply(
                    "This deletes everything I keep about you: quiz answers, review cards, lab results, "
                    "messages and our conversation history. It cannot be undone. Are you sure?",
                    choices=[
                        Choice("Yes, delete my data", Action("command", f"{FORGET_CONFIRM} {issued}")),
                        Choice("No, keep it", Action("command", "help")),
                    ],
                    kind="notice",
                    ephemeral=inbound.shared,
                )
            ]
        learner = inbound.learner
        alone = set(await asyncio.to_thread(self.store.conversations_of, learner))
        spoken = await asyncio.to_thread(self._spoken_in, learner)
        if self.forget_threads is not None:
            await self.forget_threads(learner, sorted(alone), sorted(spoken - alone))
        await asyncio.to_thread(self._leave_teams, learner)
        await asyncio.to_thread(self.store.forget, learner)
        for drop in self.forgotten:
            drop(learner)
        return [
            Reply(
                "Done: I've deleted your quiz answers, review cards, lab results, messages and "
                "conversation history.",
                kind="notice",
                ephemeral=inbound.shared,
            )
        ]

    def _spoken_in(self, learner: str) -> set[str]:
        return self.store.conversations_spoken_in(learner)

    def _leave_teams(self, learner: str) -> None:
        """Drop the learner from every team list and drop the schedules they manage, and their name
        from the notes managers read ("Joined the channel: Dana")."""
        name = known_names(self.store, [learner])[learner]
        if len(name) > 2:  # a one- or two-letter name would blank other words
            self.store.redact_notes(name, "(a member who asked me to delete their data)")
        for schedule in self.nudges.schedules():
            if schedule.manager == learner:
                self.store.delete_schedule(schedule.id)
            elif learner in schedule.members:
                self.nudges.edit_members(schedule.id, remove=[learner])  # an edit meanwhile is kept
                self.nudges.note(
                    schedule.id, "A member left the team: they asked me to delete their data.", self.clock()
                )
