"""Garbage-collector settings for a long-running server.

Importing the frameworks leaves a few hundred thousand objects that live as long as the process. Left
in the collector's generations, every full collection walks all of them (a stop-the-world pause of a
large fraction of a second under load, measured by `coach bench`). Frozen after start-up, the collector
never looks at them again; a larger young generation makes collections rarer for the same garbage.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # CPython's default is 700 allocations between young collections


def freeze_startup_heap() -> None:
    """Collect once, move every surviving object out of the collector's reach, and raise the threshold."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
