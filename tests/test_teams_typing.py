"""Teams with Claude: a typing indicator only when the answer is slow, never after the answer, so a
quick answer is one Bot Connector call (issue 17)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from adapters.teams import bot as teams_bot
from adapters.teams.bot import TypingLater
from bot.testing.fake_anthropic import FakeAnthropic, Outcome
from bot.testing.fake_connector import FakeConnector
from tests.test_teams import activity, card_of, post, start_server

DELAY_S = 0.3  # the typing delay in these tests (the real one is `TYPING_DELAY_S`)


@pytest.fixture
async def connector():
    fake = await FakeConnector().start()
    yield fake
    await fake.stop()


async def claude_server(tmp_path: Path, connector: FakeConnector, delay_s: float):
    anthropic = await FakeAnthropic().start()
    anthropic.default = Outcome(text="A model card documents a model [1].", delay_s=delay_s)
    runner, url = await start_server(
        tmp_path, ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=anthropic.url, COACH_LLM_TIMEOUT=10
    )
    warm = {"id": "a:personal-warm", "conversationType": "personal", "tenantId": "t1"}
    await post(url, activity(connector, "What is a model card?", conversation=warm))  # first-use costs
    await connector.wait_for_messages(1, timeout=30)
    connector.sent.clear()
    return anthropic, runner, url


def kinds(connector: FakeConnector) -> list[str]:
    return [s.activity.get("type") for s in connector.sent]


async def test_a_quick_claude_answer_is_one_call_with_no_typing(
    tmp_path: Path, connector: FakeConnector, monkeypatch
):
    monkeypatch.setattr(teams_bot, "TYPING_DELAY_S", DELAY_S)
    anthropic, runner, url = await claude_server(tmp_path, connector, delay_s=0.0)
    try:
        await post(url, activity(connector, "What is a model card?"))
        (answer,) = await connector.wait_for_messages(1)
        assert "A model card documents a model [1]" in card_of(answer)["body"][0]["text"]
        await asyncio.sleep(2 * DELAY_S)  # past the delay: the typing was called off, not just late
        assert kinds(connector) == ["message"]
    finally:
        await runner.cleanup()
        await anthropic.stop()


async def test_a_slow_claude_answer_has_typing_first(tmp_path: Path, connector: FakeConnector, monkeypatch):
    monkeypatch.setattr(teams_bot, "TYPING_DELAY_S", DELAY_S)
    anthropic, runner, url = await claude_server(tmp_path, connector, delay_s=3 * DELAY_S)
    try:
        status, took = await post(url, activity(connector, "What is a model card?"))
        assert status in (200, 201) and took < DELAY_S  # the ack does not wait for the typing
        await connector.wait_for_messages(1)
        assert kinds(connector) == ["typing", "message"]
    finally:
        await runner.cleanup()
        await anthropic.stop()


async def test_typing_being_sent_is_waited_for_and_one_not_due_is_called_off():
    sent: list[str] = []

    async def slow_send() -> None:
        await asyncio.sleep(0.05)
        sent.append("typing")

    typing = TypingLater(slow_send, 0.01)
    await typing.start()
    await asyncio.sleep(0.03)  # due and being sent
    await typing.settle()
    assert sent == ["typing"]  # settled only once it went out: the answer comes after it

    later = TypingLater(slow_send, 10.0)
    await later.start()
    await later.settle()
    await asyncio.sleep(0.1)
    assert sent == ["typing"]  # called off before it was due
