"""The Teams channel: a `TeamsActivityHandler` behind botbuilder's `CloudAdapter`.

Every inbound activity stores the conversation reference, so the coach can message the learner later
(weekly nudges). With a slow (remote) brain the bot sends a typing indicator at once, the coaching runs
after the HTTP request has been answered, and the replies go out proactively through the reference;
the offline brain answers at once, in one call.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler, TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationReference
from msrest.universal_http.requests import ClientRetryPolicy

from adapters.teams import cards, keys
from adapters.teams.connectors import PooledAuthentication
from bot.config import Settings
from bot.conversation import Coach
from bot.managers.commands import is_admin_command
from bot.managers.nudges import DeliveryError
from bot.managers.people import People
from bot.messages import Action, Choice, Inbound, Reply
from bot.store import Store

log = logging.getLogger("coach.teams")

# botbuilder builds new msrest connector clients on every turn, and msrest's retry policy computes its
# status list with ~500,000 list-membership steps each time (3.6 ms of CPU per Teams turn, measured by
# `coach bench`). The same codes as a frozenset give the same policy at no cost.
ClientRetryPolicy.safe_codes = frozenset(ClientRetryPolicy.safe_codes)
PLATFORM = "teams"
SHARED_TYPES = {"channel", "groupChat"}
THIS_TEAM = re.compile(r"\bfor\s+this\s+(team|channel|chat)\b", re.IGNORECASE)


class StrictAuthentication(PooledAuthentication):
    """botbuilder's authentication, where every failure to validate a token is a `PermissionError`
    (which CloudAdapter answers with 401): expired, wrong audience, `alg=none`, unknown key, garbage."""

    async def authenticate_request(self, activity: Activity, auth_header: str):
        try:
            return await super().authenticate_request(activity, auth_header)
        except Exception as exc:  # one warning line, no traceback: a bad token is the sender's problem
            reason = str(exc) if isinstance(exc, PermissionError) else f"invalid token ({type(exc).__name__})"
            log.warning("teams request refused: %s", reason)
            raise PermissionError(reason) from None


def make_adapter(settings: Settings) -> CloudAdapter:
    """A CloudAdapter authenticated from the Microsoft* settings. Without an app id, auth is off: the
    server only wires Teams that way when `COACH_TEAMS_EMULATOR=1` (loopback only)."""
    keys.install(settings.teams_openid_url)
    config = SimpleNamespace(
        APP_ID=settings.teams_app_id or "",
        APP_PASSWORD=settings.teams_app_password.get_secret_value() if settings.teams_app_password else "",
        APP_TYPE=settings.teams_app_type,
        APP_TENANTID=settings.teams_tenant_id or "",
    )
    return CloudAdapter(StrictAuthentication(config))


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
        # an immediate answer is one call (no typing first); typing before a channel thread breaks Teams
        if self.coach.deps.brain.remote and not inbound.shared:
            await turn_context.send_activity(Activity(type=ActivityTypes.typing))
        if is_admin_command(inbound.text) and THIS_TEAM.search(inbound.text):
            inbound = replace(inbound, **await self._roster(turn_context))
        if self.coach.deps.brain.remote:
            reference = TurnContext.get_conversation_reference(activity)
            task = asyncio.create_task(self._later(reference, inbound, activity.reply_to_id))
            self.background.add(task)
            task.add_done_callback(self.background.discard)
            return
        replies = await self.coach.handle(inbound)
        await self._send(turn_context, replies, inbound, activity.reply_to_id)

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
        """Coach after the HTTP request was answered, then reply through the stored reference."""
        try:
            replies = await self.coach.handle(inbound)

            async def deliver(turn_context: TurnContext) -> None:
                await self._send(turn_context, replies, inbound, reply_to)

            await self.adapter.continue_conversation(reference, deliver, self.app_id)
        except Exception:
            log.exception("proactive reply in %s failed", inbound.conversation)

    async def _send(
        self, turn_context: TurnContext, replies: list[Reply], inbound: Inbound, reply_to: str | None
    ):
        action = inbound.action
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
        """Members of the team, channel or group chat the message was sent in ("for this team")."""
        try:
            members = await TeamsInfo.get_members(turn_context)
        except Exception as exc:  # a personal chat, or Teams refused
            log.info("no roster for %s: %s", turn_context.activity.conversation.id, exc)
            return {}
        bot_id = turn_context.activity.recipient.id
        name = getattr(turn_context.activity.conversation, "name", None) or "this team"
        deps = self.coach.deps
        names = {f"{PLATFORM}:{m.id}": m.name for m in members}
        await asyncio.to_thread(People(deps.store).remember, names, deps.clock())
        return {"roster": tuple(m.id for m in members if m.id != bot_id), "roster_name": name}

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
            message_id=activity.id,
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
            await asyncio.to_thread(store.save_reference, *key, reference, now)  # off the event loop
            self._saved_refs[key] = reference


async def send_to_reference(
    adapter: CloudAdapter, app_id: str, reference: dict[str, Any], replies: list[Reply]
) -> None:
    """Send replies proactively into the conversation a stored reference points at."""
    ref = ConversationReference().deserialize(reference)
    ref.activity_id = None  # a new message, not a reply to whatever the learner said last

    async def deliver(turn_context: TurnContext) -> None:
        for reply in replies:
            await turn_context.send_activity(cards.activity(reply))

    await adapter.continue_conversation(ref, deliver, app_id)


class TeamsSender:
    """Weekly nudges and digests in Teams: through the learner's stored conversation reference."""

    def __init__(self, adapter: CloudAdapter, app_id: str | None, store: Store):
        self.adapter, self.app_id, self.store = adapter, app_id or "", store

    async def deliver(self, learner: str, replies: list[Reply]) -> None:
        refs = await asyncio.to_thread(self.store.references, learner)
        personal = [
            r for r in refs if r["reference"].get("conversation", {}).get("conversationType") == "personal"
        ]
        if not refs:
            raise DeliveryError(
                "teams: the learner never talked to the bot, so there is no way to reach them", True
            )
        try:
            await send_to_reference(self.adapter, self.app_id, (personal or refs)[0]["reference"], replies)
        except Exception as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            permanent = status in (401, 403, 404)  # removed from the team, or the conversation is gone
            raise DeliveryError(f"teams: {type(exc).__name__} {status or ''}".strip(), permanent) from None
