"""Managers' nudges as they hold up over weeks: the real server (signed Slack events and clicks), real
`coach clock --once --now …` processes on a controllable clock, and the strict fake Slack Web API."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app import Runtime
from bot.cli import app as coach_cli
from bot.config import Settings
from bot.managers.wording import parse_schedule
from bot.server import create_app
from bot.testing import serve_on_loopback
from bot.testing.fake_slack import FakeSlack
from flows.router import parse_nudge_request
from knowledge.loader import Course
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
    fake.channels = {"CSALES": ["UANA", "UBEN", "UCY", "UDEE", "UMGR"]}  # Mia manages from inside it
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
    """One `coach clock --once` pass acting at `now`: the command itself, run in this process on a
    thread (the fake Slack keeps serving meanwhile). A new process per pass cost seconds of imports;
    tests/test_nudges.py runs the clock as a real process, killed mid-run."""
    unset = {k: None for k in os.environ if k.startswith(("ANTHROPIC", "SLACK", "Microsoft", "COACH"))}
    result = await asyncio.to_thread(
        CliRunner().invoke, coach_cli, ["clock", "--once", "--now", now.isoformat()], env={**unset, **env}
    )
    assert result.exit_code == 0, result.output
    return result.output


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


async def say(url: str, slack: FakeSlack, user: str, text: str) -> str:
    """DM the bot as `user` through a signed event; the bot's next message there."""
    channel = f"D{user[1:]}"
    before = len(posts(slack, channel))
    await event(url, dm(text, user))
    return (await said(slack, channel, before + 1))[before]


# -- 1. the digest arrives -------------------------------------------------------------------------


async def test_digest_text_always_arrives_and_failures_reach_the_admin(
    slack: FakeSlack, coach_env, tmp_path: Path
):
    clock = Clock(MONDAY_9 - timedelta(days=1))
    env = clock_env(coach_env, slack)
    async with served(tmp_path, slack, clock) as (url, _):
        made = await say(url, slack, "UMGR", "nudges mon 9am for <@UANA> <@UBEN>")
        schedule = made.split("`")[1]
    week = [MONDAY_9 + timedelta(days=7 * n, minutes=1) for n in range(4)]
    await run_clock(env, week[0])
    # the chart upload fails: the text still goes, and a pointer to `report` replaces the chart
    slack.errors_next["files.getUploadURLExternal"] = ["internal_error"]
    await run_clock(env, week[1])
    texts = await said(slack, "DMGR", 3)
    assert "Weekly practice digest" in texts[1] and "Ana Lima: 0 of 3 answered" in texts[1]
    assert f"Say *report {schedule}* to see it" in texts[2]
    assert not slack.of("files.completeUploadExternal")
    # the manager's DM cannot be opened once: retried with backoff, then it arrives with its chart
    slack.refuse_next["UMGR"] = ["internal_error"]
    assert "digests 0" in await run_clock(env, week[2])
    assert len(posts(slack, "DMGR")) == 3
    assert "digests 1" in await run_clock(env, week[2] + timedelta(minutes=3))
    assert "week of 2026-11-30" in (await said(slack, "DMGR", 4))[3]
    assert slack.of("files.completeUploadExternal")[0]["channel_id"] == "DMGR"
    # the manager is gone for good: the admin hears about it
    slack.refuse_users["UMGR"] = "user_not_found"
    await run_clock(env, week[3])
    (alert,) = await said(slack, "DADM", 1)
    assert "could not be delivered" in alert and schedule in alert and "user_not_found" in alert
    db = sqlite3.connect(tmp_path / "data" / "coach.db")
    statuses = db.execute("SELECT week, status, chart FROM nudge_digests ORDER BY week").fetchall()
    assert statuses == [
        ("2026-11-23", "sent", "pointer"),
        ("2026-11-30", "sent", "sent"),
        ("2026-12-07", "failed", None),
    ]


# -- 2. scheduling ----------------------------------------------------------------------------------


async def test_scheduling_replies_even_when_the_roster_fails_and_send_now_counts_this_week(
    slack: FakeSlack, coach_env, tmp_path: Path
):
    clock = Clock(MONDAY_9 + timedelta(days=1))  # a Tuesday
    async with served(tmp_path, slack, clock) as (url, _):
        refused = await say(url, slack, "UMGR", "nudges weekly mon 09:00 Europe/Berlin for <#CSECRET|secret>")
        assert "couldn't read the members of #secret" in refused and "channel_not_found" in refused
        made = await say(url, slack, "UMGR", "nudges weekly mon 09:00 Europe/Berlin for <#CSALES|sales>")
        assert "First send: Monday 30 November 2026, 09:00 Europe/Berlin" in made
        schedule = made.split("`")[1]
        sent = await say(url, slack, "UMGR", f"nudges send-now {schedule}")
        assert "Sending now: 4 nudge(s)" in sent and "week of 2026-11-23" in sent
        await said(slack, "DANA", 4)
        again = await say(url, slack, "UMGR", f"nudges send-now {schedule}")
        assert "already went to #sales" in again and len(posts(slack, "DANA")) == 4
        before = len(slack.of("files.completeUploadExternal"))
        await event(url, dm(f"report {schedule}", "UMGR"))
        report = (await slack.wait_for("files.completeUploadExternal", before + 1))[-1]["initial_comment"]
        assert "week of 2026-11-23 — in progress" in report and "manual" not in report
    # the send-now week gets its digest when the first weekly window opens
    await run_clock(clock_env(coach_env, slack), datetime(2026, 11, 30, 8, 1, tzinfo=UTC))
    digest = (await said(slack, "DMGR", 5))[4]
    assert "Weekly practice digest · #sales · week of 2026-11-23" in digest


# -- 3. weekly spacing across teams ---------------------------------------------------------------


async def test_a_member_of_two_teams_never_gets_a_question_twice_in_a_week(
    slack: FakeSlack, coach_env, tmp_path: Path
):
    clock = Clock(MONDAY_9 - timedelta(days=1))
    async with served(tmp_path, slack, clock) as (url, _):
        await say(url, slack, "UMGR", "nudges mon 9am for <@UANA> <@UBEN>")
        await say(url, slack, "UADM", "nudges mon 9am for <@UANA>")
    await run_clock(clock_env(coach_env, slack), MONDAY_9 + timedelta(minutes=1))
    ana = questions_sent(slack, "DANA")
    assert len(ana) == 6 and len(asked(ana)) == 6  # two sets, six different questions


# -- 4 and 6: opting out, late answers ----------------------------------------------------------


async def test_pause_resume_and_why_keep_history(slack: FakeSlack, coach_env, tmp_path: Path):
    clock = Clock(MONDAY_9 - timedelta(days=1))
    env = clock_env(coach_env, slack)
    async with served(tmp_path, slack, clock) as (url, _):
        await say(url, slack, "UMGR", "nudges mon 9am for <@UANA> <@UBEN>")
        assert "not on any team" not in await say(url, slack, "UANA", "why am I getting these?")
        assert "not on any team" in await say(url, slack, "UCY", "why do I get these questions")
        paused = await say(url, slack, "UANA", "pause nudges for 2 weeks")
        assert "until Sunday 06 December" in paused
    await run_clock(env, MONDAY_9 + timedelta(minutes=1))
    await run_clock(env, MONDAY_9 + timedelta(days=7, minutes=1))
    assert not questions_sent(slack, "DANA")
    await run_clock(env, MONDAY_9 + timedelta(days=14, minutes=1))
    assert len(questions_sent(slack, "DANA")) == 3  # the pause is over
    digest = (await said(slack, "DMGR", 3))[2]
    assert "Ana Lima: opted out (paused until 2026-12-06)" in digest
    db = sqlite3.connect(tmp_path / "data" / "coach.db")
    assert db.execute("SELECT count(*) FROM nudge_optouts WHERE member = 'slack:UANA'").fetchone() == (1,)


# -- 5. team editing, admins ------------------------------------------------------------------------


async def test_teams_are_edited_and_admins_keep_control(slack: FakeSlack, coach_env, tmp_path: Path):
    clock = Clock(MONDAY_9 - timedelta(days=1))
    env = clock_env(coach_env, slack)
    slack.users["UBOSS"] = {"id": "UBOSS", "profile": {"real_name": "Bo Boss"}}
    async with served(tmp_path, slack, clock) as (url, _):
        added = await say(url, slack, "UADM", "managers add <@UBOSS>")
        assert "Added 1 manager" in added and "told 1" in added
        assert "You're now a manager" in (await said(slack, "DBOSS", 1))[0]
        slack.channels["CSALES"] = ["UANA", "UBEN", "UCY", "UDEE", "UBOSS"]  # Bo manages from inside it
        made = await say(url, slack, "UBOSS", 'nudges fridays 4pm for <#CSALES|sales> as "Sales EMEA"')
        schedule = made.split("`")[1]
        assert "Added UNEW to Sales EMEA: now 5" in await say(
            url, slack, "UBOSS", f"nudges add <@UNEW> {schedule}"
        )
        removed = await say(url, slack, "UBOSS", f"nudges remove <@UCY> {schedule}")
        assert "Removed Cy Park from Sales EMEA: now 4" in removed
        assert "no nudge with id" in await say(url, slack, "UMGR", f"nudges remove <@UANA> {schedule}")
    # by Friday Ben has left the channel and Zed joined; Dee's account was deactivated
    slack.channels["CSALES"] = ["UANA", "UCY", "UDEE", "UZED"]
    slack.refuse_users["UDEE"] = "account_inactive"
    friday = datetime(2026, 11, 27, 16, 1, tzinfo=UTC)
    await run_clock(env, friday)
    sent_to = {c for c in ("DANA", "DBEN", "DCY", "DDEE", "DNEW", "DZED") if questions_sent(slack, c)}
    assert sent_to == {"DANA", "DNEW", "DZED"}  # Cy stays removed by hand; Ben left; Dee is gone
    await run_clock(env, friday + timedelta(days=7))
    digest = (await said(slack, "DBOSS", 5))[4]
    assert "*Team changes*" in digest and "Joined the channel: UZED" in digest
    assert "Left the channel: Ben Okafor" in digest
    assert "Dee Ross was dropped from the team: their account is gone (slack: account_inactive)" in digest
    async with served(tmp_path, slack, clock) as (url, _):
        every = await say(url, slack, "UADM", "nudges all")
        assert schedule in every and "manager slack:UBOSS" in every
        gone = await say(url, slack, "UADM", "managers remove <@UBOSS>")
        assert f"paused their 1 nudge schedule(s): `{schedule}` (Sales EMEA)" in gone
        assert "nudges reassign" in gone
        moved = await say(url, slack, "UADM", f"nudges reassign {schedule} <@UMGR>")
        assert "now belongs to slack:UMGR and is active" in moved
        assert "You now manage the weekly nudges for Sales EMEA" in (await said(slack, "DMGR", 1))[-1]
        assert schedule in await say(url, slack, "UMGR", "nudges list")


# -- 7. reminders -------------------------------------------------------------------------------------


async def test_one_mid_week_reminder_to_those_who_have_not_answered(
    slack: FakeSlack, course: Course, coach_env, tmp_path: Path
):
    clock = Clock(MONDAY_9 - timedelta(days=1))
    env = clock_env(coach_env, slack)
    async with served(tmp_path, slack, clock) as (url, _):
        made = await say(url, slack, "UMGR", "nudges mon 9am for <@UANA> <@UBEN>")
        schedule = made.split("`")[1]
        assert "one reminder 2 day(s)" in await say(url, slack, "UMGR", f"nudges remind {schedule} on")
        await run_clock(env, MONDAY_9 + timedelta(minutes=1))
        clock.now = MONDAY_9 + timedelta(hours=1)
        await answer_all(url, slack, course, "UANA", questions_sent(slack, "DANA"), right=True)
    await run_clock(env, MONDAY_9 + timedelta(days=1))
    assert len(posts(slack, "DBEN")) == 4  # not yet
    await run_clock(env, MONDAY_9 + timedelta(days=2, minutes=2))
    await run_clock(env, MONDAY_9 + timedelta(days=3))
    assert "3 of your weekly practice question(s)" in posts(slack, "DBEN")[-1]["text"]
    assert len(posts(slack, "DBEN")) == 5 and len(posts(slack, "DANA")) == 4  # once, and not to Ana
