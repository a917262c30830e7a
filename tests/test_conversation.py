"""The conversation layer: ordering, duplicates, restarts, bad input, shared channels."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from pathlib import Path

from adapters.console import inbound
from bot.conversation import Coach, Undelivered
from bot.messages import MAX_TEXT, Inbound
from flows.brains.base import Answer, LabContext, LabTurn, QAContext
from flows.brains.offline import OfflineBrain
from flows.deps import Deps
from tests.conftest import COACH, Database, Learner, coach_cli

BACKENDS = ("sqlite", "postgres")  # every test that touches the database runs on both


class SlowBrain(OfflineBrain):
    """The offline coach, but the first lab turn takes a while (as a remote model would)."""

    def __init__(self) -> None:
        self.calls = 0

    async def lab_turn(self, ctx: LabContext) -> LabTurn:
        self.calls += 1
        if self.calls == 1:
            await asyncio.sleep(0.3)
        return await super().lab_turn(ctx)


async def test_two_fast_messages_are_answered_in_order(deps: Deps, database: Database):
    deps.brain = SlowBrain()
    async with Coach.open(deps, database.checkpoints) as coach:
        await coach.handle(inbound("ana", "lab 1"))
        first = asyncio.create_task(
            coach.handle(inbound("ana", "Was the sensor data siloed from production?"))
        )
        await asyncio.sleep(0.05)
        second = asyncio.create_task(coach.handle(inbound("ana", "Who built the pilots, data scientists?")))
        a, b = await asyncio.gather(first, second)
        state = await coach.state("console:ana")
    learner_turns = [t["text"] for t in state["lab"]["history"] if t["role"] == "learner"]
    assert learner_turns == [
        "Was the sensor data siloed from production?",
        "Who built the pilots, data scientists?",
    ]
    assert "data foundation" in a[-1].text and "talent" in b[-1].text
    assert state["lab"]["turns"] == 2


async def test_a_duplicate_delivery_gets_one_reply(coach: Coach):
    message = inbound("ana", "What is pilot purgatory?", message_id="evt-1")
    assert len(await coach.handle(message)) == 1
    assert await coach.handle(message) == []
    rows = coach.deps.store.messages()
    assert len(rows) == 1 and rows[0]["status"] == "answered"


async def test_lab_continues_in_a_new_process_from_the_checkpoint(tmp_path: Path, coach_env):
    def run(lines: list[dict], new_process: bool) -> list[dict]:
        script = tmp_path / "turns.jsonl"
        script.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
        if new_process:
            done = subprocess.run(
                [str(COACH), "replay", str(script)], capture_output=True, text=True, env=coach_env
            )
        else:  # in this process; the lab then goes on in a new one
            done = coach_cli("replay", str(script), env=coach_env)
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    first = run(
        [
            {"user": "u1", "text": "lab 2"},
            {"user": "u1", "text": "HIPAA privacy and access control for the EHR data come first."},
        ],
        new_process=False,
    )
    assert first[-1]["state"]["covered"] == ["data-governance"]
    second = run([{"user": "u1", "text": "A clinician reviews every alert and can override it."}], True)
    assert second[-1]["state"]["mode"] == "lab" and second[-1]["state"]["lab"] == "lab-2"
    assert second[-1]["state"]["covered"] == ["data-governance", "human-in-the-loop"]


async def test_a_message_lost_in_a_crash_is_owned_up_to(coach: Coach):
    store = coach.deps.store
    store.record_inbound("evt-9", "console:ana", "console:ana", "what is MLOps?", None, coach.deps.clock())
    replies = await coach.handle(inbound("ana", "hello"))
    assert "couldn't answer" in replies[0].text and "what is MLOps?" in replies[0].text
    assert store.unanswered("console:ana") == []
    again = await coach.handle(inbound("ana", "help"))
    assert not any("couldn't answer" in r.text for r in again)


async def test_empty_huge_and_control_character_messages(learner: Learner):
    assert "didn't get any text" in (await learner.say("   \n\t "))[-1].text
    huge = await learner.say("data mesh " * 8000)
    assert f"first {MAX_TEXT:,} characters" in huge[0].text
    stored = max(learner.coach.deps.store.messages(), key=lambda r: r["id"])
    assert len(stored["text"]) == MAX_TEXT
    control = await learner.say("what is\x00 a model\x07 card?")
    assert control[-1].citations and "\x00" not in control[-1].text


async def test_replies_never_ping_a_whole_channel(learner: Learner):
    await learner.say("lab 1")
    reply = (await learner.say("@here <!channel> the data pipelines are siloed from production databases"))[
        -1
    ]
    assert "data foundation" in reply.text
    assert "@here" not in reply.text and "<!channel>" not in reply.text


async def test_shared_channels_get_answers_but_no_private_activities(coach: Coach):
    def shared(text: str) -> Inbound:
        return Inbound("slack", "U1", "slack:C1:123.4", text, shared=True)

    refusal = (await coach.handle(shared("quiz 1")))[-1]
    assert refusal.ephemeral and "direct message" in refusal.text
    assert (await coach.state("slack:C1:123.4")).get("mode") == "idle"
    answer = (await coach.handle(shared("What is a model card?")))[-1]
    assert answer.citations and not answer.ephemeral
    progress = (await coach.handle(shared("progress")))[-1]
    assert progress.ephemeral


class BrokenBrain(OfflineBrain):
    """A brain with a bug: every answer raises."""

    async def answer(self, ctx: QAContext) -> Answer:
        raise RuntimeError("bug")


async def test_a_failing_turn_still_answers_and_keeps_the_message(deps: Deps, database: Database):
    deps.brain = BrokenBrain()
    async with Coach.open(deps, database.checkpoints) as coach:
        replies = await coach.handle(inbound("ana", "What is a data mesh?"))
        assert "went wrong on my side" in replies[-1].text
        row = deps.store.messages()[0]
        assert row["status"] == "failed" and row["text"] == "What is a data mesh?"
        assert "*lab 1*" in (await coach.handle(inbound("ana", "help")))[-1].text


# -- delivery inside the turn, and store before ack (`bot.acks`) -----------------------------------


async def test_a_message_counts_as_answered_only_after_its_replies_are_delivered(coach: Coach):
    store, seen = coach.deps.store, []

    async def deliver(replies) -> None:
        seen.append((len(replies), [m["status"] for m in store.messages("console:ana")]))

    replies = await coach.handle(inbound("ana", "help", message_id="evt-d1"), deliver=deliver)
    assert seen == [(len(replies), ["checkpointed"])]  # still owed while the replies go out
    assert [m["status"] for m in store.messages("console:ana")] == ["answered"]


async def test_an_answer_is_stored_before_its_rating_buttons_go_out(coach: Coach):
    """The answer's row is written with the `checkpointed` mark (`bot.store.deferred`): before
    delivery, so a 👍 clicked at once finds it; a failed turn leaves none."""
    store, rated = coach.deps.store, []

    async def deliver(replies) -> None:
        ids = [c.action.question for r in replies for c in r.choices if c.action.kind == "feedback"]
        rated.extend(store.rate_answer(i, "console:ana", "good", coach.deps.clock()) for i in ids[:1])

    await coach.handle(inbound("ana", "What is a model card?", message_id="evt-r1"), deliver=deliver)
    assert rated == [True]
    assert [r["rating"] for r in store.answer_feedback()] == ["good"]


async def test_a_failed_delivery_is_owned_up_to_on_the_next_turn(coach: Coach):
    async def refused(replies) -> None:
        raise ConnectionError("the platform refused the replies")

    try:
        await coach.handle(inbound("ana", "what is MLOps?"), deliver=refused)
    except Undelivered as exc:
        assert isinstance(exc.__cause__, ConnectionError)
    else:
        raise AssertionError("the delivery error reaches the channel")
    assert [m["status"] for m in coach.deps.store.messages("console:ana")] == ["undelivered"]
    replies = await coach.handle(inbound("ana", "help"))
    assert "may not have reached you" in replies[0].text and "what is MLOps?" in replies[0].text
    assert "please send" not in replies[0].text and "no need to send it again" in replies[0].text
    again = await coach.handle(inbound("ana", "help"))
    assert not any("reached you" in r.text for r in again)


async def test_turns_waiting_for_their_conversation_are_stored_early_and_answered_once(coach: Coach):
    from bot.acks import start_then_ack

    store, background = coach.deps.store, set()
    async with coach._turn_lock("console:ana"):  # an earlier turn holds the conversation (Claude is slow)
        for n, text in enumerate(["lab 1", "what is MLOps?"]):
            await start_then_ack(coach.handle(inbound("ana", text, message_id=f"e{n}")), background, 0.1, 1)
        # both acked: stored, though their turns are still waiting
        assert [m["status"] for m in store.messages("console:ana")] == ["waiting", "waiting"]
        twin = asyncio.create_task(coach.handle(inbound("ana", "lab 1", message_id="e0")))  # Slack's retry
        turns = list(background)
    answered = [r for r in await asyncio.gather(*turns, twin) if r]
    assert len(answered) == 2  # the retry got nothing
    assert not any("couldn't answer" in r.text for replies in answered for r in replies)
    assert [m["status"] for m in store.messages("console:ana")] == ["answered", "answered"]
    state = await coach.state("console:ana")
    assert state["mode"] == "lab"  # "lab 1" ran, then the question inside the lab


async def test_a_message_stored_early_by_a_killed_worker_is_owned_up_to(coach: Coach):
    store = coach.deps.store
    row = {"text": "what is MLOps?", "action": None, "at": coach.deps.clock()}
    store.record_inbound("evt-w", "console:ana", "console:ana", row["text"], None, row["at"], "waiting")
    replies = await coach.handle(inbound("ana", "hello"))
    assert "couldn't answer" in replies[0].text and "what is MLOps?" in replies[0].text
    assert store.unanswered("console:ana") == []


# -- owning up only to what is provably lost (issue 16's review) -----------------------------------


async def test_a_live_turn_stored_early_is_not_owned_up_to_by_a_turn_ahead_of_it(coach: Coach):
    """A turn that joined the conversation's queue first may store its message after one that stored
    early: the earlier row is alive (its turn is still waiting), so it is answered, not called lost."""
    from bot.acks import start_then_ack

    store, background = coach.deps.store, set()
    async with coach._turn_lock("console:ana"):
        ahead = asyncio.create_task(coach.handle(inbound("ana", "help", message_id="b")))  # in line first
        await asyncio.sleep(0.05)
        await start_then_ack(
            coach.handle(inbound("ana", "what is MLOps?", message_id="a")), background, 0.1, 1
        )
        assert [m["status"] for m in store.messages("console:ana")] == ["waiting"]  # "a", stored early
        behind = list(background)
    first, second = await asyncio.gather(ahead, *behind)
    texts = [r.text for r in first + second]
    assert not any("couldn't answer" in t for t in texts), texts
    assert second and "MLOps" in second[-1].text
    assert [m["status"] for m in store.messages("console:ana")] == ["answered", "answered"]


async def test_a_message_stored_early_by_another_process_goes_first_and_is_owned_up_to_once_it_is_gone(
    coach: Coach, database: Database
):
    """Across processes, a later message waits while an earlier acked one's turn is alive (it may be
    waiting for a pooled connection, outside PostgreSQL's lock queue): replies stay in message order."""
    store, at = coach.deps.store, coach.deps.clock()
    key = 4_242_424_242
    if store.postgres:  # another process, alive: it holds its key's advisory lock
        import psycopg

        holder = psycopg.connect(str(database.store), autocommit=True)
        holder.execute("SELECT pg_advisory_lock(%s)", [key])
        store.record_inbound(
            "w1", "console:ana", "console:ana", "what is MLOps?", None, at, "waiting", f"{key}/t"
        )
        later = asyncio.create_task(coach.handle(inbound("ana", "hello")))
        await asyncio.sleep(1.0)
        assert not later.done()  # the earlier message's turn is alive: it goes first
        assert [m["status"] for m in store.messages("console:ana")] == ["waiting"]
        holder.close()  # the process dies
        replies = await asyncio.wait_for(later, 30)
    else:  # SQLite: one process per data folder, so another process's row is a dead one's
        store.record_inbound(
            "w1", "console:ana", "console:ana", "what is MLOps?", None, at, "waiting", f"{key}/t"
        )
        replies = await coach.handle(inbound("ana", "hello"))
    assert "couldn't answer" in replies[0].text and "what is MLOps?" in replies[0].text
    assert store.unanswered("console:ana") == []


async def test_a_turn_whose_early_row_was_called_lost_still_answers_it(coach: Coach):
    from bot.acks import start_then_ack

    store, background = coach.deps.store, set()
    async with coach._turn_lock("console:ana"):
        await start_then_ack(
            coach.handle(inbound("ana", "what is MLOps?", message_id="a")), background, 0.1, 1
        )
        (row,) = store.messages("console:ana")
        store.mark_answered(row["id"], 0, "lost")  # wrongly, by a turn elsewhere
        turns = list(background)
    (replies,) = await asyncio.gather(*turns)
    assert replies and "MLOps" in replies[-1].text
    assert [m["status"] for m in store.messages("console:ana")] == ["answered"]


async def test_a_retry_of_a_message_a_dead_worker_took_is_answered(coach: Coach):
    store, at = coach.deps.store, coach.deps.clock()
    store.record_inbound("evt-r", "console:ana", "console:ana", "what is MLOps?", None, at)  # then killed
    replies = await coach.handle(inbound("ana", "what is MLOps?", message_id="evt-r"))  # Slack's retry
    assert replies and "MLOps" in replies[-1].text
    assert not any("couldn't answer" in r.text for r in replies)
    assert [m["status"] for m in store.messages("console:ana")] == ["answered"]


async def test_a_message_the_graph_took_in_is_never_asked_for_again(coach: Coach):
    """Killed while delivering (or refused): the quiz already counted the letter, so a resent letter
    would answer the next question. A retry is a duplicate; the next turn says the answer may be unseen."""
    store, delivered = coach.deps.store, []

    async def killed(replies) -> None:
        delivered.append([m["status"] for m in store.messages("console:ana")])
        raise asyncio.CancelledError  # the worker dies mid-delivery (nothing after this runs)

    await coach.handle(inbound("ana", "quiz 1", message_id="q"))
    with contextlib.suppress(asyncio.CancelledError):
        await coach.handle(inbound("ana", "a", message_id="evt-a"), deliver=killed)
    assert delivered == [["answered", "checkpointed"]]
    assert await coach.handle(inbound("ana", "a", message_id="evt-a")) == []  # the platform's retry
    replies = await coach.handle(inbound("ana", "progress"))
    assert "may not have reached you" in replies[0].text and "“a”" in replies[0].text
    assert "no need to send it again" in replies[0].text
    assert store.unanswered("console:ana") == []


async def test_a_message_checkpointed_by_a_turn_killed_before_its_status_is_not_taken_again(coach: Coach):
    """Killed after the graph's checkpoint but before the row said so: the row still reads `received`.
    The checkpoint decides: a retry is a duplicate (a resent "quiz 1" must not restart the quiz), and
    the next turn says the answer may be unseen, without asking for the message again."""
    store = coach.deps.store
    await coach.handle(inbound("ana", "quiz 1", message_id="evt-q"))
    (row,) = store.messages("console:ana")
    store.mark_answered(row["id"], 0, "received")  # as a worker killed right after the checkpoint leaves it
    assert await coach.handle(inbound("ana", "quiz 1", message_id="evt-q")) == []  # the platform's retry
    replies = await coach.handle(inbound("ana", "progress", message_id="evt-p"))
    assert "may not have reached you" in replies[0].text and "Quiz stopped" not in replies[0].text
    assert [m["status"] for m in store.messages("console:ana")] == ["lost", "answered"]


async def test_a_failed_turn_whose_apology_was_refused_is_asked_for_again(deps: Deps, database: Database):
    async def refused(replies) -> None:
        raise ConnectionError("refused")

    deps.brain = BrokenBrain()
    async with Coach.open(deps, database.checkpoints) as coach:
        with contextlib.suppress(Undelivered):
            await coach.handle(inbound("ana", "what is MLOps?"), deliver=refused)
        assert [m["status"] for m in coach.deps.store.messages("console:ana")] == ["received"]
        replies = await coach.handle(inbound("ana", "help"))
    assert "couldn't answer" in replies[0].text and "please send it again" in replies[0].text


async def test_full_width_text_is_read_as_plain(learner: Learner):
    """ "what is ｄａｔａ ｍｅｓｈ" (a full-width keyboard) is the question "what is data mesh" (review)."""
    plain = (await learner.say("what is data mesh?"))[-1]
    wide = (await Learner(learner.coach, "ben").say("what is ｄａｔａ ｍｅｓｈ?"))[-1]  # no earlier turn
    assert wide.citations and wide.text == plain.text
