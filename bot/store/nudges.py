"""Weekly nudges in the store: schedules, the per-member delivery rows and the digests' claims.

A delivery row is unique on (schedule, week, member), so planning twice enqueues once; `claim_delivery`
takes the next ready row with one atomic UPDATE whose pick skips rows another clock has locked
(`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer at a time). What these rows mean
(planning, picking, retry policy, the digest outbox, reminders) is `bot/managers/nudges.py`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from itertools import chain

import sqlalchemy as sa
from sqlalchemy import case, delete, func, or_, select, update

from bot.store.base import StoreBase
from bot.store.schema import (
    managers,
    nudge_deliveries,
    nudge_digests,
    nudge_notes,
    nudge_schedules,
    quiz_attempts,
    quiz_sessions,
)

D = nudge_deliveries.c
G = nudge_digests.c
CHUNK = 1000  # members per `IN (…)`: well under both backends' limits on bound parameters


def session_of(delivery: sa.ColumnElement) -> sa.ColumnElement:
    """The quiz session id of a delivery row (`nudge-<id>`), as SQL."""
    return sa.literal("nudge-", sa.Text) + sa.cast(delivery, sa.Text)


class NudgeTables(StoreBase):
    """`managers`, `nudge_schedules`, `nudge_deliveries`, `nudge_digests` and `nudge_notes`."""

    # managers

    def manager_ids(self) -> list[str]:
        return [r["learner"] for r in self.rows(select(managers.c.learner).order_by(managers.c.learner))]

    def is_listed_manager(self, learner: str) -> bool:
        return bool(self.rows(select(managers.c.learner).where(managers.c.learner == learner)))

    def add_managers(self, rows: list[dict]) -> None:
        statement = self.insert(managers)
        statement = statement.on_conflict_do_update(
            index_elements=["learner"],
            set_={"added_by": statement.excluded.added_by, "added_at": statement.excluded.added_at},
        )
        if rows:
            self.execute(statement, rows)

    def remove_manager(self, learner: str) -> None:
        self.execute(delete(managers).where(managers.c.learner == learner))

    # schedules

    def insert_schedule(self, row: dict) -> None:
        self.execute(nudge_schedules.insert().values(row))

    def schedule_rows(self, manager: str | None = None, status: str | None = None) -> list[dict]:
        query = select(nudge_schedules).order_by(nudge_schedules.c.created_at)
        if manager:
            query = query.where(nudge_schedules.c.manager == manager)
        if status:
            query = query.where(nudge_schedules.c.status == status)
        return self.rows(query)

    def schedule_row(self, schedule_id: str) -> dict | None:
        rows = self.rows(select(nudge_schedules).where(nudge_schedules.c.id == schedule_id))
        return rows[0] if rows else None

    def set_schedule_status(self, schedule_id: str, status: str) -> None:
        self.update_schedule(schedule_id, {"status": status})

    def update_schedule(self, schedule_id: str, values: dict) -> None:
        self.execute(update(nudge_schedules).where(nudge_schedules.c.id == schedule_id).values(values))

    def delete_schedule(self, schedule_id: str) -> None:
        self.execute(delete(nudge_schedules).where(nudge_schedules.c.id == schedule_id))

    def edit_members(
        self, schedule_id: str, add: Iterable[str] = (), remove: Iterable[str] = (), **values: object
    ) -> list[str] | None:
        """Add and remove members in one transaction, the row locked (PostgreSQL `FOR UPDATE`; SQLite
        has one writer), so two edits at once both land; `values` are set too. Returns the members
        now, or None if there is no such schedule."""
        S = nudge_schedules.c
        read = select(S.members).where(S.id == schedule_id).with_for_update()

        def work(conn) -> list[str] | None:
            found = conn.execute(read).first()
            if found is None:
                return None
            members = (set(json.loads(found[0] or "[]")) | set(add)) - set(remove)
            now = sorted(members)
            change = {"members": json.dumps(now), **values}
            conn.execute(update(nudge_schedules).where(S.id == schedule_id).values(change))
            return now

        return self._retry(work)

    def schedules_of_member(self, member: str) -> list[dict]:
        """Schedules (not cancelled) whose team lists `member`."""
        query = select(nudge_schedules).where(nudge_schedules.c.status != "cancelled")
        rows = self.rows(query.order_by(nudge_schedules.c.created_at))
        return [r for r in rows if member in json.loads(r["members"] or "[]")]

    # notes for the next digest

    def add_note(self, schedule: str, note: str, at: str) -> None:
        self.execute(nudge_notes.insert().values(schedule=schedule, note=note, at=at))

    def redact_notes(self, name: str, replacement: str) -> int:
        """Write `replacement` for `name` (whole words) in every note; returns how many notes changed."""
        N = nudge_notes.c
        whole = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")
        changed = 0
        for row in self.rows(select(N.id, N.note).where(N.note.contains(name, autoescape=True))):
            if (note := whole.sub(replacement, row["note"])) != row["note"]:
                changed += self.execute(update(nudge_notes).where(N.id == row["id"]).values(note=note))
        return changed

    def notes_between(self, schedule: str, since: str, until: str) -> list[str]:
        N = nudge_notes.c
        query = select(N.note).where(N.schedule == schedule, N.at >= since, N.at < until).order_by(N.id)
        return [r["note"] for r in self.rows(query)]

    # deliveries

    def enqueue_deliveries(
        self, schedule: str, week: str, rows: list[dict], expire_at: str | None = None
    ) -> int:
        """Insert the window's delivery rows (existing ones are kept); returns how many were new.
        With `expire_at`, if any were new, the members' open sets of earlier windows close then."""
        if not rows:
            return 0
        expire = (
            update(quiz_sessions)
            .where(
                quiz_sessions.c.finished_at.is_(None),
                quiz_sessions.c.quiz == "nudge",
                quiz_sessions.c.id.in_(select(session_of(D.id)).where(D.schedule == schedule, D.week < week)),
            )
            .values(finished_at=expire_at)
        )
        # the rows this very statement inserted: a count before and after would also see rows another
        # clock committed meanwhile (PostgreSQL's READ COMMITTED takes a new snapshot per statement)
        statement = self.insert(nudge_deliveries).on_conflict_do_nothing().returning(D.id)

        def work(conn) -> int:
            new = 0
            for start in range(0, len(rows), CHUNK):
                new += len(conn.execute(statement, rows[start : start + CHUNK]).all())
            if new and expire_at:
                conn.execute(expire)
            return new

        return self._retry(work)

    def claim_delivery(self, clock_id: str, stamp: str, stale_before: str) -> dict | None:
        """Atomically take the next delivery ready at `stamp`, or None; a row left `sending` since
        before `stale_before` (its sender died mid-call) is marked `uncertain`, never resent."""
        ready = D.status.in_(("pending", "retry"))
        pick = (
            select(D.id)
            .where(or_(D.status == "pending", (D.status == "retry") & (D.next_at <= stamp)))
            .order_by(D.id)
            .limit(1)
            .with_for_update(skip_locked=True)  # other clocks take other rows (PostgreSQL)
            .scalar_subquery()
        )
        claim = (
            update(nudge_deliveries)
            .where(D.id == pick, ready)
            .values(status="sending", claimed_by=clock_id, claimed_at=stamp, attempts=D.attempts + 1)
            .returning(*nudge_deliveries.c)
        )
        stale = (
            update(nudge_deliveries)
            .where(D.status == "sending", D.claimed_at < stale_before)
            .values(status="uncertain", error="sender stopped mid-send")
        )

        def work(conn) -> dict | None:
            conn.execute(stale)
            row = conn.execute(claim).mappings().first()
            return dict(row) if row else None

        return self._retry(work)

    def update_delivery(self, delivery: int, values: dict) -> None:
        self.execute(update(nudge_deliveries).where(D.id == delivery).values(values))

    def delivery_rows(self, schedule: str, week: str | None = None) -> list[dict]:
        query = select(nudge_deliveries).where(D.schedule == schedule).order_by(D.id)
        if week is not None:
            query = query.where(D.week == week)
        return self.rows(query)

    def delivery_members(self, schedule: str) -> list[str]:
        """Everyone the schedule ever planned a nudge for."""
        query = select(D.member).where(D.schedule == schedule).distinct()
        return [r["member"] for r in self.rows(query)]

    def last_weeks(self, statuses: tuple[str, ...]) -> list[tuple[dict, str]]:
        """Schedules in these statuses that sent something, with the last week they planned."""
        S = nudge_schedules.c
        chosen = select(S.id).where(S.status.in_(statuses))
        last = (
            select(D.schedule, func.max(D.week).label("week"))
            .where(D.schedule.in_(chosen))
            .group_by(D.schedule)
            .subquery()
        )
        query = (
            select(nudge_schedules, last.c.week.label("last_week"))
            .join(last, last.c.schedule == S.id)
            .where(S.status.in_(statuses))
            .order_by(S.id)
        )
        found = self.rows(query)
        return [({k: v for k, v in r.items() if k != "last_week"}, r["last_week"]) for r in found]

    def delivery_weeks(self, schedule: str) -> list[str]:
        query = select(D.week).where(D.schedule == schedule).distinct().order_by(D.week)
        return [r["week"] for r in self.rows(query)]

    def deliveries_upto(self, schedule: str, week: str, weeks: int) -> tuple[list[str], list[dict]]:
        """The last `weeks` windows up to `week` (oldest first) and their delivery rows."""
        recent = select(D.week).where(D.schedule == schedule, D.week <= week).distinct()
        found = [r["week"] for r in self.rows(recent.order_by(D.week.desc()).limit(weeks))][::-1]
        query = select(nudge_deliveries).where(D.schedule == schedule, D.week.in_(found)).order_by(D.id)
        return found, self.rows(query) if found else []

    def deliveries_of(self, members: list[str]) -> list[dict]:
        """Every delivery ever planned for these members (what they were asked, and when)."""
        found: list[dict] = []
        for start in range(0, len(members), CHUNK):
            query = select(D.member, D.questions, D.planned_at).where(
                D.member.in_(members[start : start + CHUNK])
            )
            found += self.rows(query)
        return found

    def questions_asked(self, members: list[str], since: str) -> dict[str, tuple[Counter[str], set[str]]]:
        """Per member with a delivery ever planned: how many times each question was asked, and the
        questions of the sets planned after `since`. The database concatenates each member's sets
        (JSON arrays), so Python parses one string per member rather than one per set."""
        joined = func.aggregate_strings(func.nullif(D.questions, ""), ",")
        recent = func.aggregate_strings(case((D.planned_at > since, func.nullif(D.questions, ""))), ",")
        found: dict[str, tuple[Counter[str], set[str]]] = {}
        for start in range(0, len(members), CHUNK):
            query = (
                select(D.member, joined, recent)
                .where(D.member.in_(members[start : start + CHUNK]))
                .group_by(D.member)
            )
            with self._read() as conn:
                for member, sets, this_week in conn.execute(query):
                    found[member] = (
                        Counter(chain.from_iterable(json.loads(f"[{sets or ''}]"))),
                        set(chain.from_iterable(json.loads(f"[{this_week or ''}]"))),
                    )
        return found

    # digests: an outbox like the deliveries

    def enqueue_digest(self, schedule: str, week: str) -> bool:
        """Queue the digest of a finished window; True if it was not queued before."""
        statement = (
            self.insert(nudge_digests)
            .values(schedule=schedule, week=week, status="pending", attempts=0)
            .on_conflict_do_nothing()
            .returning(G.schedule)
        )
        return self._retry(lambda conn: conn.execute(statement).first() is not None)

    def claim_digest(self, stamp: str, stale_before: str, max_attempts: int = 5) -> dict | None:
        """Atomically take the next digest ready at `stamp`; one left `sending` since before
        `stale_before` (its sender died) is tried again, if it has attempts left (`abandon_digests`)."""
        pick = (
            select(G.schedule, G.week)
            .where(or_(G.status == "pending", (G.status == "retry") & (G.next_at <= stamp)))
            .order_by(G.week, G.schedule)
            .limit(1)
            .with_for_update(skip_locked=True)  # other clocks take other rows (PostgreSQL)
        )
        claim = (
            update(nudge_digests)
            .where(sa.tuple_(G.schedule, G.week).in_(pick), G.status.in_(("pending", "retry")))
            .values(status="sending", claimed_at=stamp, attempts=G.attempts + 1)
            .returning(*nudge_digests.c)
        )
        stale = (
            update(nudge_digests)
            .where(G.status == "sending", G.claimed_at < stale_before, G.attempts < max_attempts)
            .values(status="retry", next_at=stamp)
        )

        def work(conn) -> dict | None:
            conn.execute(stale)
            row = conn.execute(claim).mappings().first()
            return dict(row) if row else None

        return self._retry(work)

    def abandon_digests(self, stale_before: str, max_attempts: int) -> list[dict]:
        """Digests left `sending` since before `stale_before` with no attempts left (every try died
        mid-send): marked `failed` and returned, so the admins can be told."""
        abandon = (
            update(nudge_digests)
            .where(G.status == "sending", G.claimed_at < stale_before, G.attempts >= max_attempts)
            .values(status="failed", error="the sender stopped mid-send on every attempt")
            .returning(*nudge_digests.c)
        )
        return self._retry(lambda conn: [dict(r) for r in conn.execute(abandon).mappings()])

    def update_digest(self, schedule: str, week: str, values: dict) -> None:
        self.execute(update(nudge_digests).where(G.schedule == schedule, G.week == week).values(values))

    # a member's opt-out

    def withdraw_member(self, member: str, stamp: str, why: str) -> int:
        """A member opted out: their nudges not yet sent are skipped (with `why`) and their open sets
        close at `stamp` (a reminder goes only to an open set), in one transaction. Returns how many
        nudges were withdrawn."""
        withdraw = (
            update(nudge_deliveries)
            .where(D.member == member, D.status.in_(("pending", "retry")))
            .values(status="skipped", error=why)
        )
        close = (
            update(quiz_sessions)
            .where(
                quiz_sessions.c.learner == member,
                quiz_sessions.c.quiz == "nudge",
                quiz_sessions.c.finished_at.is_(None),
            )
            .values(finished_at=stamp)
        )

        def work(conn) -> int:
            withdrawn = conn.execute(withdraw).rowcount
            conn.execute(close)
            return withdrawn

        return self._retry(work)

    # mid-week reminders

    def reminder_rows(self) -> list[dict]:
        """Sent deliveries of active schedules with reminders on, never reminded, whose set is open."""
        S = nudge_schedules.c
        query = (
            select(nudge_deliveries, S.remind_after_h)
            .join(nudge_schedules, S.id == D.schedule)
            .join(quiz_sessions, quiz_sessions.c.id == session_of(D.id))
            .where(
                D.status == "sent",
                D.reminded_at.is_(None),
                S.remind_after_h.is_not(None),
                S.status == "active",
                quiz_sessions.c.finished_at.is_(None),
            )
            .order_by(D.id)
        )
        return self.rows(query)

    def claim_reminder(self, delivery: int, stamp: str) -> bool:
        """True exactly once per delivery: whoever sets `reminded_at` sends the reminder."""
        claim = update(nudge_deliveries).where(D.id == delivery, D.reminded_at.is_(None))
        return self.execute(claim.values(reminded_at=stamp)) == 1

    def answered_count(self, session: str) -> int:
        query = select(func.count().label("n")).where(quiz_attempts.c.session == session)
        return self.rows(query)[0]["n"]
