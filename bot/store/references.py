"""Teams conversation references in the store: how to message a learner proactively later."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.store.base import StoreBase, now_iso
from bot.store.schema import conversation_refs


class ReferenceTables(StoreBase):
    """`conversation_refs` (one per learner and conversation)."""

    def save_reference(self, learner: str, conversation: str, reference: dict, at: datetime) -> None:
        """Remember how to message a learner in a conversation later (Teams proactive messages)."""

        def build() -> Any:  # built once: its values come as parameters (see `StoreBase.statement`)
            statement = self.insert(conversation_refs)
            return statement.on_conflict_do_update(
                index_elements=["learner", "conversation"],
                set_={"reference": statement.excluded.reference, "updated_at": statement.excluded.updated_at},
            )

        row = {
            "learner": learner,
            "conversation": conversation,
            "platform": learner.partition(":")[0],
            "reference": json.dumps(reference, sort_keys=True),
            "updated_at": now_iso(at),
        }
        self.execute(self.statement("save_reference", build), row)

    def references(self, learner: str) -> list[dict]:
        """The learner's stored conversation references, most recently used first."""
        rows = self.rows(
            select(conversation_refs)
            .where(conversation_refs.c.learner == learner)
            .order_by(conversation_refs.c.updated_at.desc())
        )
        for r in rows:
            r["reference"] = json.loads(r["reference"])
        return rows
