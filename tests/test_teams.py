"""Teams through the real CloudAdapter and `coach serve` over loopback HTTP; only the Bot Connector
service is faked. Activities are posted as the Bot Framework Emulator posts them."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.app import Runtime
from bot.config import Settings
from bot.server import TEAMS, create_app, runner_options
from bot.testing import serve_on_loopback
from bot.testing.fake_anthropic import FakeAnthropic, Outcome
from bot.testing.fake_connector import FakeConnector
from flows.options import letter_of
from knowledge.loader import Course
from tests.conftest import coach_cli_async

BOT = {"id": "28:coach-bot", "name": "coach"}
ANA = {"id": "29:ana", "name": "Ana", "aadObjectId": "aad-ana"}
PERSONAL = {"id": "a:personal-ana", "conversationType": "personal", "tenantId": "t1"}
CHANNEL = {
    "id": "19:general@thread.tacv2;messageid=1700000000",
    "conversationType": "channel",
    "tenantId": "t1",
}
_ids = itertools.count(1)


@pytest.fixture
async def connector():
    fake = await FakeConnector().start()
    yield fake
    await fake.stop()


async def start_server(tmp_path: Path, **env) -> tuple[web.AppRunner, str]:
    """`coach serve` in emulator mode (no auth, loopback only) unless `env` sets an app id."""
    env = {"COACH_TEAMS_EMULATOR": "1", **env}
    settings = Settings(_env_file=None, COACH_DATA_DIR=tmp_path / "data", **env)
    return await serve_on_loopback(create_app(Runtime(settings)), **runner_options(settings))


@pytest.fixture
async def server(tmp_path: Path):
    runner, url = await start_server(tmp_path)
    yield url, runner
    await runner.cleanup()


def activity(
    connector: FakeConnector, text: str | None = None, conversation: dict = PERSONAL, **extra
) -> dict:
    body = {
        "type": "message",
        "id": f"act-{next(_ids)}",
        "timestamp": "2026-11-25T09:00:00Z",
        "serviceUrl": connector.url,
        "channelId": "msteams",
        "from": ANA,
        "conversation": conversation,
        "recipient": BOT,
        "locale": "en-US",
        "channelData": {"tenant": {"id": "t1"}},
        **extra,
    }
    if text is not None:
        body["text"] = text
    return body


async def post(url: str, body: dict, headers: dict | None = None) -> tuple[int, float]:
    started = time.perf_counter()
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/api/messages", json=body, headers=headers) as r,
    ):
        await r.read()
        return r.status, time.perf_counter() - started


def card_of(sent) -> dict | None:
    attachments = sent.activity.get("attachments") or []
    return attachments[0]["content"] if attachments else None


def submit(card: dict, label: str) -> dict:
    return next(a["data"] for a in card["actions"] if a["title"] == label)


def submit_option(card: dict, option: str) -> dict:
    """The submit of the button that carries `option` (its letter is the learner's own)."""
    return next(a["data"] for a in card["actions"] if a["data"]["coach"]["value"] == option)


async def test_personal_chat_lab_flow(server, connector: FakeConnector, course: Course):
    url, _ = server
    status, _ = await post(url, activity(connector, "start lab 2"))
    assert status in (200, 201)
    (opening,) = await connector.wait_for_messages(1)
    assert opening.verb == "reply" and opening.conversation == PERSONAL["id"]
    card = card_of(opening)
    assert course.lab(2).coach_name in card["body"][0]["text"]
    assert [a["title"] for a in card["actions"]] == ["Hint", "What am I missing?", "Finish"]
    typing = [s for s in connector.sent if s.activity.get("type") == "typing"]
    assert not typing, "the offline brain answers at once: one call, no typing indicator before it"
    await post(url, activity(connector, "HIPAA privacy and access control on the EHR data come first."))
    probe = (await connector.wait_for_messages(2))[1]
    assert "data governance" in card_of(probe)["body"][0]["text"]
    assert "Lesson 2" in card_of(probe)["body"][1]["text"]  # the citation


async def test_adaptive_card_quiz_and_submits(server, connector: FakeConnector, course: Course):
    url, _ = server
    await post(url, activity(connector, "quiz 1"))
    (question_msg,) = await connector.wait_for_messages(1)
    card = card_of(question_msg)
    q1 = course.lesson_quiz(1).questions[0]
    assert q1.stem in card["body"][0]["text"]
    assert [a["title"] for a in card["actions"]] == ["A", "B", "C", "D"]
    assert all(a["type"] == "Action.Submit" for a in card["actions"])
    data = submit_option(card, q1.answer)
    assert data["coach"]["question"] == q1.id and data["coach"]["session"]
    card_id = "resp-1"
    await post(url, activity(connector, None, value=data, replyToId=card_id))
    await connector.wait_for_messages(2)
    (update,) = [s for s in connector.sent if s.verb == "update"]
    assert update.target == card_id
    replaced = card_of(update)
    assert replaced["actions"] == [] and q1.feedback.correct in replaced["body"][2]["text"]
    next_question = connector.messages()[1]
    assert course.lesson_quiz(1).questions[1].stem in card_of(next_question)["body"][0]["text"]

    # the same submit again: a clear note, not a second answer
    await post(url, activity(connector, None, value=data, replyToId=card_id))
    note = (await connector.wait_for_messages(3))[2]
    assert "already answered" in note.activity["text"]
    # a submit with missing fields, and one that is not ours
    await post(url, activity(connector, None, value={"coach": {"kind": "answer"}}))
    await post(url, activity(connector, None, value={"something": "else"}))
    notes = await connector.wait_for_messages(5)
    assert all("out of date" in n.activity["text"] for n in notes[3:])


async def test_channel_mention_is_stripped_and_answered_in_the_thread(server, connector: FakeConnector):
    url, _ = server
    mention = {"type": "mention", "mentioned": BOT, "text": "<at>coach</at>"}
    body = activity(connector, "<at>coach</at> What is pilot purgatory?", CHANNEL, entities=[mention])
    await post(url, body)
    (answer,) = await connector.wait_for_messages(1)
    assert answer.verb == "reply" and answer.target == body["id"] and answer.conversation == CHANNEL["id"]
    card = card_of(answer)  # an answer is a card: its text, its citations, 👍/👎
    text = " ".join(b["text"] for b in card["body"])
    assert "Pilot Purgatory" in text and "Lesson 1" in text and "[1]" in text
    assert [a["title"] for a in card["actions"]] == ["👍 Helpful", "👎 Not helpful"]
    assert "<at>" not in text and "coach</at>" not in text
    # a quiz in the channel is refused: answers stay private
    await post(url, activity(connector, "<at>coach</at> quiz 1", CHANNEL, entities=[mention]))
    refusal = (await connector.wait_for_messages(2))[1]
    assert "direct message" in refusal.activity["text"]


async def test_welcome_card_when_the_bot_is_added(server, connector: FakeConnector):
    url, _ = server
    update = activity(connector, None, type="conversationUpdate", membersAdded=[BOT])
    await post(url, update)
    (welcome,) = await connector.wait_for_messages(1)
    card = card_of(welcome)
    assert "Building an AI-Ready Organization" in card["body"][0]["text"]
    assert "Start Lab 1" in [a["title"] for a in card["actions"]]
    await post(url, activity(connector, None, type="conversationUpdate", membersAdded=[ANA]))
    await post(url, activity(connector, "help"))
    assert len(await connector.wait_for_messages(2)) == 2  # no welcome for a person joining


async def test_reference_is_stored_and_proactive_send_reaches_the_connector(server, connector: FakeConnector):
    url, runner = server
    await post(url, activity(connector, "help"))
    await connector.wait_for_messages(1)
    bot = runner.app[TEAMS]
    (ref,) = bot.coach.deps.store.references("teams:29:ana")
    assert ref["conversation"] == f"teams:{PERSONAL['id']}"
    assert ref["reference"]["serviceUrl"] == connector.url
    from bot.messages import Reply

    await bot.send_proactive(ref["reference"], [Reply("Your weekly questions are ready.")])
    sent = (await connector.wait_for_messages(2))[1]
    # botbuilder's continue_conversation posts as a reply to its own continuation event's id
    assert sent.conversation == PERSONAL["id"] and "activityId" not in ref["reference"]
    assert sent.activity["text"] == "Your weekly questions are ready."


async def test_slow_claude_is_answered_proactively_after_the_request(
    tmp_path: Path, connector: FakeConnector
):
    anthropic = await FakeAnthropic().start()
    anthropic.default = Outcome(text="A model card documents a model [1].", delay_s=2.0)
    runner, url = await start_server(
        tmp_path, ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=anthropic.url, COACH_LLM_TIMEOUT=10
    )
    try:
        status, took = await post(url, activity(connector, "What is a model card?"))
        assert status in (200, 201) and took < 1.5
        store = runner.app[TEAMS].coach.deps.store
        assert [m["status"] for m in store.messages()] == ["received"]  # stored before the ack
        (answer,) = await connector.wait_for_messages(1)
        assert "A model card documents a model [1]" in card_of(answer)["body"][0]["text"]
        assert answer.conversation == PERSONAL["id"]
        assert [s for s in connector.sent if s.activity.get("type") == "typing"], "typing while Claude thinks"
    finally:
        await runner.cleanup()
        await anthropic.stop()


async def test_with_an_app_id_unauthenticated_requests_are_refused(tmp_path: Path, connector: FakeConnector):
    runner, url = await start_server(
        tmp_path,
        MicrosoftAppId="11111111-2222-3333-4444-555555555555",
        MicrosoftAppPassword="not-a-real-secret",
    )
    try:
        status, _ = await post(url, activity(connector, "lab 1"))
        assert status == 401
        status, _ = await post(
            url, activity(connector, "lab 1"), headers={"Authorization": "Bearer forged.token.x"}
        )
        assert status == 401
        assert connector.sent == []
        store = runner.app[TEAMS].coach.deps.store
        assert store.messages() == []
    finally:
        await runner.cleanup()


def test_teams_package_has_manifest_and_icons(tmp_path: Path, coach_env):
    import json
    import struct
    import zipfile

    from tests.conftest import coach_cli

    env = {**coach_env, "MicrosoftAppId": "11111111-2222-3333-4444-555555555555"}
    out = tmp_path / "coach.zip"
    done = coach_cli("teams", "package", "--out", str(out), "--version", "1.4.2", env=env)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        sizes = {
            name: struct.unpack(">II", archive.read(name)[16:24]) for name in ("color.png", "outline.png")
        }
    assert manifest["id"] == manifest["bots"][0]["botId"] == "11111111-2222-3333-4444-555555555555"
    assert set(manifest["bots"][0]["scopes"]) == {"personal", "team", "groupChat"}
    assert any(c["title"] == "drill" for c in manifest["bots"][0]["commandLists"][0]["commands"])
    assert sizes == {"color.png": (192, 192), "outline.png": (32, 32)}
    assert manifest["version"] == "1.4.2"
    refused = coach_cli("teams", "package", "--out", str(tmp_path / "x.zip"), env=coach_env)
    assert refused.returncode == 1 and "--local" in refused.stderr and not (tmp_path / "x.zip").exists()
    local = ["teams", "package", "--out", str(tmp_path / "x.zip"), "--local"]
    assert coach_cli(*local, env=coach_env).returncode == 0


async def test_weekly_nudge_reaches_a_teams_member_proactively(
    server, connector: FakeConnector, course: Course
):
    from adapters.teams.bot import TeamsSender
    from bot.managers.clock import nudge_replies
    from bot.managers.nudges import DeliveryError

    url, runner = server
    await post(url, activity(connector, "help"))
    await connector.wait_for_messages(1)
    bot = runner.app[TEAMS]
    sender = TeamsSender(bot.adapter, None, bot.coach.deps.store)
    await sender.deliver(
        "teams:29:ana", nudge_replies(course, ["L1Q1", "L2Q2"], "nudge-1", "crew", "teams:29:ana")
    )
    sent = (await connector.wait_for_messages(4))[1:]
    assert "weekly practice" in sent[0].activity["text"]
    card = card_of(sent[1])
    assert course.question("L1Q1").stem in card["body"][0]["text"]
    assert submit(card, letter_of(course.question("L1Q1"), "teams:29:ana", "A"))["coach"] == {
        "kind": "answer",
        "value": "A",  # the button carries the option, whatever letter it is shown under
        "question": "L1Q1",
        "session": "nudge-1",
    }
    with pytest.raises(DeliveryError) as never_met:
        await sender.deliver(
            "teams:29:stranger", nudge_replies(course, ["L1Q1"], "nudge-2", "crew", "teams:29:stranger")
        )
    assert never_met.value.permanent


async def test_channels_get_no_typing_a_public_welcome_and_cards_of_at_most_six_actions(
    server, connector: FakeConnector
):
    url, _ = server
    await post(
        url, activity(connector, None, conversation=CHANNEL, type="conversationUpdate", membersAdded=[BOT])
    )
    (welcome,) = await connector.wait_for_messages(1)
    assert [a["title"] for a in card_of(welcome)["actions"]] == ["Help"]  # labs and quizzes are private
    await post(url, activity(connector, "<at>coach</at> what is a model card?", conversation=CHANNEL))
    await connector.wait_for_messages(2)
    assert not [s for s in connector.sent if s.activity.get("type") == "typing"]
    await post(url, activity(connector, "help"))
    help_card = card_of((await connector.wait_for_messages(3))[2])
    titles = [a["title"] for a in help_card["actions"]]
    assert len(titles) <= 6 and titles[-1] == "More…"
    hidden = [a["title"] for a in help_card["actions"][-1]["card"]["actions"]]
    assert "Progress" in titles + hidden


async def test_card_thumbs_up_and_down_reach_coach_feedback(
    tmp_path: Path, server, connector: FakeConnector, coach_env
):
    url, _ = server
    await post(url, activity(connector, "What are the three talent tiers?"))
    (answer,) = await connector.wait_for_messages(1)
    card = card_of(answer)
    assert "Translators" in card["body"][0]["text"]
    assert [a["title"] for a in card["actions"]] == ["👍 Helpful", "👎 Not helpful"]
    await post(url, activity(connector, None, value=submit(card, "👎 Not helpful")))
    note = (await connector.wait_for_messages(2))[1]
    assert "What was wrong" in note.activity["text"]
    await post(url, activity(connector, "too long for a chat"))
    await connector.wait_for_messages(3)

    env = {**coach_env, "COACH_DATA_DIR": str(tmp_path / "data")}
    done = await coach_cli_async("feedback", "--json", "--as", "teams:29:ana", env=env)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    (row,) = payload["feedback"]
    assert row["rating"] == "bad" and row["reason"] == "too long for a chat"
    assert row["question"] == "What are the three talent tiers?" and payload["scope"] == "own"
    assert payload["passages"] == {"lesson-3#talent-architecture": {"good": 0, "bad": 1}}

    # changing one's mind: the same answer rated 👍 replaces the 👎
    await post(url, activity(connector, None, value=submit(card, "👍 Helpful")))
    await connector.wait_for_messages(4)
    done = await coach_cli_async("feedback", "--json", "--as", "teams:29:ana", env=env)
    assert [r["rating"] for r in json.loads(done.stdout)["feedback"]] == ["good"]


async def test_refused_replies_get_a_clean_answer_and_are_owned_up_to_on_the_next_message(
    server, connector: FakeConnector
):
    """Answered in the request (no Claude): Teams refusing the replies is no 500 with a traceback; the
    next message says the answer may not have reached the learner."""
    url, _ = server
    connector.failures = [400]
    status, _ = await post(url, activity(connector, "progress"))
    assert status in (200, 201)
    assert connector.messages() == []
    status, _ = await post(url, activity(connector, "help"))
    assert status in (200, 201)
    texts = [json.dumps(m.activity) for m in connector.messages()]
    assert any("may not have reached you" in t and "progress" in t for t in texts), texts


def test_reply_activities_are_what_message_factory_builds_and_are_not_copied_to_be_sent():
    """`cards.activity` builds what `MessageFactory` would, field for field on the wire; botbuilder's
    deep copy before sending gives the activity itself (it is built for that one send)."""
    import copy

    from botbuilder.core import CardFactory, MessageFactory

    from adapters.teams import cards
    from bot.messages import Action, Choice, Citation, Reply

    cited = [Citation(1, "Lesson 2 · Model cards", "lesson-2#model-cards")]
    card = Reply("A model card *documents* a model [1].", [Choice("👍", Action("command", "good"))], cited)
    text = Reply("Plain, with a citation [1].", citations=cited)
    expected = MessageFactory.attachment(CardFactory.adaptive_card(cards.card(card)))
    built = cards.activity(card)
    assert built.serialize() == expected.serialize() and built.attachments[0].content["actions"]
    plain = MessageFactory.text(cards.markdown(text.text) + "\n\n_[1] Lesson 2 · Model cards_")
    plain.text_format = "markdown"
    assert cards.activity(text).serialize() == plain.serialize()
    assert copy.deepcopy(built) is built


async def test_a_kept_connector_client_reads_the_environment_once(monkeypatch: pytest.MonkeyPatch):
    """Proxies (with NO_PROXY applied) and the CA bundle are read when the client is built, as
    `requests` would read them on each call; client-side validation (no model has a rule) is off."""
    from adapters.teams.adapter import make_adapter

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "smba.internal.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/coach/ca.pem")
    adapter = make_adapter(Settings(_env_file=None, COACH_TEAMS_EMULATOR=True))
    auth = adapter.bot_framework_authentication
    factory = auth.create_connector_factory(adapter.create_claims_identity(""))
    proxied = await factory.create("https://smba.trafficmanager.net/emea/", None)
    direct = await factory.create("https://smba.internal.example/", None)
    assert proxied.config.proxies.proxies["https"] == "http://proxy.example:3128"
    assert "https" not in direct.config.proxies.proxies
    for client in (proxied, direct):
        assert client.config.proxies.use_env_settings is False
        assert client.config.connection.verify == "/etc/coach/ca.pem"
        assert client._serialize.client_side_validation is False
    assert await factory.create("https://smba.trafficmanager.net/emea/", None) is proxied


async def test_a_reference_is_stored_again_only_when_it_changed(server, connector: FakeConnector):
    url, runner = server
    store = runner.app[TEAMS].coach.deps.store
    saved: list[dict] = []
    save = store.save_reference
    store.save_reference = lambda *args: (saved.append(args[2]), save(*args))[1]
    for text in ("help", "help"):
        await post(url, activity(connector, text))
    assert len(saved) == 1 and "activityId" not in saved[0]
    await post(url, activity(connector, "help", serviceUrl=connector.url.rstrip("/") + "/moved/"))
    assert len(saved) == 2 and saved[1]["serviceUrl"].endswith("/moved/")
    (ref,) = store.references("teams:29:ana")
    assert ref["reference"] == saved[1]
