"""The `inbox`: platform requests acknowledged whose turn has not run yet (`adapters/slack/inbox.py`).

A request is stored here before its 200, on SQLite and PostgreSQL alike (HTTP only: Socket Mode has
none), and deleted once its turn ran. One still here when its process is gone (`waiting_is_dead` on its
owner) is run by the next process to start, unless its turn had stored its message already (`messages`,
by the platform's delivery key): that one is the messages' to own up to, as before
(`Coach._lost_messages`), and its row is dropped. Running one twice is safe anyway: a turn stores its
message under that key first, so a second run is a duplicate. The writes of many acks in flight at once
go in one transaction (`inbox_write`, fed by `adapters/slack/journal.py`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Connection

from bot.store.base import now_iso
from bot.store.learners import LearnerTables
from bot.store.schema import inbox, messages


def unstorable(exc: BaseException) -> bool:
    """Whether a write failed on the request itself (a value the database cannot hold: a NUL character
    on PostgreSQL, a delivery key past its index's limit), so writing it again fails again."""
    if isinstance(exc, sa.exc.DataError):
        return True
    state = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    return state.startswith(("22", "54"))  # data exception, program limit exceeded


def systemic(exc: BaseException) -> bool:
    """Whether a write failed on the database or the connection (unreachable, disk full), not on one
    request: then every request of its batch would fail alone too."""
    if unstorable(exc):
        return False
    return isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError, OSError, TimeoutError))


COLUMNS = ("delivery", "channel", "body", "query", "content_type", "owner", "received_at", "learner")


class InboxTables(LearnerTables):
    """`inbox`: stored before the ack, deleted after the turn, taken over from a dead process."""

    def inbox_write(self, requests: Sequence[dict[str, Any]], done: Sequence[int]) -> list[int | None]:
        """Store `requests` (each: delivery, channel, body, query, content_type, learner) and delete
        the `done` ids, in one transaction. Each request's id, or None for a delivery already stored
        (a retry) by a live process; one stored by a dead process (it died before its 200 went out,
        or after) is this process's to run now, as Slack's retry, and its id is returned."""
        owner, stamp = self._process_key(), now_iso(datetime.now(UTC))
        names = ", ".join(f"%({c})s" if self.postgres else f":{c}" for c in COLUMNS)
        add = f"INSERT INTO inbox ({', '.join(COLUMNS)}) VALUES ({names}) ON CONFLICT DO NOTHING RETURNING id"

        def build_delete() -> Any:
            return delete(inbox).where(inbox.c.id.in_(bindparam("ids", expanding=True)))

        def work(conn: Connection) -> list[int | None]:
            if done:
                conn.execute(self.statement("inbox_done", build_delete), {"ids": list(done)})
            # the driver's own cursor, in this transaction: a burst's rows cost the database's work, not
            # SQLAlchemy's per-statement Python (which, on the store's thread, holds the interpreter
            # lock the event loop taking in the burst needs)
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            ids = []
            driver_error = conn.dialect.dbapi.Error  # type: ignore[union-attr]
            for r in requests:
                try:
                    cursor.execute(add, {"learner": None, **r, "owner": owner, "received_at": stamp})
                except driver_error as exc:  # as SQLAlchemy's own error: `_retry` waits out a lock
                    raise sa.exc.DBAPIError.instance(add, r, exc, driver_error) from exc
                found = cursor.fetchone()
                ids.append(found[0] if found else None)
            cursor.close()
            return ids

        ids = self._retry(work)
        for i, (request, row) in enumerate(zip(requests, ids, strict=True)):
            if row is None and request["delivery"] is not None:
                ids[i] = self._take_over_delivery(request["delivery"])
        return ids

    def _take_over_delivery(self, delivery: str) -> int | None:
        found = self.rows(select(inbox.c.id, inbox.c.owner).where(inbox.c.delivery == delivery))
        if not found or found[0]["owner"] == self._process_key():
            return None
        row = found[0]
        return row["id"] if self.waiting_is_dead(row["owner"]) and self._adopt(row) else None

    def _adopt(self, row: dict[str, Any]) -> bool:
        """Make a dead process's row this one's, unless another process took it first."""
        where = (inbox.c.id == row["id"], inbox.c.owner == row["owner"])
        return self.execute(update(inbox).where(*where).values(owner=self._process_key())) == 1

    def inbox_take_over(
        self,
        channel: str,
        message_key: Callable[[dict[str, Any]], str | None],
        received_before: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """The requests of `channel` whose process is gone and whose turn never stored its message
        (`message_key(row)`: its delivery key in `messages`), oldest first, now owned by this one; the
        rows of those it did store are deleted. Only rows received before `received_before`, if given."""
        mine = self._process_key()
        others = sa.or_(inbox.c.owner.is_(None), inbox.c.owner != mine)
        if received_before is not None:
            others = sa.and_(others, inbox.c.received_at < now_iso(received_before))
        owners = self.rows(select(inbox.c.owner).where(inbox.c.channel == channel, others).distinct())
        gone = [r["owner"] for r in owners if self.waiting_is_dead(r["owner"])]  # one check per process
        if not gone:
            return []
        whose = sa.or_(
            inbox.c.owner.in_([o for o in gone if o]), inbox.c.owner.is_(None) if None in gone else sa.false()
        )
        with self._read() as conn:
            rows = conn.execute(
                select(inbox).where(inbox.c.channel == channel, whose, others).order_by(inbox.c.id)
            )
            dead = [dict(r) for r in rows.mappings()]
        keys = {r["id"]: message_key(r) for r in dead}
        wanted = [k for k in keys.values() if k is not None]
        taken = set()
        if wanted:
            taken = {
                r["delivery"]
                for r in self.rows(select(messages.c.delivery).where(messages.c.delivery.in_(wanted)))
            }
        run = [r for r in dead if keys[r["id"]] is None or keys[r["id"]] not in taken]
        for r in (r for r in dead if r not in run):  # still the dead owner's: another may have adopted it
            where = (
                inbox.c.id == r["id"],
                inbox.c.owner.is_(None) if r["owner"] is None else inbox.c.owner == r["owner"],
            )
            self.execute(delete(inbox).where(*where))
        return [r for r in run if self._adopt(r)]
