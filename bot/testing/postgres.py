"""A throwaway PostgreSQL server for tests and benchmarks: `initdb` in a temporary folder, listening on
127.0.0.1 at a free port, stopped and deleted afterwards. Nothing is mocked: it is the real server from
the Debian packages (`make test` installs them when missing; see `tools/ensure-postgres`).

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user the Debian
package creates (or `nobody`), through `runuser`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

from bot.testing.scratch import memory_folder


def binaries() -> Path | None:
    """The folder of `initdb` and `pg_ctl`: on PATH, or Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayPostgres:
    """A private PostgreSQL server; `database()` makes a fresh, empty database and returns its URL."""

    def __init__(self, max_connections: int = 400):
        bin_dir = binaries()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = bin_dir
        self.max_connections = max_connections
        self.port = _free_port()
        # in memory when there is room: deleting a test run's ~60 databases from this box's disk at
        # the end took 23 s under load, and each copy (`database`) is faster there too
        self.root = Path(tempfile.mkdtemp(prefix="coach-pg-", dir=memory_folder()))
        self.data = self.root / "data"
        self.user = None if os.geteuid() != 0 else self._unprivileged_user()

    @staticmethod
    def _unprivileged_user() -> str:
        for name in ("postgres", "nobody"):
            try:
                pwd.getpwnam(name)
                return name
            except KeyError:
                continue
        raise RuntimeError("running as root and there is no postgres or nobody user to run PostgreSQL as")

    def describe(self) -> dict[str, str | int | None]:
        """What another process needs to use (and stop) this running server: see `running`."""
        return {"port": self.port, "root": str(self.root), "user": self.user}

    @classmethod
    def running(cls, described: dict[str, str | int | None]) -> ThrowawayPostgres:
        """A handle on a server that another process started (`describe()`): its URLs and `stop()`."""
        server = cls.__new__(cls)
        bin_dir = binaries()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        server.bin, server.max_connections = bin_dir, 0
        server.port, server.root = int(described["port"] or 0), Path(str(described["root"]))
        server.data = server.root / "data"
        server.user = None if described["user"] is None else str(described["user"])
        return server

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.root)

    def start(self) -> ThrowawayPostgres:
        if self.user:
            os.chmod(self.root, 0o755)
            shutil.chown(self.root, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "coach", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
            f"-c max_connections={self.max_connections} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c shared_buffers=64MB"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")
        return self

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://coach@127.0.0.1:{self.port}/{database}"

    def database(self, template: str | None = None) -> str:
        """A new database (a copy of `template` if given); returns its URL.

        Copied file by file (PostgreSQL 15+'s `STRATEGY FILE_COPY`) rather than page by page through
        the write-ahead log, the default since 15: for a small database on a server without fsync,
        0.09-0.14 s a copy instead of 0.16-0.33 s (a test on PostgreSQL makes one)."""
        name = f"coach_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            copy = f" TEMPLATE {template}" if template else ""
            if conn.info.server_version >= 150000:
                copy += " STRATEGY FILE_COPY"
            conn.execute(f"CREATE DATABASE {name}{copy}")
        return self.url(name)

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
