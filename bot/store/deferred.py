"""Writes a turn holds back to its `checkpointed` mark, so they share that one transaction.

A turn's Q&A answer row (the row its 👍/👎 buttons name) was its own transaction and its own hop to
the store's thread, written inside the graph before the checkpoint. Held here instead, it is written
with the message's `checkpointed` mark (`bot.conversation.Coach._finish`): after the checkpoint and
before the replies go out, so a click on the buttons always finds its answer, and a turn that failed
or was killed before its checkpoint leaves no answer behind it. Outside a turn (a flow called
directly) nothing is held: `hold` says so and the caller writes at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

Write = tuple[Any, dict[str, Any]]  # a statement built once per store, and its parameters

_held: ContextVar[list[Write] | None] = ContextVar("held_writes", default=None)


@contextmanager
def holding() -> Iterator[list[Write]]:
    """Hold the writes made (with `hold`) in this context, in order, until the caller writes them."""
    writes: list[Write] = []
    token = _held.set(writes)
    try:
        yield writes
    finally:
        _held.reset(token)


def hold(statement: Any, params: dict[str, Any]) -> bool:
    """Hold one write for the turn's `checkpointed` mark; False outside a turn (write it now)."""
    writes = _held.get()
    if writes is None:
        return False
    writes.append((statement, params))
    return True
