"""Shared fixtures: the real course, a fresh index, paths to the customer's seed text, and a fresh
database on either backend.

A test module that sets `BACKENDS = ("sqlite", "postgres")` runs each of its tests that touch the
database (through `store`, `deps`, `coach` or `database`) once per backend. PostgreSQL is a real
throwaway server (`bot.testing.postgres`); without one installed the PostgreSQL runs are skipped with
the reason, except under CI (`CI=true`), where that is a failure.
"""

from __future__ import annotations

import asyncio
import fcntl
import gc
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported where used: pytest's main process loads this file and needs none of them
    from bot.conversation import Coach
    from bot.messages import Action, Reply
    from bot.store import Store
    from bot.testing.postgres import ThrowawayPostgres
    from flows.deps import Deps
    from knowledge.loader import Course
    from knowledge.retrieval import Index


def _scratch_in_memory() -> None:
    """Every temporary folder of the run in memory when /dev/shm has room (`bot.testing.scratch`):
    pytest's `tmp_path`s, the throwaway servers' and the `coach` children's (they inherit TMPDIR).
    Set as this file loads, before pytest makes its base folder; a TMPDIR already set is kept."""
    from bot.testing.scratch import memory_folder

    folder = memory_folder()
    if folder and "TMPDIR" not in os.environ:
        os.environ["TMPDIR"] = folder
        tempfile.tempdir = None  # gettempdir() reads TMPDIR again


_scratch_in_memory()
ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"
COACH = Path(sys.executable).parent / "coach"


@pytest.fixture(scope="session")
def course() -> Course:
    from knowledge.loader import load_course

    return load_course()


@pytest.fixture(scope="session")
def index(course: Course) -> Index:
    from knowledge.retrieval import Index

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
    from knowledge.loader import CONTENT_DIR

    dest = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, dest)
    return dest


# Tests that take seconds each (real `coach` processes started, killed and waited for) start first, so
# that under xdist (`--dist load --maxschedchunk 1`: one test at a time to whichever worker is free)
# they overlap the many short ones instead of finishing alone at the end. Order only; a name that no
# longer exists costs nothing.
LONGEST_FIRST = (
    "test_coach_bench_runs_and_writes_every_figure",
    "test_two_servers_with_two_workers_each_survive_a_killed_worker",
    "test_killed_mid_turn_the_conversation_continues_and_the_lost_message_is_owned",
    "test_clock_killed_mid_fan_out_restarts_without_duplicates",
    "test_two_clock_processes_at_once",
    "test_web_and_clock_processes_share_metrics_and_log_json_lines",
    "test_lab_continues_in_a_new_process_from_the_checkpoint",
    "test_three_weeks_of_a_teams_team",
    "test_teams_digest_is_retried_and_unreachable_members_are_named",
    "test_a_learner_who_knows_nothing_cannot_pass_by_guessing",
    "test_coach_serve_starts_and_answers_healthz",
    "test_emulator_mode_listens_on_loopback_only_and_says_so",
    "test_a_live_postgresql_process_takes_over_a_killed_ones_acked_requests_once",
    "test_one_sqlite_process_killed_right_after_its_acks_runs_each_acked_message_once",
    "test_the_fit_reproduces_the_shipped_coefficients",
    "test_unit_scores_do_not_depend_on_the_order_a_set_iterates_in",
)


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Iterator[None]:
    """The collector paused while the test modules import (~6,000 modules in an xdist worker): each
    collection meanwhile walks objects that live as long as the process. Then what collection left
    (the modules, the collected tests) is frozen, so the collections during the tests no longer walk
    it either (`bot.heap` does the same for `coach serve` after its start-up)."""
    gc.disable()
    try:
        return (yield)
    finally:
        gc.collect()
        gc.freeze()
        gc.enable()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.originalname, len(rank)))  # stable: the rest keep their order


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    backends = getattr(metafunc.module, "BACKENDS", None)
    named = any("backend" in m.args[0] for m in metafunc.definition.iter_markers("parametrize"))
    if backends and "backend" in metafunc.fixturenames and not named:  # a test may name its own
        metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """Which database a test runs on: "sqlite" unless its module asks for both."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ThrowawayPostgres, str]]:
    """A throwaway PostgreSQL server for the session, and a template database with the whole schema.

    Under xdist the workers share one server: the first to need it starts it and leaves its address
    in the run's temporary folder, and the controller stops it once every worker is done
    (`pytest_sessionfinish`). Each test still gets a database of its own (`database`)."""
    from bot.testing.postgres import ThrowawayPostgres, binaries

    if binaries() is None:
        reason = "PostgreSQL is not installed: `make test` installs it (as root, with apt-get)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        with ThrowawayPostgres() as server:
            yield server, _template(server)
        return
    shared = tmp_path_factory.getbasetemp().parent / SHARED_POSTGRES  # the run's folder, not the worker's
    with open(shared.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one worker starts it; the others wait, then read where it is
        if shared.exists():
            described = json.loads(shared.read_text())
            server, template = ThrowawayPostgres.running(described["server"]), described["template"]
        else:
            server = ThrowawayPostgres().start()
            try:
                template = _template(server)
            except BaseException:
                server.stop()
                raise
            shared.write_text(json.dumps({"server": server.describe(), "template": template}))
    yield server, template


SHARED_POSTGRES = "postgres.json"


def _template(server: ThrowawayPostgres) -> str:
    """A database with the whole schema (the store's and the checkpointer's tables), to copy per test."""
    from bot.checkpoints import open_checkpoints
    from bot.store import Store

    url = server.database()
    Store(url).close()

    async def checkpoint_tables() -> None:
        async with open_checkpoints(url, pool_size=1):
            pass

    asyncio.run(checkpoint_tables())
    return url.rsplit("/", 1)[1]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The xdist controller stops the PostgreSQL server its workers shared, after the last of them."""
    if hasattr(session.config, "workerinput") or not session.config.getoption("numprocesses", None):
        return
    shared = session.config._tmp_path_factory.getbasetemp() / SHARED_POSTGRES  # type: ignore[attr-defined]
    if shared.exists():
        from bot.testing.postgres import ThrowawayPostgres

        ThrowawayPostgres.running(json.loads(shared.read_text())["server"]).stop()


class TemplateCopies:
    """Fresh copies of the template database, made a few ahead on a thread of their own.

    A copy (`CREATE DATABASE … TEMPLATE`) is ~0.1-0.15 s of waiting for the server, once per test on
    PostgreSQL; made ahead, it overlaps the tests before it. Each copy still goes to one test only."""

    AHEAD = 2

    def __init__(self, server: ThrowawayPostgres, template: str):
        self.server, self.template = server, template
        self._ready: queue.Queue[str | BaseException] = queue.Queue(maxsize=self.AHEAD)
        threading.Thread(target=self._make, name="template-copies", daemon=True).start()

    def _make(self) -> None:
        while True:
            try:
                made: str | BaseException = self.server.database(self.template)
            except Exception as error:  # the test that takes it fails with the reason
                made = error
            self._ready.put(made)
            if isinstance(made, BaseException):
                return

    def take(self) -> str:
        """The URL of a new database that no other test has been given."""
        made = self._ready.get(timeout=120)
        if isinstance(made, BaseException):
            raise made
        return made


@pytest.fixture(scope="session")
def template_copies(postgres: tuple[ThrowawayPostgres, str]) -> TemplateCopies:
    return TemplateCopies(*postgres)


@dataclass
class Ran:
    """What a `coach` command run in-process left behind (the fields of `subprocess.CompletedProcess`)."""

    returncode: int
    stdout: str
    stderr: str


def coach_cli(*args: str, env: dict[str, str], input: str | None = None) -> Ran:
    """`coach ARGS` in this process through typer's CliRunner, with exactly `env` as the environment.

    The same command code as the installed script, without a new interpreter's 2-3 s of imports. What
    only a separate process shows (start-up, being killed, two processes at once) runs the real script
    (`COACH`) instead. An unexpected exception lands in `stderr` as its traceback, as it would there."""
    from typer.testing import CliRunner

    from bot.cli import app

    if _in_event_loop():  # called from a coroutine: the command's own asyncio.run needs a thread
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(coach_cli, *args, env=env, input=input).result()
    environ: dict[str, str | None] = {k: None for k in os.environ if k not in env}
    result = CliRunner().invoke(app, list(args), env=environ | env, input=input, prog_name="coach")
    stderr = result.stderr
    if result.exc_info and not isinstance(result.exc_info[1], SystemExit):
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return Ran(result.exit_code, result.stdout, stderr)


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def coach_cli_async(*args: str, env: dict[str, str], input: str | None = None) -> Ran:
    """`coach_cli` from a test's event loop: in a thread, so the fakes in this loop keep answering it."""
    return await asyncio.to_thread(coach_cli, *args, env=env, input=input)


@dataclass
class Database:
    """Where a test's learner data and checkpoints live: a SQLite folder or a fresh PostgreSQL database."""

    store: Path | str
    checkpoints: Path | str
    url: str | None = None

    def env(self, tmp_path: Path) -> dict[str, str]:
        """The settings that point a `coach` process or `Settings` at this database."""
        env = {"COACH_DATA_DIR": str(tmp_path / "data")}
        return env | ({"COACH_DATABASE_URL": self.url} if self.url else {})


@pytest.fixture
def database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Database:
    if backend == "postgres":
        url = request.getfixturevalue("template_copies").take()
        return Database(url, url, url)
    return Database(tmp_path / "coach.db", tmp_path / "checkpoints.db")


def offline_env(tmp_path: Path) -> dict[str, str]:
    """This environment without any channel, Claude or coach settings, and a private data folder."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC", "SLACK", "Microsoft", "COACH"))
    }
    return env | {"COACH_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def coach_env(tmp_path: Path, database: Database) -> dict[str, str]:
    """Environment for running the real `coach` command in a private data folder (and database), offline."""
    return offline_env(tmp_path) | database.env(tmp_path)


@pytest.fixture(scope="session")
def blank_sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite learner store as a first start creates it (the whole schema), closed, to copy per test:
    a copy opens in ~2 ms of CPU, creating one takes ~13 ms (SQLAlchemy's `create_all`). The first
    start itself is still what every `coach` process of the tests does on its fresh data folder, and
    tests/test_store.py checks it against the migrations."""
    from bot.store import Store

    path = tmp_path_factory.mktemp("blank") / "coach.db"
    Store(path).close()
    return path


@pytest.fixture
def store(database: Database, request: pytest.FixtureRequest) -> Iterator[Store]:
    from bot.store import Store

    if isinstance(database.store, Path) and not database.store.exists():
        shutil.copyfile(request.getfixturevalue("blank_sqlite_store"), database.store)
    opened = Store(database.store)
    yield opened
    opened.close()


@pytest.fixture
def deps(course: Course, index: Index, store: Store) -> Deps:
    """The coach's dependencies with the offline brain and a private database."""
    from flows.brains.offline import OfflineBrain
    from flows.deps import Deps

    return Deps(course=course, index=index, store=store, brain=OfflineBrain())


@pytest.fixture
async def slack():
    """A fake Slack Web API on loopback (tests that need users or channels in it define their own)."""
    from bot.testing.fake_slack import FakeSlack

    fake = await FakeSlack().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def coach(deps: Deps, database: Database):
    from bot.conversation import Coach

    async with Coach.open(deps, database.checkpoints) as running:
        yield running


def shown_letter(learner: str, question, option: str | None = None) -> str:
    """The letter `learner` sees `option` (default: the right one) under; options are shown in each
    learner's own order, so a typed letter is not the file's."""
    from flows.options import letter_of

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
        from adapters.console import inbound

        replies = await self.coach.handle(inbound(self.user, text, **kw))
        self.heard += replies
        return replies

    async def click(self, action: Action) -> list[Reply]:
        from adapters.console import inbound

        replies = await self.coach.handle(inbound(self.user, action=action))
        self.heard += replies
        return replies

    async def state(self) -> dict:
        return await self.coach.state(self.conversation)

    def letter(self, question, option: str | None = None) -> str:
        """The letter this learner types for `option` (default: the right one): read off the last time
        the question was shown (a retake shows the options in a fresh order), else the learner's own
        first-attempt order."""
        import re

        text = question.options[option or question.answer]
        for reply in reversed(self.heard):
            if reply.kind == "question" and reply.question == question.id:
                lines = dict((t, k) for k, t in re.findall(r"^\*([A-D])\.\* (.+)$", reply.text, re.MULTILINE))
                if text in lines:
                    return lines[text]
        return shown_letter(self.conversation, question, option)


@pytest.fixture
def learner(coach: Coach) -> Learner:
    return Learner(coach)
