"""Claude mode: the real anthropic SDK against a fake Messages API on loopback."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from adapters.console import inbound
from bot.config import Settings
from bot.conversation import Coach
from bot.testing.fake_anthropic import FakeAnthropic, Outcome
from flows.brains import make_brain
from flows.deps import Deps
from knowledge.loader import Course

TURN = "Were the pilots trained on sensor data siloed from the production databases?"


@pytest.fixture
async def fake():
    server = await FakeAnthropic().start()
    yield server
    await server.stop()


def claude_settings(fake: FakeAnthropic, **extra) -> Settings:
    values = {
        "ANTHROPIC_API_KEY": "sk-ant-test-key",
        "ANTHROPIC_BASE_URL": fake.url,
        "COACH_LLM_TIMEOUT": 2.0,
        "COACH_LLM_RETRIES": 0,
        **extra,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture
async def claude_coach(deps: Deps, fake: FakeAnthropic, tmp_path: Path):
    deps.brain = make_brain(claude_settings(fake))
    async with Coach.open(deps, tmp_path / "cp.db") as coach:
        yield coach


def assessment(
    message: str = "Good catch on the data. Who built these pilots? [from Claude]", **kw
) -> Outcome:
    payload = {
        "covered": [
            {"point": "data-foundation", "evidence": "sensor data siloed from the production databases"}
        ],
        "focus": "talent-skills",
        "message": message,
    }
    return Outcome(tool_input={**payload, **kw})


async def test_lab_turn_uses_a_cached_prefix_and_a_tool_schema(
    claude_coach: Coach, fake: FakeAnthropic, course: Course
):
    await claude_coach.handle(inbound("ana", "lab 1"))
    await claude_coach.handle(inbound("ben", "lab 1"))
    fake.script += [assessment(), assessment()]
    reply = (await claude_coach.handle(inbound("ana", TURN)))[-1]
    await claude_coach.handle(inbound("ben", TURN))

    assert "[from Claude]" in reply.text
    assert reply.citations[0].passage == course.lab(1).point("talent-skills").passage
    state = await claude_coach.state("console:ana")
    assert state["lab"]["covered"] == {"data-foundation": "sensor data siloed from the production databases"}
    assert state["lab"]["focus"] == "talent-skills"

    first, second = (r["body"] for r in fake.requests)
    assert first["tools"][0]["cache_control"] == {"type": "ephemeral"}
    assert first["tools"][0]["input_schema"]["properties"]["covered"]["items"]["properties"]["point"]["enum"]
    assert first["tool_choice"] == {"type": "tool", "name": "assess_turn"}
    system = first["system"][0]
    assert system["cache_control"] == {"type": "ephemeral"}
    lab = course.lab(1)
    assert lab.scenario in system["text"] and lab.coach_name in system["text"]
    _, section = course.passage(lab.point("data-foundation").passage)
    assert section.items[0].text in system["text"]  # the retrieved lesson passage is in the prefix
    # identical prefix for two learners: the cache is shared; the learner's words come after it
    assert first["system"] == second["system"] and first["tools"] == second["tools"]
    assert TURN in first["messages"][-1]["content"] and TURN not in system["text"]
    headers = fake.requests[0]["headers"]  # this SDK version sends the key as a bearer token
    assert "sk-ant-test-key" in (headers.get("x-api-key", "") + headers.get("authorization", ""))


async def test_coverage_claimed_without_the_learners_words_is_not_counted(
    claude_coach: Coach, fake: FakeAnthropic
):
    await claude_coach.handle(inbound("ana", "lab 1"))
    fake.script.append(
        assessment(covered=[{"point": "leadership", "evidence": "the CEO funds it generously"}])
    )
    await claude_coach.handle(inbound("ana", TURN))
    assert (await claude_coach.state("console:ana"))["lab"]["covered"] == {}


@pytest.mark.parametrize(
    "failure",
    [
        Outcome(status=529),
        Outcome(status=429),
        Outcome(status=500),
        Outcome(delay_s=3.0, tool_input={"covered": [], "focus": None, "message": "too late"}),
        Outcome(tool_input={"covered": "everything", "message": 42}),
        Outcome(text="I would rather chat than call the tool."),
    ],
    ids=["529", "429", "500", "timeout", "malformed", "no-tool-call"],
)
async def test_failures_fall_back_to_the_offline_coach(
    claude_coach: Coach, fake: FakeAnthropic, course: Course, failure: Outcome, caplog
):
    await claude_coach.handle(inbound("ana", "lab 1"))
    fake.script.append(failure)
    with caplog.at_level(logging.WARNING, logger="coach.brain"):
        reply = (await claude_coach.handle(inbound("ana", TURN)))[-1]
    assert course.lab(1).point("talent-skills").probe in reply.text  # the offline coach's probe
    assert any("brain fallback" in r.getMessage() for r in caplog.records)
    state = await claude_coach.state("console:ana")
    assert "data-foundation" in state["lab"]["covered"] and state["lab"]["turns"] == 1
    row = max(claude_coach.deps.store.messages(), key=lambda r: r["id"])
    assert row["text"] == TURN and row["status"] == "answered"


async def test_sdk_retries_an_overloaded_api_before_falling_back(
    deps: Deps, fake: FakeAnthropic, tmp_path: Path
):
    deps.brain = make_brain(claude_settings(fake, COACH_LLM_RETRIES=1))
    async with Coach.open(deps, tmp_path / "cp.db") as coach:
        await coach.handle(inbound("ana", "lab 1"))
        fake.script += [Outcome(status=529), assessment()]
        reply = (await coach.handle(inbound("ana", TURN)))[-1]
    assert "[from Claude]" in reply.text
    assert len(fake.requests) == 2


async def test_question_answered_by_claude_from_the_retrieved_passages(
    claude_coach: Coach, fake: FakeAnthropic
):
    fake.script.append(Outcome(text="A model card documents a model's intended use and limits [2]."))
    reply = (await claude_coach.handle(inbound("ana", "What is a model card?")))[-1]
    body = fake.requests[0]["body"]
    assert "Model Card" in body["messages"][0]["content"]  # the passages travel with the question
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert reply.text.endswith("[1].") and reply.citations[0].number == 1
    assert reply.citations[0].passage.startswith("lesson-2")


async def test_offline_is_the_default_without_a_key():
    brain = make_brain(Settings(_env_file=None))
    assert brain.name == "offline" and not brain.remote
