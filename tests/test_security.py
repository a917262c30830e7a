"""Safe by default: who may reach which endpoint, who is an admin, whom a manager may nudge, and who
may delete whose data. Each test plays the attacker against the real server or the real Admin."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.harness import free_port, wait_healthy
from bot.conversation import Coach
from bot.managers.commands import Admin, admin_identities
from bot.managers.nudges import Nudges
from bot.messages import Inbound
from bot.server import COACH as COACH_KEY
from bot.testing.fake_bot_auth import FakeBotAuth
from bot.testing.fake_connector import FakeConnector
from bot.testing.fake_slack import FakeSlack
from flows.deps import Deps
from tests import test_slack as slack_http
from tests import test_teams as teams_http
from tests.conftest import COACH

APP_ID = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
async def connector():
    fake = await FakeConnector().start()
    yield fake
    await fake.stop()


# -- 1. Teams is never served unauthenticated by accident ------------------------------------------


async def test_without_an_app_id_teams_is_not_served(tmp_path: Path, connector: FakeConnector):
    runner, url = await teams_http.start_server(tmp_path, COACH_TEAMS_EMULATOR="0")
    try:
        forged = teams_http.activity(connector, "progress", **{"from": {"id": "29:victim"}})
        status, _ = await teams_http.post(url, forged)
        assert status == 404
        assert connector.sent == []  # no request to an attacker's serviceUrl (SSRF)
    finally:
        await runner.cleanup()


async def test_emulator_mode_replies_only_to_a_service_url_on_this_machine(tmp_path: Path):
    runner, url = await teams_http.start_server(tmp_path)
    try:
        elsewhere = {"serviceUrl": "http://169.254.169.254/latest/meta-data/", "text": "help"}
        body = {**teams_http.activity(FakeConnector(url="http://x"), "help"), **elsewhere}
        status, _ = await teams_http.post(url, body)
        assert status == 400
    finally:
        await runner.cleanup()


def test_emulator_mode_listens_on_loopback_only_and_says_so(coach_env, tmp_path: Path):
    port = free_port()
    env = {**coach_env, "COACH_TEAMS_EMULATOR": "1"}
    proc = subprocess.Popen(
        [str(COACH), "serve", "--host", "0.0.0.0", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        asyncio.run(wait_healthy(f"http://127.0.0.1:{port}", proc))
        # a second server on the same SQLite folder would take the first's queued messages as lost
        second = subprocess.run(
            [str(COACH), "serve", "--port", str(free_port())], env=env, capture_output=True, text=True
        )
        assert second.returncode == 1 and "another `coach serve` is running" in second.stderr
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0]
    assert "TEAMS AUTHENTICATION IS OFF" in output
    assert f"listening on http://127.0.0.1:{port}" in output


@pytest.fixture
async def authed(tmp_path: Path, connector: FakeConnector):
    """coach serve with an app id whose tokens are checked against a local key server."""
    auth = await FakeBotAuth(APP_ID).start()
    runner, url = await teams_http.start_server(
        tmp_path,
        COACH_TEAMS_EMULATOR="0",
        MicrosoftAppId=APP_ID,
        MicrosoftAppPassword="not-a-real-secret",
        COACH_TEAMS_OPENID_URL=auth.metadata_url,
    )
    yield url, auth, runner
    await runner.cleanup()
    await auth.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_valid_token_is_accepted_and_every_bad_one_is_401(authed, connector: FakeConnector):
    url, auth, runner = authed
    quiet = teams_http.activity(connector, None, type="messageReaction")  # needs no reply
    status, _ = await teams_http.post(url, quiet, bearer(auth.token(connector.url)))
    assert status in (200, 201)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = {
        "expired": auth.token(connector.url, expires_in=-3600),
        "wrong audience": auth.token(connector.url, audience="someone-else"),
        "alg=none": auth.token(connector.url, algorithm="none"),
        "unknown key": auth.token(connector.url, kid="not-ours", key=other_key),
        "forged signature": auth.token(connector.url, key=other_key),
        "another serviceUrl": auth.token("https://attacker.example/"),
        "garbage": "not.a.token",
    }
    for case, token in bad.items():
        status, _ = await teams_http.post(url, teams_http.activity(connector, "progress"), bearer(token))
        assert status == 401, case
    status, _ = await teams_http.post(url, teams_http.activity(connector, "progress"))
    assert status == 401
    assert connector.sent == []
    store = runner.app[COACH_KEY].deps.store
    assert [r["learner"] for r in store.read("SELECT learner FROM conversation_refs")] == ["teams:29:ana"]


async def test_only_the_msteams_channel_speaks_for_a_teams_identity(authed, connector: FakeConnector):
    """Web Chat and Direct Line share the app id and its tokens, but there the client chooses `from.id`:
    an activity from them, validly signed, claiming an admin's id, is refused and changes nothing."""
    url, auth, runner = authed
    token = bearer(auth.token(connector.url))
    for channel in ("directline", "webchat", None):
        forged = teams_http.activity(connector, "managers list", channelId=channel)
        status, _ = await teams_http.post(url, forged, token)
        assert status == 400, channel
    assert runner.app[COACH_KEY].deps.store.read("SELECT learner FROM conversation_refs") == []
    invoke = teams_http.activity(connector, None, type="invoke", name="adaptiveCard/action")
    status, _ = await teams_http.post(url, invoke | {"value": {"action": {"data": 5}}}, token)
    assert status == 501  # coach handles no invoke: said plainly, not a 500
    assert connector.sent == []


async def test_key_fetching_never_blocks_the_loop_and_is_not_repeated(authed, connector: FakeConnector):
    url, auth, _ = authed
    auth.hold = asyncio.Event()  # the key server hangs
    token = auth.token(connector.url)
    posts = [
        asyncio.create_task(teams_http.post(url, teams_http.activity(connector, "help"), bearer(token)))
        for _ in range(5)
    ]
    while auth.fetches == 0:
        await asyncio.sleep(0.01)
    async with aiohttp.ClientSession() as session, session.get(f"{url}/healthz") as health:
        assert health.status == 200  # served while the key fetch is still waiting
    auth.hold.set()
    await asyncio.gather(*posts)
    assert auth.fetches == 1  # one fetch served every waiting request


async def test_an_unreachable_key_server_gives_401_and_is_not_hammered(tmp_path: Path, connector):
    runner, url = await teams_http.start_server(
        tmp_path,
        COACH_TEAMS_EMULATOR="0",
        MicrosoftAppId=APP_ID,
        MicrosoftAppPassword="x",
        COACH_TEAMS_OPENID_URL=f"http://127.0.0.1:{free_port()}/nothing-here",
    )
    try:
        auth = FakeBotAuth(APP_ID)
        for _ in range(5):
            status, _ = await teams_http.post(
                url, teams_http.activity(connector, "help"), bearer(auth.token(connector.url))
            )
            assert status == 401
    finally:
        await runner.cleanup()


# -- 2. admins are exact platform:id identities ----------------------------------------------------


def test_admin_identities_are_exact():
    assert admin_identities("UADMIN, slack:U2 ,teams:29:boss") == {
        "slack:UADMIN",
        "slack:U2",
        "teams:29:boss",
    }
    for bad in ("29:abc", "mastodon:x", "teams:"):
        with pytest.raises(ValueError, match="COACH_MANAGERS"):
            admin_identities(bad)


async def test_a_teams_user_with_a_lookalike_id_is_not_an_admin(deps: Deps, tmp_path: Path):
    admin = Admin(
        deps.store, deps.course, Nudges(deps.store, deps.course), admin_identities("UADMIN"), deps.clock
    )
    async with Coach.open(deps, tmp_path / "cp.db", admin) as coach:
        for user in ("UADMIN", "slack:UADMIN"):  # a Teams user whose id is the bare or the full admin id
            reply = (
                await coach.handle(Inbound("teams", user, f"teams:a:{user}", "managers add teams:29:x"))
            )[-1]
            assert "Only an admin" in reply.text
        assert deps.store.read("SELECT * FROM managers") == []
        ok = (await coach.handle(Inbound("slack", "UADMIN", "slack:DADMIN", "managers add slack:U7")))[-1]
        assert "Added 1" in ok.text


def test_bad_coach_managers_stops_coach_serve_with_one_clear_line(coach_env):
    done = subprocess.run(
        [str(COACH), "serve", "--port", str(free_port())],
        env={**coach_env, "COACH_MANAGERS": "29:abc"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "COACH_MANAGERS" in done.stderr and "Traceback" not in done.stderr


# -- 3. a manager nudges only people they can reach on their own platform ---------------------------


@pytest.fixture
async def managed(deps: Deps, tmp_path: Path):
    admin = Admin(
        deps.store,
        deps.course,
        Nudges(deps.store, deps.course),
        admin_identities("UMGR,teams:29:mgr"),
        deps.clock,
    )
    async with Coach.open(deps, tmp_path / "cp.db", admin) as coach:
        yield coach


async def test_typed_ids_and_other_platforms_are_refused_with_a_reason(managed: Coach, deps: Deps):
    text = "nudges weekly mon 09:00 for slack:U1 teams:29:x"
    reply = (await managed.handle(Inbound("slack", "UMGR", "slack:DUMGR", text)))[-1]
    assert "Scheduled" not in reply.text
    assert "teams:29:x: not on Slack" in reply.text and "slack:U1: mention people with @" in reply.text
    from_teams = await managed.handle(
        Inbound("teams", "29:mgr", "teams:a:mgr", "nudges weekly mon 09:00 for slack:U1")
    )
    assert "not on Teams" in from_teams[-1].text
    mixed = Inbound(
        "slack", "UMGR", "slack:DUMGR", "nudges weekly mon 09:00 for us teams:29:x", mentions=("U2",)
    )
    made = (await managed.handle(mixed))[-1]
    assert "Scheduled" in made.text and "Members (1)" in made.text and "teams:29:x" in made.text
    (schedule,) = Nudges(deps.store, deps.course).schedules()
    assert schedule.members == ("slack:U2",)


async def test_a_manager_cannot_nudge_a_channel_they_are_not_in(tmp_path: Path):
    slack = await FakeSlack().start()
    slack.channel_members["CPRIV"] = ["U1", "U2"]
    runner, url = await slack_http.start_server(tmp_path, slack, COACH_MANAGERS="slack:UMGR")
    try:
        status = await slack_http.command(
            url, "nudges weekly mon 09:00 for <#CPRIV|secret>", slack, user="UMGR"
        )
        assert status == 200
        (answer,) = await slack.wait_for("response_url:r1")
        assert "not a member of #secret" in answer["text"]
        assert Nudges(runner.app[COACH_KEY].deps.store, runner.app[COACH_KEY].deps.course).schedules() == []
        slack.channel_members["CTEAM"] = ["U1", "UMGR"]
        await slack_http.command(url, "nudges weekly mon 09:00 for <#CTEAM|team>", slack, user="UMGR")
        answers = await slack.wait_for("response_url:r1", 2)
        assert "Scheduled" in answers[-1]["text"] and "#team" in answers[-1]["text"]
    finally:
        await runner.cleanup()
        await slack.stop()


# -- forget me: only the learner, here and now -------------------------------------------------------


async def test_forget_me_needs_the_code_issued_to_this_learner_in_this_conversation(
    managed: Coach, deps: Deps
):
    async def say(user: str, conversation: str, text: str = "", action=None):
        return (await managed.handle(Inbound("slack", user, conversation, text, action=action)))[-1]

    await say("UANA", "slack:DUANA", "quiz 1")
    await say("UANA", "slack:DUANA", "A")
    await say("UANA", "slack:DUANA", "stop")
    assert "cannot be undone" in (await say("UANA", "slack:DUANA", "forget me confirm")).text  # typed: asks
    ask = await say("UANA", "slack:DUANA", "forget me")
    yes = ask.choices[0].action
    code = yes.value.split()[-1]
    assert "cannot be undone" in (await say("UANA", "slack:DUANA", "forget me confirm wrong-code")).text
    assert "cannot be undone" in (await say("UMAL", "slack:DUANA", action=yes)).text  # someone else
    assert "cannot be undone" in (await say("UANA", "slack:C1:1.2", f"forget me confirm {code}")).text
    assert deps.store.attempts("slack:UANA")  # nothing deleted yet
    ask = await say("UANA", "slack:DUANA", "forget me")
    done = await say("UANA", "slack:DUANA", action=ask.choices[0].action)
    assert "deleted" in done.text and deps.store.attempts("slack:UANA") == []
    assert "cannot be undone" in (await say("UANA", "slack:DUANA", action=ask.choices[0].action)).text  # once


SHARED = "slack:C1:1.2"
SECRET = "Quillfeather"  # a word only Ana ever says


def _raw(path: Path) -> bytes:
    """Every row of every table of a database, as bytes (checkpoint blobs included)."""
    db = sqlite3.connect(path)
    try:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = [row for t in tables for row in db.execute(f"SELECT * FROM [{t}]")]
    finally:
        db.close()
    return b"".join(v if isinstance(v, bytes) else str(v).encode() for row in rows for v in row)


def _files(path: Path) -> bytes:
    """The database file and its write-ahead log as stored on disk (free pages included)."""
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


async def test_forget_me_takes_only_the_learners_words_out_of_a_shared_thread(
    managed: Coach, deps: Deps, tmp_path: Path
):
    async def say(user: str, text: str = "", conversation: str = SHARED, action=None):
        inbound = Inbound("slack", user, conversation, text, action=action, shared=conversation == SHARED)
        return await managed.handle(inbound)

    await say("UANA", f"What is a model card, {SECRET} asks?")
    ben_first = "What does an AI center of excellence do?"
    await say("UBEN", ben_first)
    rated = (await say("UANA", f"How should {SECRET} measure AI readiness?"))[-1]
    await say("UANA", action=rated.choices[1].action)  # 👎
    await say("UANA", f"too vague for {SECRET}")  # the reason
    await say("UANA", action=rated.choices[1].action)  # 👎 again: a reason is awaited (state names Ana)
    await say("UANA", "help", conversation="slack:DUANA")
    checkpoints = tmp_path / "cp.db"
    before = await managed.state(SHARED)
    thread = {"configurable": {"thread_id": SHARED}}
    history = len([s async for s in managed.graph.aget_state_history(thread)])
    assert SECRET.encode() in _raw(checkpoints) and before["feedback_pending"]

    ask = (await say("UANA", "forget me", conversation="slack:DUANA"))[-1]
    done = (await say("UANA", conversation="slack:DUANA", action=ask.choices[0].action))[-1]
    assert "deleted" in done.text

    for path in (checkpoints, tmp_path / "coach.db"):
        assert SECRET.encode() not in _raw(path), path.name
        assert b"UANA" not in _raw(path), path.name
        assert SECRET.encode() not in _files(path), f"{path.name} still holds it in free pages or the log"
    after = await managed.state(SHARED)
    assert [t["question"] for t in after["qa"]] == [ben_first]  # Ben's turn stays, answer and all
    assert after["qa"][0]["answer"] == before["qa"][1]["answer"] and after["qa"][0].get("answer_id")
    assert after["feedback_pending"] is None and after["inbound"] == {}
    kept = [s async for s in managed.graph.aget_state_history(thread)]
    assert len(kept) == history  # the history is rewritten, not dropped
    assert await managed.state("slack:DUANA") == {}
    assert deps.store.read("SELECT question FROM answers") == [{"question": ben_first}]

    follow_up = (await say("UBEN", "Who should sit on it?"))[-1]  # Ben carries on where he was
    assert follow_up.text and (await managed.state(SHARED))["qa"][0]["question"] == ben_first


async def test_forget_me_said_in_the_shared_thread_itself(managed: Coach, deps: Deps):
    """The thread being rewritten is the one this turn holds: no waiting on its own lock."""

    async def say(user: str, text: str = "", action=None):
        return (await managed.handle(Inbound("slack", user, SHARED, text, action=action, shared=True)))[-1]

    await say("UBEN", "What is MLOps?")
    await say("UANA", f"What is a model card, {SECRET} asks?")
    ask = await say("UANA", "forget me")
    done = await asyncio.wait_for(say("UANA", action=ask.choices[0].action), timeout=30)
    assert "deleted" in done.text and done.ephemeral
    assert [t["question"] for t in (await managed.state(SHARED))["qa"]] == ["What is MLOps?"]


async def test_a_teams_card_submit_acts_for_its_sender_whatever_its_value_says(
    tmp_path: Path, connector: FakeConnector
):
    """In a group chat Ben can click the delete button Ana was sent, and put Ana's id in the value:
    the sender is who the activity is from, so Ben is only asked, and Ana's data stays."""
    runner, url = await teams_http.start_server(tmp_path)
    group = {"id": "19:group@thread.v2", "conversationType": "groupChat", "tenantId": "t1"}
    ben = {"id": "29:ben", "name": "Ben"}
    try:
        await teams_http.post(url, teams_http.activity(connector, "forget me", conversation=group))
        (ask,) = await connector.wait_for_messages(1)
        yes = teams_http.submit(teams_http.card_of(ask), "Yes, delete my data")
        forged = {**yes, "from": teams_http.ANA, "user": teams_http.ANA["id"], "learner": "teams:29:ana"}
        await teams_http.post(
            url, teams_http.activity(connector, None, conversation=group, value=forged, **{"from": ben})
        )
        asked_again = (await connector.wait_for_messages(2))[1]
        assert "cannot be undone" in json.dumps(asked_again.activity)
        store = runner.app[COACH_KEY].deps.store
        assert store.read("SELECT learner FROM messages WHERE learner = 'teams:29:ana'")  # Ana's data stays
    finally:
        await runner.cleanup()


# -- what is stored is readable by the service's user alone -----------------------------------------


def test_data_directory_is_0700_and_files_0600(tmp_path: Path):
    from bot.store import Store

    data = tmp_path / "data"
    store = Store(data / "coach.db")
    store.write(lambda conn: conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x)"))
    store.close()
    assert data.stat().st_mode & 0o777 == 0o700
    for path in data.iterdir():
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is readable by others"


def test_a_store_put_straight_in_a_shared_directory_leaves_it_shared(tmp_path: Path):
    from bot.store import Store

    shared = tmp_path / "tmp"  # like /tmp: sticky, writable by all (once closed, others lost it)
    shared.mkdir()
    shared.chmod(0o1777)
    store = Store(shared / "coach.db")
    store.write(lambda conn: conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x)"))
    store.close()
    assert shared.stat().st_mode & 0o7777 == 0o1777
    assert (shared / "coach.db").stat().st_mode & 0o077 == 0


async def test_a_teams_manager_schedules_for_this_team_in_its_channel(managed: Coach, deps: Deps):
    said = "nudges weekly tue 10:00 for this team"
    roster = {"roster": ("29:mgr", "29:ana", "29:ben"), "roster_name": "Sales"}
    channel = Inbound("teams", "29:mgr", "teams:19:sales;messageid=1", said, shared=True, **roster)
    made = (await managed.handle(channel))[-1]
    assert "Scheduled" in made.text and "Members (2)" in made.text
    (schedule,) = Nudges(deps.store, deps.course).schedules()
    assert schedule.members == ("teams:29:ana", "teams:29:ben")
    outsider = replace(channel, user="29:eve")
    assert "Scheduled" not in (await managed.handle(outsider))[-1].text
