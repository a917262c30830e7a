"""People's display names from their platform (Slack `users.info`, Teams member names), cached.

A name is looked up at most once a week per person; a failed look-up falls back to the name the
person gave when they last talked to the coach, then to their platform id.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from bot.store import Store, now_iso
from bot.store.optouts import known_names

log = logging.getLogger("coach.people")
FRESH = timedelta(days=7)


class People:
    def __init__(self, store: Store, senders: dict[str, Any] | None = None):
        self.store, self.senders = store, senders or {}

    def cached(self, members: list[str]) -> dict[str, str]:
        """Names known without asking anyone: the cache, then what people told the coach."""
        return known_names(self.store, members)

    async def names(self, members: list[str], now: datetime) -> dict[str, str]:
        """Display names, refreshing from the platform what is missing or older than a week."""
        fresh = await asyncio.to_thread(self.store.people_where, members, now_iso(now - FRESH))
        rows = []
        for member in members:
            sender = self.senders.get(member.partition(":")[0])
            lookup = getattr(sender, "profile", None)
            if member in fresh or lookup is None:
                continue
            try:
                name, active = await lookup(member)
            except Exception as exc:  # the name is a nicety: never let it stop a digest
                log.info("no profile for %s: %s", member, exc)
                continue
            rows.append({"member": member, "name": name, "active": int(active), "fetched_at": now_iso(now)})
        await asyncio.to_thread(self.store.save_people, rows)
        return await asyncio.to_thread(self.cached, members)

    def remember(self, names: dict[str, str], now: datetime) -> None:
        """Names the platform handed over anyway (a Teams roster lists members with their names)."""
        rows = [
            {"member": m, "name": n, "active": 1, "fetched_at": now_iso(now)} for m, n in names.items() if n
        ]
        self.store.save_people(rows)

    def inactive(self, members: list[str]) -> set[str]:
        return self.store.people_where(members, inactive=True)
