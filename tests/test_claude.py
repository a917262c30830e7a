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
from flows.brains.claude import qa_system
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
        "kind": "answer",
        "credits": [
            {
                "point": "data-foundation",
                "level": "applied",
                "evidence": "sensor data siloed from the production databases",
            }
        ],
        "misconceptions": [],
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
    assert state["lab"]["levels"] == {"data-foundation": "applied"}
    assert state["lab"]["focus"] == "talent-skills"

    first, second = (r["body"] for r in fake.requests)
    assert first["tools"][0]["cache_control"] == {"type": "ephemeral"}
    schema = first["tools"][0]["input_schema"]
    assert schema["additionalProperties"] is False and schema["properties"]["credits"]["maxItems"] == 2
    assert schema["properties"]["credits"]["items"]["properties"]["level"]["enum"] == [
        "mentioned",
        "explained",
        "applied",
    ]
    wrong_ids = schema["properties"]["misconceptions"]["items"]["properties"]["id"]["enum"]
    assert "more-pilots" in wrong_ids
    assert first["tool_choice"] == {"type": "tool", "name": "assess_turn"}
    system = first["system"][0]
    assert system["cache_control"] == {"type": "ephemeral"}
    lab = course.lab(1)
    assert lab.scenario in system["text"] and lab.coach_name in system["text"]
    _, section = course.passage(lab.point("data-foundation").passage)
    assert section.items[0].text in system["text"]  # the retrieved lesson passage is in the prefix
    point = lab.point("data-foundation")  # the same knowledge the offline coach is fitted on
    assert point.examples[0] in system["text"] and point.misconceptions[0].correction in system["text"]
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
        assessment(
            credits=[{"point": "leadership", "level": "applied", "evidence": "the CEO funds it generously"}]
        )
    )
    await claude_coach.handle(inbound("ana", TURN))
    assert (await claude_coach.state("console:ana"))["lab"]["covered"] == {}


@pytest.mark.parametrize(
    "failure",
    [
        Outcome(status=529),
        Outcome(status=429),
        Outcome(status=500),
        Outcome(delay_s=3.0, tool_input={"kind": "answer", "credits": [], "focus": None, "message": "late"}),
        Outcome(tool_input={"credits": "everything", "message": 42}),
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


async def test_question_prefix_is_long_enough_to_cache_and_carries_shaped_units(
    claude_coach: Coach, fake: FakeAnthropic, caplog
):
    from flows.brains.claude import estimated_tokens

    fake.script.append(Outcome(text="• Continuous Integration [1]"))
    fake.script.append(Outcome(text="• Specialists [1]"))
    with caplog.at_level("INFO", logger="coach.claude"):
        await claude_coach.handle(inbound("ana", "What are the core MLOps practices?"))
        await claude_coach.handle(inbound("bob", "What are the three talent tiers?"))
    first, second = (r["body"] for r in fake.requests[-2:])
    assert first["system"] == second["system"]  # byte-identical prefix for every question
    assert estimated_tokens(first["system"][0]["text"]) >= 4096
    content = first["messages"][0]["content"]
    assert "Answer units" in content and "Continuous Monitoring" in content
    assert "cache_read_input_tokens=1000" in caplog.text and "hit rate" in caplog.text


async def test_a_misconception_claude_reports_is_corrected_first_with_its_citation(
    claude_coach: Coach, fake: FakeAnthropic, course: Course
):
    await claude_coach.handle(inbound("ana", "lab 1"))
    said = "Honestly, just buy more pilots until one sticks."
    fake.script.append(
        assessment(
            credits=[],
            misconceptions=[{"id": "more-pilots", "evidence": "buy more pilots until one sticks"}],
            focus="prioritized-recommendation",
            message="So what would you fund first instead? [from Claude]",
        )
    )
    reply = (await claude_coach.handle(inbound("ana", said)))[-1]
    _, wrong = course.lab(1).misconception("more-pilots")
    assert reply.text.startswith("Let me correct one thing first") and wrong.correction in reply.text
    assert reply.text.index(wrong.correction) < reply.text.index("[from Claude]")
    assert any(c.passage == wrong.passage for c in reply.citations)
    assert (await claude_coach.state("console:ana"))["lab"]["levels"] == {}


async def test_a_lab_turn_over_its_budget_falls_back(deps: Deps, fake: FakeAnthropic, tmp_path: Path):
    from flows.brains import FallbackBrain
    from flows.brains.claude import ClaudeBrain
    from flows.brains.offline import OfflineBrain

    claude = ClaudeBrain(
        "sk-ant-test-key", "claude-test", fake.url, timeout_s=10, max_retries=0, turn_budget_s=0.5
    )
    deps.brain = FallbackBrain(claude, OfflineBrain())
    async with Coach.open(deps, tmp_path / "cp.db") as coach:
        await coach.handle(inbound("ana", "lab 1"))
        fake.script.append(Outcome(delay_s=1.5, tool_input={"message": "late"}))
        reply = (await coach.handle(inbound("ana", TURN)))[-1]
    assert "late" not in reply.text and deps.brain.fallbacks == 1


def test_the_course_outline_names_each_document_once(course: Course) -> None:
    """The cached Q&A prefix heads each document with its name, the title not repeated."""
    headers = [line for line in qa_system(course).split("\n\n") if line.startswith("### ")]
    assert len(headers) == len(course.lessons) + len(course.readings)
    for doc in course.readings:
        assert f"### Supplementary reading: {doc.title}" in headers


async def test_requests_are_the_ones_the_sdks_messages_create_sends(fake: FakeAnthropic, course: Course):
    """The stable part of a request is encoded once (`RequestHead`): the body is still the JSON that
    `messages.create` sends for the same fields, with the same headers."""
    from flows.brains.base import LabContext, QAContext
    from flows.brains.claude import CACHE, LAB_TOOL, ClaudeBrain, lab_system, lab_tool

    brain = ClaudeBrain("sk-ant-test-key", "claude-test", fake.url, max_retries=0)
    lab = course.lab(1)
    fake.script += [Outcome(text="A model card [1]."), Outcome(text="A model card [1].")]
    await brain.answer(QAContext("What is a model card?", [], course=course))
    await brain.client.messages.create(
        model="claude-test",
        max_tokens=brain.max_tokens,
        system=[{"type": "text", "text": qa_system(course), "cache_control": CACHE}],
        messages=fake.requests[0]["body"]["messages"],
    )
    fake.script += [assessment(), assessment()]
    await brain.lab_turn(LabContext(lab, course, TURN, {}, None, []))
    await brain.client.messages.create(
        model="claude-test",
        max_tokens=brain.max_tokens,
        tools=[lab_tool(lab)],
        tool_choice={"type": "tool", "name": LAB_TOOL},
        system=[{"type": "text", "text": lab_system(course, lab), "cache_control": CACHE}],
        messages=fake.requests[2]["body"]["messages"],
    )
    await brain.aclose()
    ours, sdks = fake.requests[0::2], fake.requests[1::2]
    assert [r["body"] for r in ours] == [r["body"] for r in sdks]
    assert TURN in ours[1]["body"]["messages"][0]["content"]
    ignore = {"content-length", "x-stainless-retry-count", "x-stainless-read-timeout"}
    for mine, theirs in zip(ours, sdks, strict=True):
        assert {k: v for k, v in mine["headers"].items() if k not in ignore} == {
            k: v for k, v in theirs["headers"].items() if k not in ignore
        }
