"""Members' say over weekly nudges (stop, pause for a while, resume), and people's known names.

Every opt-out change is a new row, so the history is kept (and a manager's digest can show who opted
out and since when). Plain functions over the store, so the flows can use them too; the platform
look-up cache (`people`) is written through `PeopleTables`."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.store.base import StoreBase, now_iso
from bot.store.base import StoreBase as Store
from bot.store.schema import learners, nudge_optouts, people

CHUNK = 1000  # members per `IN (…)`


def record(store: Store, member: str, kind: str, now: datetime, weeks: int | None = None) -> str | None:
    """Record "stop", "pause" (for `weeks`) or "resume"; returns the pause's end (ISO) if any."""
    until = now_iso(now + timedelta(weeks=weeks or 1)) if kind == "pause" else None
    store.execute(nudge_optouts.insert().values(member=member, kind=kind, until=until, at=now_iso(now)))
    return until


def opted_out(store: Store, members: list[str], now: datetime) -> dict[str, str]:
    """Members who do not want nudges now → "stopped" or "paused until YYYY-MM-DD"."""
    O = nudge_optouts.c  # noqa: E741 - the table's columns
    rows: list[dict] = []
    for start in range(0, len(members), CHUNK):
        latest = select(func.max(O.id)).where(O.member.in_(members[start : start + CHUNK])).group_by(O.member)
        rows += store.rows(select(O.member, O.kind, O.until).where(O.id.in_(latest)))
    stamp = now_iso(now)
    out = {}
    for r in rows:
        if r["kind"] == "stop":
            out[r["member"]] = "stopped"
        elif r["kind"] == "pause" and r["until"] > stamp:
            out[r["member"]] = f"paused until {r['until'][:10]}"
    return out


def known_names(store: Store, members: list[str]) -> dict[str, str]:
    """Display names without asking anyone: the platform look-up cache (`people`), then the name a
    person gave when they talked to the coach, then their platform id."""
    names: dict[str, str] = {}
    for start in range(0, len(members), CHUNK):
        chunk = members[start : start + CHUNK]
        spoken = select(learners.c.id, learners.c.name).where(
            learners.c.id.in_(chunk), learners.c.name.is_not(None)
        )
        looked_up = select(people.c.member, people.c.name).where(
            people.c.member.in_(chunk), people.c.name.is_not(None)
        )
        names.update({r["id"]: r["name"] for r in store.rows(spoken)})
        names.update({r["member"]: r["name"] for r in store.rows(looked_up)})
    return {m: names.get(m) or m.partition(":")[2] or m for m in members}


class PeopleTables(StoreBase):
    """`people`: display names and whether the account is active, as the platform said (a cache)."""

    def save_people(self, rows: list[dict]) -> None:
        """Upsert looked-up people (`member`, `name`, `active`, `fetched_at`)."""
        if not rows:
            return
        statement = self.insert(people)
        statement = statement.on_conflict_do_update(
            index_elements=["member"],
            set_={c: statement.excluded[c] for c in ("name", "active", "fetched_at")},
        )
        self.execute(statement, rows)

    def people_where(
        self, members: list[str], fetched_after: str | None = None, inactive: bool = False
    ) -> set[str]:
        """Members looked up after `fetched_after`, or (with `inactive`) those the platform deactivated."""
        P = people.c
        found: set[str] = set()
        for start in range(0, len(members), CHUNK):
            query = select(P.member).where(P.member.in_(members[start : start + CHUNK]))
            if fetched_after is not None:
                query = query.where(P.fetched_at > fetched_after)
            if inactive:
                query = query.where(P.active == 0)
            found |= {r["member"] for r in self.rows(query)}
        return found
