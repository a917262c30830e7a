"""Where Teams people can be reached: the teams and group chats the coach has read a roster in.

Sending to a Teams member (a weekly nudge) needs a Bot Connector service URL and the tenant, and a
member who never talked to the coach needs a 1:1 conversation created in that tenant. Both come from
the team the member was seen in. `teams_places` holds each team or group chat (its service URL,
tenant, the bot's id there, its name); `teams_members` who was in it when its roster was last read.
"""

from __future__ import annotations

from datetime import datetime

from bot.store.base import StoreBase, now_iso


class TeamsTables(StoreBase):
    """`teams_places` and `teams_members`."""

    def save_place(
        self, place: str, service_url: str, tenant: str, bot: str, name: str, at: datetime
    ) -> None:
        """Remember a team (or group chat) the coach is installed in, and how to call the connector there."""
        row = {"id": place, "service_url": service_url, "tenant": tenant, "bot": bot, "name": name}
        self.write(lambda db: db["teams_places"].upsert({**row, "seen_at": now_iso(at)}, pk="id"))

    def place(self, place: str) -> dict | None:
        rows = self.read("SELECT * FROM teams_places WHERE id = ?", [place])
        return rows[0] if rows else None

    def set_place_members(self, place: str, members: list[str], at: datetime) -> None:
        """The members of `place` as just read from Teams (those no longer in it are forgotten there)."""
        rows = [{"member": m, "place": place, "seen_at": now_iso(at)} for m in members]

        def work(db) -> None:
            db.execute("DELETE FROM teams_members WHERE place = ?", [place])
            db["teams_members"].insert_all(rows, pk=("member", "place"), replace=True)

        self.write(work)

    def drop_place_member(self, place: str, member: str) -> None:
        self.write(
            lambda db: db.execute("DELETE FROM teams_members WHERE place = ? AND member = ?", [place, member])
        )

    def places_of(self, member: str) -> list[dict]:
        """The places `member` was last seen in, most recently read first."""
        return self.read(
            "SELECT p.* FROM teams_members m JOIN teams_places p ON p.id = m.place "
            "WHERE m.member = ? ORDER BY m.seen_at DESC",
            [member],
        )
