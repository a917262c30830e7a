"""Slack through the real Bolt app and `coach serve` over loopback HTTP; only Slack's side is faked."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sqlite3
import subprocess
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from bot.app import Runtime
from bot.config import Settings
from bot.server import create_app, runner_options
from bot.testing import serve_on_loopback
from bot.testing.fake_anthropic import FakeAnthropic, Outcome
from bot.testing.fake_slack import BOT_USER, FakeSlack
from knowledge.loader import Course
from tests.conftest import COACH, coach_cli_async

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-token-123"
_ids = itertools.count(1)


async def start_server(tmp_path: Path, slack: FakeSlack, **env) -> tuple[web.AppRunner, str]:
    settings = Settings(
        _env_file=None,
        COACH_DATA_DIR=tmp_path / "data",
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.api_url,
        **env,
    )
    return await serve_on_loopback(create_app(Runtime(settings)), **runner_options(settings))


async def warmed_up(url: str) -> None:
    """Wait until the server has loaded what it loads after ready (`bot.server`'s warm-up)."""
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f"{url}/healthz") as health:
                state = (await health.json())["warm_up"]
            assert state != "failed"
            if state == "done":
                return
            await asyncio.sleep(0.05)


@pytest.fixture
async def server(tmp_path: Path, slack: FakeSlack):
    runner, url = await start_server(tmp_path, slack)
    yield url
    await runner.cleanup()


def signed(body: str, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


async def post(
    url: str, body: str, content_type: str, headers: dict[str, str] | None = None
) -> tuple[int, float]:
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        hdrs = {"Content-Type": content_type, **(signed(body) if headers is None else headers)}
        async with session.post(f"{url}/slack/events", data=body.encode(), headers=hdrs) as response:
            await response.read()
            return response.status, time.perf_counter() - started


async def event(
    url: str, ev: dict, event_id: str | None = None, headers: dict | None = None, retry: int | None = None
) -> tuple[int, float]:
    body = json.dumps(
        {
            "token": "legacy",
            "team_id": "T0001",
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_ids)}",
            "event_time": int(time.time()),
            "event": ev,
            "authorizations": [{"team_id": "T0001", "user_id": BOT_USER, "is_bot": True}],
        }
    )
    if retry is not None:  # Slack re-sends an event it got no timely 200 for, with these headers
        headers = {**signed(body), "X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    return await post(url, body, "application/json", headers)


async def settle(slack: FakeSlack, method: str, count: int) -> list[dict]:
    """Wait for `count` calls, then a moment longer to be sure no more are coming."""
    await slack.wait_for(method, count)
    await asyncio.sleep(0.3)
    return slack.of(method)


def dm(text: str, user: str = "U1", **extra) -> dict:
    ts = f"1700001000.{next(_ids):06d}"
    return {
        "type": "message",
        "channel_type": "im",
        "channel": f"D{user[1:]}",
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        **extra,
    }


async def command(url: str, text: str, slack: FakeSlack, user: str = "U1") -> int:
    body = urlencode(
        {
            "token": "legacy",
            "team_id": "T0001",
            "channel_id": "C0GENERAL",
            "user_id": user,
            "command": "/coach",
            "text": text,
            "response_url": slack.response_url(),
            "trigger_id": f"trig-{next(_ids)}",  # Slack's is unique per invocation
        }
    )
    status, _ = await post(url, body, "application/x-www-form-urlencoded")
    return status


def click_body(message: dict, channel: str, value: str, user: str = "U1") -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "team": {"id": "T0001"},
        "channel": {"id": channel},
        "container": {"type": "message", "channel_id": channel, "message_ts": message["ts"]},
        "message": {
            "ts": message["ts"],
            "text": message.get("text", ""),
            "blocks": message["blocks"],
            **({"thread_ts": message["thread_ts"]} if message.get("thread_ts") else {}),
        },
        "actions": [
            {"type": "button", "action_id": "coach_1", "block_id": "b", "value": value, "action_ts": "1"}
        ],
        "trigger_id": f"trig-{next(_ids)}",  # Slack's is unique per click
        "response_url": "http://127.0.0.1:9/unused",
    }
    return urlencode({"payload": json.dumps(payload)})


async def click(url: str, message: dict, channel: str, value: str, user: str = "U1") -> int:
    body = click_body(message, channel, value, user)
    status, _ = await post(url, body, "application/x-www-form-urlencoded")
    return status


def all_text(call: dict) -> str:
    texts = [call.get("text", "")]
    for block in call.get("blocks", []):
        texts.append(json.dumps(block))
    return " ".join(texts)


def buttons_of(call: dict) -> list[dict]:
    return [e for b in call.get("blocks", []) if b["type"] == "actions" for e in b["elements"]]


# -- shared channels -------------------------------------------------------------------------------


async def test_mention_is_answered_in_its_thread_with_citations(
    server: str, slack: FakeSlack, tmp_path: Path
):
    mention = {
        "type": "app_mention",
        "user": "U1",
        "channel": "C1",
        "ts": "1700000100.000100",
        "text": f"<@{BOT_USER}> What is pilot purgatory? <!channel>",
    }
    status, _ = await event(server, mention)
    assert status == 200
    (posted,) = await slack.wait_for("chat.postMessage")
    assert posted["channel"] == "C1" and posted["thread_ts"] == "1700000100.000100"
    context = [b for b in posted["blocks"] if b["type"] == "context"]
    assert context and "Lesson 1" in json.dumps(context)
    assert "<!channel>" not in all_text(posted) and "<!here>" not in all_text(posted)

    # a follow-up in the thread, without a mention, continues the conversation
    follow = {
        "type": "message",
        "channel_type": "channel",
        "user": "U1",
        "channel": "C1",
        "ts": "1700000200.000100",
        "thread_ts": "1700000100.000100",
        "text": "why does it happen?",
    }
    await event(server, follow)
    posts = await slack.wait_for("chat.postMessage", 2)
    assert posts[1]["thread_ts"] == "1700000100.000100" and posts[1]["blocks"]

    # chatter in another thread the coach was never asked into is left alone, and so is the chatter in
    # this one of someone who never asked the coach anything here: neither answered nor stored
    other = {**follow, "thread_ts": "1700000000.000001", "ts": "1700000300.000100"}
    await event(server, other)
    await event(server, {**follow, "user": "U7", "ts": "1700000250.000100", "text": "lunch at noon?"})
    await event(server, {**follow, "thread_ts": None, "ts": "1700000301.000100", "text": "lunch?"})
    await event(server, dm("help", user="U9"))  # a marker: once this is answered, the others were skipped
    assert len(await settle(slack, "chat.postMessage", 3)) == 3
    stored = (
        sqlite3.connect(tmp_path / "data" / "coach.db").execute("SELECT learner FROM messages").fetchall()
    )
    assert ("slack:U7",) not in stored and ("slack:U1",) in stored


async def test_quiz_in_a_shared_channel_is_refused_privately(server: str, slack: FakeSlack):
    await event(
        server,
        {
            "type": "app_mention",
            "user": "U1",
            "channel": "C1",
            "ts": "1700000100.000200",
            "text": f"<@{BOT_USER}> quiz 1",
        },
    )
    (note,) = await slack.wait_for("chat.postEphemeral")
    assert note["user"] == "U1" and "direct message" in note["text"]
    assert slack.of("chat.postMessage") == []


# -- direct messages -------------------------------------------------------------------------------


async def test_dm_lab_flow(server: str, slack: FakeSlack, course: Course):
    await event(server, dm("lab 1"))
    (opening,) = await slack.wait_for("chat.postMessage")
    assert opening["channel"] == "D1" and not opening.get("thread_ts")
    assert course.lab(1).opening_line.split(" — ")[0] in opening["text"]
    assert [b["text"]["text"] for b in buttons_of(opening)] == ["Hint", "What am I missing?", "Finish"]
    await event(server, dm("I'd check whether the sensor data is siloed from the production databases."))
    probe = (await slack.wait_for("chat.postMessage", 2))[1]
    assert "data foundation" in probe["text"] and course.lab(1).point("talent-skills").probe in probe["text"]
    finish = json.loads(buttons_of(probe)[2]["value"])
    await click(server, {**probe, "ts": "1700000000.000002"}, "D1", json.dumps(finish))
    debrief = (await slack.wait_for("chat.postMessage", 3))[2]
    assert "Debrief · Lab 1" in debrief["text"] and re.search(
        r"\d+% \([12] of 9 points shown", debrief["text"]
    )


async def test_dm_quiz_with_buttons_updates_the_question(server: str, slack: FakeSlack, course: Course):
    await event(server, dm("quiz 1"))
    (question,) = await slack.wait_for("chat.postMessage")
    q1 = course.lesson_quiz(1).questions[0]
    assert q1.stem in question["text"]
    answer_buttons = buttons_of(question)
    assert [b["text"]["text"] for b in answer_buttons] == ["A", "B", "C", "D"]
    pick = next(b for b in answer_buttons if json.loads(b["value"])["value"] == q1.answer)
    await click(server, {**question, "ts": "1700000000.000001"}, "D1", pick["value"])
    (update,) = await slack.wait_for("chat.update")
    assert update["ts"] == "1700000000.000001"
    assert q1.feedback.correct in all_text(update) and "1 of 1 right" in all_text(update)
    assert not buttons_of(update)  # the question cannot be answered twice
    nxt = (await slack.wait_for("chat.postMessage", 2))[1]
    assert course.lesson_quiz(1).questions[1].stem in nxt["text"]

    # clicking the old button again: a clear private note, nothing counted
    await click(server, {**question, "ts": "1700000000.000001"}, "D1", pick["value"])
    (note,) = await slack.wait_for("chat.postEphemeral")
    assert "already answered" in note["text"]
    # a forged payload
    old = {**question, "ts": "1700000000.000001"}
    await click(
        server, old, "D1", json.dumps({"kind": "answer", "value": "A", "question": "L1Q1", "session": "x"})
    )
    notes = await slack.wait_for("chat.postEphemeral", 2)
    assert "expired" in notes[1]["text"]
    await click(server, old, "D1", "not json")
    notes = await slack.wait_for("chat.postEphemeral", 3)
    assert "isn't one of mine" in notes[2]["text"]


async def test_slack_retries_and_bot_messages_get_no_reply(server: str, slack: FakeSlack):
    message = dm("What is a model card?")
    await event(server, message, event_id="EvSAME")
    await event(server, message, event_id="EvSAME", retry=1)
    await event(server, message, event_id="EvSAME", retry=2)
    await event(server, dm("echo", bot_id="BOTHER"))
    await event(server, dm("edited", subtype="message_changed"))
    await event(server, dm("gone", subtype="message_deleted"))
    await event(server, {**dm("mine"), "user": BOT_USER, "bot_id": "BCOACH"})
    await event(server, dm("help", user="U7"))  # a marker that arrives after all of the above
    posts = await settle(slack, "chat.postMessage", 2)
    assert len(posts) == 2
    assert "Model Card" in posts[0]["text"] or "Model Card" in posts[1]["text"]


# -- slash command and App Home ----------------------------------------------------------------


async def test_slash_command_help_is_private_and_lab_goes_to_the_dm(
    server: str, slack: FakeSlack, course: Course
):
    assert await command(server, "help", slack) == 200
    (private,) = await slack.wait_for("response_url:r1")
    assert private["response_type"] == "ephemeral" and "lab 1" in private["text"]
    await command(server, "lab 2", slack)
    (opened,) = await slack.wait_for("conversations.open")
    assert opened["users"] == "U1"
    (posted,) = await slack.wait_for("chat.postMessage")
    assert posted["channel"] == "D1" and course.lab(2).coach_name in posted["text"]
    notes = await slack.wait_for("response_url:r1", 2)
    assert "DM" in notes[1]["text"]


async def test_app_home_shows_progress_and_start_buttons(server: str, slack: FakeSlack):
    await event(server, {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"})
    (published,) = await slack.wait_for("views.publish")
    assert published["user_id"] == "U1"
    view = published["view"]
    assert view["type"] == "home" and "Your progress" in json.dumps(view)
    labels = [e["text"]["text"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert "Lab 1: AI Readiness Assessment" in labels and "Quiz 4" in labels and "Drill" in labels


# -- security -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["unsigned", "wrong-secret", "stale", "tampered"])
async def test_requests_that_are_not_from_slack_are_refused(server: str, slack: FakeSlack, case: str):
    body = json.dumps({"type": "event_callback", "event_id": "EvBAD", "event": dm("lab 1")})
    headers = {
        "unsigned": {},
        "wrong-secret": signed(body, secret="not-the-secret"),
        "stale": signed(body, timestamp=int(time.time()) - 6 * 60),
        "tampered": signed(body.replace("lab 1", "lab 2")),
    }[case]
    status, _ = await post(server, body, "application/json", headers)
    assert status == 401
    await event(server, dm("help", user="U5"))  # a marker: the refused one never produced work
    (only,) = await slack.wait_for("chat.postMessage")
    assert only["channel"] == "D5"


# -- slow brains --------------------------------------------------------------------------------


async def test_ack_is_immediate_and_a_placeholder_shows_only_when_claude_is_slow(
    tmp_path: Path, slack: FakeSlack
):
    anthropic = await FakeAnthropic().start()
    anthropic.script.append(Outcome(text="Quickly: a model card documents a model [1].", delay_s=0.1))
    anthropic.default = Outcome(text="A model card documents a model [1].", delay_s=2.5)
    runner, url = await start_server(
        tmp_path,
        slack,
        ANTHROPIC_API_KEY="sk-ant-test",
        ANTHROPIC_BASE_URL=anthropic.url,
        COACH_LLM_TIMEOUT=10,
    )
    try:
        await warmed_up(url)  # Claude's SDK loads after ready: a turn before that waits for it
        status, took = await event(url, dm("What is a model card?"))
        assert status == 200 and took < 1.0
        (answer,) = await slack.wait_for("chat.postMessage")  # a quick answer is one message
        assert "Quickly" in answer["text"]
        status, took = await event(url, dm("What is a model card?", user="U2"))
        assert status == 200 and took < 1.0
        placeholder = (await slack.wait_for("chat.postMessage", 2))[1]
        assert "Thinking" in placeholder["text"] and placeholder["channel"] == "D2"
        (update,) = await slack.wait_for("chat.update")
        assert "A model card documents a model [1]" in update["text"]
        assert len(slack.of("chat.postMessage")) == 2
    finally:
        await runner.cleanup()
        await anthropic.stop()


async def test_ai_assistant_threads_suggest_prompts_and_answer_in_the_thread(server: str, slack: FakeSlack):
    thread = "1729999327.187299"
    started = {
        "type": "assistant_thread_started",
        "assistant_thread": {"user_id": "U1", "channel_id": "D1", "thread_ts": thread, "context": {}},
        "event_ts": "1729999327.187300",
    }
    await event(server, started)
    (prompts,) = await slack.wait_for("assistant.threads.setSuggestedPrompts")
    assert (
        prompts["thread_ts"] == thread
        and {"title": "Quiz me on Lesson 1", "message": "quiz 1"} in prompts["prompts"]
    )
    (greeting,) = await slack.wait_for("chat.postMessage")
    assert greeting["thread_ts"] == thread
    await event(server, dm("lab 3", thread_ts=thread))
    posts = await slack.wait_for("chat.postMessage", 2)
    assert posts[1]["thread_ts"] == thread and "Lab 3" in posts[1]["text"]


def test_manifest_subscribes_to_what_the_app_handles(tmp_path: Path):
    from adapters.slack import manifest

    data = manifest("https://coach.example.com/")
    events = set(data["settings"]["event_subscriptions"]["bot_events"])
    assert {
        "app_mention",
        "message.im",
        "message.channels",
        "app_home_opened",
        "assistant_thread_started",
    } <= events
    scopes = set(data["oauth_config"]["scopes"]["bot"])
    assert {"chat:write", "commands", "app_mentions:read", "im:history", "assistant:write"} <= scopes
    assert data["features"]["slash_commands"][0]["command"] == "/coach"
    assert data["settings"]["interactivity"]["request_url"] == "https://coach.example.com/slack/events"
    assert data["features"]["app_home"]["home_tab_enabled"]
    socket = manifest(socket_mode=True)
    assert (
        socket["settings"]["socket_mode_enabled"] and "request_url" not in socket["settings"]["interactivity"]
    )


def test_coach_serve_starts_and_answers_healthz(coach_env, tmp_path: Path):
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [str(COACH), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=coach_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 90  # a liveness bound, not a timing goal: the machine may be busy
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    health = json.loads(response.read())
                break
            except OSError:
                assert proc.poll() is None and time.time() < deadline, "coach serve did not come up"
                time.sleep(0.05)
        assert health.pop("warm_up") in ("running", "done")  # the semantic model loads after ready
        assert health == {"ok": True, "brain": "offline", "slack": "off", "teams": "off"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as response:
            ready = json.loads(response.read())
        assert ready == {"ready": True, "index": "built", "database": "reachable", "migrations": "current"}
    finally:
        proc.terminate()
        output = proc.communicate(timeout=10)[0]
    assert "Traceback" not in output
    assert "shutting down" in output and proc.returncode == 0
    assert "Teams is off" in output and "AUTHENTICATION IS OFF" not in output  # no app id: no Teams


async def test_a_web_api_failure_after_ack_is_told_to_the_user(tmp_path: Path, slack: FakeSlack):
    slack.refuse_methods["conversations.members"] = "channel_not_found"
    runner, server = await start_server(tmp_path, slack, COACH_MANAGERS="slack:U1")
    try:
        assert await command(server, "nudges weekly mon 09:00 for <#CPRIV|private>", slack) == 200
        (told,) = await slack.wait_for("response_url:r1")
    finally:
        await runner.cleanup()
    assert "conversations.members" in told["text"] and "channel_not_found" in told["text"]


async def test_a_replayed_slash_command_is_answered_once(server: str, slack: FakeSlack):
    body = urlencode(
        {
            "team_id": "T0001",
            "channel_id": "C0GENERAL",
            "user_id": "U1",
            "command": "/coach",
            "text": "progress",
            "response_url": slack.response_url(),
            "trigger_id": "trig-replayed",
        }
    )
    headers = signed(body)  # the same signed request, sent twice within Slack's five minutes
    for _ in range(2):
        status, _ = await post(server, body, "application/x-www-form-urlencoded", headers)
        assert status == 200
    await slack.wait_for("response_url:r1")
    await asyncio.sleep(0.5)
    assert len(slack.of("response_url:r1")) == 1


async def test_a_replayed_click_is_acted_on_once(server: str, slack: FakeSlack):
    body = click_body({"ts": "1700000000.000001", "blocks": []}, "D1", '{"kind": "command", "value": "help"}')
    headers = signed(body)  # the same signed click, sent twice within Slack's five minutes
    for _ in range(2):
        status, _ = await post(server, body, "application/x-www-form-urlencoded", headers)
        assert status == 200
    await slack.wait_for("chat.postMessage")
    await asyncio.sleep(0.5)
    assert len(slack.of("chat.postMessage")) == 1


SLASH_TEXTS = [  # Bolt's own parser loses every one of these ({} instead of the command)
    "what is payload",
    'what is payload={"type":"block_actions"}',
    "R&D & payload&text=help",
    "100% of 50%25 is payload %",
    "a+b = payload? Qu’est-ce qu’un modèle ? 日本語 🎓",
]


async def test_slash_command_text_survives_what_bolt_would_misparse(
    tmp_path: Path, server: str, slack: FakeSlack
):
    for number, text in enumerate(SLASH_TEXTS, 1):
        body = urlencode(
            {
                "team_id": "T0001",
                "channel_id": "C0GENERAL",
                "user_id": "U1",
                "command": "/coach",
                "text": text,
                "response_url": slack.response_url(f"p{number}"),
                "trigger_id": f"trig-{next(_ids)}",
            }
        )
        status, _ = await post(server, body, "application/x-www-form-urlencoded")
        assert status == 200, text
        (answer,) = await slack.wait_for(f"response_url:p{number}")
        assert answer["response_type"] == "ephemeral" and answer.get("text"), text
    db = sqlite3.connect(tmp_path / "data" / "coach.db")
    seen = [text for (text,) in db.execute("SELECT text FROM messages ORDER BY id")]
    assert seen == SLASH_TEXTS  # each reached the coach exactly as typed


def test_manifest_scopes_are_exactly_what_the_code_calls_and_hears():
    """Scan the Slack adapter for Web API calls (client.<method>, Bolt's say/set_status/…), map each to
    its scopes, add the events' and the slash command's: the manifest must grant exactly that."""
    from bot.testing.slack_scopes import (
        CALLS,
        EVENT_SCOPES,
        METHOD_SCOPES,
        api_methods,
        manifest,
        manifest_scopes,
    )

    root = Path(__file__).resolve().parent.parent
    source = "\n".join(p.read_text() for p in (root / "adapters" / "slack").glob("*.py"))
    names = set(re.findall(r"\bclient\.([a-z]+_[A-Za-z0-9_]+)\(", source))
    names |= {n for n in CALLS if re.search(rf"\bawait {n}\(", source)}
    methods = {m for name in names for m in api_methods(name)} | {"auth.test"}  # Bolt's own call
    unknown = methods - set(METHOD_SCOPES)
    assert not unknown, (
        f"add these Web API methods and their scopes to bot/testing/slack_scopes.py: {unknown}"
    )
    needed = set().union(*(METHOD_SCOPES[m] for m in methods))
    spec = manifest()
    needed |= {
        EVENT_SCOPES[e] for e in spec["settings"]["event_subscriptions"]["bot_events"] if EVENT_SCOPES[e]
    }
    if spec["features"].get("slash_commands"):
        needed.add("commands")
    assert {"chat.postMessage", "conversations.members", "files.getUploadURLExternal"} <= methods
    assert manifest_scopes() == needed


async def test_the_fake_slack_refuses_a_call_without_its_scope(slack: FakeSlack):
    from adapters.slack.sender import make_client

    slack.scopes = slack.scopes - {"files:write"}
    client = make_client(TOKEN, slack.api_url)
    from slack_sdk.errors import SlackApiError

    with pytest.raises(SlackApiError, match="missing_scope"):
        await client.files_upload_v2(channel="D1", content=b"x", filename="x.png")


async def test_thumbs_down_with_a_reason_reaches_coach_feedback(
    tmp_path: Path, server: str, slack: FakeSlack, coach_env
):
    mention = {
        "type": "app_mention",
        "user": "U1",
        "channel": "C1",
        "ts": "1700000500.000100",
        "text": f"<@{BOT_USER}> What are the core MLOps practices?",
    }
    await event(server, mention)
    (answer,) = await slack.wait_for("chat.postMessage")
    labels = [b["text"]["text"] for b in buttons_of(answer)]
    assert labels == ["👍 Helpful", "👎 Not helpful"]
    down = next(b for b in buttons_of(answer) if json.loads(b["value"])["value"] == "bad")
    await click(server, {**answer, "ts": "1700000501.000100"}, "C1", down["value"])  # in the thread
    (ask_reason,) = await slack.wait_for("chat.postEphemeral")
    assert "What was wrong" in ask_reason["text"] and ask_reason["user"] == "U1"
    reason = {
        "type": "message",
        "channel_type": "channel",
        "user": "U1",
        "channel": "C1",
        "ts": "1700000600.000100",
        "thread_ts": "1700000500.000100",
        "text": "it should say who owns the pipelines",
    }
    await event(server, reason)
    await slack.wait_for("chat.postEphemeral", 2)

    env = {**coach_env, "COACH_DATA_DIR": str(tmp_path / "data"), "COACH_MANAGERS": "slack:UADMIN"}
    run = ["feedback", "--bad", "--json"]
    seen = await coach_cli_async(*run, "--as", "slack:UADMIN", env=env)
    assert seen.returncode == 0, seen.stderr
    payload = json.loads(seen.stdout)
    (row,) = payload["feedback"]
    assert row["question"] == "What are the core MLOps practices?" and row["rating"] == "bad"
    assert row["reason"] == "it should say who owns the pipelines" and row["learner"] == "slack:U1"
    assert "Continuous Integration" in row["reply"] and row["citations"] == ["lesson-4#mlops"]
    assert payload["passages"] == {"lesson-4#mlops": {"good": 0, "bad": 1}}
    other = await coach_cli_async(*run, "--as", "slack:U2", env=env)
    assert json.loads(other.stdout)["feedback"] == []  # nobody else sees U1's feedback


async def test_a_refused_slash_command_reply_is_undelivered_and_owned_up_to_once(
    tmp_path: Path, slack: FakeSlack
):
    """Bolt's `respond` does not raise on a refused response_url: the reply counts as undelivered, the
    user is not told twice (no apology now), and the next command says the answer may not have arrived."""
    slack.fail_next["response_url"] = [(404, {})]
    runner, server = await start_server(tmp_path, slack)
    try:
        assert await command(server, "progress", slack) == 200
        await slack.wait_for("response_url:r1!404")
        await asyncio.sleep(0.3)
        assert slack.of("response_url:r1") == [] and slack.of("chat.postEphemeral") == []  # no apology
        assert await command(server, "help", slack) == 200
        (note, *_) = await slack.wait_for("response_url:r1")
    finally:
        await runner.cleanup()
    assert "may not have reached you" in note["text"] and "“progress”" in note["text"]


async def test_a_refused_reply_is_owned_up_to_once_not_twice(server: str, slack: FakeSlack):
    """chat.postMessage refused: no apology now (it would say "try again" about a message already taken
    in) and one note on the next message."""
    slack.errors_next["chat.postMessage"] = ["channel_not_found"]
    assert (await event(server, dm("quiz 1")))[0] == 200
    await slack.wait_for("chat.postMessage!channel_not_found")
    await asyncio.sleep(0.3)
    assert slack.of("chat.postEphemeral") == []
    assert (await event(server, dm("progress")))[0] == 200
    posts = await slack.wait_for("chat.postMessage")
    notes = [p["text"] for p in posts if "may not have reached you" in (p.get("text") or "")]
    assert len(notes) == 1 and "“quiz 1”" in notes[0]
