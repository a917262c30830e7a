"""The Slack channel: a Bolt `AsyncApp` whose listeners translate Slack events into `Inbound` and
`Reply` into Web API calls. Over HTTP, `adapters.slack.inbox` has answered Slack before a listener
runs; in Socket Mode every listener acknowledges first and coaches afterwards, so Slack gets its
answer within 3 seconds however long the coaching takes.

Conversations: a DM is one conversation (`slack:<dm channel>`); in a shared channel each thread
started by a mention is one (`slack:<channel>:<thread ts>`), and follow-ups in that thread continue it
without a new mention.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.assistant.async_assistant import AsyncAssistant
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import blocks
from adapters.slack.sender import SlackSender, make_client, post_reply, slack_error
from bot.conversation import Coach, Undelivered
from bot.managers.commands import is_admin_command
from bot.messages import Action, Choice, Inbound, Reply
from flows import info
from flows.router import talks_to_coach

log = logging.getLogger("coach.slack")

PLATFORM = "slack"
IGNORED_SUBTYPES = {"bot_message", "message_changed", "message_deleted", "channel_join", "channel_leave"}
PRIVATE_COMMANDS = re.compile(r"^(lab|quiz|test|module|drill|start|exam|final)\b", re.IGNORECASE)
MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
USER_REF = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
CHANNEL_REF = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
ASSISTANT_GREETING = (
    "Hi! I'm your coach for *Building an AI-Ready Organization*. Pick a starting point below, or ask me "
    "anything about the lessons."
)
# Past about a second and a half of silence a chat reply stops feeling immediate and people start to
# wonder whether the bot heard them (the usual 0.1 s / 1 s / 10 s response-time limits); Slack shows
# no typing indicator for bots, so a placeholder then says "heard you, working on it".
PLACEHOLDER_DELAY_S = 1.5
SUGGESTED_PROMPTS = [
    {"title": "Lab 1: a manufacturer stuck in pilot purgatory", "message": "lab 1"},
    {"title": "Quiz me on Lesson 1", "message": "quiz 1"},
    {"title": "Drill what I got wrong", "message": "drill"},
    {"title": "What is pilot purgatory?", "message": "What is pilot purgatory?"},
]


def conversation_id(channel: str, thread_ts: str | None = None) -> str:
    return f"{PLATFORM}:{channel}:{thread_ts}" if thread_ts else f"{PLATFORM}:{channel}"


def is_dm(channel: str) -> bool:
    return channel.startswith("D")


class SlackReplies:
    """Posts the replies of one turn into one place (a DM or a thread).

    When the brain may take a while, a "Thinking…" placeholder goes up only if no answer has come
    after `PLACEHOLDER_DELAY_S`, and the first real reply then replaces it: a quick answer is one
    message (one Web API call), a slow one is acknowledged before the person wonders whether we heard.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        user: str,
        thread_ts: str | None = None,
        set_status: Callable[..., Awaitable[Any]] | None = None,
    ):
        self.client, self.channel, self.user, self.thread_ts = client, channel, user, thread_ts
        self.set_status = set_status  # in an AI-assistant thread: Slack's own "is thinking…" status
        self.placeholder: str | None = None
        self._later: asyncio.Task | None = None
        self._posting = False

    async def thinking(self, reply: Reply) -> None:
        if self.set_status is not None:
            await self.set_status("is thinking…")
            return
        self._later = asyncio.create_task(self._placeholder_later())

    async def _placeholder_later(self) -> None:
        await asyncio.sleep(PLACEHOLDER_DELAY_S)
        self._posting = True
        try:
            response = await self.client.chat_postMessage(
                channel=self.channel, thread_ts=self.thread_ts, text="_Thinking…_"
            )
            self.placeholder = response.get("ts")
        except Exception as exc:  # only a hint: the answer still goes out as a new message
            log.warning("slack: the thinking placeholder failed: %s", exc)

    async def settle(self) -> None:
        """Call off a placeholder not yet posted; wait for one being posted (its answer replaces it)."""
        later, self._later = self._later, None
        if later is None:
            return
        if self._posting:
            await later
        else:
            later.cancel()

    async def send(self, replies: list[Reply]) -> None:
        await self.settle()
        for reply in replies:
            if reply.thinking:
                continue
            body = blocks.render(reply)
            if reply.ephemeral:
                await self.client.chat_postEphemeral(
                    channel=self.channel, user=self.user, thread_ts=self.thread_ts, **body
                )
            elif self.placeholder and not reply.image:
                await self.client.chat_update(channel=self.channel, ts=self.placeholder, **body)
                self.placeholder = None
            else:
                await post_reply(self.client, self.channel, reply, self.thread_ts)
        if self.placeholder:  # nothing came after the placeholder: do not leave it dangling
            await self.client.chat_update(channel=self.channel, ts=self.placeholder, text="Done.")


def checked(respond: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Bolt's `respond` (a POST to the response_url) returns Slack's answer instead of raising: this one
    raises on a 4xx/5xx, so a refused reply counts as undelivered like a refused Web API call."""

    async def send(**kwargs: Any) -> Any:
        response = await respond(**kwargs)
        status = getattr(response, "status_code", 200)
        if status >= 400:
            raise ConnectionError(
                f"Slack's response_url answered HTTP {status}: {getattr(response, 'body', '')}"
            )
        return response

    return send


def home_choices(coach: Coach) -> list[Choice]:
    course = coach.deps.course
    labs = sorted(course.labs.values(), key=lambda lab: lab.number)
    quizzes = sorted((q for q in course.quizzes.values() if q.lesson), key=lambda q: q.lesson or 0)
    return [
        *(Choice(f"Lab {lab.number}: {lab.title}", Action("command", f"lab {lab.number}")) for lab in labs),
        *(Choice(f"Quiz {q.lesson}", Action("command", f"quiz {q.lesson}")) for q in quizzes),
        Choice("Module test", Action("command", "module test")),
        Choice("Drill", Action("command", "drill")),
    ]


def build_slack_app(
    coach: Coach,
    token: str,
    signing_secret: str,
    api_url: str | None = None,
    session: aiohttp.ClientSession | None = None,
    process_before_response: bool = False,
) -> AsyncApp:
    """The Bolt app with every listener registered. `api_url` points the Web API client elsewhere;
    `session` is the pooled HTTP session its calls share (the caller closes it). Behind
    `adapters.slack.inbox`, which has acknowledged already, pass `process_before_response=True`: the
    listener then finishes within Bolt's dispatch, which keeps each conversation's turns in order."""
    client = make_client(token, api_url, session)
    # named: without a name Bolt takes its caller's file name from `inspect.stack()`, which resolves the
    # module of every frame on the stack (0.1-0.5 s of CPU per app with coach's modules loaded)
    app = AsyncApp(
        name="coach-slack",
        client=client,
        signing_secret=signing_secret,
        process_before_response=process_before_response,
    )

    async def open_dm(user: str) -> str:
        response = await client.conversations_open(users=user)
        return response["channel"]["id"]

    async def team_of(text: str, bot_user: str | None) -> dict[str, Any]:
        """For manager commands: the users a message mentions and the members of a channel it names."""
        if not is_admin_command(MENTION.sub("", text).strip()):
            return {}
        found: dict[str, Any] = {"mentions": tuple(u for u in USER_REF.findall(text) if u != bot_user)}
        channel = CHANNEL_REF.search(text)
        if channel:
            found["roster_name"] = f"#{channel.group(2) or channel.group(1)}"
            try:
                members: list[str] = []
                async for page in await client.conversations_members(channel=channel.group(1), limit=1000):
                    members += page["members"]
            except SlackApiError as exc:
                found["roster_error"] = slack_error(exc)
                return found
            found["roster"] = tuple(m for m in members if m != bot_user)
            found["roster_channel"] = f"{PLATFORM}:{channel.group(1)}"
        return found

    async def run(message: Inbound, out: SlackReplies) -> list[Reply]:
        """One turn whose replies are posted inside it (see `Coach.handle`'s `deliver`)."""
        try:
            return await coach.handle(message, notify=out.thinking, deliver=out.send)
        except BaseException:
            await out.settle()
            raise

    # -- AI-assistant threads (DMs of an app with Slack's "Agents & AI Apps" feature on) ---------

    assistant = AsyncAssistant()

    @assistant.thread_started
    async def on_thread_started(say: Any, set_suggested_prompts: Any) -> None:
        await say(text=ASSISTANT_GREETING)
        await set_suggested_prompts(prompts=SUGGESTED_PROMPTS)

    @assistant.user_message
    async def on_assistant_message(payload: dict, body: dict, set_status: Any) -> None:
        if payload.get("subtype"):
            return
        channel, thread, user = payload["channel"], payload["thread_ts"], payload["user"]
        message = Inbound(
            PLATFORM,
            user,
            conversation_id(channel, thread),
            payload.get("text") or "",
            message_id=body.get("event_id"),
        )
        await run(message, SlackReplies(client, channel, user, thread, set_status=set_status))

    app.use(assistant)

    # -- messages -------------------------------------------------------------------------------

    @app.event("app_mention")
    async def on_mention(event: dict, body: dict, context: Any) -> None:
        if event.get("bot_id") or event.get("subtype"):
            return
        channel, thread = event["channel"], event.get("thread_ts") or event["ts"]
        raw = event.get("text") or ""
        text = MENTION.sub("", raw).strip()
        message = Inbound(
            PLATFORM,
            event["user"],
            conversation_id(channel, thread),
            text,
            message_id=body.get("event_id"),
            shared=not is_dm(channel),
            **await team_of(raw, context.get("bot_user_id")),
        )
        await run(message, SlackReplies(client, channel, event["user"], thread))

    @app.event("message")
    async def on_message(event: dict, body: dict, context: Any) -> None:
        if event.get("bot_id") or event.get("subtype") in IGNORED_SUBTYPES or "user" not in event:
            return
        if event.get("subtype"):  # file shares and the like: nothing to coach on
            return
        channel, text = event["channel"], event.get("text") or ""
        bot_user = context.get("bot_user_id")
        if is_dm(channel):
            thread = event.get("thread_ts")
            conversation, shared = conversation_id(channel), False
        else:
            thread = event.get("thread_ts")
            if not thread or (bot_user and f"<@{bot_user}>" in text):
                return  # a channel message outside our threads, or a mention (app_mention handles it)
            conversation, shared = conversation_id(channel, thread), True
            if not talks_to_coach(await coach.state(conversation), f"{PLATFORM}:{event['user']}"):
                return  # a thread the coach was never asked into, or someone who never asked it there
        extra = await team_of(text, bot_user)
        message = Inbound(
            PLATFORM,
            event["user"],
            conversation,
            text,
            message_id=body.get("event_id"),
            shared=shared,
            **extra,
        )
        await run(message, SlackReplies(client, channel, event["user"], thread))

    # -- /coach -------------------------------------------------------------------------------

    @app.command("/coach")
    async def on_command(ack: Any, command: dict, body: dict, respond: Any, context: Any) -> None:
        await ack()
        try:  # caught here: Bolt loses the ack() of a listener that raises quickly after it
            await slash_command(command, respond, context)
        except Exception as exc:
            await tell_failure(exc, body, respond)

    async def slash_command(command: dict, respond: Any, context: Any) -> None:
        text = (command.get("text") or "").strip()
        user = command["user_id"]
        # a replayed command (same signed body) has the same trigger_id: it is answered once
        delivery = f"cmd:{command['trigger_id']}" if command.get("trigger_id") else None
        if text.lower().startswith("ask "):
            text = text[4:]
        if not PRIVATE_COMMANDS.match(text):
            # help, progress, questions and manager commands: answered to the user alone, where typed
            extra = await team_of(text, context.get("bot_user_id"))
            clean = MENTION.sub("", text).strip() if not extra else text
            inbound = Inbound(
                PLATFORM, user, f"{PLATFORM}:cmd:{user}", clean or "help", message_id=delivery, **extra
            )

            reply_here = checked(respond)

            async def answer(replies: list[Reply]) -> None:
                for reply in replies:
                    if reply.image:  # a chart cannot travel in an ephemeral response: it goes to the DM
                        await SlackSender(client).deliver(f"{PLATFORM}:{user}", [reply])
                        await reply_here(
                            response_type="ephemeral", text="I've sent the report with its chart to our DM."
                        )
                    else:
                        await reply_here(
                            response_type="ephemeral", replace_original=False, **blocks.render(reply)
                        )

            await coach.handle(inbound, deliver=answer)
            return
        dm = await open_dm(user)
        replies = await run(
            Inbound(PLATFORM, user, conversation_id(dm), text, message_id=delivery),
            SlackReplies(client, dm, user),
        )
        if command.get("channel_id") != dm and replies:
            await respond(response_type="ephemeral", text=f"I've answered in our DM: <#{dm}>.")

    # -- buttons ------------------------------------------------------------------------------

    @app.action(re.compile(f"^{blocks.ACTION_PREFIX}"))
    async def on_click(ack: Any, body: dict, action: dict, respond: Any) -> None:
        await ack()
        try:
            await click(body, action)
        except Exception as exc:
            await tell_failure(exc, body, respond)

    async def click(body: dict, action: dict) -> None:
        user = body["user"]["id"]
        try:
            parsed = Action.from_dict(json.loads(action.get("value") or ""))
        except ValueError:
            parsed = None
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        if channel is None:  # a button on the App Home tab: the work happens in the DM
            channel = await open_dm(user)
            thread = None
        else:
            thread = message.get("thread_ts")
        if parsed is None:
            await client.chat_postEphemeral(
                channel=channel, user=user, text="That button isn't one of mine any more."
            )
            return
        conversation = (
            conversation_id(channel)
            if is_dm(channel)
            else conversation_id(channel, thread or message.get("ts"))
        )
        # a replayed click (same signed body) has the same trigger_id: it is acted on once
        delivery = f"click:{body['trigger_id']}" if body.get("trigger_id") else None
        inbound = Inbound(
            PLATFORM, user, conversation, action=parsed, message_id=delivery, shared=not is_dm(channel)
        )
        out = SlackReplies(client, channel, user, thread)

        async def answer(replies: list[Reply]) -> None:
            feedback = next(
                (r for r in replies if r.kind == "feedback" and r.question == parsed.question), None
            )
            if feedback is not None and message.get("ts") and not feedback.ephemeral:
                # the question message now shows the choice and the feedback; its buttons are gone
                await client.chat_update(
                    channel=channel, ts=message["ts"], **blocks.answered(message.get("blocks", []), feedback)
                )
                replies = [r for r in replies if r is not feedback]
            await out.send(replies)

        await coach.handle(inbound, deliver=answer)

    # -- failures after ack() -----------------------------------------------------------------

    @app.error
    async def tell_failure(error: Exception, body: dict, respond: Any) -> None:
        """A listener failed after acknowledging: say what failed, to the user who asked, privately.
        Not when the replies could not be delivered: the conversation's next turn says so (once), and
        rightly (asking to try again would resend a quiz letter the coach already counted)."""
        if isinstance(error, Undelivered):
            log.warning("slack: the replies could not be delivered: %s", error)
            return
        if isinstance(error, SlackApiError):
            method = str(error.response.api_url).rsplit("/", 1)[-1]
            problem = error.response.get("error") or f"HTTP {error.response.status_code}"
            log.warning("slack: %s failed: %s", method, problem)
            hint = " (invite me to that channel first)" if method == "conversations.members" else ""
            text = f"Sorry, Slack refused `{method}` ({problem}){hint}, so I couldn't finish that."
        else:
            log.error("slack listener failed: %s: %s", type(error).__name__, error)
            text = "Sorry, something went wrong on my side and I couldn't finish that. Please try again."
        user = (
            (body.get("user") or {}).get("id") or body.get("user_id") or (body.get("event") or {}).get("user")
        )
        channel = (
            body.get("channel_id")
            or (body.get("channel") or {}).get("id")
            or (body.get("event") or {}).get("channel")
        )
        try:
            if body.get("response_url"):
                await respond(response_type="ephemeral", replace_original=False, text=text)
            elif user and channel:
                await client.chat_postEphemeral(channel=channel, user=user, text=text)
        except Exception as again:  # Slack is unreachable too: the log line above is all we can do
            log.warning("slack: could not tell %s what failed: %s", user, again)

    # -- App Home -------------------------------------------------------------------------------

    @app.event("app_home_opened")
    async def on_home(event: dict) -> None:
        if event.get("tab", "home") != "home":
            return
        user = event["user"]
        progress = info.progress(coach.deps, f"{PLATFORM}:{user}", coach.deps.clock())
        progress.choices = home_choices(coach)
        await client.views_publish(user_id=user, view=blocks.home_view(progress))

    return app
