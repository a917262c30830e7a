"""Garbage-collector settings for a long-running server.

Importing the frameworks leaves a few hundred thousand objects that live as long as the process. Left
in the collector's generations, every full collection walks all of them (a stop-the-world pause of a
large fraction of a second under load, measured by `coach bench`). Frozen after start-up, the collector
never looks at them again; a larger young generation makes collections rarer for the same garbage.

While start-up builds that heap the collector is paused: each collection during the imports walks
objects that will never be garbage (about 15% of `coach serve`'s CPU up to ready, more with every
channel on), and the one collection before the freeze finds what little garbage start-up left.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

YOUNG_THRESHOLD = 10_000  # CPython's default is 700 allocations between young collections


@contextmanager
def paused() -> Iterator[None]:
    """Pause the collector for the block; resumed on leaving (unless it was off already). For bulk work
    whose many objects live until the block ends and make no cycles (planning a week of nudges): every
    collection in it would walk them, and the whole heap, to find nothing; refcounting frees them.
    The collector is the process's: a block run in a worker thread pauses it for every thread (chat
    turns go uncollected for the ~1 s of a 10,000-member plan; refcounting still frees their objects),
    and a `freeze_startup_heap` that ends inside the block turns it back on early."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def paused_during_startup() -> AbstractContextManager[None]:
    """Pause the collector until `freeze_startup_heap` (which resumes it); resumed on leaving in any case."""
    return paused()


def freeze_startup_heap(collect: bool = True) -> None:
    """Collect once (unless `collect` is False), move every surviving object out of the collector's
    reach, raise the threshold, and (if start-up paused it) turn the collector back on.

    Without the collection the freeze costs next to nothing, where collecting the heap of a server
    with every channel on takes ~0.2 s of CPU: at ready the server freezes without it (the few
    thousand objects of garbage start-up left, ~1 MB, stay frozen), and after its warm-up it collects
    what the warm-up left, then freezes again."""
    if collect:
        gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
    gc.enable()
