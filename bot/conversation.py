"""The one entry point every channel calls: `Coach.handle(inbound) -> replies`.

Per turn: clean the text, take the conversation's turn (turns of one conversation never interleave,
across every worker: `bot/checkpoints.py`), store the message before any work (a duplicate delivery
stops here; or claim the row the ack path stored early, `bot/acks.py`), run the graph with the
conversation's checkpoint, mark the message `checkpointed`, deliver the replies (when the channel
hands in `deliver`), and only then store that it was answered. A failure anywhere still answers the
learner, and a message acknowledged but never answered (a worker killed before delivery, a delivery
refused) is owned up to on the conversation's next turn: one the graph never took in is asked for
again; one it took in (a quiz letter counted) is never asked for again, only said to be maybe unseen.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot import metrics
from bot.acks import QUEUED, queued
from bot.checkpoints import Checkpoints, open_checkpoints
from bot.forget import SPARE, Words, scrub_thread
from bot.managers.commands import Admin, is_admin_command
from bot.messages import MAX_TEXT, Inbound, Reply
from bot.store import deferred
from bot.store.learners import CHECKPOINTED, CONSUMED, RECEIVED, UNDELIVERED, WAITING
from bot.threaded_saver import ThreadedSqliteSaver
from flows.deps import Deps
from flows.graph import build_graph, pick_node
from flows.quiz import is_letter
from flows.router import parse_command

log = logging.getLogger("coach.conversation")

Notify = Callable[[Reply], Awaitable[None]]
Deliver = Callable[[list[Reply]], Awaitable[None]]
MENTION = re.compile(r"(<!(?:channel|here|everyone)[^>]*>|@(?:channel|here|everyone)\b)", re.IGNORECASE)
SORRY = (
    "Sorry — something went wrong on my side while handling that. Your message is saved; "
    "please send it again in a moment."
)
FORGET_LOCK_WAIT_S = 30.0
EARLIER_WAIT_S = 60.0  # longest a turn lets a live, earlier message of its conversation go first
_holding: ContextVar[str | None] = ContextVar("holding", default=None)  # the conversation this turn locks


class Undelivered(Exception):
    """The channel's `deliver` failed (its error is the cause): the message is marked `undelivered` and
    the conversation's next turn says so, so the channel need not apologise again."""


def clean_text(text: str) -> str:
    """Compatibility forms as the plain ones (NFKC: full-width "ｄａｔａ" is "data", a no-break space a
    space), control characters dropped (keeping line breaks and tabs), surrounding whitespace too."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc").strip()


def defuse_mentions(text: str) -> str:
    """Make sure no reply can ping a whole channel, whatever the learner typed and we echo."""
    return MENTION.sub(lambda m: m.group(0).replace("@", "@\u200b").replace("<!", "<\u200b!"), text)


def conversation_hash(conversation: str) -> str:
    """A short pseudonym of a conversation key, for logs: the same in every process, not the key."""
    return hashlib.sha256(conversation.encode("utf-8")).hexdigest()[:12]


def may_think(text: str, inbound: Inbound) -> bool:
    """Whether this turn may wait on the brain (so a "thinking" hint is worth showing)."""
    if not text or inbound.action is not None or is_letter(text):
        return False
    command = parse_command(text)
    return command is None or command["name"] == "hint"


@asynccontextmanager
async def _no_lock() -> AsyncIterator[None]:
    yield


def _earlier(messages: list[dict]) -> str:
    """ "your earlier message (“…”)", or the last few of several, quoted."""
    quoted = ", ".join(f"“{(m['text'] or 'your click')[:80]}”" for m in messages[-3:])
    if len(messages) == 1:
        return f"your earlier message ({quoted})"
    return f"your {len(messages)} earlier messages ({'…, ' if len(messages) > 3 else ''}{quoted})"


class Coach:
    """Conversations over the coach graph, checkpointed in SQLite or PostgreSQL.
    Use `async with Coach.open(...)`."""

    def __init__(self, deps: Deps, graph: Any, admin: Admin | None, checkpoints: Checkpoints):
        self.deps = deps
        self.graph = graph
        self.admin = admin
        self.checkpoints = checkpoints
        if admin is not None:
            admin.forget_threads = self.forget_threads

    @classmethod
    @asynccontextmanager
    async def open(
        cls, deps: Deps, checkpoints: Path | str, admin: Admin | None = None, pool_size: int = 10
    ) -> AsyncIterator[Coach]:
        """A coach whose conversations live in `checkpoints`: a SQLite file or a PostgreSQL URL."""
        async with open_checkpoints(checkpoints, pool_size) as states:
            try:
                yield cls(deps, build_graph().compile(checkpointer=states.saver), admin, states)
            finally:
                close = getattr(deps.brain, "aclose", None)  # e.g. Claude's HTTP connections
                if close is not None:
                    await close()

    @asynccontextmanager
    async def _turn_lock(self, conversation: str, wait: float | None = None) -> AsyncIterator[None]:
        """Hold the conversation's turn (waiting at most `wait` seconds for it, if given)."""
        async with self.checkpoints.turn(conversation, wait):
            token = _holding.set(conversation)
            try:
                yield
            finally:
                _holding.reset(token)

    def _config(self, conversation: str) -> dict:
        return {"configurable": {"thread_id": conversation}}

    async def handle(
        self, inbound: Inbound, notify: Notify | None = None, deliver: Deliver | None = None
    ) -> list[Reply]:
        """Answer one inbound message or click. Returns [] for a duplicate delivery.

        With `deliver`, the replies go out inside the turn (the conversation still held, so the next
        turn's replies come after them) and the message counts as answered only once `deliver`
        returned: a worker killed before that leaves it owed, and the next turn owns up to it. If
        `deliver` raises, the message is marked `undelivered` (owned up to the same way; a failed
        turn's stays `received`, to be asked for again) and the error propagates to the channel as
        `Undelivered`. Without `deliver`, the caller delivers what is
        returned."""
        started = time.perf_counter()
        text = clean_text(inbound.text)
        notes: list[Reply] = []
        if len(text) > MAX_TEXT:
            text = text[:MAX_TEXT]
            notes.append(
                Reply(f"That was a long message: I read the first {MAX_TEXT:,} characters.", kind="notice")
            )
        inbound = replace(inbound, text=text)
        store, now = self.deps.store, self.deps.clock()
        action = inbound.action.to_dict() if inbound.action else None
        early: dict[str, int | None] = {}  # "row": what the ack path stored early (`waiting`), if it asked
        storing = asyncio.Lock()  # the ack path's early store and the turn's own never race
        task = (
            asyncio.current_task()
        )  # a message stored early names it: alive while it runs (`store.learners`)

        def record_early() -> int | None:
            store.touch_learner(inbound.learner, inbound.user_name, now)
            owner = store.waiting_turn(task)
            message = (inbound.message_id, inbound.conversation, inbound.learner, text, action, now)
            return store.record_inbound(*message, WAITING, owner)

        async def store_early() -> None:
            async with storing:
                if not early:
                    early["row"] = await store.off_loop(record_early)

        ticket = QUEUED.get()
        if ticket is not None:
            ticket.early = store_early
        await self._let_earlier_go_first(inbound, early)
        async with self._turn_lock(inbound.conversation):

            def arrive() -> tuple[int | None, list[dict]]:
                """Store the message first (off the loop: a locked database must not stall it), or
                claim it if the ack path stored it early; and read what the conversation still owes."""
                row = early.get("row")
                if early:  # the ack path stored it (or found it stored: row None)
                    message = store.claim(message_id=row) if row is not None else None
                    return message, store.unanswered(inbound.conversation)
                delivery, conversation = inbound.message_id, inbound.conversation
                return store.take_in(
                    inbound.user_name, delivery, conversation, inbound.learner, text, action, now
                )

            def settle(message: int | None, owed: list[dict], consumed: str | None) -> tuple[int | None, Any]:
                """A dead turn's `received` message the checkpoint already took in (killed between its
                checkpoint and its status) is `checkpointed`; then a retry or twin delivery may claim
                a message still waiting or never taken in, and earlier dead messages are owned up to."""
                for m in owed:
                    if (
                        consumed
                        and m["status"] == RECEIVED
                        and m["id"] != message
                        and m["delivery"] == consumed
                    ):
                        store.mark_answered(m["id"], 0, CHECKPOINTED)
                        m["status"] = CHECKPOINTED
                if message is None and inbound.message_id:
                    message = store.claim(delivery=inbound.message_id)
                return message, ([] if message is None else self._lost_messages(message, owed))

            async with storing:
                if ticket is not None:
                    ticket.early = None
                message, owed = await store.off_loop(arrive)
                consumed = None
                if any(m["status"] == RECEIVED and m["id"] != message for m in owed):  # a dead turn's
                    snapshot = await self.graph.aget_state(self._config(inbound.conversation))
                    consumed = ((snapshot.values or {}).get("inbound") or {}).get("message_id")
                if message is None or consumed or any(m["id"] != message for m in owed):
                    message, lost = await store.off_loop(settle, message, owed, consumed)
                else:  # owed nothing but this message (most turns): nothing to settle, no thread hop
                    lost = []
                early.setdefault("row", None)  # stored: too late for an early store
            queued()  # in line and stored: the ack may go now
            if message is None:
                log.info("duplicate delivery %s in %s ignored", inbound.message_id, inbound.conversation)
                metrics.turn(inbound.platform, "none", "duplicate")
                return []
            notes = lost + notes
            command = inbound.action.value if inbound.action else text
            if self.admin is not None and is_admin_command(command):
                replies = await self._admin(inbound, notes)
                await self._finish(inbound, message, replies, "admin", "answered", started, deliver)
                return replies
            if notify and self.deps.brain.remote and may_think(text, inbound):
                await notify(Reply("Thinking…", kind="notice", thinking=True))
            try:
                with deferred.holding() as held:  # the answer row: written with the `checkpointed` mark
                    result = await self.graph.ainvoke(
                        {"inbound": inbound.to_dict(), "replies": [], "intent": {}},
                        self._config(inbound.conversation),
                        context=self.deps,
                        durability="exit",  # one checkpoint per turn: a turn is all or nothing
                    )
                replies = notes + [Reply.from_dict(r) for r in result.get("replies", [])]
                status, flow = "answered", pick_node(result) if result.get("intent") else "none"
            except Exception:
                log.exception("turn failed in %s", inbound.conversation)
                replies, status, flow = [*notes, Reply(SORRY, kind="notice")], "failed", "none"
                held = []  # nothing checkpointed: nothing of the turn's is kept
            for reply in replies:
                reply.text = defuse_mentions(reply.text)
            await self._finish(inbound, message, replies, flow, status, started, deliver, held)
            return replies

    async def _finish(
        self,
        inbound: Inbound,
        message: int,
        replies: list[Reply],
        flow: str,
        status: str,
        started: float,
        deliver: Deliver | None,
        held: list[deferred.Write] | None = None,
    ) -> None:
        """Deliver (if asked to) and only then record the outcome; a failed delivery stays owed. Before
        delivering, an answered message is marked `checkpointed`: the graph took it in, so it is never
        to be answered again (a platform's retry is a duplicate, the next turn does not ask for it).
        The writes the turn `held` (its answer row) go in that mark's transaction, so before delivery;
        without `deliver`, in the outcome's."""
        store, held = self.deps.store, held or []
        if deliver is not None:
            if status == "answered":
                await store.off_loop(store.mark_answered, message, 0, CHECKPOINTED, held)
                held = []
            try:
                await deliver(replies)
            except Exception as exc:
                if status == "answered":  # (a failed turn took nothing in: it stays `received`, asked again)
                    await store.off_loop(store.mark_answered, message, 0, UNDELIVERED)
                self._done(inbound, flow, UNDELIVERED, started)
                raise Undelivered(str(exc) or type(exc).__name__) from exc
        await store.off_loop(store.mark_answered, message, len(replies), status, held)
        self._done(inbound, flow, status, started)

    async def _let_earlier_go_first(self, inbound: Inbound, early: dict[str, int | None]) -> None:
        """Across processes, an acked message stored early (`waiting`) whose turn is alive but has not
        joined PostgreSQL's lock queue yet (e.g. waiting for a pooled connection) is answered before
        this later one: wait while one is there (polling, at most EARLIER_WAIT_S: a turn stuck that long
        is answered out of order rather than not at all). One process orders its turns with a FIFO lock."""
        store = self.deps.store
        if not store.postgres:
            return

        def ahead() -> bool:
            mine = early.get("row")  # this message's own early row, if the ack path stored it meanwhile
            rows = store.unanswered(inbound.conversation)
            return any(
                m["status"] == WAITING
                and m["delivery"] != inbound.message_id  # a twin delivery of this very message
                and (mine is None or m["id"] < mine)
                and not store.waiting_is_dead(m.get("owner"))
                for m in rows
            )

        deadline, pause = time.monotonic() + EARLIER_WAIT_S, 0.05
        while await asyncio.to_thread(ahead) and time.monotonic() < deadline:
            await asyncio.sleep(pause)
            pause = min(2 * pause, 0.5)

    def _done(self, inbound: Inbound, flow: str, outcome: str, started: float) -> None:
        """Count the turn and log it with structured fields (no ids or text: a conversation pseudonym)."""
        seconds = time.perf_counter() - started
        metrics.turn(inbound.platform, flow, outcome, seconds)
        log.info(
            "turn %s",
            outcome,
            extra={
                "conversation": conversation_hash(inbound.conversation),
                "channel": inbound.platform,
                "flow": flow,
                "outcome": outcome,
                "latency_ms": round(1000 * seconds, 1),
            },
        )

    async def _admin(self, inbound: Inbound, notes: list[Reply]) -> list[Reply]:
        assert self.admin is not None
        try:
            replies = notes + await self.admin.handle(inbound)
        except Exception:
            log.exception("admin command failed in %s", inbound.conversation)
            replies = [*notes, Reply(SORRY, kind="notice")]
        for reply in replies:
            reply.text = defuse_mentions(reply.text)
        return replies

    async def forget_threads(self, learner: str, alone: list[str], shared: list[str]) -> None:
        """Forget a learner's conversations: delete the checkpoints (state and history) of those only
        they spoke in; rewrite those shared with others without their words (see `bot.forget`)."""
        saver = self.graph.checkpointer
        for conversation in [*alone, *shared]:
            async with self._locked(conversation):
                if conversation in alone:  # and a cut-off scrub's cleaned copy, which may hold their words
                    await saver.adelete_thread(conversation)
                    await saver.adelete_thread(conversation + SPARE)
                    continue
                texts, answers = await asyncio.to_thread(self.deps.store.words_in, learner, conversation)
                await scrub_thread(saver, conversation, Words(learner, frozenset(answers), frozenset(texts)))
        if isinstance(saver, ThreadedSqliteSaver):  # SQLite: drop the old pages its WAL still holds
            await saver.run(saver.conn.execute, "PRAGMA wal_checkpoint(TRUNCATE)")

    def _locked(self, conversation: str):
        """The conversation's turn lock, unless this very turn already holds it (forget me said there).
        Waited for a bounded time: two people forgetting at once from two threads they share would
        otherwise wait on each other forever (the one who times out is told to try again)."""
        if _holding.get() == conversation:
            return _no_lock()
        return self._turn_lock(conversation, wait=FORGET_LOCK_WAIT_S)

    def _lost_messages(self, current: int, unanswered: list[dict]) -> list[Reply]:
        """Messages acknowledged but never answered, owned up to once. Called holding the conversation,
        so every earlier owed message is dead but a `waiting` one: that may belong to a turn still
        waiting behind this one (stored early, see `bot.acks`), and counts only if its turn is gone.
        One the graph never took in is asked for again; one it took in is never asked for again."""
        store = self.deps.store
        owed = [
            m
            for m in unanswered
            if m["id"] < current and (m["status"] != WAITING or store.waiting_is_dead(m.get("owner")))
        ]
        for m in owed:
            store.mark_answered(m["id"], m["replies"] or 0, "lost")
        notes = []
        lost = [m for m in owed if m["status"] not in CONSUMED]
        if lost:
            it, matters = ("it", "it still matters") if len(lost) == 1 else ("them", "they still matter")
            notes.append(f"Sorry, I couldn't answer {_earlier(lost)}. If {matters}, please send {it} again.")
        unseen = [m for m in owed if m["status"] in CONSUMED]
        if unseen:
            answer, it = ("My answer", "it") if len(unseen) == 1 else ("My answers", "them")
            notes.append(
                f"{answer} to {_earlier(unseen)} may not have reached you. I did take {it} in, so no need "
                f"to send {it} again: say *progress* to see where you are."
            )
        return [Reply(text, kind="notice") for text in notes]

    async def state(self, conversation: str) -> dict[str, Any]:
        """The checkpointed state of a conversation ({} if it never spoke)."""
        snapshot = await self.graph.aget_state(self._config(conversation))
        return dict(snapshot.values or {})
