"""The Teams channel: a `TeamsActivityHandler` behind botbuilder's `CloudAdapter`.

Every inbound activity stores the conversation reference, so the coach can message the learner later
(weekly nudges). With a slow (remote) brain the coaching runs after the HTTP request has been answered
and the replies go out proactively through the reference, with a typing indicator first only if no
answer came within `TYPING_DELAY_S` (a quick answer is one Bot Connector call); the offline brain
answers at once, in one call.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from http import HTTPStatus
from typing import Any

from botbuilder.core import CardFactory, InvokeResponse, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationReference

from adapters.teams import cards
from adapters.teams.sender import TeamsSender, send_to_reference
from bot.acks import start_then_ack
from bot.conversation import Coach, Undelivered, conversation_hash
from bot.managers.commands import is_admin_command
from bot.messages import Action, Choice, Inbound, Reply

log = logging.getLogger("coach.teams")

PLATFORM = "teams"
SHARED_TYPES = {"channel", "groupChat"}
# a remote-brain turn runs after the HTTP response, which waits until the message is stored: at most
# ACK_WAIT_S for the turn to store it in line, then it is stored early (Teams waits 15 s for an answer)
ACK_WAIT_S, ACK_LIMIT_S = 5.0, 10.0
THIS_TEAM = re.compile(r"\bfor\s+this\s+(team|channel|chat)\b", re.IGNORECASE)
# Past about a second of silence a reply stops feeling immediate (the usual 0.1 s / 1 s / 10 s limits):
# then a typing indicator says "heard you, working on it". Sent at once it was a second Bot Connector
# call (~2 ms of CPU through msrest and requests) on every Claude turn, however quick the answer.
TYPING_DELAY_S = 1.0


class TypingLater:
    """A typing indicator sent only if the turn's replies have not gone out after `delay_s`.

    `start` (the turn's `notify`: it may wait on the brain) arms it; `settle` (before the replies go
    out, and when the turn ends) calls off one not yet sent, or waits for one being sent, so that it
    never arrives after the answer it announces."""

    def __init__(self, send: Callable[[], Awaitable[Any]], delay_s: float):
        self.send, self.delay_s = send, delay_s
        self._later: asyncio.Task | None = None
        self._sending = False

    async def start(self, _hint: Reply | None = None) -> None:
        if self._later is None:
            self._later = asyncio.create_task(self._after_delay())

    async def _after_delay(self) -> None:
        await asyncio.sleep(self.delay_s)
        self._sending = True
        try:
            await self.send()
        except Exception as exc:  # only a hint: the answer still goes out
            log.warning("teams: the typing indicator failed: %s", exc)

    async def settle(self) -> None:
        later, self._later = self._later, None
        if later is None:
            return
        if self._sending:
            await later
        else:
            later.cancel()


class CoachTeamsBot(TeamsActivityHandler):
    def __init__(self, coach: Coach, adapter: CloudAdapter, app_id: str | None):
        self.coach, self.adapter, self.app_id = coach, adapter, app_id or ""
        self.background: set[asyncio.Task] = set()
        self._saved_refs: dict[tuple[str, str], dict] = {}  # what is already stored, to skip rewrites

    # -- inbound ----------------------------------------------------------------------------------

    async def on_turn(self, turn_context: TurnContext) -> None:
        await self._remember(turn_context.activity)
        await super().on_turn(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        inbound = self._inbound(activity)
        if inbound is None:
            await turn_context.send_activity(
                "That card is out of date, so I couldn't read it. Say *help* to start again."
            )
            return
        if is_admin_command(inbound.text) and THIS_TEAM.search(inbound.text):
            inbound = replace(inbound, **await self._roster(turn_context))
        if self.coach.deps.brain.remote:  # answered after the request; acknowledged once stored
            reference = TurnContext.get_conversation_reference(activity)
            later = self._later(reference, inbound, activity.reply_to_id)
            await start_then_ack(later, self.background, wait_s=ACK_WAIT_S, limit_s=ACK_LIMIT_S)
            return

        async def deliver(replies: list[Reply]) -> None:
            await self._send(turn_context, replies, inbound, activity.reply_to_id)

        try:
            await self.coach.handle(inbound, deliver=deliver)
        except Exception as exc:  # e.g. Teams refused the replies: owned up to on the next turn
            log.warning("teams: a turn in %s failed: %s", conversation_hash(inbound.conversation), exc)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        """coach's cards submit as messages (Action.Submit), so it handles no invoke: each gets 501 before
        botbuilder reads its value (a malformed Action.Execute value made its error response fail)."""
        return InvokeResponse(status=int(HTTPStatus.NOT_IMPLEMENTED))

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        bot_id = turn_context.activity.recipient.id
        if any(member.id == bot_id for member in members_added):
            shared = (turn_context.activity.conversation.conversation_type or "personal") in SHARED_TYPES
            private = [
                Choice("Start Lab 1", Action("command", "lab 1")),
                Choice("Quiz 1", Action("command", "quiz 1")),
            ]
            # labs and quizzes are private: a channel is offered only what works there
            welcome = Reply(
                cards.WELCOME,
                choices=[Choice("Help", Action("command", "help")), *([] if shared else private)],
            )
            await turn_context.send_activity(cards.activity(welcome))

    # -- outbound ---------------------------------------------------------------------------------

    async def _later(self, reference: ConversationReference, inbound: Inbound, reply_to: str | None) -> None:
        """Coach after the HTTP request was answered, replying through the conversation reference (and
        typing first if the answer is slow; never in a channel thread, where typing breaks Teams)."""

        async def proactive(logic: Callable[[TurnContext], Awaitable[None]]) -> None:
            await self.adapter.continue_conversation(reference, logic, self.app_id)

        async def type_now(turn_context: TurnContext) -> None:
            await turn_context.send_activity(Activity(type=ActivityTypes.typing))

        typing = None if inbound.shared else TypingLater(lambda: proactive(type_now), TYPING_DELAY_S)

        async def deliver(replies: list[Reply]) -> None:
            async def send(turn_context: TurnContext) -> None:
                await self._send(turn_context, replies, inbound, reply_to)

            if typing is not None:
                await typing.settle()
            await proactive(send)

        try:
            await self.coach.handle(inbound, notify=None if typing is None else typing.start, deliver=deliver)
        except Undelivered as exc:  # owned up to on the next turn
            log.warning("teams: a proactive reply could not be delivered: %s", exc)
        except Exception:
            log.exception("proactive reply in %s failed", conversation_hash(inbound.conversation))
        finally:
            if typing is not None:
                await typing.settle()

    async def _send(
        self, turn_context: TurnContext, replies: list[Reply], inbound: Inbound, reply_to: str | None
    ):
        action = inbound.action
        private = [r for r in replies if r.ephemeral and not r.thinking] if inbound.shared else []
        if private:  # Teams has no message only one person in a channel sees: their 1:1 chat instead
            replies = [r for r in replies if r not in private]
            replies.append(Reply(await self._privately(inbound.learner, private), kind="notice"))
        for reply in replies:
            if reply.thinking:
                continue
            if (
                action is not None
                and reply_to
                and reply.kind == "feedback"
                and reply.question == action.question
                and not reply.ephemeral
            ):
                question = self.coach.deps.course.question(reply.question or "")
                if question is not None and await self._replace_card(turn_context, reply_to, question, reply):
                    continue
            await turn_context.send_activity(cards.activity(reply))

    async def _privately(self, learner: str, replies: list[Reply]) -> str:
        """Send what only the asker may see (a team's report, their progress) to their 1:1 chat; the line
        that says so in the channel. Never the replies themselves in the channel, even if that fails."""
        deps = self.coach.deps
        try:
            await TeamsSender(self.adapter, self.app_id, deps.store, deps.clock).deliver(learner, replies)
        except Exception as exc:  # DeliveryError, or the connector refusing
            log.info("teams: a private reply could not reach its 1:1 chat: %s", exc)
            return "That's only for you, and I couldn't open our private chat: message me there, ask again."
        return "That's only for you, so I've sent it to our private chat."

    async def _replace_card(
        self, turn_context: TurnContext, activity_id: str, question: Any, feedback: Reply
    ) -> bool:
        """Turn the answered question card into its feedback card (no buttons). False if Teams refuses."""
        update = MessageFactory.attachment(CardFactory.adaptive_card(cards.answered_card(question, feedback)))
        update.id = activity_id
        try:
            await turn_context.update_activity(update)
            return True
        except Exception as exc:  # an old or deleted message: send the feedback as a new one
            log.info("could not update card %s: %s", activity_id, exc)
            return False

    async def send_proactive(self, reference: dict[str, Any], replies: list[Reply]) -> None:
        """Send replies into a stored conversation."""
        await send_to_reference(self.adapter, self.app_id, reference, replies)

    # -- translation ------------------------------------------------------------------------------

    async def _roster(self, turn_context: TurnContext) -> dict[str, Any]:
        """Members of the team (or group chat) the message was sent in ("for this team"), read page by
        page; the team is remembered so the clock can re-read it weekly and reach its members."""
        activity = turn_context.activity
        team = (activity.channel_data or {}).get("team") or {}
        conversation = activity.conversation
        if not team.get("id") and conversation.conversation_type != "groupChat":
            return {}  # a personal chat has no team
        place = team.get("id") or conversation.id
        name = team.get("name") or getattr(conversation, "name", None) or "this team"
        tenant = conversation.tenant_id or ((activity.channel_data or {}).get("tenant") or {}).get("id", "")
        deps = self.coach.deps
        store, now = deps.store, deps.clock()
        await store.off_loop(
            store.save_place, place, activity.service_url, tenant, activity.recipient.id, name, now
        )
        sender = TeamsSender(self.adapter, self.app_id, deps.store, deps.clock)
        try:
            members = await sender.channel_members(place)
        except Exception as exc:  # Teams refused: say so rather than schedule nobody
            log.info("no roster for %s: %s", place, exc)
            return {"roster_name": name, "roster_error": str(exc)}
        return {"roster": tuple(members), "roster_name": name, "roster_channel": f"{PLATFORM}:{place}"}

    def _inbound(self, activity: Activity) -> Inbound | None:
        conversation = activity.conversation
        shared = (conversation.conversation_type or "personal") in SHARED_TYPES
        user = activity.from_property
        action = None
        text = TurnContext.remove_recipient_mention(activity) if activity.text else ""
        value = activity.value if isinstance(activity.value, dict) else None
        if value is not None and not (text or "").strip():
            action = Action.from_dict(value.get(cards.DATA_KEY))
            if action is None:
                return None
        bot_id = activity.recipient.id if activity.recipient else None
        mentioned = [
            (e.serialize().get("mentioned") or {}) for e in activity.entities or [] if e.type == "mention"
        ]
        mentions = tuple(m["id"] for m in mentioned if m.get("id") and m["id"] != bot_id)
        return Inbound(
            PLATFORM,
            user.id,
            f"{PLATFORM}:{conversation.id}",
            (text or "").strip(),
            action,
            message_id=f"{conversation.id}|{activity.id}" if activity.id else None,  # ids repeat across chats
            user_name=user.name,
            shared=shared,
            mentions=mentions,
        )

    async def _remember(self, activity: Activity) -> None:
        user = activity.from_property
        if (
            user is None
            or activity.conversation is None
            or user.id == (activity.recipient.id if activity.recipient else None)
        ):
            return
        reference = TurnContext.get_conversation_reference(activity).serialize()
        reference.pop("activityId", None)  # changes every message; proactive sends never use it
        key = (f"{PLATFORM}:{user.id}", f"{PLATFORM}:{activity.conversation.id}")
        if self._saved_refs.get(key) != reference:
            store, now = self.coach.deps.store, self.coach.deps.clock()
            await store.off_loop(store.save_reference, *key, reference, now)
            self._saved_refs[key] = reference
