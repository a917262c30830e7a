"""Managers' nudges as they hold up over weeks: the real server (signed Slack events and clicks), real
`coach clock --once --now …` processes on a controllable clock, and the strict fake Slack Web API."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.config import Settings
from bot.managers.wording import parse_schedule
from bot.server import create_app
from bot.testing import serve_on_loopback
from bot.testing.fake_slack import FakeSlack
from flows.router import parse_nudge_request
from knowledge.loader import Course
from tests.conftest import COACH
from tests.test_nudges import Clock
from tests.test_slack import SECRET, TOKEN, buttons_of, click, dm, event

MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
PEOPLE = {
    "UMGR": "Mia Manager",
    "UADM": "Ada Admin",
    "UANA": "Ana Lima",  # answers everything right
    "UBEN": "Ben Okafor",  # answers everything wrong
    "UCY": "Cy Park",  # never answers
    "UDEE": "Dee Ross",  # opts out after the first week
}


@pytest.fixture
async def slack():
    fake = await FakeSlack().start()
    fake.users = {u: {"id": u, "name": u.lower(), "profile": {"real_name": n}} for u, n in PEOPLE.items()}
    fake.channels = {"CSALES": ["UANA", "UBEN", "UCY", "UDEE"]}
    yield fake
    await fake.stop()


@asynccontextmanager
async def served(tmp_path: Path, slack: FakeSlack, clock: Clock) -> AsyncIterator[tuple[str, Runtime]]:
    """The real web app on loopback, its time set by `clock`."""
    settings = Settings(
        _env_file=None,
        COACH_DATA_DIR=tmp_path / "data",
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.api_url,
        COACH_MANAGERS="slack:UMGR,slack:UADM",
    )
    runtime = Runtime(settings)
    runtime.deps.clock = clock
    runner, url = await serve_on_loopback(create_app(runtime))
    try:
        yield url, runtime
    finally:
        await runner.cleanup()


def clock_env(coach_env: dict[str, str], slack: FakeSlack) -> dict[str, str]:
    return {
        **coach_env,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "COACH_MANAGERS": "slack:UMGR,slack:UADM",
    }


async def run_clock(env: dict[str, str], now: datetime) -> str:
    """One `coach clock --once` process acting at `now` (the fake Slack keeps serving meanwhile)."""
    process = subprocess.Popen(
        [str(COACH), "clock", "--once", "--now", now.isoformat()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    while process.poll() is None:
        await asyncio.sleep(0.05)
    output = process.stdout.read() if process.stdout else ""
    assert process.returncode == 0, output
    return output


def posts(slack: FakeSlack, channel: str) -> list[dict]:
    return [m for m in slack.of("chat.postMessage") if m["channel"] == channel]


async def said(slack: FakeSlack, channel: str, count: int, timeout: float = 10.0) -> list[str]:
    """The texts posted to `channel`, once there are at least `count`."""
    for _ in range(int(timeout / 0.02)):
        if len(posts(slack, channel)) >= count:
            await asyncio.sleep(0.05)
            return [m["text"] for m in posts(slack, channel)]
        await asyncio.sleep(0.02)
    raise AssertionError(
        f"{channel}: expected {count} posts, got {[m['text'] for m in posts(slack, channel)]}"
    )


def questions_sent(slack: FakeSlack, channel: str, since: int = 0) -> list[dict]:
    """The question messages (with buttons) posted to a member's DM, from post number `since`."""
    return [m for m in posts(slack, channel)[since:] if buttons_of(m)]


async def answer_all(
    url: str, slack: FakeSlack, course: Course, user: str, messages: list[dict], right: bool
):
    for message in messages:
        buttons = buttons_of(message)
        values = [json.loads(b["value"]) for b in buttons]
        answer = course.question(values[0]["question"]).answer
        pick = next(b for b, v in zip(buttons, values, strict=True) if (v["value"] == answer) == right)
        updates = len(slack.of("chat.update"))
        await click(url, {**message, "ts": "1700000000.000009"}, f"D{user[1:]}", pick["value"], user)
        await slack.wait_for("chat.update", updates + 1)


def asked(messages: list[dict]) -> set[str]:
    return {json.loads(buttons_of(m)[0]["value"])["question"] for m in messages}


# -- wording ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "day", "at"),
    [
        ("weekly mon 09:00 Europe/Berlin for #sales", 0, "09:00"),
        ("mon 9am for #sales", 0, "09:00"),
        ("every monday at 09:00 for #sales", 0, "09:00"),
        ("fridays 4pm for #sales", 4, "16:00"),
        ("monday 9am for #sales", 0, "09:00"),
        ("weekly on Tuesdays at 12:30 pm for @ana", 1, "12:30"),
    ],
)
def test_schedule_wording_is_forgiving(text: str, day: int, at: str):
    request = parse_schedule(text)
    assert not isinstance(request, str), request
    assert (request.weekday, request.at) == (day, at)


@pytest.mark.parametrize(
    ("text", "verb"),
    [
        ("stop nudges", "stop"),
        ("Stop sending me these!", "stop"),
        ("unsubscribe", "stop"),
        ("please stop the weekly questions", "stop"),
        ("I don't want these any more", "stop"),
        ("pause nudges for 2 weeks", "pause"),
        ("snooze these for a week", "pause"),
        ("why am I getting these?", "why"),
        ("Why do I get these questions?", "why"),
        ("who signed me up for this?", "why"),
        ("resume nudges", "resume"),
    ],
)
def test_members_say_it_in_their_own_words(text: str, verb: str):
    assert (parse_nudge_request(text) or {}).get("text") == verb


@pytest.mark.parametrize(
    "text", ["why is data governance important?", "stop", "what is a model card?", "pause", "b"]
)
def test_other_messages_are_not_nudge_requests(text: str):
    assert parse_nudge_request(text) is None


# -- the three-week scenario -----------------------------------------------------------------------


async def test_three_weeks_of_a_team(slack: FakeSlack, course: Course, coach_env, tmp_path: Path):
    """Manager Mia schedules #sales; Ana answers all right, Ben all wrong, Cy never, Dee opts out."""
    clock = Clock(MONDAY_9 - timedelta(days=1))
    env = clock_env(coach_env, slack)
    async with served(tmp_path, slack, clock) as (url, _):
        await event(url, dm('nudges every monday at 9am UTC for <#CSALES|sales> as "Sales EMEA"', "UMGR"))
        (confirm,) = await said(slack, "DMGR", 1)
        assert "*Sales EMEA*" in confirm and "every Monday at 09:00 UTC" in confirm
        assert "Members (4): Ana Lima, Ben Okafor, Cy Park, Dee Ross" in confirm
        assert "First send: Monday 23 November 2026, 09:00 UTC" in confirm
        schedule = confirm.split("`")[1]

        # week 1: everyone gets an intro and three questions
        await run_clock(env, MONDAY_9 + timedelta(minutes=1))
        assert {c: len(posts(slack, c)) for c in ("DANA", "DBEN", "DCY", "DDEE")} == dict.fromkeys(
            ("DANA", "DBEN", "DCY", "DDEE"), 4
        )
        week1 = {u: questions_sent(slack, f"D{u[1:]}") for u in ("UANA", "UBEN", "UCY")}
        clock.now = MONDAY_9 + timedelta(hours=2)
        await answer_all(url, slack, course, "UANA", week1["UANA"], right=True)
        await answer_all(url, slack, course, "UBEN", week1["UBEN"], right=False)
        await event(url, dm("why am I getting these?", "UDEE"))
        why = (await said(slack, "DDEE", 5))[-1]
        assert "Mia Manager scheduled them for *Sales EMEA*" in why and "every Monday at 09:00 UTC" in why
        assert "stop nudges" in why
        await event(url, dm("Stop sending me these", "UDEE"))
        stopped = (await said(slack, "DDEE", 6))[-1]
        assert "no more weekly practice questions" in stopped and "kept" in stopped
        # the manager looks mid-week: the week is shown as in progress, not as "0%"
        clock.now = MONDAY_9 + timedelta(days=2)
        await event(url, dm(f"report {schedule}", "UMGR"))
        mid = (await slack.wait_for("files.completeUploadExternal"))[0]["initial_comment"]
        assert "in progress" in mid and "5 day(s) left" in mid and "2 of 4 finished" in mid

        # week 2: the digest of week 1 arrives; right answers stay away, wrong ones come back
        await run_clock(env, MONDAY_9 + timedelta(days=7, minutes=1))
        digest1 = (await said(slack, "DMGR", 2))[1]
        assert "Weekly practice digest · Sales EMEA · week of 2026-11-23" in digest1
        assert "2 of 4 finished their set (50%)" in digest1
        assert "• Ana Lima: 3 of 3 answered, 3 right" in digest1 and "• Cy Park: 0 of 3 answered" in digest1
        week2 = {u: questions_sent(slack, f"D{u[1:]}", 4) for u in ("UANA", "UBEN", "UCY")}
        assert asked(week2["UANA"]).isdisjoint(asked(week1["UANA"]))
        assert asked(week2["UBEN"]) == asked(week1["UBEN"])
        assert len(posts(slack, "DDEE")) == 6  # opted out: nothing new
        # Cy answers last week's question late: told so, nothing counted
        clock.now = MONDAY_9 + timedelta(days=7, hours=3)
        await click(
            url, {**week1["UCY"][0], "ts": "1.1"}, "DCY", buttons_of(week1["UCY"][0])[0]["value"], "UCY"
        )
        (late,) = await slack.wait_for("chat.postEphemeral")
        assert "closed when the next week's questions went out" in late["text"]
        await answer_all(url, slack, course, "UANA", week2["UANA"], right=True)
        await answer_all(url, slack, course, "UBEN", week2["UBEN"], right=False)

        # week 3
        await run_clock(env, MONDAY_9 + timedelta(days=14, minutes=1))
        digest2 = (await said(slack, "DMGR", 3))[2]
        assert "• Cy Park: no answers two weeks in a row" in digest2
        assert "• Dee Ross: opted out (stopped)" in digest2 and "*Opted out:* Dee Ross" in digest2
        assert "Completion over the last 2 weeks: 50% → 67%" in digest2
        assert "*Three weakest questions*" in digest2 and "revisit *Lesson" in digest2
        week3 = {u: questions_sent(slack, f"D{u[1:]}", 8) for u in ("UANA", "UBEN")}
        assert asked(week3["UANA"]).isdisjoint(asked(week1["UANA"]) | asked(week2["UANA"]))
        assert asked(week3["UBEN"]) == asked(week1["UBEN"])
        clock.now = MONDAY_9 + timedelta(days=14, hours=1)
        await answer_all(url, slack, course, "UANA", week3["UANA"], right=True)
        await answer_all(url, slack, course, "UBEN", week3["UBEN"], right=False)

        # the week-3 digest goes out when week 4 starts
        await run_clock(env, MONDAY_9 + timedelta(days=21, minutes=1))
        digest3 = (await said(slack, "DMGR", 4))[3]
    assert "Completion over the last 3 weeks: 50% → 67% → 67%" in digest3
    assert "• Ben Okafor: Lesson" in digest3 and "• Cy Park: no answers two weeks in a row" in digest3
    assert "• Ana Lima: 3 of 3 answered, 3 right" in digest3
    charts = slack.of("files.completeUploadExternal")
    assert len(charts) == 4 and all(c["channel_id"] == "DMGR" for c in charts)
    png = list(slack.uploads.values())[-1]
    assert png.startswith(b"\x89PNG")
    if os.environ.get("COACH_SAVE_DIGEST"):  # to look at it: COACH_SAVE_DIGEST=/tmp/digest.png
        Path(os.environ["COACH_SAVE_DIGEST"]).write_bytes(png)
    # nobody got two sets in a week, and Dee got only the first
    for user, sets in (("DANA", 4), ("DBEN", 4), ("DCY", 4), ("DDEE", 1)):
        intros = [t for t in (m["text"] for m in posts(slack, user)) if "Your weekly practice" in t]
        assert len(intros) == sets, (user, intros)
