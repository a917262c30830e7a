"""Shared fixtures: the real course, a fresh index, and paths to the customer's seed text."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

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
