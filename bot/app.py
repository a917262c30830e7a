"""Wiring: settings → course → index (and, later, store and brain), built once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from bot.config import Settings
from knowledge.loader import Course, load_course
from knowledge.retrieval import Index


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
