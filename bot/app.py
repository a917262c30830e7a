"""Wiring: settings → course → index → store → brain → coach, built once per process.

The heavy parts (LangGraph, the Claude SDK, the managers) are imported when first used, so a command
that never opens a coach never pays for importing them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.store import Store
from knowledge.loader import Course, load_course
from knowledge.retrieval import Index

if TYPE_CHECKING:
    from bot.conversation import Coach
    from bot.managers.commands import Admin
    from bot.managers.nudges import Nudges
    from flows.brains import Brain
    from flows.deps import Deps


@dataclass
class Runtime:
    """What a command or server needs, created lazily so `coach doctor` stays instant."""

    settings: Settings

    @cached_property
    def course(self) -> Course:
        return load_course(self.settings.knowledge_dir)

    @cached_property
    def index(self) -> Index:
        return Index(self.settings.index_path, self.course)

    @cached_property
    def store(self) -> Store:
        return Store(self.settings.store_target, pool_size=self.settings.db_pool)

    @cached_property
    def brain(self) -> Brain:
        from flows.brains import make_brain

        return make_brain(self.settings)

    @cached_property
    def deps(self) -> Deps:
        from flows.deps import Deps

        return Deps(course=self.course, index=self.index, store=self.store, brain=self.brain)

    @cached_property
    def nudges(self) -> Nudges:
        from bot.managers.nudges import Nudges

        return Nudges(self.store, self.course)

    @cached_property
    def admin(self) -> Admin:
        from bot.managers.commands import Admin, admin_identities

        admins = admin_identities(self.settings.managers)
        return Admin(self.store, self.course, self.nudges, admins, self.deps.clock)

    @asynccontextmanager
    async def coach(self) -> AsyncIterator[Coach]:
        from bot.conversation import Coach

        s = self.settings
        async with Coach.open(self.deps, s.checkpoints_target, self.admin, s.db_pool) as coach:
            yield coach
