"""Where Teams people can be reached: the teams and group chats the coach has read a roster in.

Sending to a Teams member (a weekly nudge) needs a Bot Connector service URL and the tenant, and a
member who never talked to the coach needs a 1:1 conversation created in that tenant. Both come from
the team the member was seen in. `teams_places` holds each team or group chat (its service URL,
tenant, the bot's id there, its name); `teams_members` who was in it when its roster was last read.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from bot.store.base import StoreBase, now_iso
from bot.store.schema import teams_members, teams_places


class TeamsTables(StoreBase):
    """`teams_places` and `teams_members`."""

    def save_place(
        self, place: str, service_url: str, tenant: str, bot: str, name: str, at: datetime
    ) -> None:
        """Remember a team (or group chat) the coach is installed in, and how to call the connector there."""
        row = {"service_url": service_url, "tenant": tenant, "bot": bot, "name": name, "seen_at": now_iso(at)}
        statement = self.insert(teams_places).values(id=place, **row)
        self.execute(statement.on_conflict_do_update(index_elements=["id"], set_=row))

    def place(self, place: str) -> dict | None:
        rows = self.rows(select(teams_places).where(teams_places.c.id == place))
        return rows[0] if rows else None

    def set_place_members(self, place: str, members: list[str], at: datetime) -> None:
        """The members of `place` as just read from Teams (those no longer in it are forgotten there)."""
        rows = [{"member": m, "place": place, "seen_at": now_iso(at)} for m in dict.fromkeys(members)]

        def work(conn) -> None:
            conn.execute(delete(teams_members).where(teams_members.c.place == place))
            if rows:
                conn.execute(teams_members.insert(), rows)

        self.write(work)

    def drop_place_member(self, place: str, member: str) -> None:
        M = teams_members.c  # the table's columns
        self.execute(delete(teams_members).where(M.place == place, M.member == member))

    def places_of(self, member: str) -> list[dict]:
        """The places `member` was last seen in, most recently read first."""
        M = teams_members.c  # the table's columns
        query = (
            select(teams_places)
            .join(teams_members, teams_places.c.id == M.place)
            .where(M.member == member)
            .order_by(M.seen_at.desc())
        )
        return self.rows(query)
