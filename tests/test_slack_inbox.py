"""The Slack ack path (`adapters.slack.inbox`): 200 before the turn, one conversation's turns in order,
different conversations side by side, retries dropped, forgeries refused, URL verification answered."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from slack_bolt.response import BoltResponse

from adapters.slack import inbox as inbox_module
from adapters.slack.inbox import SlackInbox, order_key
from adapters.slack.journal import Journal
from bot.store import Store
from bot.store.inbox import unstorable
from bot.store.schema import inbox as inbox_table
from bot.testing import serve_on_loopback
from tests.test_slack import SECRET, dm, signed

BACKENDS = ("sqlite", "postgres")  # the tests that take the `store` fixture run on both


class RecordingBolt:
    """Stands in for the Bolt app behind the inbox: records what it runs; a text starting with "slow"
    is held until `release` is set."""

    def __init__(self):
        self.release = asyncio.Event()
        self.started: list[str] = []
        self.finished: list[str] = []

    async def async_dispatch(self, request: Any) -> BoltResponse:
        body = request.body
        if body.get("type") == "url_verification":
            return BoltResponse(status=200, body={"challenge": body["challenge"]})
        text = (body.get("event") or {}).get("text") or body.get("text", "")
        self.started.append(text)
        if text.startswith("slow"):
            await self.release.wait()
        self.finished.append(text)
        return BoltResponse(status=200)


async def serve(
    bolt: RecordingBolt, store: Store | None = None, across_processes: bool = False, **options: Any
) -> tuple[web.AppRunner, str, SlackInbox]:
    inbox = SlackInbox(bolt, SECRET, store or Store(":memory:"), across_processes)  # type: ignore[arg-type]
    app = web.Application()

    async def slack_events(request: web.Request) -> web.Response:
        return await inbox(request)

    app.router.add_post("/slack/events", slack_events)
    runner, url = await serve_on_loopback(app, **options)
    return runner, url, inbox


async def drained(inbox: SlackInbox, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (inbox.queues or inbox.background) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


async def post(url: str, body: str, content: str = "application/json", **headers: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{url}/slack/events",
            data=body.encode(),
            headers={"Content-Type": content, **(headers or signed(body))},
        ) as response,
    ):
        return response.status, await response.text()


def event(text: str, channel: str = "D1", event_id: str | None = None, **extra: Any) -> str:
    ev = {**dm(text), "channel": channel, **extra}
    return json.dumps({"type": "event_callback", "event_id": event_id or f"Ev{text}{channel}", "event": ev})


async def test_the_200_comes_first_and_each_conversation_keeps_its_order():
    bolt = RecordingBolt()
    runner, url, inbox = await serve(bolt)
    try:
        for body in (event("slow one"), event("two"), event("three"), event("other", channel="D2")):
            assert (await post(url, body))[0] == 200  # answered while the slow turn is still running
        for _ in range(500):
            if "other" in bolt.finished:  # another conversation is not held up by the slow one
                break
            await asyncio.sleep(0.01)
        assert bolt.finished == ["other"] and bolt.started == ["slow one", "other"]
        bolt.release.set()
        await drained(inbox)
        assert bolt.finished == ["other", "slow one", "two", "three"]  # D1's turns in the order sent
        assert not inbox.queues
    finally:
        await runner.cleanup()


async def test_retries_and_replays_run_once_and_forgeries_are_refused():
    bolt = RecordingBolt()
    runner, url, inbox = await serve(bolt)
    try:
        body = event("hello", event_id="EvSAME")
        for retry in ("", "1", "2"):
            headers = {**signed(body), **({"X-Slack-Retry-Num": retry} if retry else {})}
            assert (await post(url, body, **headers))[0] == 200
        command = urlencode({"command": "/coach", "text": "progress", "user_id": "U1", "trigger_id": "T1"})
        for _ in range(2):  # the same signed slash command, sent twice
            assert (await post(url, command, "application/x-www-form-urlencoded"))[0] == 200
        forged = event("forged")
        assert (await post(url, forged, **signed(forged, secret="not-the-secret")))[0] == 401
        not_a_time = {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=x"}
        assert (await post(url, forged, **not_a_time))[0] == 401
        await drained(inbox)
        assert bolt.finished == ["hello", "progress"]
    finally:
        await runner.cleanup()


async def test_url_verification_is_answered_by_bolt_at_once():
    runner, url, _ = await serve(RecordingBolt())
    try:
        status, text = await post(url, json.dumps({"type": "url_verification", "challenge": "c-42"}))
        assert status == 200 and json.loads(text) == {"challenge": "c-42"}
    finally:
        await runner.cleanup()


def test_order_keys_follow_conversations():
    assert order_key({"event": {"channel": "D1", "ts": "1.1"}}) == "D1"  # a DM is one conversation
    mention = {"event": {"channel": "C1", "ts": "1.2"}}
    follow_up = {"event": {"channel": "C1", "ts": "1.5", "thread_ts": "1.2"}}
    assert order_key(mention) == order_key(follow_up) == "C1:1.2"  # a thread is one conversation
    assert order_key({"event": {"channel": "C1", "ts": "1.3"}}) != order_key(mention)
    assert order_key({"command": "/coach", "user_id": "U1", "channel_id": "C1"}) == "user:U1"
    click = {"type": "block_actions", "channel": {"id": "D1"}, "user": {"id": "U1"}, "message": {"ts": "2"}}
    assert order_key(click) == "D1"
    home = {"type": "block_actions", "user": {"id": "U1"}, "container": {"type": "view"}}
    assert order_key(home) == "user:U1"


def stored(store: Store, lenient: bool = False) -> list[str]:
    """The texts of the events in the inbox (`lenient`: skipping rows that are not events)."""
    rows = [r["body"] for r in store.rows(inbox_table.select())]
    if lenient:
        rows = [b for b in rows if b.startswith("{")]
    return [json.loads(b)["event"]["text"] for b in rows]


async def test_a_request_is_stored_before_its_200_and_deleted_once_its_turn_ran():
    bolt, store = RecordingBolt(), Store(":memory:")
    runner, url, inbox = await serve(bolt, store)
    try:
        assert (await post(url, event("slow one")))[0] == 200
        assert (await post(url, event("two")))[0] == 200
        assert stored(store) == ["slow one", "two"]  # durable before each 200, its turn held back
        bolt.release.set()
        await drained(inbox)
        await inbox.journal.flush()
        assert bolt.finished == ["slow one", "two"] and stored(store) == []
    finally:
        await runner.cleanup()


async def test_concurrent_acks_share_one_transaction_and_a_failed_store_is_a_503():
    bolt, store = RecordingBolt(), Store(":memory:")
    writes: list[int] = []
    write = store.inbox_write

    def counted(requests, done):
        writes.append(len(requests))
        return write(requests, done)

    store.inbox_write = counted  # type: ignore[method-assign]
    runner, url, inbox = await serve(bolt, store)
    try:
        answers = await asyncio.gather(*(post(url, event(f"m{i}", channel=f"D{i}")) for i in range(20)))
        assert {status for status, _ in answers} == {200} and sum(writes) == 20
        assert len(writes) < 20, writes  # grouped: the acks in flight together wrote together
        await drained(inbox)

        def broken(requests, done):
            raise OSError("disk full")

        store.inbox_write = broken  # type: ignore[method-assign]
        assert (await post(url, event("lost?", event_id="EvX")))[0] == 503  # not acked: Slack resends
        store.inbox_write = counted  # type: ignore[method-assign]
        assert (await post(url, event("lost?", event_id="EvX")))[0] == 200  # the resend is taken
        await drained(inbox)
        assert bolt.finished.count("lost?") == 1
    finally:
        await runner.cleanup()


async def test_a_new_process_runs_what_a_dead_one_acked_first_and_drops_its_retries():
    bolt, store = RecordingBolt(), Store(":memory:")
    requests = [
        {"delivery": d, "channel": "slack", "body": event(t, event_id=d), "query": ""}
        for d, t in (("EvOLD", "acked before"), ("EvTAKEN", "taken in"))
    ]
    store.inbox_write([r | {"content_type": "application/json"} for r in requests], [])
    # "taken in": its turn stored it before the process died; the next turn owns up to it instead
    store.record_inbound("EvTAKEN", "slack:D1", "slack:U1", "taken in", None, datetime.now(UTC))
    store.execute(inbox_table.update().values(owner="12345"))  # another process's: gone (one per SQLite file)
    runner, url, inbox = await serve(bolt, store)
    try:
        assert await inbox.resume() == 1
        assert (await post(url, event("acked before", event_id="EvOLD")))[0] == 200  # Slack's retry
        assert (await post(url, event("after")))[0] == 200
        await drained(inbox)
        assert bolt.finished == ["acked before", "after"]  # once, and first
        assert await inbox.resume() == 0  # this process's own rows are not taken over
        assert "taken in" not in stored(store)
    finally:
        await runner.cleanup()


async def test_queued_requests_still_run_when_the_starter_is_interrupted():
    """If waiting for a quiet loop fails, the conversations already queued still get their worker."""

    class BrokenIntake:
        async def quiet(self) -> None:
            raise RuntimeError("boom")

    bolt = RecordingBolt()
    runner, url, inbox = await serve(bolt)
    inbox.intake = BrokenIntake()  # type: ignore[assignment]
    try:
        assert (await post(url, event("one")))[0] == 200
        await drained(inbox)
        assert (await post(url, event("two")))[0] == 200  # same conversation, after the failure
        await drained(inbox)
        assert bolt.finished == ["one", "two"] and not inbox.queues
    finally:
        await runner.cleanup()


async def test_a_request_stored_after_slack_hung_up_still_runs_once():
    """Slack gives up on a slow ack (the server cancels the handler, as `coach serve` does): the
    request being stored is still queued, and Slack's retry of it is a duplicate."""
    bolt, store = RecordingBolt(), Store(":memory:")
    write = store.inbox_write

    def slow(requests, done):
        time.sleep(0.5)
        return write(requests, done)

    store.inbox_write = slow  # type: ignore[method-assign]
    runner, url, inbox = await serve(bolt, store, handler_cancellation=True)
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await post(url, event("patient", event_id="EvSLOW"))
        await asyncio.sleep(0.6)
        assert (await post(url, event("patient", event_id="EvSLOW")))[0] == 200  # the retry
        await drained(inbox)
        assert bolt.finished == ["patient"]
    finally:
        await runner.cleanup()


async def test_a_store_that_fails_after_slack_hung_up_leaves_the_resend_to_be_stored_as_new():
    """The handler is gone when the write fails: the delivery is forgotten all the same, so Slack's
    resend is not dropped as a duplicate of a request that was never stored."""
    bolt, store = RecordingBolt(), Store(":memory:")
    write = store.inbox_write

    def failing(requests, done):
        time.sleep(0.5)
        raise OSError("disk full")

    store.inbox_write = failing  # type: ignore[method-assign]
    runner, url, inbox = await serve(bolt, store, handler_cancellation=True)
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await post(url, event("lost", event_id="EvLOST"))
        await asyncio.sleep(0.6)  # the write failed meanwhile
        store.inbox_write = write  # type: ignore[method-assign]
        assert (await post(url, event("lost", event_id="EvLOST")))[0] == 200  # Slack's resend
        await drained(inbox)
        assert bolt.finished == ["lost"]
    finally:
        await runner.cleanup()


async def test_a_failed_write_keeps_the_finished_rows_to_delete():
    bolt, store = RecordingBolt(), Store(":memory:")
    runner, url, inbox = await serve(bolt, store)
    write = store.inbox_write
    try:
        assert (await post(url, event("done soon", event_id="EvD")))[0] == 200
        await drained(inbox)  # its turn ran: its row waits for the next write to be deleted

        def broken(requests, done):
            raise OSError("disk full")

        store.inbox_write = broken  # type: ignore[method-assign]
        assert (await post(url, event("refused", event_id="EvF")))[0] == 503
        store.inbox_write = write  # type: ignore[method-assign]
        await inbox.journal.flush()
        assert stored(store) == []  # the deletion was not lost with the failed write
    finally:
        await runner.cleanup()


def slowed(store: Store, seconds: float) -> None:
    """Each write of the store's inbox takes `seconds` longer (a slow commit)."""
    write = store.inbox_write

    def slow(requests, done):
        time.sleep(seconds)
        return write(requests, done)

    store.inbox_write = slow  # type: ignore[method-assign]


async def timed_post(url: str, body: str) -> tuple[int, float]:
    start = time.monotonic()
    status, _ = await post(url, body)
    return status, time.monotonic() - start


@pytest.mark.parametrize("across_processes", [False, True])
async def test_a_store_slower_than_the_ack_budget_is_a_503_in_time_and_still_runs_once(
    monkeypatch: pytest.MonkeyPatch, across_processes: bool
):
    """The budget counts from the request's arrival: a commit that outlasts it gets a 503 by then (not
    a 200 past Slack's deadline); the request, stored after all, runs once, and Slack's resend of it
    is a duplicate."""
    monkeypatch.setattr(inbox_module, "ACK_LIMIT_S", 1.0)
    bolt, store = RecordingBolt(), Store(":memory:")
    slowed(store, 1.6)
    runner, url, inbox = await serve(bolt, store, across_processes)
    try:
        status, took = await timed_post(url, event("late", event_id="EvLATE"))
        assert status == 503 and took < 1.45, (status, took)  # before: a 200 after 1.6 s
        await asyncio.sleep(0.8)  # the commit lands meanwhile
        assert stored(store) == ["late"]
        status, _ = await post(url, event("late", event_id="EvLATE"))  # Slack's resend
        assert status == 200
        await drained(inbox)
        assert bolt.finished == ["late"]
    finally:
        await runner.cleanup()


async def test_across_processes_the_wait_for_the_turn_counts_from_the_arrival(
    monkeypatch: pytest.MonkeyPatch,
):
    """Across processes the 200 waits for the turn to be in line; a slow inbox commit before that
    wait no longer adds to it: the 200 comes by ACK_LIMIT_S after the arrival."""
    monkeypatch.setattr(inbox_module, "QUEUE_WAIT_S", 0.5)
    monkeypatch.setattr(inbox_module, "ACK_LIMIT_S", 1.0)
    bolt, store = RecordingBolt(), Store(":memory:")
    slowed(store, 0.7)
    runner, url, inbox = await serve(bolt, store, across_processes=True)
    try:
        status, took = await timed_post(url, event("slow turn", event_id="EvHELD"))
        assert status == 200 and 0.7 <= took < 1.4, took  # before: 0.7 s + 1.0 s
        assert stored(store) == ["slow turn"]
        bolt.release.set()
        await drained(inbox)
        assert bolt.finished == ["slow turn"]
    finally:
        await runner.cleanup()


async def test_a_row_that_cannot_be_stored_fails_alone_and_its_batch_is_stored(store: Store):
    """A batch's requests share one transaction; one the database refuses (PostgreSQL: a NUL character,
    a delivery key past the index's limit) fails alone, the others are stored."""
    journal = Journal(store)
    good = [journal.submit(f"EvOK{i}", event(f"fine {i}"), "", "application/json", None) for i in range(4)]
    nul = journal.submit("EvNUL", "command=/coach&user_id=U1&text=a\x00b", "", "text/plain", None)
    huge = journal.submit(secrets.token_hex(6000), event("long key"), "", "application/json", None)
    results = await asyncio.gather(*good, nul, huge, return_exceptions=True)
    assert all(isinstance(r, int) for r in results[:4]), results
    if store.postgres:  # SQLite stores both
        assert all(isinstance(r, Exception) and unstorable(r) for r in results[4:]), results[4:]
    assert {"fine 0", "fine 1", "fine 2", "fine 3"} <= set(stored(store, lenient=True))


async def test_one_failing_request_of_a_burst_gets_its_own_answer_and_the_rest_their_200():
    bolt, store = RecordingBolt(), Store(":memory:")
    write = store.inbox_write

    def poisoned(requests, done):
        time.sleep(0.05)  # the burst's acks pile up behind each write: batches of several
        if any("poison" in r["body"] for r in requests):
            raise sa.exc.DataError("INSERT", {}, ValueError("cannot hold this value"))
        if any("flaky" in r["body"] for r in requests):
            raise TypeError("a value the driver cannot adapt")
        return write(requests, done)

    store.inbox_write = poisoned  # type: ignore[method-assign]
    runner, url, inbox = await serve(bolt, store)
    try:
        texts = [f"m{i}" for i in range(12)]
        texts[5], texts[9] = "poison", "flaky"
        answers = await asyncio.gather(*(post(url, event(t, channel=f"D{i}")) for i, t in enumerate(texts)))
        statuses = dict(zip(texts, (status for status, _ in answers), strict=True))
        assert statuses.pop("poison") == 400 and statuses.pop("flaky") == 503, statuses
        assert set(statuses.values()) == {200}, statuses  # before: each of their batch-mates a 503
        await drained(inbox)
        assert sorted(bolt.finished) == sorted(statuses)
    finally:
        await runner.cleanup()


def test_a_sweep_leaves_a_dead_processs_young_rows_to_slacks_resend():
    """A row whose process died before its 200 is resent by Slack within seconds, and that resend
    takes it over in line; a sweep takes only rows older than that."""
    store = Store(":memory:")
    request = {"delivery": "EvYOUNG", "channel": "slack", "body": event("young", event_id="EvYOUNG")}
    store.inbox_write([request | {"query": "", "content_type": "application/json"}], [])
    store.execute(inbox_table.update().values(owner="12345"))  # another process's: gone (one per SQLite file)
    cutoff = datetime.now(UTC) - timedelta(seconds=inbox_module.TAKEOVER_AGE_S)
    assert store.inbox_take_over("slack", lambda row: None, received_before=cutoff) == []
    assert stored(store) == ["young"]
    taken = store.inbox_take_over(
        "slack", lambda row: None, received_before=datetime.now(UTC) + timedelta(seconds=1)
    )
    assert [r["delivery"] for r in taken] == ["EvYOUNG"]


async def test_a_database_that_is_down_is_not_asked_again_for_each_request_of_the_batch():
    """A failure of the database itself (unreachable, disk full) would fail each request alone too:
    its batch gets its 503s at once, not one write per request first."""
    bolt, store = RecordingBolt(), Store(":memory:")
    calls: list[int] = []

    def down(requests, done):
        calls.append(len(requests))
        time.sleep(0.05)
        raise OSError("connection refused")

    store.inbox_write = down  # type: ignore[method-assign]
    runner, url, _ = await serve(bolt, store)
    try:
        answers = await asyncio.gather(*(post(url, event(f"d{i}", channel=f"D{i}")) for i in range(10)))
        assert {status for status, _ in answers} == {503}
        assert sum(calls) == 10, calls  # each request tried once
    finally:
        await runner.cleanup()
