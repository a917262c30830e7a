"""Managers' nudges in Teams, where Teams behaves differently from Slack: rosters from the team (paged),
Teams names, 1:1 chats created for members who never talked to the coach, charts inline in a card.

The real server in emulator mode (Bot Framework activities over loopback HTTP), the real
`coach clock --once --now …` command (in-process), and the strict fake Bot Connector."""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import json
import random
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from bot.app import Runtime
from bot.config import Settings
from bot.server import create_app
from bot.testing import serve_on_loopback
from bot.testing.fake_connector import FakeConnector, Sent
from knowledge.loader import Course
from tests.conftest import coach_cli_async
from tests.test_nudges import Clock

MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
BOT = {"id": "28:coach-bot", "name": "coach"}
TEAM = {"id": "19:sales@thread.tacv2", "name": "Sales"}
CHANNEL = {"id": f"{TEAM['id']};messageid=1700000000", "conversationType": "channel", "tenantId": "t1"}
PEOPLE = {
    "29:mgr": "Mia Manager",
    "29:ana": "Ana Lima",  # talked to the coach before: has a 1:1 chat
    "29:ben": "Ben Okafor",  # never did: a 1:1 chat is created for him
    "29:cy": "Cy Park",
    "29:dee": "Dee Ross",
}
ADMIN = "teams:29:mgr"
_ids = itertools.count(1)


def member(user: str, name: str) -> dict:
    return {
        "id": user,
        "name": name,
        "aadObjectId": f"aad-{user[3:]}",
        "userPrincipalName": f"{user[3:]}@example.com",
        "tenantId": "t1",
        "userRole": "user",
    }


@pytest.fixture
async def connector():
    fake = await FakeConnector().start()
    fake.teams = {TEAM["id"]: [member(u, n) for u, n in PEOPLE.items()]}
    fake.page_limit = 2  # Teams may return fewer members than asked: the roster is read page by page
    yield fake
    await fake.stop()


@asynccontextmanager
async def served(tmp_path: Path, clock: Clock) -> AsyncIterator[str]:
    settings = Settings(
        _env_file=None, COACH_DATA_DIR=tmp_path / "data", COACH_TEAMS_EMULATOR="1", COACH_MANAGERS=ADMIN
    )
    runtime = Runtime(settings)
    runtime.deps.clock = clock
    runner, url = await serve_on_loopback(create_app(runtime))
    try:
        yield url
    finally:
        await runner.cleanup()


def teams_env(coach_env: dict[str, str]) -> dict[str, str]:
    return {**coach_env, "COACH_TEAMS_EMULATOR": "1", "COACH_MANAGERS": ADMIN}


async def run(env: dict[str, str], *args: str) -> str:
    """One `coach …` command, in-process (the fake connector keeps serving meanwhile)."""
    done = await coach_cli_async(*args, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


async def run_clock(env: dict[str, str], now: datetime) -> str:
    return await run(env, "clock", "--once", "--now", now.isoformat())


def personal(user: str) -> dict:
    return {"id": f"a:personal-{user[3:]}", "conversationType": "personal", "tenantId": "t1"}


async def says(
    url: str, connector: FakeConnector, user: str, text: str | None, conversation: dict, **extra
) -> None:
    """Post one activity as Teams would (emulator mode: no token)."""
    body = {
        "type": "message",
        "id": f"act-{next(_ids)}",
        "timestamp": "2026-11-23T09:00:00Z",
        "serviceUrl": connector.url,
        "channelId": "msteams",
        "from": {"id": user, "name": PEOPLE.get(user, user), "aadObjectId": f"aad-{user[3:]}"},
        "conversation": conversation,
        "recipient": BOT,
        "locale": "en-US",
        "channelData": {"tenant": {"id": "t1"}},
        **extra,
    }
    if text is not None:
        body["text"] = text
    async with aiohttp.ClientSession() as session, session.post(f"{url}/api/messages", json=body) as r:
        assert r.status in (200, 201), await r.text()


async def in_channel(url: str, connector: FakeConnector, user: str, text: str) -> Sent:
    """@mention the coach in the team's channel; its reply in the thread."""
    before = len(connector.to(CHANNEL["id"]))
    mention = {"type": "mention", "mentioned": BOT, "text": "<at>coach</at>"}
    channel_data = {"tenant": {"id": "t1"}, "team": TEAM, "channel": {"id": TEAM["id"]}}
    await says(
        url, connector, user, f"<at>coach</at> {text}", CHANNEL, entities=[mention], channelData=channel_data
    )
    return await arrives(connector, CHANNEL["id"], before + 1)


async def arrives(connector: FakeConnector, conversation: str, count: int, timeout: float = 10.0) -> Sent:
    """The `count`-th message in a conversation, once it is there."""
    for _ in range(int(timeout / 0.02)):
        if len(connector.to(conversation)) >= count:
            return connector.to(conversation)[count - 1]
        await asyncio.sleep(0.02)
    raise AssertionError(f"{conversation}: {[texts(s) for s in connector.to(conversation)]}")


def card_of(sent: Sent) -> dict | None:
    attachments = sent.activity.get("attachments") or []
    return attachments[0]["content"] if attachments else None


def texts(sent: Sent) -> str:
    card = card_of(sent)
    if card is None:
        return sent.activity.get("text") or ""
    return "\n".join(b.get("text", "") for b in card["body"] if b["type"] == "TextBlock")


def questions(connector: FakeConnector, conversation: str, since: int = 0) -> list[Sent]:
    def is_question(sent: Sent) -> bool:
        actions = (card_of(sent) or {}).get("actions") or []
        return bool(actions) and actions[0].get("data", {}).get("coach", {}).get("kind") == "answer"

    return [s for s in connector.to(conversation)[since:] if is_question(s)]


def asked(cards: list[Sent]) -> set[str]:
    return {card_of(s)["actions"][0]["data"]["coach"]["question"] for s in cards}


async def answer_all(
    url: str, connector: FakeConnector, course: Course, user: str, chat: dict, cards: list[Sent], right: bool
) -> None:
    for sent in cards:
        actions = card_of(sent)["actions"]
        answer = course.question(actions[0]["data"]["coach"]["question"]).answer
        pick = next(a for a in actions if (a["data"]["coach"]["value"] == answer) == right)
        updates = len([s for s in connector.sent if s.verb == "update"])
        await says(url, connector, user, None, chat, value=pick["data"], replyToId=f"resp-{next(_ids)}")
        for _ in range(500):  # the answered card is replaced by its feedback
            if len([s for s in connector.sent if s.verb == "update"]) > updates:
                break
            await asyncio.sleep(0.02)


def chat_of(user: str) -> dict:
    """The 1:1 chat the coach created with a member who never talked to it."""
    return {"id": f"a:1:{user}", "conversationType": "personal", "tenantId": "t1"}


# -- the three weeks, in Teams ------------------------------------------------------------------------


async def test_three_weeks_of_a_teams_team(
    connector: FakeConnector, course: Course, coach_env, tmp_path: Path
):
    """Mia schedules her team from its channel; Ana (who chatted before) answers right, Ben wrong, Cy
    never; Dee opts out. Ben leaves the team and Zed joins; Cy's account goes."""
    clock = Clock(MONDAY_9 - timedelta(days=1))
    env = teams_env(coach_env)
    async with served(tmp_path, clock) as url:
        await says(url, connector, "29:ana", "help", personal("29:ana"))
        await arrives(connector, personal("29:ana")["id"], 1)
        confirm = texts(
            await in_channel(url, connector, "29:mgr", "nudges every monday at 9am UTC for this team")
        )
        assert "*Sales*" in confirm or "**Sales**" in confirm
        assert "Members (4): Ana Lima, Ben Okafor, Cy Park, Dee Ross" in confirm  # Teams names, not 29:… ids
        assert "Can't reach" not in confirm  # everyone is in a team the coach was added to
        assert "First send: Monday 23 November 2026, 09:00 UTC" in confirm
        schedule = confirm.split("`")[1]
        paged = [c for c in connector.calls if c.startswith("GET pagedmembers")]
        assert len(paged) == 3, connector.calls  # five people, two a page

        # week 1: Ana through her chat; Ben, Cy and Dee through 1:1 chats created in the tenant
        await run_clock(env, MONDAY_9 + timedelta(minutes=1))
        assert len(questions(connector, personal("29:ana")["id"])) == 3
        for user in ("29:ben", "29:cy", "29:dee"):
            assert len(questions(connector, chat_of(user)["id"])) == 3, user
            assert "weekly practice" in texts(connector.to(chat_of(user)["id"])[0])
        assert connector.calls.count("POST conversations") == 3
        week1 = {u: questions(connector, chat_of(u)["id"]) for u in ("29:ben", "29:cy")}
        week1["29:ana"] = questions(connector, personal("29:ana")["id"])
        clock.now = MONDAY_9 + timedelta(hours=2)
        await answer_all(url, connector, course, "29:ana", personal("29:ana"), week1["29:ana"], right=True)
        await answer_all(url, connector, course, "29:ben", chat_of("29:ben"), week1["29:ben"], right=False)
        dee = chat_of("29:dee")["id"]
        await says(url, connector, "29:dee", "stop sending me these", chat_of("29:dee"))
        assert "no more weekly practice questions" in texts(await arrives(connector, dee, 5))

    # by week 2 Ben has left the team and Zed joined
    connector.teams[TEAM["id"]] = [
        member(u, n) for u, n in {**PEOPLE, "29:zed": "Zed Ng"}.items() if u != "29:ben"
    ]
    await run_clock(env, MONDAY_9 + timedelta(days=7, minutes=1))
    mia = chat_of("29:mgr")["id"]  # Mia only ever talked in the channel: her digest gets a 1:1 chat
    digest1, chart1 = connector.to(mia)[:2]
    assert "Weekly practice digest · Sales · week of 2026-11-23" in texts(digest1)
    assert "Ana Lima: 3 of 3 answered, 3 right" in texts(digest1)
    assert "Ben Okafor: 3 of 3 answered, 0 right" in texts(digest1)
    image = next(b for b in card_of(chart1)["body"] if b["type"] == "Image")
    assert image["url"].startswith("data:image/png;base64,")  # inline, under Teams' message size limit
    assert base64.b64decode(image["url"].split(",", 1)[1]).startswith(b"\x89PNG")
    assert len(questions(connector, chat_of("29:zed")["id"])) == 3  # the joiner is nudged
    assert len(questions(connector, chat_of("29:ben")["id"])) == 3  # the leaver is not (still week 1's)
    assert len(questions(connector, dee)) == 3  # opted out: nothing new

    # Cy's account is gone (Teams answers 403 for his chat): dropped, and Mia is told
    connector.gone.add("29:cy")
    await run_clock(env, MONDAY_9 + timedelta(days=14, minutes=1))
    digest2 = texts(connector.to(mia)[2])
    assert "Joined the team: Zed Ng" in digest2 and "Left the team: Ben Okafor" in digest2
    assert "Dee Ross: opted out" in digest2
    await run_clock(env, MONDAY_9 + timedelta(days=21, minutes=1))
    digest3 = texts(next(s for s in connector.to(mia)[3:] if "digest" in texts(s)))
    assert "Cy Park was dropped from the team" in digest3 and "removed from the team" in digest3
    assert "Zed Ng" in digest3 and "29:" not in digest3  # names everywhere, never raw ids
    db = sqlite3.connect(tmp_path / "data" / "coach.db")
    members = json.loads(
        db.execute("SELECT members FROM nudge_schedules WHERE id = ?", [schedule]).fetchone()[0]
    )
    assert members == ["teams:29:ana", "teams:29:dee", "teams:29:zed"]

    # Mia asks for the report in the channel: Teams has no message only she would see there
    async with served(tmp_path, clock) as url:
        before = len(connector.to(mia))
        said = texts(await in_channel(url, connector, "29:mgr", "report"))
        assert "private chat" in said and "Ana Lima" not in said  # a team's scores never in its channel
        assert "Ana Lima" in texts(await arrives(connector, mia, before + 1))


# -- delivery: retries, unreachable members, the chart --------------------------------------------------


async def test_teams_digest_is_retried_and_unreachable_members_are_named(
    connector: FakeConnector, coach_env, tmp_path: Path
):
    env = teams_env(coach_env)
    clock = Clock(MONDAY_9 - timedelta(days=1))
    async with served(tmp_path, clock) as url:
        await says(url, connector, "29:mgr", "help", personal("29:mgr"))
        await arrives(connector, personal("29:mgr")["id"], 1)
        # the coach meets the team (and so can reach Ana) when Mia schedules it from its channel
        await in_channel(url, connector, "29:mgr", "nudges every friday 4pm UTC for this team")
    # the operator names Ana and someone the coach shares no team or chat with
    made = await run(
        env, "nudges", "weekly", "mon", "09:00", "UTC", "for", "teams:29:ana,teams:29:stranger", "--as", ADMIN
    )
    assert "Members (2): 29:stranger, Ana Lima" in made
    assert "Can't reach yet: 29:stranger (" in made
    db = sqlite3.connect(tmp_path / "data" / "coach.db")
    with db:  # `coach nudges` acts at the real time: date the schedule back to before the first window
        back = [clock.now.isoformat(), ADMIN]
        db.execute("UPDATE nudge_schedules SET created_at = ? WHERE manager = ?", back)
    db.close()
    out = await run_clock(env, MONDAY_9 + timedelta(minutes=1))
    mia = personal("29:mgr")["id"]
    assert len(questions(connector, chat_of("29:ana")["id"])) >= 3, out
    assert len(questions(connector, chat_of("29:ana")["id"])) >= 3
    # the connector is down when the digest is due: it is retried, not lost
    # (more 5xx than msrest's own 3 retries could use: whether urllib3 retries a POST depends on its version)
    connector.failures = [503] * 8
    out = await run_clock(env, MONDAY_9 + timedelta(days=7, minutes=1))
    assert "sent 0, failed 1, to retry 1, digests 0" in out  # the stranger fails for good
    connector.failures = []  # the connector is back
    before = len(connector.to(mia))
    out = await run_clock(env, MONDAY_9 + timedelta(days=7, minutes=5))
    assert "digests 1" in out
    digest = texts(connector.to(mia)[before])
    assert "Weekly practice digest" in digest
    assert "29:stranger can't be reached: they never talked to me" in digest


async def test_a_chart_too_large_for_teams_becomes_a_pointer(connector: FakeConnector, tmp_path: Path):
    """Teams refuses messages over about 28 KB: the chart is shrunk to fit, or replaced by a pointer."""
    from adapters.teams import cards
    from adapters.teams.adapter import make_adapter
    from adapters.teams.sender import TeamsSender
    from bot.managers.nudges import DeliveryError
    from bot.messages import Reply
    from bot.store import Store

    store = Store(tmp_path / "coach.db")
    store.save_place(TEAM["id"], connector.url, "t1", BOT["id"], "Sales", MONDAY_9)
    store.set_place_members(TEAM["id"], ["teams:29:ana"], MONDAY_9)
    settings = Settings(_env_file=None, COACH_DATA_DIR=tmp_path, COACH_TEAMS_EMULATOR="1")
    sender = TeamsSender(make_adapter(settings), None, store, lambda: MONDAY_9)
    noise = random.Random(1).randbytes(320 * 320 * 3)  # incompressible: no palette or size makes it fit
    big = Image.frombytes("RGB", (320, 320), noise)
    raw = io.BytesIO()
    big.save(raw, format="PNG")
    assert cards.inline_image(raw.getvalue()) is None
    with pytest.raises(DeliveryError) as refused:
        await sender.deliver("teams:29:ana", [Reply("Chart", image=raw.getvalue())])
    assert refused.value.permanent and "too large" in str(refused.value)
    assert not connector.messages()
    await sender.deliver("teams:29:ana", [Reply("Hello", kind="notice")])
    assert connector.to(chat_of("29:ana")["id"])[0].activity["text"] == "Hello"
    # a message the fake would refuse, sent anyway: Teams' 413 is a permanent error, not a retry
    with pytest.raises(DeliveryError) as too_big:
        await sender.deliver("teams:29:ana", [Reply("x" * 40_000)])
    assert too_big.value.permanent and "413" in str(too_big.value)
