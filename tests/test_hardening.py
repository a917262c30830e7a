"""Hardening: a bad-input corpus through every channel, faults (locked database, a killed server,
duplicate deliveries) and secrets kept out of the logs."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import aiohttp
import psycopg
import pytest

from adapters.console import inbound
from bench.harness import free_port, wait_healthy
from bot.checkpoints import conninfo
from bot.conversation import Coach
from bot.messages import Action, Inbound
from bot.server import COACH as COACH_KEY
from bot.testing.fake_anthropic import FakeAnthropic, Outcome
from bot.testing.fake_connector import FakeConnector
from bot.testing.fake_slack import BOT_USER, FakeSlack
from flows.deps import Deps
from tests import test_slack as slack_http
from tests import test_teams as teams_http
from tests.bad_inputs import FORGED_ACTIONS, MALFORMED_SLACK, MALFORMED_TEAMS, OTHER_SECRET, TEXTS
from tests.conftest import COACH, Database, coach_cli, offline_env

BACKENDS = ("sqlite", "postgres")  # every test that touches the database runs on both

LEAKS = ("Traceback", "Exception", "sqlite3.", 'File "', OTHER_SECRET)
PINGS = ("<!channel>", "<!here>", "<!everyone>")


def assert_clean(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} leaked into a reply: {text[:200]!r}"


async def other_learner_works(coach: Coach, platform: str, user: str, conversation: str) -> None:
    """Someone else's private work, which no input of the attacker may reveal."""
    await coach.handle(Inbound(platform, user, conversation, "lab 1"))
    await coach.handle(
        Inbound(platform, user, conversation, f"The {OTHER_SECRET} plant has siloed sensor data.")
    )
    await coach.handle(Inbound(platform, user, conversation, "quiz 1"))


def test_the_corpus_is_big_enough():
    assert len(TEXTS) + len(FORGED_ACTIONS) >= 50


# -- console ---------------------------------------------------------------------------------------


async def test_bad_inputs_through_the_console(coach: Coach, course):
    await other_learner_works(coach, "console", "other", "console:other")
    other_session = (await coach.state("console:other"))["quiz"]["session"]
    for text in TEXTS:
        replies = await coach.handle(inbound("mallory", text))
        assert replies, f"no reply to {text[:40]!r}"
        for reply in replies:
            assert_clean(reply.text)
            assert not any(p in reply.text for p in PINGS)
    forged = [Action.from_dict(a) if isinstance(a, dict) else None for a in FORGED_ACTIONS]
    forged.append(Action("answer", "A", question="L1Q1", session=other_session))  # another user's quiz
    for action in forged:
        replies = await coach.handle(inbound("mallory", "" if action else "{}", action=action))
        assert replies
        for reply in replies:
            assert_clean(reply.text)
    assert coach.deps.store.attempts("console:other") == []  # nothing answered on their behalf


# -- Slack -----------------------------------------------------------------------------------------


async def test_bad_inputs_through_slack(tmp_path: Path):
    slack = await FakeSlack().start()
    runner, url = await slack_http.start_server(tmp_path, slack)
    try:
        coach = runner.app[COACH_KEY]
        await other_learner_works(coach, "slack", "U0OTHER", "slack:D0OTHER")
        other_session = (await coach.state("slack:D0OTHER"))["quiz"]["session"]
        sent = 0
        for text in TEXTS:
            await slack_http.event(url, slack_http.dm(text, user="U0MAL"))
            sent += 1
            await slack.wait_for_total(sent)
        question = {"ts": "1700000000.000009", "blocks": [], "text": ""}
        payloads = [json.dumps(a) for a in FORGED_ACTIONS]
        payloads.append(
            json.dumps({"kind": "answer", "value": "A", "question": "L1Q1", "session": other_session})
        )
        for value in payloads:
            assert await slack_http.click(url, question, "D0MAL", value, user="U0MAL") == 200
            sent += 1
            await slack.wait_for_total(sent)
        await slack.wait_for_total(sent, settle=0.3)
        outputs = [c.args for c in slack.calls if c.method.startswith("chat.")]
        assert outputs
        for args in outputs:
            rendered = json.dumps(args, ensure_ascii=False)
            assert_clean(rendered)
            assert not any(p in rendered for p in PINGS), rendered[:200]
        assert coach.deps.store.attempts("slack:U0OTHER") == []
    finally:
        await runner.cleanup()
        await slack.stop()


# -- Teams -----------------------------------------------------------------------------------------


async def test_bad_inputs_through_teams(tmp_path: Path):
    connector = await FakeConnector().start()
    runner, url = await teams_http.start_server(tmp_path)
    try:
        coach = runner.app[COACH_KEY]
        await other_learner_works(coach, "teams", "29:other", "teams:a:other")
        other_session = (await coach.state("teams:a:other"))["quiz"]["session"]
        expected = 0
        for text in TEXTS:
            status, _ = await teams_http.post(url, teams_http.activity(connector, text))
            assert status in (200, 201)
            expected += 1
            await connector.wait_for_messages(expected)
        forged = [
            *FORGED_ACTIONS,
            {"kind": "answer", "value": "A", "question": "L1Q1", "session": other_session},
        ]
        for data in forged:
            await teams_http.post(url, teams_http.activity(connector, None, value={"coach": data}))
            expected += 1
            await connector.wait_for_messages(expected)
        for sent in connector.messages():
            assert_clean(json.dumps(sent.activity, ensure_ascii=False))
        assert coach.deps.store.attempts("teams:29:other") == []
    finally:
        await runner.cleanup()
        await connector.stop()


# -- faults ----------------------------------------------------------------------------------------


async def test_a_locked_database_is_waited_for_and_nothing_is_lost(
    coach: Coach, deps: Deps, tmp_path: Path, backend: str
):
    if backend == "postgres":
        pytest.skip("SQLite's file lock; PostgreSQL locks rows, and turns wait on advisory locks instead")
    blocker = sqlite3.connect(tmp_path / "coach.db", check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.6, blocker.commit)
    release.start()
    started = time.perf_counter()
    replies = await coach.handle(inbound("ana", "What is a model card?", message_id="m-locked"))
    release.join()
    assert time.perf_counter() - started >= 0.5  # it waited for the lock instead of failing
    assert replies[-1].citations
    (row,) = [m for m in deps.store.messages() if m["delivery"] == "m-locked"]
    assert row["status"] == "answered"


# Holds the database's write lock until told to let go (a line on stdin), or for at most 10 s.
HOLD_LOCK = """
import select, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
select.select([sys.stdin], [], [], 10)
conn.execute("COMMIT")
"""


async def test_a_database_locked_by_another_process_does_not_stall_the_server(tmp_path: Path):
    connector = await FakeConnector().start()
    runner, url = await teams_http.start_server(tmp_path)
    try:
        await teams_http.post(url, teams_http.activity(connector, "help"))  # warm: the first turn opens all
        await connector.wait_for_messages(1)
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(tmp_path / "data" / "coach.db")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        turn = asyncio.ensure_future(teams_http.post(url, teams_http.activity(connector, "progress")))
        await asyncio.sleep(0.2)  # the turn is now waiting for the write lock
        started = time.perf_counter()
        async with aiohttp.ClientSession() as session, session.get(f"{url}/healthz") as health:
            assert health.status == 200
        assert time.perf_counter() - started < 1.0  # the lock is still held: /healthz did not wait for it
        holder.communicate("release\n", timeout=10)  # the other process commits and exits
        await turn
        await connector.wait_for_messages(2)  # and the turn was answered once the lock was released
    finally:
        await runner.cleanup()
        await connector.stop()


async def test_teams_resend_of_the_same_activity_gets_one_reply(tmp_path: Path):
    connector = await FakeConnector().start()
    runner, url = await teams_http.start_server(tmp_path)
    try:
        same = teams_http.activity(connector, "What is a model card?")
        await teams_http.post(url, same)
        await teams_http.post(url, same)
        await teams_http.post(url, teams_http.activity(connector, "help"))
        await connector.wait_for_messages(2)
        await asyncio.sleep(0.3)
        assert len(connector.messages()) == 2
    finally:
        await runner.cleanup()
        await connector.stop()


async def test_teams_activities_with_the_same_id_in_two_chats_are_both_answered(tmp_path: Path):
    """Teams message ids are unique within a conversation only: a replay is one conversation's id twice."""
    connector = await FakeConnector().start()
    runner, url = await teams_http.start_server(tmp_path)
    try:
        chat = {**teams_http.PERSONAL, "id": "a:personal-ben"}
        ben = {"from": {"id": "29:ben", "name": "Ben"}, "conversation": chat}
        await teams_http.post(url, {**teams_http.activity(connector, "help"), "id": "1700000000001"})
        await teams_http.post(url, {**teams_http.activity(connector, "help"), "id": "1700000000001", **ben})
        await connector.wait_for_messages(2)
    finally:
        await runner.cleanup()
        await connector.stop()


def serve(env: dict[str, str], port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [str(COACH), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def test_killed_mid_turn_the_conversation_continues_and_the_lost_message_is_owned(
    tmp_path: Path, coach_env: dict[str, str]
):
    slack, claude = await FakeSlack().start(), await FakeAnthropic().start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **coach_env,
        "SLACK_BOT_TOKEN": slack_http.TOKEN,
        "SLACK_SIGNING_SECRET": slack_http.SECRET,
        "SLACK_API_URL": slack.api_url,
        "ANTHROPIC_API_KEY": "sk-ant-kill-test-0123456789",
        "ANTHROPIC_BASE_URL": claude.url,
        "COACH_LLM_TIMEOUT": "30",
        "COACH_LLM_RETRIES": "0",
    }
    first = serve(env, port)
    second = None
    try:
        await wait_healthy(url, first, timeout_s=180)  # start-up time is a benchmark, not a test
        await slack_http.event(url, slack_http.dm("lab 1", user="U1"))
        await slack.wait_for("chat.postMessage", timeout=90)  # a new process's first turn; a liveness bound
        claude.default = Outcome(text="too late", delay_s=30)
        await slack_http.event(url, slack_http.dm("Was the sensor data siloed from production?", user="U1"))
        for _ in range(100):  # the turn is under way: the learner's words reached Claude
            if claude.requests:
                break
            await asyncio.sleep(0.05)
        assert claude.requests, "the turn never reached Claude"
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        claude.default = Outcome(
            tool_input={
                "kind": "answer",
                "credits": [],
                "misconceptions": [],
                "focus": "talent-skills",
                "message": "Who built these pilots? [from Claude]",
            }
        )
        second = serve(env, port)
        await wait_healthy(url, second, timeout_s=180)
        await slack_http.event(url, slack_http.dm("Who built the pilots, data scientists?", user="U1"))
        # the intro, then the notice and the lab reply after the restart (no placeholder was due yet)
        await slack.wait_for_total(3, timeout=20, settle=0.3)
        texts = [p["text"] for p in slack.of("chat.postMessage")] + [
            u["text"] for u in slack.of("chat.update")
        ]
        assert any("couldn't answer" in t and "sensor data siloed" in t for t in texts), texts
        assert any("[from Claude]" in t for t in texts)  # the lab went on from its checkpoint
        second.terminate()
        output = second.communicate(timeout=20)[0] + (first.stdout.read() or "")
        for secret in ("sk-ant-kill-test-0123456789", slack_http.TOKEN, slack_http.SECRET):
            assert secret not in output
    finally:
        for proc in (first, second):
            if proc and proc.poll() is None:
                proc.kill()
        await slack.stop()
        await claude.stop()


# -- secrets ----------------------------------------------------------------------------------------


async def test_no_secret_reaches_any_log(tmp_path: Path, caplog):
    slack, claude, connector = (
        await FakeSlack().start(),
        await FakeAnthropic().start(),
        await FakeConnector().start(),
    )
    secrets = {
        "ANTHROPIC_API_KEY": "sk-ant-api03-SECRETSECRET-abcdef",
        "MicrosoftAppPassword": "teams-password-SECRET-42",
    }
    caplog.set_level(logging.DEBUG)
    runner, url = await slack_http.start_server(
        tmp_path, slack, ANTHROPIC_BASE_URL=claude.url, COACH_LLM_RETRIES=0, **secrets
    )
    try:
        claude.script += [Outcome(status=529), Outcome(text="A model card documents a model [1].")]
        await slack_http.event(url, slack_http.dm("What is a model card?"))
        await slack_http.event(url, slack_http.dm("What is MLOps?"))
        await slack_http.event(
            url,
            {
                "type": "app_mention",
                "user": "U1",
                "channel": "C1",
                "ts": "1.2",
                "text": f"<@{BOT_USER}> what is a data mesh?",
            },
        )
        await slack.wait_for("chat.postMessage", 3)
        status, _ = await slack_http.post(url, "{}", "application/json", {"X-Slack-Signature": "v0=bad"})
        assert status == 401
        logging.getLogger("slack_sdk.web").debug(
            "Authorization: Bearer %s", slack_http.TOKEN
        )  # as a library might
    finally:
        await runner.cleanup()
        await slack.stop()
        await claude.stop()
        await connector.stop()
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert "brain fallback" in logged  # the run did log things, including an error path
    for secret in (*secrets.values(), slack_http.TOKEN, slack_http.SECRET):
        assert secret not in logged, f"{secret[:8]}… appeared in the logs"


def test_coach_bench_runs_and_writes_every_figure(tmp_path: Path):
    """`coach bench --smoke`: every benchmark runs (its servers, the floor and the fakes are real
    processes and real HTTP) and writes every figure, at sizes too small to mean anything. In-process:
    the command's own start-up is a benchmark row, not what this checks. Once, not per backend: with
    --smoke `coach bench` keeps every store in its own temporary SQLite folders, whatever
    COACH_DATABASE_URL says."""
    results = tmp_path / "results.json"
    done = coach_cli(
        *("bench", "--smoke", "--conversations", "4", "--members", "300", "--learners", "1500"),
        *("--rounds", "1", "--batch", "2", "--results", str(results)),
        env=offline_env(tmp_path),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(results.read_text())
    assert {"machine", "retrieval", "turns", "concurrency", "nudges", "cpu", "scale", "startup"} <= set(
        figures
    )
    assert {(r["channel"], r["brain"]) for r in figures["cpu"]["rows"]} == {
        (channel, brain) for channel in ("slack", "teams") for brain in ("offline", "claude")
    }
    assert figures["scale"]["large"]["learners"] == 1500 and figures["scale"]["small"]["learners"] == 1000
    assert figures["concurrency"]["answered"] == 4 and figures["concurrency"]["errors"] == 0
    concurrency = figures["concurrency"]
    assert concurrency["floor_errors"] == 0 and concurrency["floor_slack_ack_p99_ms"] > 0
    assert figures["nudges"]["members"] == 300
    assert "wall / Claude" in done.stdout and "Slack ack" in done.stdout and "floor" in done.stdout


# -- malformed requests ----------------------------------------------------------------------------


async def _post_raw(url: str, path: str, content_type: str, body: bytes, headers: dict | None = None) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{url}{path}", data=body, headers={"Content-Type": content_type, **(headers or {})}
        ) as r,
    ):
        await r.read()
        return r.status


async def test_malformed_requests_get_4xx_and_no_traceback(tmp_path: Path, caplog):
    """Every unparseable body is a 4xx with one warning line: no 500, no traceback in the log."""
    caplog.set_level(logging.INFO)
    slack = await FakeSlack().start()
    connector = await FakeConnector().start()
    slack_runner, slack_url = await slack_http.start_server(tmp_path / "s", slack)
    teams_runner, teams_url = await teams_http.start_server(tmp_path / "t")
    statuses = []
    try:
        for content_type, body in MALFORMED_SLACK:
            text = body.decode("utf-8", "replace")
            status = await _post_raw(slack_url, "/slack/events", content_type, body, slack_http.signed(text))
            statuses.append(("slack", body, status))
        for content_type, body in MALFORMED_TEAMS:
            statuses.append(("teams", body, await _post_raw(teams_url, "/api/messages", content_type, body)))
    finally:
        for runner in (slack_runner, teams_runner):
            await runner.cleanup()
        await slack.stop()
        await connector.stop()
    assert all(400 <= s < 500 for *_, s in statuses), [x for x in statuses if not 400 <= x[2] < 500]
    assert not [r for r in caplog.records if r.exc_info], "a traceback reached the log"
    assert "Traceback" not in caplog.text
    assert len(statuses) == len(MALFORMED_SLACK) + len(MALFORMED_TEAMS) >= 25


async def test_slow_clients_are_cut_off(tmp_path: Path):
    """Slowloris on loopback: connections that drip headers or never finish a body are closed."""
    runner, url = await teams_http.start_server(tmp_path, COACH_HTTP_TIMEOUT="1")
    host, port = url.removeprefix("http://").split(":")
    try:

        async def drip() -> bool:
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"POST /api/messages HTTP/1.1\r\nHost: x\r\n")
            try:
                for _ in range(40):  # one header every 0.2 s: forever, if nobody stops it
                    await asyncio.sleep(0.2)
                    writer.write(b"X-Slow: 1\r\n")
                    await writer.drain()
                    if reader.at_eof():
                        return True
                return await reader.read() == b"" or reader.at_eof()
            except (ConnectionError, OSError):
                return True
            finally:
                writer.close()

        async def half_body() -> bool:
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(
                b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n{"
            )
            await writer.drain()
            try:
                answer = await asyncio.wait_for(reader.read(200), 6)
            finally:
                writer.close()
            return answer == b"" or answer.startswith(b"HTTP/1.1 408")

        results = await asyncio.wait_for(
            asyncio.gather(*[drip() for _ in range(20)], *[half_body() for _ in range(20)]), 15
        )
        assert all(results)
    finally:
        await runner.cleanup()


async def test_a_locked_database_does_not_stall_the_event_loop(coach: Coach, database: Database):
    """Another process holds the write lock: the message waits for it in a thread, the loop runs on."""
    if database.url:  # PostgreSQL: another session holds the learners table
        blocker = psycopg.connect(conninfo(database.url))
        blocker.execute("LOCK TABLE learners IN ACCESS EXCLUSIVE MODE")
    else:
        blocker = sqlite3.connect(database.store, check_same_thread=False)
        blocker.execute("BEGIN EXCLUSIVE")
    turn = asyncio.create_task(coach.handle(inbound("ana", "What is a model card?", message_id="m-stall")))
    ticks = 0
    for _ in range(10):  # the loop keeps ticking while the turn waits for the lock
        await asyncio.sleep(0.02)
        ticks += 1
    assert not turn.done() and ticks == 10
    blocker.commit()
    blocker.close()
    replies = await turn
    assert replies[-1].citations
