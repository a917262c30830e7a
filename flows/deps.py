"""What flow nodes receive besides the state: course, index, store, brain, clock, scheduler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fsrs import Scheduler

from bot.store import Store
from flows.brains.base import Brain
from knowledge.loader import Course
from knowledge.retrieval import Index


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Deps:
    course: Course
    index: Index
    store: Store
    brain: Brain
    clock: Callable[[], datetime] = utc_now
    scheduler: Scheduler = field(default_factory=lambda: Scheduler(enable_fuzzing=False))
    drill_size: int = 5
