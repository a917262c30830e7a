"""The SQLite checkpointer on its own thread: the async API LangGraph calls, one thread for every call,
and checkpoints that outlive the process's connection."""

from __future__ import annotations

import threading
from pathlib import Path

from langgraph.checkpoint.base import empty_checkpoint

from bot.checkpoints import open_checkpoints
from bot.threaded_saver import ThreadedSqliteSaver

THREAD = "slack:D1"


def config(thread: str = THREAD) -> dict:
    return {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}


async def test_put_get_list_writes_and_delete_round_trip(tmp_path: Path):
    path = tmp_path / "checkpoints.db"
    async with open_checkpoints(path) as checkpoints:
        saver = checkpoints.saver
        assert isinstance(saver, ThreadedSqliteSaver)
        checkpoint = {**empty_checkpoint(), "channel_values": {"qa": ["q1"]}, "channel_versions": {"qa": "1"}}
        stored = await saver.aput(config(), checkpoint, {"source": "loop", "step": 1}, {"qa": "1"})
        await saver.aput_writes(stored, [("replies", ["hello"])], "task-1")
        await saver.aput(config("slack:D2"), empty_checkpoint(), {"source": "loop", "step": 1}, {})
        got = await saver.aget_tuple(config())
        assert got is not None and got.checkpoint["channel_values"] == {"qa": ["q1"]}
        assert [w[1:] for w in got.pending_writes] == [("replies", ["hello"])]
        assert len([t async for t in saver.alist(None)]) == 2
        await saver.adelete_thread("slack:D2")
        assert await saver.aget_tuple(config("slack:D2")) is None
    async with open_checkpoints(path) as again:  # a new process's connection reads what was committed
        got = await again.saver.aget_tuple(config())
        assert got is not None and got.checkpoint["channel_values"] == {"qa": ["q1"]}
        assert await again.prune() == 1


async def test_every_call_runs_on_the_savers_one_thread_not_the_event_loop(tmp_path: Path):
    async with open_checkpoints(tmp_path / "checkpoints.db") as checkpoints:
        saver = checkpoints.saver
        threads = {await saver.run(threading.get_ident) for _ in range(5)}
        assert len(threads) == 1 and threading.get_ident() not in threads
