"""`confirmations`: one-time codes a person confirms a dangerous step with ("forget me"'s Yes button).

A code is stored (as its SHA-256, never itself) with who may use it, where, and until when; using it
deletes its row in one statement, so it works once, on whichever worker the click lands, after a
restart too. Issuing a code prunes the expired ones.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete

from bot.store.base import StoreBase, now_iso
from bot.store.schema import confirmations

C = confirmations.c


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class ConfirmationTables(StoreBase):
    def issue_code(self, purpose: str, learner: str, conversation: str, now: datetime, ttl: timedelta) -> str:
        """A new code for `learner` to confirm `purpose` in `conversation` within `ttl`."""
        code = secrets.token_urlsafe(16)
        row = {
            "code": _hash(code),
            "purpose": purpose,
            "learner": learner,
            "conversation": conversation,
            "expires_at": now_iso(now + ttl),
        }
        prune = delete(confirmations).where(C.expires_at <= now_iso(now))

        def work(conn) -> None:
            conn.execute(prune)
            conn.execute(confirmations.insert().values(row))

        self._retry(work)
        return code

    def use_code(self, code: str, purpose: str, learner: str, conversation: str, now: datetime) -> bool:
        """True exactly once for a live code issued to this learner, here, for this purpose."""
        use = delete(confirmations).where(
            C.code == _hash(code),
            C.purpose == purpose,
            C.learner == learner,
            C.conversation == conversation,
            C.expires_at > now_iso(now),
        )
        return bool(code) and self.execute(use) == 1
