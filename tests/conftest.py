"""Shared fixtures: the real course, a fresh index, and paths to the customer's seed text."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from adapters.console import inbound
from bot.conversation import Coach
from bot.messages import Action, Reply
from bot.store import Store
from flows.brains.offline import OfflineBrain
from flows.deps import Deps
from flows.options import letter_of
from knowledge.loader import CONTENT_DIR, Course, load_course
from knowledge.retrieval import Index

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"
COACH = Path(sys.executable).parent / "coach"


@pytest.fixture(scope="session")
def course() -> Course:
    return load_course()


@pytest.fixture(scope="session")
def index(course: Course) -> Index:
    return Index(":memory:", course)


@pytest.fixture(scope="session")
def seed_text() -> str:
    """The customer's course text; tests that compare against it skip when it is not beside the repo."""
    path = SEEDS / "000_849153934927682f.txt"
    if not path.exists():
        pytest.skip("../shared/seeds is not beside this checkout")
    return path.read_text(encoding="utf-8")


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A private copy of the course content that a test may break or edit."""
    dest = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, dest)
    return dest


@pytest.fixture
def coach_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running the real `coach` command in a private data folder, offline."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC", "SLACK", "Microsoft", "COACH"))
    }
    env["COACH_DATA_DIR"] = str(tmp_path / "data")
    return env


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "coach.db")


@pytest.fixture
def deps(course: Course, index: Index, store: Store) -> Deps:
    """The coach's dependencies with the offline brain and a private database."""
    return Deps(course=course, index=index, store=store, brain=OfflineBrain())


@pytest.fixture
async def coach(deps: Deps, tmp_path: Path):
    async with Coach.open(deps, tmp_path / "checkpoints.db") as running:
        yield running


def shown_letter(learner: str, question, option: str | None = None) -> str:
    """The letter `learner` sees `option` (default: the right one) under; options are shown in each
    learner's own order, so a typed letter is not the file's."""
    return letter_of(question, learner, option or question.answer)


class Learner:
    """Talks to a coach as one console user, and keeps what the coach said."""

    def __init__(self, coach: Coach, user: str = "ana"):
        self.coach, self.user = coach, user
        self.heard: list[Reply] = []

    @property
    def conversation(self) -> str:
        return f"console:{self.user}"

    async def say(self, text: str, **kw) -> list[Reply]:
        replies = await self.coach.handle(inbound(self.user, text, **kw))
        self.heard += replies
        return replies

    async def click(self, action: Action) -> list[Reply]:
        replies = await self.coach.handle(inbound(self.user, action=action))
        self.heard += replies
        return replies

    async def state(self) -> dict:
        return await self.coach.state(self.conversation)

    def letter(self, question, option: str | None = None) -> str:
        """The letter this learner types for `option` (default: the right one)."""
        return shown_letter(self.conversation, question, option)


@pytest.fixture
def learner(coach: Coach) -> Learner:
    return Learner(coach)
