"""Weekly nudges, digests and roster reads in Teams, outside any turn (the clock, `send-now`).

Everything goes through botbuilder's `CloudAdapter` and the Bot Connector REST API, as Teams expects:
- a member who talked to the coach is messaged through their stored 1:1 conversation reference;
- a member who never did, but is in a team (or group chat) whose roster the coach read, gets a 1:1
  conversation created with the connector's `create_conversation` in that team's tenant; its reference
  is stored for next time. Anyone else cannot be reached, and the error says so;
- rosters are read page by page (`pagedmembers`), names looked up per member (`members/{id}`);
- a 403 or 404 from the connector is permanent (the member or the coach was removed), anything else
  (5xx, timeouts, a refused connection) is retried by the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from botbuilder.core import BotAdapter, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)

from adapters.teams import cards
from bot.managers.nudges import DeliveryError
from bot.managers.people import People
from bot.messages import Reply
from bot.store import Store

log = logging.getLogger("coach.teams.sender")
T = TypeVar("T")
PLATFORM = "teams"
PAGE_SIZE = 500  # the most Teams returns per `pagedmembers` page
GONE = "removed from the team"  # the Dispatcher drops a member whose error says this


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of a Bot Connector error (msrest's `ErrorResponseException`), if any."""
    return getattr(getattr(exc, "response", None), "status_code", None)


def connector_error(exc: BaseException, what: str, posted: int = 0) -> DeliveryError:
    """The outbox's view of a connector failure (`posted`: replies that went out before it)."""
    status = status_of(exc)
    if status in (403, 404):
        return DeliveryError(f"teams: {what}: {GONE} or the conversation is gone ({status})", True, posted)
    if status == 413:
        return DeliveryError(f"teams: {what}: the message is too large for Teams (413)", True, posted)
    return DeliveryError(f"teams: {what}: {type(exc).__name__} {status or ''}".strip(), False, posted)


async def send_to_reference(
    adapter: CloudAdapter,
    app_id: str,
    reference: dict[str, Any],
    replies: list[Reply],
    sent: list[Reply] | None = None,
) -> None:
    """Send replies proactively into the conversation a stored reference points at (each one that
    went out is added to `sent`)."""
    ref = ConversationReference().deserialize(reference)
    ref.activity_id = None  # a new message, not a reply to whatever the learner said last

    async def deliver(turn_context: TurnContext) -> None:
        await send_each(turn_context, replies, [] if sent is None else sent)

    await adapter.continue_conversation(ref, deliver, app_id)


async def send_each(turn_context: TurnContext, replies: list[Reply], sent: list[Reply]) -> None:
    for reply in replies:
        await turn_context.send_activity(cards.activity(reply))
        sent.append(reply)


class TeamsSender:
    """Nudges, digests, rosters and names in Teams, for the clock and the web server."""

    def __init__(
        self,
        adapter: CloudAdapter,
        app_id: str | None,
        store: Store,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.adapter, self.app_id, self.store, self.clock = adapter, app_id or "", store, clock

    async def _with_connector(self, place: dict, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run `work(connector_client)` in a proactive turn at the place's service URL."""
        reference = ConversationReference(
            channel_id="msteams",
            service_url=place["service_url"],
            conversation=ConversationAccount(id=place["id"], tenant_id=place["tenant"]),
            bot=ChannelAccount(id=place["bot"]),
        )
        done: list[T] = []

        async def logic(turn_context: TurnContext) -> None:
            done.append(await work(turn_context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)))

        await self.adapter.continue_conversation(reference, logic, self.app_id)
        return done[0]

    # -- rosters and names --------------------------------------------------------------------------

    async def channel_members(self, place_id: str) -> list[str]:
        """The members of a team or group chat now (paged), the coach left out; their names are kept."""
        place = await asyncio.to_thread(self.store.place, place_id)
        if place is None:
            raise DeliveryError(f"teams: I have no way to reach {place_id}", permanent=False)

        async def read(client: Any) -> list[Any]:
            found, token = [], None
            while True:
                page = await client.conversations.get_teams_conversation_paged_members(
                    place_id, PAGE_SIZE, token
                )
                found += page.members or []
                token = page.continuation_token
                if not token:
                    return found

        try:
            members = await self._with_connector(place, read)
        except Exception as exc:
            raise connector_error(exc, f"reading the members of {place['name']}") from None
        people = [m for m in members if m.id != place["bot"]]
        now = self.clock()
        ids = [f"{PLATFORM}:{m.id}" for m in people]
        names = {f"{PLATFORM}:{m.id}": m.name for m in people}

        def remember() -> None:
            self.store.set_place_members(place_id, ids, now)
            People(self.store).remember(names, now)

        await asyncio.to_thread(remember)  # off the event loop: the store may wait on its database
        return [m.id for m in people]

    async def profile(self, learner: str) -> tuple[str | None, bool]:
        """The member's Teams name (`members/{id}` in a team they were seen in). A member no team of
        theirs knows any more (404 everywhere) is (None, False); no place to ask is an error."""
        user = learner.partition(":")[2]
        places = await asyncio.to_thread(self.store.places_of, learner)
        if not places:
            raise DeliveryError("teams: no team to look this member up in", permanent=False)
        for place in places:
            try:
                member = await self._with_connector(
                    place, lambda client, p=place: client.conversations.get_conversation_member(p["id"], user)
                )
            except Exception as exc:
                if status_of(exc) == 404:
                    await asyncio.to_thread(self.store.drop_place_member, place["id"], learner)
                    continue
                raise connector_error(exc, "looking up a member") from None
            return member.name, True
        return None, False

    # -- sending ----------------------------------------------------------------------------------

    async def deliver(self, learner: str, replies: list[Reply]) -> None:
        """Send the replies to the learner's 1:1 chat; a failure says how many went out before it."""
        for reply in replies:
            if reply.image and cards.inline_image(reply.image) is None:
                raise DeliveryError("teams: the chart is too large for a Teams message", permanent=True)
        personal = [
            r["reference"]
            for r in await asyncio.to_thread(self.store.references, learner)
            if r["reference"].get("conversation", {}).get("conversationType") == "personal"
        ]
        failure: DeliveryError | None = None
        if personal:
            sent: list[Reply] = []
            try:
                await send_to_reference(self.adapter, self.app_id, personal[0], replies, sent)
                return
            except Exception as exc:
                failure = connector_error(exc, "sending", len(sent))
                if not failure.permanent:
                    raise failure from None
        for place in await asyncio.to_thread(
            self.store.places_of, learner
        ):  # never talked to the coach, or left its chat
            sent = []
            try:
                await self._open_and_send(place, learner, replies, sent)
                return
            except Exception as exc:
                failure = connector_error(exc, f"opening a chat through {place['name']}", len(sent))
                if not failure.permanent:
                    raise failure from None
        if failure is not None:
            raise failure
        raise DeliveryError(
            "teams: can't be reached: they never talked to the coach and are in no team it was added to",
            permanent=True,
        )

    async def _open_and_send(
        self, place: dict, learner: str, replies: list[Reply], sent: list[Reply]
    ) -> None:
        """Create the 1:1 conversation with a team member (Teams needs the tenant), remember it, send."""
        user = learner.partition(":")[2]
        parameters = ConversationParameters(
            is_group=False,
            bot=ChannelAccount(id=place["bot"]),
            members=[ChannelAccount(id=user)],
            tenant_id=place["tenant"],
            channel_data={"tenant": {"id": place["tenant"]}},
        )

        async def send(turn_context: TurnContext) -> None:
            conversation_id = turn_context.activity.conversation.id
            reference = {
                "bot": {"id": place["bot"]},
                "channelId": "msteams",
                "conversation": {
                    "conversationType": "personal",
                    "id": conversation_id,
                    "tenantId": place["tenant"],
                },
                "serviceUrl": place["service_url"],
                "user": {"id": user},
            }
            key = (learner, f"{PLATFORM}:{conversation_id}")
            await asyncio.to_thread(self.store.save_reference, *key, reference, self.clock())
            await send_each(turn_context, replies, sent)

        await self.adapter.create_conversation(
            self.app_id, send, parameters, "msteams", place["service_url"], None
        )

    def reachable(self, learner: str) -> bool:
        """Whether a nudge can reach this member: a 1:1 chat with the coach, or a team it knows."""
        return bool(self.store.references(learner) or self.store.places_of(learner))
