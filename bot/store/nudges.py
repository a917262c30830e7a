"""Weekly nudges in the store: schedules, the per-member delivery rows and the digests' claims.

A delivery row is unique on (schedule, week, member), so planning twice enqueues once; `claim_delivery`
takes the next ready row with one atomic UPDATE. What these rows mean (planning, picking, retry
policy, the digest outbox, reminders) is `bot/managers/nudges.py`.
"""

from __future__ import annotations

from bot.store.base import StoreBase


class NudgeTables(StoreBase):
    """`nudge_schedules`, `nudge_deliveries` and `nudge_digests`."""

    # schedules

    def insert_schedule(self, row: dict) -> None:
        self.write(lambda db: db["nudge_schedules"].insert(row))

    def schedule_rows(self, manager: str | None = None, status: str | None = None) -> list[dict]:
        where, args = [], []
        if manager:
            where.append("manager = ?")
            args.append(manager)
        if status:
            where.append("status = ?")
            args.append(status)
        sql = (
            "SELECT * FROM nudge_schedules"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY created_at"
        )
        return self.read(sql, args)

    def schedule_row(self, schedule_id: str) -> dict | None:
        rows = self.read("SELECT * FROM nudge_schedules WHERE id = ?", [schedule_id])
        return rows[0] if rows else None

    def set_schedule_status(self, schedule_id: str, status: str) -> None:
        self.write(lambda db: db["nudge_schedules"].update(schedule_id, {"status": status}))

    # deliveries

    def enqueue_deliveries(self, schedule: str, week: str, rows: list[dict]) -> int:
        """Insert the window's delivery rows (existing ones are kept); returns how many were new."""

        def work(db) -> int:
            before = db.execute(
                "SELECT count(*) FROM nudge_deliveries WHERE schedule = ? AND week = ?", [schedule, week]
            ).fetchone()[0]
            db["nudge_deliveries"].insert_all(rows, ignore=True, batch_size=500)
            after = db.execute(
                "SELECT count(*) FROM nudge_deliveries WHERE schedule = ? AND week = ?", [schedule, week]
            ).fetchone()[0]
            return after - before

        return self.write(work)

    def claim_delivery(self, clock_id: str, stamp: str, stale_before: str) -> dict | None:
        """Atomically take the next delivery ready at `stamp`, or None; a row left `sending` since
        before `stale_before` (its sender died mid-call) is marked `uncertain`, never resent."""

        def work(db) -> dict | None:
            db.execute(
                "UPDATE nudge_deliveries SET status = 'uncertain', error = 'sender stopped mid-send' "
                "WHERE status = 'sending' AND claimed_at < ?",
                [stale_before],
            )
            cursor = db.execute(
                "UPDATE nudge_deliveries SET status = 'sending', claimed_by = ?, claimed_at = ?, "
                "attempts = attempts + 1 "
                "WHERE id = (SELECT id FROM nudge_deliveries WHERE status = 'pending' "
                "OR (status = 'retry' AND next_at <= ?) ORDER BY id LIMIT 1) "
                "AND status IN ('pending', 'retry') RETURNING *",
                [clock_id, stamp, stamp],
            )
            rows = cursor.fetchall()
            if not rows:
                return None
            return dict(zip([c[0] for c in cursor.description], rows[0], strict=True))

        return self.write(work)

    def update_delivery(self, delivery: int, values: dict) -> None:
        self.write(lambda db: db["nudge_deliveries"].update(delivery, values))

    def delivery_rows(self, schedule: str, week: str | None = None) -> list[dict]:
        if week is None:
            return self.read("SELECT * FROM nudge_deliveries WHERE schedule = ? ORDER BY id", [schedule])
        return self.read(
            "SELECT * FROM nudge_deliveries WHERE schedule = ? AND week = ? ORDER BY id", [schedule, week]
        )

    def delivery_members(self, schedule: str) -> list[str]:
        """Everyone the schedule ever planned a nudge for."""
        rows = self.read("SELECT DISTINCT member FROM nudge_deliveries WHERE schedule = ?", [schedule])
        return [r["member"] for r in rows]

    def delivery_weeks(self, schedule: str) -> list[str]:
        rows = self.read(
            "SELECT DISTINCT week FROM nudge_deliveries WHERE schedule = ? ORDER BY week", [schedule]
        )
        return [r["week"] for r in rows]
