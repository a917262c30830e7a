"""Members' say over weekly nudges (stop, pause for a while, resume), and people's known names.

Every opt-out change is a new row, so the history is kept (and a manager's digest can show who opted
out and since when). Plain functions over the store, so the flows can use them too."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from bot.store.base import StoreBase as Store
from bot.store.base import now_iso


def record(store: Store, member: str, kind: str, now: datetime, weeks: int | None = None) -> str | None:
    """Record "stop", "pause" (for `weeks`) or "resume"; returns the pause's end (ISO) if any."""
    until = now_iso(now + timedelta(weeks=weeks or 1)) if kind == "pause" else None
    row = {"member": member, "kind": kind, "until": until, "at": now_iso(now)}
    store.write(lambda db: db["nudge_optouts"].insert(row))
    return until


def opted_out(store: Store, members: list[str], now: datetime) -> dict[str, str]:
    """Members who do not want nudges now → "stopped" or "paused until YYYY-MM-DD"."""
    rows = store.read(
        "SELECT member, kind, until FROM nudge_optouts WHERE id IN (SELECT max(id) FROM nudge_optouts "
        "WHERE member IN (SELECT value FROM json_each(?)) GROUP BY member)",
        [json.dumps(members)],
    )
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
    listed = json.dumps(members)
    spoken = store.read(
        "SELECT id, name FROM learners WHERE name IS NOT NULL AND id IN (SELECT value FROM json_each(?))",
        [listed],
    )
    looked_up = store.read(
        "SELECT member, name FROM people WHERE name IS NOT NULL "
        "AND member IN (SELECT value FROM json_each(?))",
        [listed],
    )
    names = {r["id"]: r["name"] for r in spoken}
    names.update({r["member"]: r["name"] for r in looked_up})
    return {m: names.get(m) or m.partition(":")[2] or m for m in members}
