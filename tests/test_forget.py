"""`bot.forget` against LangGraph's real checkpointers (SQLite and PostgreSQL): a learner's words leave
every checkpoint, channel blob and pending write of a shared thread, and everyone else's stay, ids and
parents unchanged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from langgraph.checkpoint.base import empty_checkpoint

from bot.checkpoints import conninfo, open_checkpoints
from bot.forget import Words, recover, scrub_thread
from tests.conftest import Database

BACKENDS = ("sqlite", "postgres")

THREAD = "teams:19:channel;messageid=1"
ANA, BEN = "teams:29:ana", "teams:29:ben"


def turn(user: str, text: str, qa: list[dict]) -> dict:
    inbound = {"platform": "teams", "user": user.split(":", 1)[1], "conversation": THREAD, "text": text}
    replies = [{"text": f"re: {text}"}]
    return {"inbound": inbound, "intent": {"name": "question"}, "replies": replies, "qa": qa}


def raw_rows(database: Database) -> dict[str, list[tuple]]:
    """Every row of the checkpointer's tables, read past LangGraph."""
    if database.url:
        tables = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
        with psycopg.connect(conninfo(database.url)) as conn:
            return {t: conn.execute(f"SELECT * FROM {t}").fetchall() for t in tables}
    raw = sqlite3.connect(Path(database.checkpoints))
    return {t: raw.execute(f"SELECT * FROM {t}").fetchall() for t in ("checkpoints", "writes")}


@pytest.mark.parametrize("writes", [True, False], ids=["pending-writes", "no-writes"])
async def test_every_checkpoint_and_pending_write_loses_the_learners_words(database: Database, writes: bool):
    ana_turn = {"question": "Ana asks about Zanzibar?", "answer": "Not covered: Zanzibar", "answer_id": "a1"}
    legacy = {"question": "Ana's older Zanzibar question", "answer": "(not covered)"}  # no learner field
    ben_turn = {"learner": BEN, "question": "Ben asks about MLOps", "answer": "MLOps is…", "answer_id": "b1"}
    states = [
        turn(ANA, ana_turn["question"], [legacy, ana_turn]),
        turn(BEN, ben_turn["question"], [legacy, ana_turn, ben_turn]),
    ]
    async with open_checkpoints(database.checkpoints, pool_size=2) as checkpoints:
        saver = checkpoints.saver
        config = {"configurable": {"thread_id": THREAD, "checkpoint_ns": ""}}
        for step, values in enumerate(states, 1):
            versions = {channel: f"{step:032}" for channel in values}  # every channel written each turn
            checkpoint = {**empty_checkpoint(), "channel_values": values, "channel_versions": versions}
            config = await saver.aput(config, checkpoint, {"source": "loop", "step": step}, versions)
        if writes:
            ana_writes = [("inbound", states[0]["inbound"]), ("replies", ["Zanzibar"])]
            await saver.aput_writes(config, ana_writes, "t-ana")
            await saver.aput_writes(config, [("qa", [ana_turn, ben_turn])], "t-ben")
        ids = [t.config["configurable"]["checkpoint_id"] async for t in saver.alist(None)]

        words = Words(ANA, frozenset({"a1"}), frozenset({legacy["question"]}))
        assert await scrub_thread(saver, THREAD, words) == 2
        assert await scrub_thread(saver, THREAD, words) == 0  # nothing left to take out

        kept = [t async for t in saver.alist(None)]
        assert [t.config["configurable"]["checkpoint_id"] for t in kept] == ids
        assert kept[0].parent_config["configurable"]["checkpoint_id"] == ids[1]
        assert kept[0].checkpoint["channel_values"]["qa"] == [ben_turn]
        assert kept[0].checkpoint["channel_values"]["inbound"]["text"] == ben_turn["question"]
        assert kept[1].checkpoint["channel_values"] == {"inbound": {}, "intent": {}, "replies": [], "qa": []}
        assert [(task, channel) for task, channel, _ in kept[0].pending_writes] == [("t-ben", "qa")] * writes
    for table, rows in raw_rows(database).items():
        for row in rows:
            blob = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row)
            assert b"Zanzibar" not in blob and b"ana" not in blob, table


class Crash(Exception):
    pass


class CutOff:
    """A checkpointer that dies at its `after`-th `aput` (the process killed mid-scrub)."""

    def __init__(self, saver, after: int):
        self.saver, self.left = saver, after

    async def aput(self, *args, **kw):
        self.left -= 1
        if self.left < 0:
            raise Crash
        return await self.saver.aput(*args, **kw)

    def __getattr__(self, name: str):
        return getattr(self.saver, name)


@pytest.mark.parametrize("puts", [1, 2, 3, 4])  # in the copy, at its mark, and mid-rewrite of the original
async def test_a_scrub_cut_off_midway_loses_nothing_and_the_next_one_finishes_it(
    database: Database, puts: int
):
    ana_turn = {
        "learner": ANA,
        "question": "Ana asks about Zanzibar?",
        "answer": "Not covered",
        "answer_id": "a1",
    }
    ben_turn = {"learner": BEN, "question": "Ben asks about MLOps", "answer": "MLOps is…", "answer_id": "b1"}
    states = [
        turn(ANA, ana_turn["question"], [ana_turn]),
        turn(BEN, ben_turn["question"], [ana_turn, ben_turn]),
    ]
    async with open_checkpoints(database.checkpoints, pool_size=2) as checkpoints:
        saver = checkpoints.saver
        config = {"configurable": {"thread_id": THREAD, "checkpoint_ns": ""}}
        for step, values in enumerate(states, 1):
            versions = {channel: f"{step:032}" for channel in values}
            checkpoint = {**empty_checkpoint(), "channel_values": values, "channel_versions": versions}
            config = await saver.aput(config, checkpoint, {"source": "loop", "step": step}, versions)
        ids = [t.config["configurable"]["checkpoint_id"] async for t in saver.alist(None)]
        words = Words(ANA, frozenset({"a1"}))
        with pytest.raises(Crash):
            await scrub_thread(CutOff(saver, puts), THREAD, words)  # type: ignore[arg-type]
        thread = {"configurable": {"thread_id": THREAD}}
        left = [t async for t in saver.alist(thread)]
        if puts > 2:  # the original was deleted: its cleaned copy is whole, under the spare id
            assert await recover(saver, THREAD)
        else:  # the original was not touched yet
            assert [t.config["configurable"]["checkpoint_id"] for t in left] == ids
        await scrub_thread(saver, THREAD, words)
        kept = [t async for t in saver.alist(None)]  # every thread: the spare copy is gone too
        assert [t.config["configurable"]["checkpoint_id"] for t in kept] == ids
        assert kept[0].checkpoint["channel_values"]["qa"] == [ben_turn]
        assert kept[0].parent_config["configurable"]["checkpoint_id"] == ids[1]
        assert all(t.config["configurable"]["thread_id"] == THREAD for t in kept)


async def test_forgetting_a_conversation_of_ones_own_drops_a_cut_off_scrubs_copy_too(coach):
    """A scrub cut off after writing its cleaned copy (the spare) leaves that copy holding everyone
    else's words; when one of them later is the only speaker left and says "forget me", the copy goes
    with the conversation (found by review: the spare survived with "my salary is 90k")."""
    from bot.forget import SPARE

    saver = coach.graph.checkpointer
    spare = {"configurable": {"thread_id": THREAD + SPARE, "checkpoint_ns": ""}}
    values = turn(BEN, "my salary is 90k", [])
    versions = {channel: f"{1:032}" for channel in values}
    checkpoint = {**empty_checkpoint(), "channel_values": values, "channel_versions": versions}
    await saver.aput(spare, checkpoint, {"source": "loop", "step": 1}, versions)
    await coach.forget_threads(BEN, alone=[THREAD], shared=[])
    assert [t async for t in saver.alist(None)] == []
