"""Teams conversation references in the store: how to message a learner proactively later."""

from __future__ import annotations

import json
from datetime import datetime

from bot.store.base import StoreBase, now_iso


class ReferenceTables(StoreBase):
    """`conversation_refs` (one per learner and conversation)."""

    def save_reference(self, learner: str, conversation: str, reference: dict, at: datetime) -> None:
        """Remember how to message a learner in a conversation later (Teams proactive messages)."""
        platform = learner.partition(":")[0]
        sql = (
            "INSERT INTO conversation_refs (learner, conversation, platform, reference, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(learner, conversation) "
            "DO UPDATE SET reference = excluded.reference, updated_at = excluded.updated_at"
        )
        values = [learner, conversation, platform, json.dumps(reference, sort_keys=True), now_iso(at)]
        self._retry(lambda: self._conn.execute(sql, values))

    def references(self, learner: str) -> list[dict]:
        """The learner's stored conversation references, most recently used first."""
        with self._read() as db:
            rows = list(
                db["conversation_refs"].rows_where("learner = ?", [learner], order_by="updated_at desc")
            )
        for r in rows:
            r["reference"] = json.loads(r["reference"])
        return rows
