"""/metrics and JSON log lines through the real server on loopback: Slack and Teams turns move the
counters, no person or message text reaches them, and every bad request to /metrics gets a 4xx."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics
from bot.config import Settings
from bot.conversation import Coach
from bot.messages import Inbound
from bot.store import Store
from bot.testing.fake_anthropic import FakeAnthropic, Outcome
from bot.testing.fake_connector import FakeConnector
from bot.testing.fake_slack import FakeSlack
from flows.brains import make_brain
from flows.deps import Deps
from knowledge.loader import Course
from tests.conftest import COACH
from tests.test_nudges import clock_env, seed_schedule
from tests.test_slack import SECRET, TOKEN, dm, event
from tests.test_slack import start_server as slack_server
from tests.test_teams import activity
from tests.test_teams import post as teams_post

QUESTION = "What is pilot purgatory?"
SLACK_USER = "U7METRICS"
PRIVATE = (SLACK_USER, "D7METRICS", "29:ana", "personal-ana", "pilot purgatory", "Pilot Purgatory")
LABEL_SETS = {
    "channel": metrics.CHANNELS,
    "flow": metrics.FLOWS,
    "outcome": metrics.TURN_OUTCOMES + metrics.DELIVERY_OUTCOMES,
    "call": metrics.BRAIN_CALLS,
    "cache": ("hit", "miss"),
    "kind": ("cache_read", "cache_write", "uncached"),
}
Samples = dict[tuple[str, frozenset], float]


@pytest.fixture
async def connector():
    fake = await FakeConnector().start()
    yield fake
    await fake.stop()


@pytest.fixture(autouse=True)
def metrics_on():
    """Recording is per process: put it back on after a test that turned it off."""
    yield
    metrics.configure(True)


async def start_server(tmp_path: Path, slack: FakeSlack, **env) -> tuple[web.AppRunner, str]:
    """Slack and Teams (emulator mode) on one server."""
    return await slack_server(tmp_path, slack, COACH_TEAMS_EMULATOR="1", **env)


@pytest.fixture
async def server(tmp_path: Path, slack: FakeSlack):
    runner, url = await start_server(tmp_path, slack)
    yield url
    await runner.cleanup()


async def scrape(url: str, method: str = "GET", **headers: str) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{url}/metrics", headers=headers) as r,
    ):
        return r.status, await r.text(), r.headers.get("Content-Type", "")


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def assert_private(text: str, found: Samples) -> None:
    """No id or text of a person, and every label value from its small fixed set."""
    assert not [p for p in PRIVATE if p in text]
    for name, labels in found:
        if name.startswith("coach_"):
            for label, label_value in labels:
                if label != "le":
                    assert label_value in (*LABEL_SETS[label], "other"), (name, label, label_value)


async def test_a_slack_turn_and_a_teams_turn_move_the_counters(
    server: str, slack: FakeSlack, connector: FakeConnector
):
    status, text, content_type = await scrape(server)
    assert status == 200 and content_type.startswith("text/plain")
    before = samples(text)
    await event(server, dm(QUESTION, user=SLACK_USER))
    await slack.wait_for("chat.postMessage", 1)
    await teams_post(server, activity(connector, QUESTION))
    await connector.wait_for_messages(1)
    _, text, _ = await scrape(server)
    after = samples(text)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    for channel in ("slack", "teams"):
        assert moved("coach_turns_total", channel=channel, flow="ask", outcome="answered") == 1
        assert moved("coach_turn_seconds_count", channel=channel) == 1
        assert moved("coach_ack_seconds_count", channel=channel) >= 1
    assert_private(text, after)


async def test_a_duplicate_delivery_is_counted_as_such(server: str, slack: FakeSlack):
    before = samples((await scrape(server))[1])
    message = dm("help", user=SLACK_USER)
    await event(server, message, event_id="EvDup1")
    await slack.wait_for("chat.postMessage", 1)
    await event(server, message, event_id="EvDup1")  # the same event, delivered again
    await asyncio.sleep(0.3)
    after = samples((await scrape(server))[1])
    labels = {"channel": "slack", "flow": "none", "outcome": "duplicate"}
    assert value(after, "coach_turns_total", **labels) - value(before, "coach_turns_total", **labels) == 1


async def test_openmetrics_is_served_to_a_scraper_that_asks_for_it(server: str):
    status, text, content_type = await scrape(server, Accept="application/openmetrics-text; version=1.0.0")
    assert status == 200 and content_type.startswith("application/openmetrics-text")
    assert text.rstrip().endswith("# EOF")


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [
        ("POST", {}, 405),
        ("PUT", {}, 405),
        ("DELETE", {}, 405),
        ("GET", {"X-Forwarded-For": "203.0.113.9"}, 403),  # a proxy on this machine passing a stranger on
        ("GET", {"Forwarded": "for=203.0.113.9"}, 403),
        ("GET", {"Accept": "application/openmetrics-text; version=1.0.0; escaping=nonsense"}, 200),
        ("GET", {"Accept": "*/*;q=abc, ;;, text/plain; version=x"}, 200),
    ],
)
async def test_bad_requests_to_metrics_get_a_4xx_never_a_500(
    server: str, method: str, headers: dict[str, str], expected: int
):
    status, _, _ = await scrape(server, method, **headers)
    assert status == expected


async def test_with_a_token_only_its_bearer_may_read_the_metrics(tmp_path: Path, slack: FakeSlack):
    runner, url = await start_server(tmp_path, slack, COACH_METRICS_TOKEN="metrics-token-9f2c")
    try:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic bWV0cmljcw=="}):
            status, text, _ = await scrape(url, **headers)
            assert status == 401 and "coach_" not in text
        status, text, _ = await scrape(url, Authorization="Bearer metrics-token-9f2c")
        assert status == 200 and "coach_turns" in text
        proxied = {"Authorization": "Bearer metrics-token-9f2c", "X-Forwarded-For": "203.0.113.9"}
        status, _, _ = await scrape(url, **proxied)
        assert status == 200  # with a token, a proxy may pass the scraper on
    finally:
        await runner.cleanup()


async def test_metrics_off_serves_no_page_and_counts_nothing(tmp_path: Path, slack: FakeSlack):
    runner, url = await start_server(tmp_path, slack, COACH_METRICS="off")
    labels = {"channel": "slack", "flow": "info", "outcome": "answered"}
    before = REGISTRY.get_sample_value("coach_turns_total", labels) or 0.0
    try:
        assert (await scrape(url))[0] == 404
        await event(url, dm("help", user=SLACK_USER))
        await slack.wait_for("chat.postMessage", 1)
    finally:
        await runner.cleanup()
    assert (REGISTRY.get_sample_value("coach_turns_total", labels) or 0.0) == before


async def test_claude_cache_reads_and_brain_fallbacks_are_counted(deps: Deps, tmp_path: Path):
    fake = await FakeAnthropic().start()
    settings = Settings(
        _env_file=None, ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=fake.url, COACH_LLM_RETRIES=0
    )

    def count(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = (
        count("coach_claude_calls_total", cache="hit"),
        count("coach_claude_input_tokens_total", kind="cache_read"),
        count("coach_brain_fallbacks_total", call="answer"),
    )
    deps.brain = make_brain(settings)
    try:
        async with Coach.open(deps, tmp_path / "cp.db") as coach:
            fake.script += [Outcome(text="Pilot purgatory is stalled pilots [1]."), Outcome(status=500)]
            await coach.handle(Inbound("console", "ana", "console:ana", QUESTION))
            await coach.handle(Inbound("console", "ana", "console:ana", "What is a model card?"))
    finally:
        await fake.stop()
    after = (
        count("coach_claude_calls_total", cache="hit"),
        count("coach_claude_input_tokens_total", kind="cache_read"),
        count("coach_brain_fallbacks_total", call="answer"),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1000, 1]  # the fake reads 1000 cached


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.time() + 90  # a liveness bound, not a timing goal: the machine may be busy
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"{url}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            assert process.poll() is None and time.time() < deadline, "coach serve did not come up"
            await asyncio.sleep(0.05)


async def test_web_and_clock_processes_share_metrics_and_log_json_lines(
    slack: FakeSlack, connector: FakeConnector, course: Course, coach_env: dict[str, str], tmp_path: Path
):
    """The Procfile's two processes with one PROMETHEUS_MULTIPROC_DIR: the web server's /metrics shows
    the clock's nudges beside its own turns; both log one JSON object a line, ids and texts only in msg."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    members = [f"slack:U{i}" for i in range(1, 4)]
    store = Store(tmp_path / "data" / "coach.db")
    seed_schedule(store, course, members)
    store.close()
    env = {**clock_env(coach_env, slack), "PROMETHEUS_MULTIPROC_DIR": str(shared), "COACH_LOG_FORMAT": "json"}
    clock = await asyncio.create_subprocess_exec(
        str(COACH), "clock", "--once", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )  # not subprocess.run: the fake Slack in this event loop must keep answering it
    clock_log = (await clock.communicate())[1].decode()
    assert clock.returncode == 0, clock_log
    port = free_port()
    web_env = {**env, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "COACH_TEAMS_EMULATOR": "1"}
    serve = subprocess.Popen(
        [str(COACH), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=web_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_up(url, serve)
        posted = len(slack.of("chat.postMessage"))
        await event(url, dm(QUESTION, user=SLACK_USER))
        await slack.wait_for("chat.postMessage", posted + 1)
        await teams_post(url, activity(connector, QUESTION))
        await connector.wait_for_messages(1)
        status, text, _ = await scrape(url)
    finally:
        serve.terminate()
        web_log = serve.communicate(timeout=30)[1]
    assert status == 200
    found = samples(text)
    assert value(found, "coach_nudges_total", outcome="sent") == len(members), clock_log  # the clock
    for channel in ("slack", "teams"):
        assert value(found, "coach_turns_total", channel=channel, flow="ask", outcome="answered") == 1
    assert_private(text, found)

    lines = [line for line in (clock_log + web_log).splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
    turns = [r for r in records if r["logger"] == "coach.conversation" and r["msg"] == "turn answered"]
    assert {r["channel"] for r in turns} == {"slack", "teams"}
    assert all(r["flow"] == "ask" and r["latency_ms"] >= 0 and len(r["conversation"]) == 12 for r in turns)
    for record in records:
        fields = json.dumps({k: v for k, v in record.items() if k != "msg"})
        assert not [p for p in (*PRIVATE, *members, "xoxb-", SECRET) if p in fields], record


def test_a_missing_shared_directory_stops_the_server_with_one_line(coach_env: dict[str, str], tmp_path: Path):
    env = {**coach_env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "nowhere")}
    done = subprocess.run([str(COACH), "serve", "--port", "1"], env=env, capture_output=True, text=True)
    assert done.returncode == 1 and "PROMETHEUS_MULTIPROC_DIR" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_dead_workers_live_metric_files_are_removed(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from bot.workers import child_exit

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    for name in ("gauge_livesum_4242.db", "gauge_liveall_4242.db", "counter_4242.db", "gauge_livesum_7.db"):
        (tmp_path / name).write_bytes(b"")
    child_exit(None, SimpleNamespace(pid=4242))  # gunicorn's hook, as the master calls it
    # the dead worker's live gauges go; counters stay summed, and other workers' files are untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_4242.db", "gauge_livesum_7.db"]
