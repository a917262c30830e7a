"""Proactive Slack delivery for weekly nudges and digests: open the DM, post, upload charts.

Rate limits are slack_sdk's job (its retry handlers wait out `Retry-After`); what still fails is
sorted into permanent (the user or the bot is gone: never retried) and transient (retried later).
"""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import blocks
from bot.managers.nudges import DeliveryError
from bot.messages import Reply

PERMANENT_ERRORS = {
    "account_inactive",
    "cannot_dm_bot",
    "channel_not_found",
    "invalid_auth",
    "is_archived",
    "missing_scope",
    "not_authed",
    "not_in_channel",
    "token_revoked",
    "user_disabled",
    "user_not_found",
    "users_not_found",
}


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code (`not_in_channel`), or the HTTP status when the answer was not JSON."""
    data = exc.response.data
    return (
        str(data.get("error", "unknown_error"))
        if isinstance(data, dict)
        else f"http_{exc.response.status_code}"
    )


def make_client(
    token: str, api_url: str | None = None, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """A Web API client that waits out rate limits and retries server and connection errors.

    Pass a long-lived `session` in a server: without one, slack_sdk opens a new aiohttp session (and
    TCP connection) for every call."""
    client = AsyncWebClient(token=token, base_url=api_url or AsyncWebClient.BASE_URL, session=session)
    client.retry_handlers.extend(
        [
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
        ]
    )
    return client


async def post_reply(
    client: AsyncWebClient, channel: str, reply: Reply, thread_ts: str | None = None
) -> None:
    """Post one reply: Block Kit, or a chart upload with the text as its comment."""
    body = blocks.render(reply)
    if reply.image:
        await client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            content=reply.image,
            filename=reply.image_name or "chart.png",
            title=reply.image_name or "chart",
            initial_comment=body["text"],
        )
    else:
        await client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, unfurl_links=False, unfurl_media=False, **body
        )


class SlackSender:
    def __init__(self, client: AsyncWebClient):
        self.client = client
        self._bot_user: str | None = None

    async def profile(self, learner: str) -> tuple[str | None, bool]:
        """The person's display name and whether their account is active (`users.info`)."""
        try:
            user = (await self.client.users_info(user=learner.partition(":")[2]))["user"]
        except SlackApiError as exc:
            error = slack_error(exc)
            if error == "user_not_found":
                return None, False
            raise DeliveryError(f"slack: {error}", permanent=False) from None
        profile = user.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or user.get("real_name")
        return name or user.get("name"), not user.get("deleted", False)

    async def channel_members(self, channel: str) -> list[str]:
        """The people in a channel now (`conversations.members`), the bot left out."""
        try:
            if self._bot_user is None:
                self._bot_user = (await self.client.auth_test())["user_id"]
            members: list[str] = []
            async for page in await self.client.conversations_members(channel=channel, limit=1000):
                members += page["members"]
        except SlackApiError as exc:
            raise DeliveryError(f"slack: {slack_error(exc)}", permanent=False) from None
        return [m for m in members if m != self._bot_user]

    async def deliver(self, learner: str, replies: list[Reply]) -> None:
        """Post the replies in the learner's DM; a failure says how many went out before it."""
        user = learner.partition(":")[2]
        posted = 0
        try:
            opened = await self.client.conversations_open(users=user)
            channel = opened["channel"]["id"]
            for reply in replies:
                await post_reply(self.client, channel, reply)
                posted += 1
        except SlackApiError as exc:
            error = slack_error(exc)
            raise DeliveryError(f"slack: {error}", error in PERMANENT_ERRORS, posted) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"slack unreachable: {type(exc).__name__}", False, posted) from None
