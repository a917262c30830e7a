"""What flow nodes receive besides the state: course, index, store, brain, clock, scheduler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fsrs import Scheduler

from bot.store import Store
from knowledge.loader import Course
from knowledge.retrieval import Index

if TYPE_CHECKING:  # `coach clock` builds reminders with these deps and never loads a brain
    from flows.brains.base import Brain


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
