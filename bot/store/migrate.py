"""Schema versions: numbered Alembic migrations in `migrations/versions/`, the same for both backends.

- An empty database gets the whole schema (`schema.metadata`) at once and is stamped with the newest
  version, written without importing Alembic (~0.1-0.2 s of a first start); the tests check that the
  migrations build exactly that schema, and that Alembic reads the stamp as its head.
- A SQLite file from before migrations (tables, no version) is stamped with the baseline `0001`.
- Pending migrations run when opening the store if every one of them is `online_safe` (additive: the
  previous version's workers keep running); otherwise `coach db upgrade` must run them, with the
  workers stopped.
- A database whose version this code does not know (written by a newer coach) refuses to open.

One process migrates at a time: a PostgreSQL advisory lock, or a lock file beside the SQLite file.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.store import schema

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 7_316_001  # the advisory lock key every coach process migrates under
BASELINE = "0001"
HEAD = "0009"  # the newest migration (a test checks it is Alembic's head): a current database is
# recognised without importing Alembic, which is most of a start-up's schema check


class SchemaError(RuntimeError):
    """The database's schema cannot be used by this code as it is; the message says what to do."""


@dataclass(frozen=True)
class Version:
    current: str | None
    head: str
    pending: list[str]

    @property
    def is_current(self) -> bool:
        return self.current == self.head


def _config(conn: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


@cache
def scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


@contextmanager
def _exclusive(engine: Engine) -> Iterator[Connection]:
    """A connection held while this process alone inspects or migrates the schema."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            wait_for_lock(conn)
            try:
                yield conn
            finally:
                conn.rollback()
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
                conn.commit()
            return
        database = conn.engine.url.database
        if not database:  # in memory: nobody else can see it
            yield conn
            return
        with open(f"{database}.migrate-lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield conn
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def wait_for_lock(conn: Connection) -> None:
    """Take the migration lock, polling outside any transaction: a process waiting here must not hold
    a snapshot, or the holder's `CREATE INDEX CONCURRENTLY` (LangGraph's checkpointer set-up) would
    wait for the waiter while the waiter waits for the holder."""
    while True:
        got = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({MIGRATION_LOCK})").scalar()
        conn.commit()
        if got:
            return
        time.sleep(0.2)


def _recorded(conn: Connection) -> str | None:
    """The version stamped in the database (None: no version table, or an empty one)."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


# Alembic's own version table (`alembic.ddl.impl`), written by hand when a blank database is created
VERSION_TABLE = sa.Table(
    "alembic_version",
    sa.MetaData(),
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def _blank(conn: Connection) -> bool:
    """No version table and none of the schema's tables: a database coach has never opened."""
    tables = set(sa.inspect(conn).get_table_names())
    return VERSION_TABLE.name not in tables and not tables & set(schema.metadata.tables)


def version(conn: Connection) -> Version:
    """Where the database stands against this code's migrations (raises `SchemaError` if it is newer)."""
    if _recorded(conn) == HEAD:
        return Version(HEAD, HEAD, [])
    from alembic.runtime.migration import MigrationContext

    current = MigrationContext.configure(conn).get_current_revision()
    head = scripts().get_current_head()
    assert head is not None
    if current is None:
        pending = [s.revision for s in scripts().walk_revisions("base", head)]
    else:
        try:
            pending = [s.revision for s in scripts().walk_revisions(current, head) if s.revision != current]
        except Exception:
            raise SchemaError(
                f"the database's schema is version {current}, newer than this coach knows (up to {head}); "
                "run the newer coach, or point COACH_DATABASE_URL / COACH_DATA_DIR elsewhere"
            ) from None
    return Version(current, head, list(reversed(pending)))


def _stamp(conn: Connection, revision: str) -> None:
    from alembic.runtime.migration import MigrationContext

    MigrationContext.configure(conn).stamp(scripts(), revision)


def prepare(engine: Engine, upgrade: bool = True, force: bool = False) -> Version:
    """Make the schema usable: create it if empty, stamp a pre-migrations file, run pending migrations
    if `upgrade` and they are all online-safe (or `force`: `coach db upgrade`); otherwise raise
    `SchemaError` saying what to run."""
    with _exclusive(engine) as conn:
        if _blank(conn):  # the first start: the whole schema at once, no Alembic to import
            schema.metadata.create_all(conn)
            VERSION_TABLE.create(conn)
            conn.execute(VERSION_TABLE.insert().values(version_num=HEAD))
            conn.commit()
            return Version(HEAD, HEAD, [])
        found = version(conn)
        if found.is_current:
            return found
        if found.current is None:
            tables = set(sa.inspect(conn).get_table_names())
            if not tables & set(schema.metadata.tables):
                schema.metadata.create_all(conn)
                _stamp(conn, found.head)
                conn.commit()
                return version(conn)
            _stamp(conn, BASELINE)  # tables from before migrations: they are the baseline
            conn.commit()
            found = version(conn)
            if found.is_current:
                return found
        unsafe = [
            r for r in found.pending if not getattr(scripts().get_revision(r).module, "online_safe", False)
        ]
        if not (upgrade and (force or not unsafe)):
            raise SchemaError(
                f"the database's schema is version {found.current}; this coach needs {found.head}. "
                + (f"Migration {', '.join(unsafe)} needs the workers stopped: " if unsafe else "")
                + "run `coach db upgrade`"
            )
        from alembic import command

        command.upgrade(_config(conn), "head")
        conn.commit()
        return version(conn)


def upgrade(engine: Engine) -> tuple[Version, Version]:
    """Run every pending migration, safe or not (`coach db upgrade`): the versions before and after."""
    before = check(engine)
    return before, prepare(engine, upgrade=True, force=True)


def check(engine: Engine) -> Version:
    """The schema's version without changing anything (for `/readyz` and `coach db status`)."""
    with engine.connect() as conn:
        return version(conn)
