"""The store on both backends: migrations build the schema, versions are checked, duplicate deliveries
and nudge claims stay exactly-once under concurrency, old checkpoints are pruned, and turns of one
conversation wait for each other across workers."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from adapters.console import inbound
from bot.conversation import Coach
from bot.store import SchemaError, Store, migrate
from bot.store.base import create_engine
from bot.store.migrate import _config, scripts
from bot.store.schema import answers, inbox, metadata
from flows.deps import Deps
from tests.conftest import Database

BACKENDS = ("sqlite", "postgres")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def blank(backend: str, tmp_path, request: pytest.FixtureRequest) -> str:
    if backend == "postgres":
        server, _ = request.getfixturevalue("postgres")
        return server.database()
    return str(tmp_path / "fresh.db")


def test_the_migrations_build_exactly_the_schema(blank: str):
    engine = create_engine(blank)
    with engine.connect() as conn:
        command.upgrade(_config(conn), "head")
        conn.commit()
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()
    Store(blank).close()  # and the store opens it as current


def version_table(engine: sa.Engine) -> tuple:
    inspector = sa.inspect(engine)
    columns = [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns("alembic_version")]
    return columns, inspector.get_pk_constraint("alembic_version")


def test_a_blank_database_is_created_as_the_migrations_build_it(blank: str, backend: str, tmp_path, request):
    """The first start writes the schema and the version itself (no Alembic): the same as migrating."""
    Store(blank).close()
    engine = create_engine(blank)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == scripts().get_current_head()
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    migrated = (
        request.getfixturevalue("postgres")[0].database()
        if backend == "postgres"
        else str(tmp_path / "migrated.db")
    )
    reference = create_engine(migrated)
    with reference.connect() as conn:
        command.upgrade(_config(conn), "head")
        conn.commit()
    assert version_table(engine) == version_table(reference)
    engine.dispose()
    reference.dispose()


def test_a_file_from_before_migrations_is_stamped_and_upgraded(blank: str):
    engine = create_engine(blank)
    with engine.connect() as conn:
        command.upgrade(_config(conn), "0001")
        conn.exec_driver_sql("DROP TABLE alembic_version")  # what coach before migrations left
        conn.commit()
    store = Store(blank)
    indexes = {i["name"] for i in sa.inspect(store.engine).get_indexes("quiz_attempts")}
    assert "idx_quiz_attempts_session" in indexes
    with store.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == scripts().get_current_head()
    assert scripts().get_current_head() == migrate.HEAD  # the start-up check's shortcut knows the newest
    store.close()
    engine.dispose()


def test_a_newer_schema_refuses_to_start_with_a_clear_message(store: Store, database: Database):
    store.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(SchemaError, match=r"version 0099, newer than this coach knows"):
        Store(database.store)


def test_a_command_on_a_newer_schema_says_so_in_one_line(coach_env: dict[str, str], monkeypatch):
    from bot.config import Settings
    from tests.conftest import coach_cli

    for name, value in coach_env.items():
        monkeypatch.setenv(name, value)
    target = Settings().store_target
    if isinstance(target, Path):
        target.parent.mkdir(parents=True, exist_ok=True)
    store = Store(target)
    store.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    store.close()
    ran = coach_cli("feedback", "--as", "slack:U1", env=coach_env)
    assert ran.returncode == 1 and "newer than this coach knows" in ran.stderr
    assert "Traceback" not in ran.stderr and len(ran.stderr.strip().splitlines()) <= 3, ran.stderr


def test_a_delivery_stored_from_many_threads_at_once_is_stored_once(store: Store):
    def record(_: int) -> int | None:
        return store.record_inbound("evt-1", "slack:D1", "slack:U1", "hi", None, NOW)

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(record, range(16)))
    assert len([i for i in ids if i is not None]) == 1
    assert len(store.messages()) == 1


def test_a_turn_finishing_after_forget_me_writes_nothing_of_the_learner_back(store: Store):
    """A learner forgotten during their turn: its held answer row is not written by the turn's mark."""
    message = store.record_inbound("evt-1", "slack:D1", "slack:U1", "what is MLOps?", None, NOW)
    assert message is not None
    held = store.answer_row("slack:U1", "slack:D1", "what is MLOps?", "MLOps is…", ["lesson-4#mlops"], NOW)
    store.forget("slack:U1")
    store.mark_answered(message, 0, "checkpointed", [held])
    assert store.answer_feedback(learner="slack:U1") == []
    assert store.rows(sa.select(answers)) == []
    other = store.record_inbound("evt-2", "slack:D1", "slack:U2", "what is MLOps?", None, NOW)
    store.mark_answered(
        other, 0, "checkpointed", [store.answer_row("slack:U2", "slack:D1", "q", "r", [], NOW)]
    )
    assert len(store.rows(sa.select(answers))) == 1  # a message still there keeps its answer


def test_forget_me_deletes_the_learners_acknowledged_requests_too(store: Store):
    """The inbox holds a request's raw body until its turn ran (or a dead process's, until a restart)."""
    requests = [
        {
            "delivery": f"Ev{u}",
            "channel": "slack",
            "body": "{}",
            "query": "",
            "content_type": "",
            "learner": u,
        }
        for u in ("slack:U1", "slack:U2")
    ]
    store.inbox_write(requests, [])
    assert store.forget("slack:U1")["inbox"] == 1
    assert [r["learner"] for r in store.rows(sa.select(inbox))] == ["slack:U2"]


def test_clocks_claiming_at_once_take_each_nudge_once(store: Store):
    rows = [
        {
            "schedule": "s1",
            "week": "2026-W48",
            "member": f"slack:U{i}",
            "questions": "[]",
            "status": "pending",
        }
        for i in range(40)
    ]
    for row in rows:
        row["attempts"] = 0
    assert store.enqueue_deliveries("s1", "2026-W48", rows) == 40
    assert store.enqueue_deliveries("s1", "2026-W48", rows) == 0  # planning twice enqueues once

    def drain(clock: str) -> list[int]:
        taken = []
        while (
            row := store.claim_delivery(clock, "2026-11-23T09:00:00+00:00", "2026-11-23T08:50:00")
        ) is not None:
            taken.append(row["id"])
        return taken

    with ThreadPoolExecutor(4) as pool:
        claimed = [i for taken in pool.map(drain, ["c1", "c2", "c3", "c4"]) for i in taken]
    assert sorted(claimed) == sorted({r["id"] for r in store.delivery_rows("s1")})
    assert store.enqueue_digest("s1", "2026-W48") and not store.enqueue_digest("s1", "2026-W48")
    stamp = "2026-11-30T09:00:00+00:00"
    with ThreadPoolExecutor(4) as pool:
        digests = list(pool.map(lambda _: store.claim_digest(stamp, "2026-11-30T08:50:00"), range(4)))
    assert [d["week"] for d in digests if d] == ["2026-W48"]  # one clock sends it


def test_the_managers_tables_work_the_same_on_both_backends(store: Store):
    """Issue 18's queries (opt-outs, names, reminders, closed sets), once per backend."""
    from bot.store import optouts

    store.touch_learner("slack:UANA", "Ana", NOW)
    store.save_people([{"member": "slack:UBEN", "name": "Ben", "active": 0, "fetched_at": "2026-11-23"}])
    names = optouts.known_names(store, ["slack:UANA", "slack:UBEN", "slack:UCY"])
    assert names == {"slack:UANA": "Ana", "slack:UBEN": "Ben", "slack:UCY": "UCY"}
    assert store.people_where(["slack:UANA", "slack:UBEN"], inactive=True) == {"slack:UBEN"}
    optouts.record(store, "slack:UANA", "pause", NOW, weeks=2)
    optouts.record(store, "slack:UBEN", "stop", NOW)
    optouts.record(store, "slack:UBEN", "resume", NOW)
    assert optouts.opted_out(store, ["slack:UANA", "slack:UBEN"], NOW) == {
        "slack:UANA": "paused until 2026-12-07"
    }
    schedule = {"id": "s1", "manager": "slack:UMGR", "team": "t", "members": '["slack:UANA"]', "weekday": 0}
    store.insert_schedule(schedule | {"at": "09:00", "tz": "UTC", "status": "active", "remind_after_h": 24})
    assert [s["id"] for s in store.schedules_of_member("slack:UANA")] == ["s1"]
    row = {"schedule": "s1", "week": "2026-11-16", "member": "slack:UANA", "questions": '["L1Q1", "L1Q2"]'}
    assert store.enqueue_deliveries("s1", "2026-11-16", [row | {"status": "sent", "attempts": 1}]) == 1
    (delivery,) = store.delivery_rows("s1")
    store.ensure_quiz_session(
        {"id": f"nudge-{delivery['id']}", "learner": "slack:UANA", "quiz": "nudge", "total": 2}
    )
    assert [r["id"] for r in store.reminder_rows()] == [delivery["id"]]
    assert store.claim_reminder(delivery["id"], "x") and not store.claim_reminder(delivery["id"], "x")
    assert [s["id"] for s in store.open_nudge_sessions("slack:UANA")] == [f"nudge-{delivery['id']}"]
    later = row | {"week": "2026-11-23", "status": "pending", "attempts": 0}
    assert store.enqueue_deliveries("s1", "2026-11-23", [later], expire_at="2026-11-23T09:00:00") == 1
    assert store.closed_nudge_session("slack:UANA") == f"nudge-{delivery['id']}"  # closed, unanswered
    assert store.answered_count(f"nudge-{delivery['id']}") == 0
    weeks, rows = store.deliveries_upto("s1", "2026-11-23", 8)
    assert weeks == ["2026-11-16", "2026-11-23"] and len(rows) == 2
    store.add_note("s1", "Dana left", "2026-11-20")
    assert store.notes_between("s1", "2026-11-16", "2026-11-24") == ["Dana left"]


async def test_old_checkpoints_are_pruned_and_the_latest_kept(coach: Coach):
    for text in ("lab 1", "The pilots ran on siloed sensor data.", "Who built the pilots?"):
        await coach.handle(inbound("ana", text))
    await coach.handle(inbound("ben", "quiz 1"))
    before = await coach.state("console:ana")
    ana = {"configurable": {"thread_id": "console:ana"}}
    history = [c async for c in coach.graph.checkpointer.alist(ana)]
    assert len(history) >= 3
    await coach.checkpoints.prune()
    after = [c async for c in coach.graph.checkpointer.alist(ana)]
    assert len(after) == 1
    assert await coach.state("console:ana") == before
    assert (await coach.state("console:ben"))["mode"] == "quiz"
    replies = await coach.handle(inbound("ana", "Is the CEO sponsoring this?"))
    assert "couldn't answer" not in replies[0].text


async def test_a_turn_waits_for_the_same_conversation_in_another_worker(
    deps: Deps, database: Database, backend: str
):
    if backend == "sqlite":
        pytest.skip("one process serves a SQLite data folder; its turns are ordered in-process")
    async with Coach.open(deps, database.checkpoints) as one, Coach.open(deps, database.checkpoints) as two:
        async with one.checkpoints.turn("console:ana"):
            waiting = asyncio.create_task(two.handle(inbound("ana", "help")))
            other = await two.handle(inbound("ben", "help"))  # another conversation goes on
            await asyncio.sleep(0.3)
            assert other and not waiting.done()
        assert (await asyncio.wait_for(waiting, 10))[-1].text
