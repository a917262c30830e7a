"""Taking one learner's words out of the checkpointed history of threads they shared with others.

A shared thread (a Slack channel thread, a Teams channel or group chat) holds everyone's turns, so
"forget me" cannot delete it. Instead every checkpoint of the thread, the history included, is read
through LangGraph's checkpointer, cleaned of what the learner said and what the coach said to them,
and written back under the same ids; pending writes are cleaned the same way. Other people's turns
and the thread's state stay as they were.

Attribution: a turn's `inbound` names its sender; a Q&A turn names its `learner` (older turns are
matched by their answer id or by the exact text the learner sent in that thread); a 👎 awaiting a
reason and an open quiz name theirs. A reply to someone else can still quote the learner's words
(e.g. a follow-up answer that builds on their question): that is the coach's text in another
person's turn, and it stays.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint, CheckpointTuple

# What a turn that is no longer anybody's leaves in the per-turn channels (the next turn overwrites them).
EMPTY_TURN: dict[str, Any] = {"inbound": {}, "intent": {}, "replies": []}


@dataclass(frozen=True)
class Words:
    """How to recognise one learner's part of a thread."""

    learner: str  # "platform:id"
    answers: frozenset[str] = field(default_factory=frozenset)  # ids of answers the coach gave them
    texts: frozenset[str] = field(default_factory=frozenset)  # what they sent in this thread

    def sent(self, inbound: Any) -> bool:
        """Whether an `inbound` dict (a turn's message) is theirs."""
        if not isinstance(inbound, dict) or not inbound:
            return False
        return f"{inbound.get('platform')}:{inbound.get('user')}" == self.learner

    def asked(self, turn: Any) -> bool:
        """Whether a Q&A turn is theirs."""
        if not isinstance(turn, dict):
            return False
        if "learner" in turn:
            return turn["learner"] == self.learner
        return turn.get("answer_id") in self.answers or turn.get("question") in self.texts


def scrub_values(values: dict[str, Any], words: Words) -> dict[str, Any]:
    """A thread's channel values without the learner's turn, Q&A, pending 👎 or quiz."""
    values = copy.deepcopy(values)
    if words.sent(values.get("inbound")):
        values.update(copy.deepcopy(EMPTY_TURN))
    if isinstance(values.get("qa"), list):
        values["qa"] = [t for t in values["qa"] if not words.asked(t)]
    pending = values.get("feedback_pending")
    if isinstance(pending, dict) and (
        pending.get("learner") == words.learner or pending.get("answer") in words.answers
    ):
        values["feedback_pending"] = None
    quiz = values.get("quiz")
    if isinstance(quiz, dict) and quiz.get("owner") == words.learner:
        values["quiz"] = None
        if values.get("mode") == "quiz":
            values["mode"] = "idle"
    return values


def scrub_writes(writes: list[tuple[str, str, Any]], words: Words) -> list[tuple[str, str, Any]]:
    """Pending writes (task id, channel, value) without the learner's: a task that carried their
    message loses all its writes; Q&A lists lose their turns."""
    theirs = {task for task, channel, value in writes if channel == "inbound" and words.sent(value)}
    kept = []
    for task, channel, value in writes:
        if task in theirs:
            continue
        if channel in ("qa", "feedback_pending", "quiz"):
            value = scrub_values({channel: value}, words)[channel]
        kept.append((task, channel, value))
    return kept


SPARE = "\x1fscrubbed"  # appended to a thread's id: its cleaned copy while the original is rewritten
COMPLETE = "coach_scrub_complete"  # metadata key on the copy's last checkpoint: the copy is whole

Cleaned = list[tuple[CheckpointTuple, Checkpoint, dict, list[tuple[str, str, Any]]]]  # newest first


async def scrub_thread(saver: BaseCheckpointSaver, thread: str, words: Words) -> int:
    """Rewrite every checkpoint of `thread` without the learner's words; returns how many changed.

    Neither checkpointer replaces everything in place (pending writes are kept on both, and
    PostgreSQL's channel blobs are keyed by version and never overwritten), so a changed thread is
    deleted and written back whole (oldest first, same ids and parents). Crash-safe: the cleaned
    thread is first written whole under a spare id and marked complete; only then is the original
    deleted and rewritten, and the spare dropped. A scrub cut off midway is finished by the next one
    (`recover`): a partial spare is dropped (the original was not touched yet), a complete one is
    copied back."""
    await recover(saver, thread)
    tuples: list[CheckpointTuple] = [t async for t in saver.alist(_config(thread))]
    cleaned: Cleaned = []
    changed = 0
    for t in tuples:
        checkpoint = {**t.checkpoint, "channel_values": scrub_values(t.checkpoint["channel_values"], words)}
        metadata = {k: v for k, v in t.metadata.items() if k != "writes"}  # older langgraph kept outputs here
        writes = scrub_writes(list(t.pending_writes or []), words)
        changed += (
            checkpoint != t.checkpoint or metadata != t.metadata or writes != list(t.pending_writes or [])
        )
        cleaned.append((t, checkpoint, metadata, writes))  # type: ignore[arg-type]
    if not changed:
        return 0
    spare = thread + SPARE
    await saver.adelete_thread(spare)  # a stale partial copy, if any
    await _write(saver, spare, cleaned)
    await _mark_complete(saver, spare, cleaned[0])
    await _swap(saver, spare, thread)
    return changed


async def recover(saver: BaseCheckpointSaver, thread: str) -> bool:
    """Finish a scrub of `thread` that was cut off; True if there was one."""
    spare = thread + SPARE
    copy: list[CheckpointTuple] = [t async for t in saver.alist(_config(spare))]
    if not copy:
        return False
    if any(t.metadata.get(COMPLETE) for t in copy):
        await _swap(saver, spare, thread)
    else:  # cut off while writing the copy: the original is still whole
        await saver.adelete_thread(spare)
    return True


async def _swap(saver: BaseCheckpointSaver, spare: str, thread: str) -> None:
    """Replace `thread` by the complete cleaned copy in `spare`, then drop the copy."""
    copy = [
        (
            t,
            t.checkpoint,
            {k: v for k, v in t.metadata.items() if k != COMPLETE},
            list(t.pending_writes or []),
        )
        async for t in saver.alist(_config(spare))
    ]
    await saver.adelete_thread(thread)
    await _write(saver, thread, copy)  # type: ignore[arg-type]
    await saver.adelete_thread(spare)


async def _write(saver: BaseCheckpointSaver, thread: str, cleaned: Cleaned) -> None:
    """Write checkpoints (newest first in `cleaned`) under `thread`, oldest first, same ids and parents."""
    for t, checkpoint, metadata, writes in reversed(cleaned):
        config = await saver.aput(_parent(t, thread), checkpoint, metadata, checkpoint["channel_versions"])
        by_task: dict[str, list[tuple[str, Any]]] = {}
        for task, channel, value in writes:
            by_task.setdefault(task, []).append((channel, value))
        for task, task_writes in by_task.items():
            await saver.aput_writes(config, task_writes, task)


async def _mark_complete(saver: BaseCheckpointSaver, spare: str, newest: tuple) -> None:
    """Put the copy's newest checkpoint again with the mark (same id and versions: only its metadata
    changes), once everything else of the copy is written."""
    t, checkpoint, metadata, _ = newest
    await saver.aput(
        _parent(t, spare), checkpoint, {**metadata, COMPLETE: True}, checkpoint["channel_versions"]
    )


def _config(thread: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread}}


def _parent(t: CheckpointTuple, thread: str) -> RunnableConfig:
    """The config to put `t` under in `thread`: its namespace, and its parent checkpoint if any."""
    namespace = t.config["configurable"].get("checkpoint_ns", "")
    configurable = {"thread_id": thread, "checkpoint_ns": namespace}
    if t.parent_config is not None:
        configurable["checkpoint_id"] = t.parent_config["configurable"]["checkpoint_id"]
    return {"configurable": configurable}
