"""Labs in the store: one row per lab run, with its score and the rubric points covered and missed."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.store.base import StoreBase
from bot.store.schema import lab_runs


class LabTables(StoreBase):
    """`lab_runs`."""

    def save_lab_run(self, run: dict) -> None:
        row = {**run, "covered": json.dumps(run["covered"]), "missed": json.dumps(run["missed"])}
        statement = self.insert(lab_runs).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["id"], set_={k: statement.excluded[k] for k in row if k != "id"}
        )
        self.execute(statement)

    def lab_runs(self, learner: str) -> list[dict]:
        rows = self.rows(
            select(lab_runs).where(lab_runs.c.learner == learner).order_by(lab_runs.c.started_at)
        )
        for r in rows:
            r["covered"] = json.loads(r["covered"] or "[]")
            r["missed"] = json.loads(r["missed"] or "[]")
        return rows
