"""Labs in the store: one row per lab run, with its score and the rubric points covered and missed."""

from __future__ import annotations

import json

from bot.store.base import StoreBase


class LabTables(StoreBase):
    """`lab_runs`."""

    def save_lab_run(self, run: dict) -> None:
        row = {**run, "covered": json.dumps(run["covered"]), "missed": json.dumps(run["missed"])}
        self._retry(lambda: self.db["lab_runs"].upsert(row, pk="id"))

    def lab_runs(self, learner: str) -> list[dict]:
        with self._read() as db:
            rows = list(db["lab_runs"].rows_where("learner = ?", [learner], order_by="started_at"))
        for r in rows:
            r["covered"] = json.loads(r["covered"] or "[]")
            r["missed"] = json.loads(r["missed"] or "[]")
        return rows
