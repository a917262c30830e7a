"""`coach clock`, `coach nudges` and `coach report`: the managers' weekly nudges and digests from the
terminal (the same commands managers type in Slack or Teams, `bot/managers/`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from bot.cli.common import fail, out, runtime, setup_logging

if TYPE_CHECKING:
    from bot.app import Runtime


class BuiltOnFirstUse:
    """A sender made when something is first asked of it: a pass with no Teams member or manager due
    never imports botbuilder (a third of `coach clock --once`'s CPU)."""

    def __init__(self, build: Callable[[], Any]):
        self._build, self._sender = build, None

    def __getattr__(self, name: str) -> Any:
        if self._sender is None:
            self._sender = self._build()
        return getattr(self._sender, name)


def _senders(rt: Runtime, clock=None) -> dict:
    """Delivery channels for nudges and digests, from the settings (acting at `clock`'s time)."""
    from adapters.slack.sender import SlackSender, make_client
    from flows.deps import utc_now

    s = rt.settings
    clock = clock or utc_now

    def teams() -> Any:
        from adapters.teams.adapter import make_adapter
        from adapters.teams.sender import TeamsSender

        return TeamsSender(make_adapter(s), s.teams_app_id, rt.store, clock)

    senders: dict = {"teams": BuiltOnFirstUse(teams)}
    if s.slack_bot_token and s.slack_bot_token.get_secret_value():
        senders["slack"] = SlackSender(make_client(s.slack_bot_token.get_secret_value(), s.slack_api_url))
    return senders


def clock(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between passes.")] = 30.0,
    now: Annotated[
        str | None,
        typer.Option("--now", help="With --once: act as if it were this time (ISO 8601), to rehearse."),
    ] = None,
) -> None:
    """Run due weekly nudges and manager digests, and prune old checkpoints daily (Procfile `clock`).
    Safe to run twice at once."""
    import asyncio
    from datetime import datetime

    from bot import metrics
    from bot.managers.clock import Dispatcher
    from flows.deps import utc_now  # the coach's clock (`Deps.clock`), without building its brain

    setup_logging(True)
    rt = runtime()
    if why := metrics.problem(rt.settings.metrics_dir):
        raise fail(why)
    metrics.configure(rt.settings.metrics, rt.settings.metrics_dir)
    clock = utc_now
    if now is not None:
        try:
            moment = datetime.fromisoformat(now)
        except ValueError:
            raise fail(f"--now {now!r} is not an ISO 8601 time, e.g. 2026-11-30T09:01:00+00:00") from None
        if moment.tzinfo is None:
            raise fail("--now needs a timezone, e.g. 2026-11-30T09:01:00+00:00")
        clock = lambda: moment  # noqa: E731
    dispatcher = Dispatcher(rt.nudges, rt.course, _senders(rt, clock), clock=clock, admins=_admins(rt))
    if once:
        result = asyncio.run(dispatcher.tick())
        out.print(
            f"planned {result.planned}, sent {result.sent}, failed {result.failed}, "
            f"to retry {result.retried}, digests {result.digests}"
        )
        return
    from bot.checkpoints import prune_forever

    async def run() -> None:  # the nudges, and old checkpoints pruned every COACH_PRUNE_EVERY_H hours
        every_s = rt.settings.prune_every_h * 3600
        await asyncio.gather(dispatcher.run(interval), prune_forever(rt.settings.checkpoints_target, every_s))

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


def _admins(rt: Runtime) -> tuple[str, ...]:
    """Admins to tell when a digest cannot be delivered (those written as platform:user)."""
    return tuple(m.strip() for m in rt.settings.managers.split(",") if ":" in m)


def _as(who: str) -> tuple[str, str]:
    platform, _, user = who.partition(":")
    if not user:
        raise fail("--as needs platform:user, e.g. slack:U012ABC")
    return platform, user


def nudges(
    words: Annotated[
        list[str], typer.Argument(help="e.g. weekly mon 09:00 Europe/Berlin for slack:U1,slack:U2")
    ],
    who: Annotated[str, typer.Option("--as", help="The manager you act as: platform:user.")],
) -> None:
    """Manage weekly nudges as a manager: weekly … for …, list, pause|resume|cancel|send-now ID."""
    import asyncio

    from bot.managers.clock import Dispatcher
    from bot.messages import Inbound

    rt = runtime()
    platform, user = _as(who)
    dispatcher = Dispatcher(rt.nudges, rt.course, _senders(rt), clock=rt.deps.clock, admins=_admins(rt))
    rt.admin.send_now = dispatcher.deliver_pending
    rt.admin.notify = dispatcher.notify
    rt.admin.people = dispatcher.people
    text = "nudges " + " ".join(words).replace(",", " ")
    replies = asyncio.run(rt.admin.handle(Inbound(platform, user, f"cli:{who}", text), operator=True))
    for reply in replies:
        out.print(reply.text, highlight=False, markup=False)


def report(
    team: Annotated[str, typer.Option("--team", help="A nudge id or team name.")],
    png: Annotated[Path | None, typer.Option("--png", help="Also write the chart here.")] = None,
) -> None:
    """A team's latest weekly digest as a table (and optionally the chart as a PNG)."""
    from bot.managers.nudges import window_start
    from bot.managers.people import People
    from bot.managers.report import build_report, report_png
    from flows.deps import utc_now

    rt = runtime()
    schedules = rt.nudges.schedules()
    chosen = [s for s in schedules if s.id.lower() == team.lower()] or [
        s for s in schedules if s.team.lower() == team.lower()
    ]
    if not chosen:
        raise fail(f"no team or nudge called {team!r}; see `coach nudges list --as …`")
    if len(chosen) > 1:  # two managers may name their teams alike: never guess whose report to show
        ids = ", ".join(s.id for s in chosen)
        raise fail(f"{len(chosen)} nudges are for a team called {team!r} ({ids}); pass one id with --team")
    schedule = chosen[0]
    weeks = rt.nudges.weeks(schedule.id)
    if not weeks:
        raise fail(f"no nudges have gone out to {schedule.team} yet")
    now = utc_now()
    names = People(rt.store).cached([*schedule.members])
    final = now >= schedule.next_window(window_start(weeks[-1], schedule))
    result = build_report(rt.store, rt.course, schedule, weeks[-1], names, now, final)
    if not final:
        out.print(f"the week of {weeks[-1]} is in progress: {result.days_left} day(s) left")
    table = Table(title=f"{schedule.team} · week of {weeks[-1]}")
    for col in ("member", "delivery", "answered", "right"):
        table.add_column(col)
    for m in result.members:
        table.add_row(m.name, m.status, f"{m.answered} of {m.asked}", str(m.correct))
    out.print(table)
    score = f"{round(100 * result.average_score)}%" if result.average_score is not None else "—"
    out.print(f"completion {round(100 * result.completion_rate)}% · average score {score}")
    for qid, right, answered in result.weakest_questions():
        out.print(f"weak: {qid} ({right} of {answered} right)")
    if png:
        png.write_bytes(report_png(result))
        out.print(f"chart written to {png}")
