"""The Slack ack path: verify, dedupe, store, enqueue, answer 200, and only then let Bolt run the turn.

Slack wants its 200 within 3 seconds. Through Bolt, each request's ack waits behind its middleware
chain and listener matching, and, in a burst, behind every other request's; here an event, slash
command or button click costs one signature check and one lookup before its 200. The request itself
goes to a queue and Bolt dispatches it afterwards (the app built with `process_before_response`, so the
listener has finished when the dispatch returns): requests of one conversation run one at a time, in
the order they arrived; different conversations run side by side.

Before its 200, on SQLite and PostgreSQL alike (Socket Mode has no HTTP ack and no inbox), a request is
stored in the database's `inbox` (`bot/store/inbox.py`; the acks in flight at once in one transaction,
`adapters/slack/journal.py`), and its row is deleted once its turn ran; a process that starts runs the
requests a dead one acknowledged and left there (`resume`), signed again for Bolt with the same secret;
one whose turn had stored its message is owned up to by the conversation's next turn instead, as before
(`bot.conversation`); across PostgreSQL processes a live one takes a dead one's rows over while it runs
(`_sweep`). If that store fails, the answer is a 503 and nothing runs: Slack sends the request again (a
request the database cannot hold: a 400); if it outlasts ACK_LIMIT_S from the request's arrival, a 503
by then (the turn still runs once if the store lands later). A delivery already stored is a retry: dropped.

Anything whose answer is in the HTTP response (URL verification, SSL checks, view submissions, select
options) goes to Bolt at once, as before. Bolt verifies every request again: cheap, and its checks
stay exactly as they were.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier

from adapters.slack.journal import Journal
from adapters.slack.request import SlackRequest
from bot import metrics
from bot.acks import finished_by, start_then_ack
from bot.guard import ARRIVED, CHECKED, parse_slack
from bot.intake import Intake
from bot.store import Store
from bot.store.inbox import unstorable

log = logging.getLogger("coach.slack")
QUEUED_TYPES = {"event_callback", "block_actions"}  # plus slash commands: their 200 carries nothing
QUEUE_WAIT_S = 1.5  # longest an ack waits for its turn to be in line, before it is stored early
ACK_LIMIT_S = 2.5  # ... and for that early store (Slack wants its 200 within 3 s)
TAKEOVER_S = 2.0  # across processes: how often a live process looks for a dead one's requests
TAKEOVER_AGE_S = 10.0  # ... received at least this long ago (see `_sweep`)
REMEMBERED = 10_000  # deliveries (event ids, trigger ids) remembered to drop Slack's retries


def delivery_id(body: dict[str, Any]) -> str | None:
    """What identifies one delivery across Slack's retries (events) and replays of the same signed
    request (slash commands). Clicks are not retried by Slack; the flows refuse a second answer."""
    if body.get("command"):
        return f"cmd:{body['trigger_id']}" if body.get("trigger_id") else None
    return body.get("event_id")


def message_key(body: dict[str, Any]) -> str | None:
    """The delivery key the turn stores its message under (`adapters.slack.app`), if it has one."""
    if body.get("type") == "block_actions":
        return f"click:{body['trigger_id']}" if body.get("trigger_id") else None
    return delivery_id(body)


def learner_of(body: dict[str, Any]) -> str | None:
    """Whose request it is, as coach names learners ("slack:<user id>"), if it says."""
    event, clicker = body.get("event"), body.get("user")
    user = body.get("user_id") or (event.get("user") if isinstance(event, dict) else None)
    user = user or (clicker.get("id") if isinstance(clicker, dict) else None)
    return f"slack:{user}" if isinstance(user, str) and user else None


def order_key(body: dict[str, Any]) -> str:
    """Requests with the same key run in arrival order: a DM, a channel thread, or one user's commands."""
    if body.get("command"):
        return f"user:{body.get('user_id')}"
    event = body.get("event") or {}
    if event:
        channel, thread, user = (
            event.get("channel"),
            event.get("thread_ts") or event.get("ts"),
            event.get("user"),
        )
    else:  # an interaction: a button in a message (or on the App Home tab)
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        thread, user = message.get("thread_ts") or message.get("ts"), (body.get("user") or {}).get("id")
    if not isinstance(channel, str) or not channel:
        return f"user:{user}"
    return channel if channel.startswith("D") else f"{channel}:{thread}"


class SlackInbox:
    """The aiohttp handler for `/slack/events` in front of a Bolt app."""

    def __init__(
        self,
        bolt: AsyncApp,
        signing_secret: str,
        store: Store,
        across_processes: bool = False,
        intake: Intake | None = None,
    ):
        self.bolt = bolt
        self.intake = intake  # queued turns start once the server has taken its requests in
        # several processes (PostgreSQL): the database orders a conversation's turns, so each request
        # goes to Bolt at once, and its 200 waits until the turn holds its conversation and stored
        # the message (so Slack's next message comes after it, and an acked message is never lost)
        self.across_processes = across_processes
        self.verifier = SignatureVerifier(signing_secret)
        self.journal = Journal(store)
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.queues: dict[str, deque[tuple[int, Callable[[], SlackRequest]]]] = {}
        self.waiting: list[str] = []  # conversations queued whose worker is not started yet
        self.starter: asyncio.Task | None = None
        self.background: set[asyncio.Task] = set()
        self._sweeper: asyncio.Task[None] | None = None  # across processes: taking over dead ones' rows

    async def __call__(self, request: web.Request) -> web.Response:
        from slack_bolt.adapter.aiohttp import to_aiohttp_response

        text = await request.text()  # already read and checked by bot.guard
        if not self._verified(text, request):
            log.info("slack: a request with an invalid signature was refused")
            return web.json_response({"error": "invalid request"}, status=401)
        bolt_request = SlackRequest.later(text, request.query_string, dict(request.headers))
        body = self._body(request, text)
        if body.get("type") not in QUEUED_TYPES and not (body.get("command") and not body.get("ssl_check")):
            return await to_aiohttp_response(await self.bolt.async_dispatch(bolt_request()))
        delivery = delivery_id(body)
        if delivery is not None:
            if delivery in self.seen:
                return self._duplicate(delivery)
            self.seen[delivery] = None
            if len(self.seen) > REMEMBERED:
                self.seen.popitem(last=False)
        content_type = request.headers.get("Content-Type", "")
        arrived = request.get(ARRIVED) or asyncio.get_running_loop().time()
        if not self.across_processes:
            return await self._store_then_ack(
                delivery, text, request.query_string, content_type, body, bolt_request, arrived
            )
        # shielded: if Slack hangs up (the handler is cancelled) once the request is being stored, it
        # is still queued, so the retry that finds it stored is rightly a duplicate
        taking = self._spawn(
            self._take(delivery, text, request.query_string, content_type, body, bolt_request, arrived)
        )
        return await asyncio.shield(taking)

    async def _store_then_ack(
        self,
        delivery: str | None,
        text: str,
        query: str,
        content_type: str,
        body: dict[str, Any],
        bolt_request: Callable[[], SlackRequest],
        arrived: float,
    ) -> web.Response:
        """One process: store the request, queue its turn, answer 200 (or a 503 if it was not stored
        within ACK_LIMIT_S of its arrival, or a 400/503 if it could not be: see `_take`). The queueing
        is the store's own done callback, not a task per request: it runs whether or not this handler
        still waits (Slack may hang up), before the handler resumes (callbacks run in the order they
        were added), and, if the store lands after the 503, still once (Slack's resend is a
        duplicate then, as in `_late`)."""
        key = order_key(body)  # read before the row is stored: a body it fails on leaves no row
        adding = self.journal.submit(delivery, text, query, content_type, learner_of(body))

        def stored(future: asyncio.Future[int | None]) -> None:
            if future.cancelled() or future.exception() is not None:  # Slack's resend is stored as new
                if delivery is not None:
                    self.seen.pop(delivery, None)
                return
            row = future.result()
            if row is not None:
                if delivery is not None:  # again, if a 503 went out before the store landed
                    self.seen[delivery] = None
                self._enqueue(key, row, bolt_request)

        adding.add_done_callback(stored)
        if not await finished_by(adding, arrived + ACK_LIMIT_S):
            if delivery is not None:  # Slack's resend is stored, or found stored: not dropped here
                self.seen.pop(delivery, None)
            log.warning("slack: delivery %s not stored %.1f s after it came: 503", delivery, ACK_LIMIT_S)
            return web.json_response({"error": "not stored in time, try again"}, status=503)
        if (exc := adding.exception()) is not None:  # logged by the journal; Slack sends it again
            return self._not_stored(exc)
        if adding.result() is None:  # stored by a process before this one, which runs it (`resume`)
            return self._duplicate(delivery)
        return web.Response(status=200)

    async def _take(
        self,
        delivery: str | None,
        text: str,
        query: str,
        content_type: str,
        body: dict[str, Any],
        bolt_request: Callable[[], SlackRequest],
        arrived: float,
    ) -> web.Response:
        """Across processes: store the request, then start its turn: the 200, or a 503 if it was not
        stored within ACK_LIMIT_S of its arrival (see `_late`)."""
        adding = self.journal.submit(delivery, text, query, content_type, learner_of(body))
        if not await finished_by(adding, arrived + ACK_LIMIT_S):
            if delivery is not None:  # Slack's resend is stored, or found stored: not dropped here
                self.seen.pop(delivery, None)
            log.warning("slack: delivery %s not stored %.1f s after it came: 503", delivery, ACK_LIMIT_S)
            self._spawn(self._late(delivery, adding, bolt_request))
            return web.json_response({"error": "not stored in time, try again"}, status=503)
        try:
            row = adding.result()
        except Exception as exc:  # logged by the journal; not acknowledged, so Slack sends it again
            if delivery is not None:
                self.seen.pop(delivery, None)
            return self._not_stored(exc)
        if row is None:  # stored by a process before this one, which runs it (`resume`)
            return self._duplicate(delivery)
        await self._dispatch_in_line(row, bolt_request(), arrived)
        return web.Response(status=200)

    async def _late(
        self,
        delivery: str | None,
        adding: asyncio.Future[int | None],
        bolt_request: Callable[[], SlackRequest],
    ) -> None:
        """A request whose store outlasted its ack budget was answered 503, not a late 200: a 200 after
        Slack's 3 s reaches no one (Slack has counted the delivery failed and resends it anyway), while
        a 503 in time is read, says truthfully that nothing was acknowledged, and frees the
        connection. If the store then lands, the request runs here once and Slack's resend finds it
        stored (a duplicate: this process's journal writes one batch at a time, and PostgreSQL's
        unique index makes another process's insert wait for this commit); if not, the resend is
        stored as new."""
        try:
            row = await adding
        except Exception:  # logged by the journal: Slack's resend is stored as new
            return
        if row is None:
            return
        if delivery is not None:
            self.seen[delivery] = None
        self._spawn(self._run(row, bolt_request()))

    @staticmethod
    def _not_stored(exc: Exception) -> web.Response:
        """A 503 (Slack sends it again), or a 400 for a request no write can store."""
        if unstorable(exc):
            return web.json_response({"error": "bad request: it cannot be stored"}, status=400)
        return web.json_response({"error": "not stored, try again"}, status=503)

    @staticmethod
    def _duplicate(delivery: str | None) -> web.Response:
        log.info("slack: delivery %s already stored; retry ignored", delivery)
        metrics.turn("slack", "none", "duplicate")
        return web.Response(status=200)

    async def resume(self) -> int:
        """Queue the requests a dead process acknowledged and never ran (before this one takes
        requests); across processes, go on doing so every TAKEOVER_S while this one runs (see
        `take_over`). Returns how many it queued now."""
        found = await self.take_over()
        if self.across_processes and self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep())
        return found

    async def close(self) -> None:
        """Stop taking over, and write what the journal has pending (at shutdown)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        await self.journal.flush()

    async def _sweep(self) -> None:
        """Across processes a dead worker's rows are taken over by a live one within TAKEOVER_S of its
        death, not at the next start: a dead process is one whose PostgreSQL session lock is free
        (`Store.waiting_is_dead`; a killed process's connections close with it, a vanished machine's
        when the server's TCP keepalive gives up on it), and each row is adopted by one process only
        (`Store._adopt`: a conditional update), so no row a live process runs is run again.

        Only rows received TAKEOVER_AGE_S ago or more: one whose process died before its 200 is resent
        by Slack within seconds, and that resend, taking the row over (`Store.inbox_write`), is
        answered once its turn is in line, as any request; taken here first, the resend would be a
        duplicate answered at once, and Slack's next message could overtake the turn."""
        while True:
            await asyncio.sleep(TAKEOVER_S)
            try:
                await self.take_over(datetime.now(UTC) - timedelta(seconds=TAKEOVER_AGE_S))
            except Exception as exc:  # the database is unreachable, say: the next sweep tries again
                log.warning("slack: looking for a stopped process's requests failed: %s", exc)

    async def take_over(self, received_before: datetime | None = None) -> int:
        """Queue the requests a dead process acknowledged and never ran (received before
        `received_before`, if given), each signed again when its turn starts: Bolt checks its signature
        and its age. Returns how many."""
        store = self.journal.store

        def key(row: dict[str, Any]) -> str | None:
            try:
                return message_key(parse_slack(row["body"], (row["content_type"] or "").strip().lower()))
            except Exception:  # one unreadable row must not stop the server from starting
                log.exception("slack: an inbox row could not be read")
                return None

        rows = await store.off_loop(store.inbox_take_over, self.journal.channel, key, received_before)
        for row in rows:
            body, content_type = row["body"], row["content_type"] or ""
            try:
                conversation = order_key(parse_slack(body, content_type.strip().lower()))
            except Exception:
                log.exception("slack: an inbox row could not be read; dropped")
                self.journal.done(row["id"])
                continue
            if row["delivery"] is not None:
                self.seen[row["delivery"]] = None
            self._enqueue(
                conversation, row["id"], partial(self._signed_now, body, row["query"] or "", content_type)
            )
        while len(self.seen) > REMEMBERED:
            self.seen.popitem(last=False)
        if rows:
            log.warning("slack: running %d acknowledged request(s) a stopped process left", len(rows))
        return len(rows)

    def _signed_now(self, body: str, query: str, content_type: str) -> SlackRequest:
        """A resumed request for Bolt, signed when its turn starts (Bolt refuses a signature older
        than five minutes, and a conversation's backlog after a restart may take longer)."""
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": self.verifier.generate_signature(timestamp=stamp, body=body),
        }
        return SlackRequest(body=body, query=query, headers=headers)

    @staticmethod
    def _body(request: web.Request, text: str) -> dict[str, Any]:
        """The body as `SlackRequest` will parse it: the guard's parse, when it read the same content
        type (nearly always: a Content-Type with parameters is read again, the way Bolt's request is)."""
        content_type = request.headers.get("Content-Type", "").strip().lower()
        checked = request.get(CHECKED)
        if isinstance(checked, dict) and content_type == request.content_type:
            return checked
        return parse_slack(text, content_type)

    async def _dispatch_in_line(self, row: int, bolt_request: SlackRequest, arrived: float) -> None:
        """Start the turn and return once it holds its conversation across every worker and stored the
        message, or is done (a duplicate, a non-turn); past QUEUE_WAIT_S the message is stored early
        instead (`bot.acks`). Both count from the request's arrival, so a slow store of its inbox row
        cannot push the 200 past ACK_LIMIT_S (Slack wants it within 3 s)."""
        turn = self._run(row, bolt_request)
        await start_then_ack(turn, self.background, QUEUE_WAIT_S, ACK_LIMIT_S, since=arrived)

    async def _run(self, row: int, bolt_request: SlackRequest) -> None:
        try:
            await self.bolt.async_dispatch(bolt_request)
        except Exception:  # Bolt hands listener errors to our error handler; this is a bug of ours
            log.exception("slack: a request failed")
        self.journal.done(row)

    def _verified(self, text: str, request: web.Request) -> bool:
        try:
            return self.verifier.is_valid(
                text,
                request.headers.get("X-Slack-Request-Timestamp"),
                request.headers.get("X-Slack-Signature"),
            )
        except ValueError:  # a timestamp that is not a number
            return False

    def _enqueue(self, key: str, row: int, bolt_request: Callable[[], SlackRequest]) -> None:
        queue = self.queues.get(key)
        if queue is not None:  # that conversation's worker is running: it takes this one next
            queue.append((row, bolt_request))
            return
        self.queues[key] = deque([(row, bolt_request)])
        self.waiting.append(key)
        if self.starter is None or self.starter.done():
            self.starter = self._spawn(self._start_drains())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task:
        task = asyncio.create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    async def _start_drains(self) -> None:
        """Start the new conversations' workers once the server has taken its requests in: one task
        waits for that, not one per conversation (each would run a step in the middle of a burst)."""
        try:
            while self.waiting:
                if self.intake is not None:
                    await self.intake.quiet()
                self._start_waiting()
        except Exception:  # a bug of ours; the queued conversations start at once instead
            log.exception("slack: waiting for a quiet loop failed")
        finally:  # cancelled or failed while waiting: no queued conversation is left without a worker
            self._start_waiting()

    def _start_waiting(self) -> None:
        keys, self.waiting = self.waiting, []
        for key in keys:
            self._spawn(self._drain(key))

    async def _drain(self, key: str) -> None:
        queue = self.queues[key]
        try:
            while queue:
                row, bolt_request = queue[0]
                try:
                    await self.bolt.async_dispatch(bolt_request())  # Bolt's request, built only now
                except Exception:  # Bolt hands listener errors to our error handler; this is a bug of ours
                    log.exception("slack: a queued request failed")
                self.journal.done(row)
                queue.popleft()
                if queue and self.intake is not None:
                    await self.intake.quiet()
        finally:
            del self.queues[key]
