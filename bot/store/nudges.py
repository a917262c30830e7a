"""Weekly nudges in the store: schedules, the per-member delivery rows and the digests' claims.

A delivery row is unique on (schedule, week, member), so planning twice enqueues once; `claim_delivery`
takes the next ready row with one atomic UPDATE whose pick skips rows another clock has locked
(`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer at a time); `claim_digest` is true
exactly once per window. What these rows mean (planning, picking, retry policy) is
`bot/managers/nudges.py`.
"""

from __future__ import annotations

from sqlalchemy import delete, func, or_, select, update

from bot.store.base import StoreBase
from bot.store.schema import managers, nudge_deliveries, nudge_digests, nudge_schedules

D = nudge_deliveries.c


class NudgeTables(StoreBase):
    """`managers`, `nudge_schedules`, `nudge_deliveries` and `nudge_digests`."""

    # managers

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

    # deliveries

    def enqueue_deliveries(self, schedule: str, week: str, rows: list[dict]) -> int:
        """Insert the window's delivery rows (existing ones are kept); returns how many were new."""
        if not rows:
            return 0
        statement = self.insert(nudge_deliveries).on_conflict_do_nothing()

        window = (
            select(func.count()).select_from(nudge_deliveries).where(D.schedule == schedule, D.week == week)
        )

        def work(conn) -> int:
            before = conn.execute(window).scalar_one()
            for start in range(0, len(rows), 1000):
                conn.execute(statement, rows[start : start + 1000])
            return conn.execute(window).scalar_one() - before

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

    def delivery_weeks(self, schedule: str) -> list[str]:
        query = select(D.week).where(D.schedule == schedule).distinct().order_by(D.week)
        return [r["week"] for r in self.rows(query)]

    # digests

    def claim_digest(self, schedule: str, week: str, stamp: str) -> bool:
        """True exactly once per (schedule, week): whoever inserts the row sends the digest."""
        statement = (
            self.insert(nudge_digests)
            .values(schedule=schedule, week=week, status="sending", sent_at=stamp)
            .on_conflict_do_nothing()
            .returning(nudge_digests.c.schedule)
        )
        return self._retry(lambda conn: conn.execute(statement).first() is not None)

    def set_digest_status(self, schedule: str, week: str, status: str) -> None:
        self.execute(
            update(nudge_digests)
            .where(nudge_digests.c.schedule == schedule, nudge_digests.c.week == week)
            .values(status=status)
        )
