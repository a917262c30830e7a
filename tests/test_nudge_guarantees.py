"""What managers' nudges promise, held against the bugs a review found: an opt-out stops everything
not yet sent, a cancelled schedule sends nothing, "forget me" confirms on any worker, reports and
digests never draw on the event loop or let the chart cost the text, and team edits never get lost.
Real stores on both backends, the fake Slack Web API, a clock that moves only when told."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import timedelta

import aiohttp
import pytest
import sqlalchemy as sa

from adapters.slack import sender as slack_sender
from adapters.slack.sender import SlackSender, make_client
from bot.conversation import Coach
from bot.managers import clock as clock_module
from bot.managers import commands as commands_module
from bot.managers.clock import Dispatcher
from bot.managers.commands import Admin
from bot.managers.nudges import MAX_ATTEMPTS, Nudges
from bot.managers.report import MemberResult, TeamReport, chart_rows, report_png
from bot.messages import Inbound
from bot.store import Store, optouts
from bot.store.schema import NAMED, PERSONAL, metadata
from bot.testing.fake_slack import FakeSlack
from flows.deps import Deps
from tests.conftest import Database
from tests.test_nudges import MANAGER, MONDAY_9, TEAM, Clock, slack_says

BACKENDS = ("sqlite", "postgres")
ADMIN = "slack:UADM"


@pytest.fixture
def clock(deps: Deps) -> Clock:
    deps.clock = Clock(MONDAY_9 - timedelta(days=1))
    return deps.clock


@pytest.fixture
def admin(deps: Deps, clock: Clock) -> Admin:
    nudges = Nudges(deps.store, deps.course)
    return Admin(deps.store, deps.course, nudges, frozenset({MANAGER, ADMIN}), clock)


@pytest.fixture
async def coach(deps: Deps, admin: Admin, database: Database):
    async with Coach.open(deps, database.checkpoints, admin) as running:
        yield running


def dispatcher(deps: Deps, slack: FakeSlack, clock: Clock) -> Dispatcher:
    sender = SlackSender(make_client("xoxb-test", slack.api_url))
    return Dispatcher(Nudges(deps.store, deps.course), deps.course, {"slack": sender}, clock, admins=(ADMIN,))


async def manager_says(coach: Coach, text: str, mentions: tuple[str, ...] = ()) -> str:
    return (await coach.handle(slack_says("UMGR", text, mentions)))[-1].text


async def schedule_team(coach: Coach) -> str:
    made = await manager_says(coach, "nudges weekly mon 09:00 UTC for the team", TEAM)
    return made.split("`")[1]


def statuses(deps: Deps, schedule: str) -> dict[str, str]:
    return {r["member"]: r["status"] for r in Nudges(deps.store, deps.course).deliveries(schedule)}


# -- 1. an opt-out stops everything not yet sent ----------------------------------------------------


async def test_stop_withdraws_retries_reminders_and_open_sets(coach: Coach, deps: Deps, slack, clock: Clock):
    schedule = await schedule_team(coach)
    assert "one reminder 2 day(s)" in await manager_says(coach, f"nudges remind {schedule} on")
    slack.refuse_next["U2"] = ["internal_error"]  # U2's nudge fails once: queued for a retry
    clock.now = MONDAY_9 + timedelta(minutes=1)
    first = await dispatcher(deps, slack, clock).tick()
    assert (first.sent, first.retried) == (2, 1)
    for user in ("U1", "U2"):
        said = (await coach.handle(slack_says(user, "stop nudges")))[-1].text
        assert "no more weekly practice questions" in said
    assert deps.store.open_nudge_sessions("slack:U1") == []  # U1's open set closed: no reminder for it
    clock.now = MONDAY_9 + timedelta(days=3)
    later = await dispatcher(deps, slack, clock).tick()
    assert (later.sent, later.reminders) == (0, 1)  # the retry never went; only U3 is reminded
    assert slack.channels_with() == {"D1": 4, "D3": 5}
    assert statuses(deps, schedule) == {"slack:U1": "sent", "slack:U2": "skipped", "slack:U3": "sent"}


async def test_an_opt_out_after_planning_is_checked_at_delivery(
    coach: Coach, deps: Deps, slack, clock: Clock
):
    schedule = await schedule_team(coach)
    clock.now = MONDAY_9 + timedelta(minutes=1)
    nudges = Nudges(deps.store, deps.course)
    for due, week in nudges.due_windows(clock.now):
        nudges.plan(due, week, clock.now)
    optouts.record(deps.store, "slack:U1", "pause", clock.now, 2)  # between planning and sending
    result = await dispatcher(deps, slack, clock).deliver_pending()
    assert result.sent == 2 and "D1" not in slack.channels_with()
    assert statuses(deps, schedule)["slack:U1"] == "skipped"


async def test_an_opted_out_member_gets_no_reminder(coach: Coach, deps: Deps, slack, clock: Clock):
    schedule = await schedule_team(coach)
    assert "one reminder 1 day(s)" in await manager_says(coach, f"nudges remind {schedule} on after 1 day")
    clock.now = MONDAY_9 + timedelta(minutes=1)
    await dispatcher(deps, slack, clock).tick()
    optouts.record(deps.store, "slack:U2", "stop", clock.now)  # recorded without closing the set
    clock.now += timedelta(days=2)
    assert (await dispatcher(deps, slack, clock).tick()).reminders == 2
    assert slack.channels_with() == {"D1": 5, "D2": 4, "D3": 5}


async def test_a_set_cut_off_part_way_resumes_after_what_went_out(
    coach: Coach, deps: Deps, slack, clock: Clock, monkeypatch
):
    real_post, calls = slack_sender.post_reply, []

    async def flaky_post(client, channel: str, reply, thread_ts=None) -> None:
        calls.append(channel)
        if channel == "D2" and calls.count("D2") == 3:  # U2's third message: the network drops
            raise aiohttp.ClientConnectionError("connection reset")
        await real_post(client, channel, reply, thread_ts)

    monkeypatch.setattr(slack_sender, "post_reply", flaky_post)
    schedule = await schedule_team(coach)
    clock.now = MONDAY_9 + timedelta(minutes=1)
    first = await dispatcher(deps, slack, clock).tick()
    assert (first.sent, first.retried) == (2, 1) and slack.channels_with()["D2"] == 2
    clock.now += timedelta(minutes=5)
    assert (await dispatcher(deps, slack, clock).tick()).sent == 1
    texts = [m["text"] for m in slack.of("chat.postMessage") if m["channel"] == "D2"]
    assert len(texts) == 4 and len(set(texts)) == 4  # intro and three questions, each once
    assert statuses(deps, schedule)["slack:U2"] == "sent"


# -- 2. a cancelled schedule sends nothing -----------------------------------------------------------


async def test_a_cancelled_schedule_takes_only_resume_and_a_paused_one_sends_nothing(
    coach: Coach, deps: Deps, admin: Admin, slack, clock: Clock
):
    admin.send_now = dispatcher(deps, slack, clock).deliver_pending
    schedule = await schedule_team(coach)
    assert "now cancelled" in await manager_says(coach, f"nudges cancel {schedule}")
    for verb in ("send-now", "add", "remove", "remind", "pause", "cancel"):
        said = await manager_says(coach, f"nudges {verb} {schedule} on", ("U9",))
        assert "is cancelled, so I changed nothing" in said, (verb, said)
    said = (await coach.handle(slack_says("UADM", f"nudges reassign {schedule}", ("UMGR",))))[-1].text
    assert "is cancelled" in said
    schedule_now = Nudges(deps.store, deps.course).get(schedule)
    assert schedule_now and schedule_now.members == tuple(f"slack:{u}" for u in TEAM)
    assert not slack.channels_with() and not statuses(deps, schedule)
    assert "now active" in await manager_says(coach, f"nudges resume {schedule}")
    assert "now paused" in await manager_says(coach, f"nudges pause {schedule}")
    assert "is paused, so I sent nothing" in await manager_says(coach, f"nudges send-now {schedule}")
    assert not slack.channels_with()
    await manager_says(coach, f"nudges resume {schedule}")
    assert "Sending now: 3" in await manager_says(coach, f"nudges send-now {schedule}")


# -- 3. "forget me" confirms on any worker, after a restart, and expires -----------------------------


async def test_forget_me_confirms_on_another_worker_once_and_expires(
    deps: Deps, database: Database, clock: Clock
):
    workers = []
    for _ in range(2):  # two web workers: their own store connections, nothing shared in memory
        store = Store(database.store)
        workers.append(Admin(store, deps.course, Nudges(store, deps.course), frozenset(), clock))
    session = {"id": "s1", "learner": "slack:UANA", "quiz": "quiz-1", "questions": "[]"}
    deps.store.ensure_quiz_session(session)
    ana = Inbound("slack", "UANA", "slack:DUANA", "forget me")
    try:
        yes = (await workers[0].handle(ana))[-1].choices[0].action
        # someone else clicking Ana's button, or Ana in another conversation, is only asked again
        ben = Inbound("slack", "UBEN", "slack:DUANA", action=yes)
        elsewhere = Inbound("slack", "UANA", "slack:C1", action=yes, shared=True)
        for stranger in (ben, elsewhere):
            assert "Are you sure" in (await workers[1].handle(stranger))[-1].text
        late = Inbound("slack", "UANA", "slack:DUANA", action=yes)
        clock.now += timedelta(minutes=11)
        assert "Are you sure" in (await workers[1].handle(late))[-1].text  # expired
        assert deps.store.quiz_sessions("slack:UANA")
        yes = (await workers[0].handle(ana))[-1].choices[0].action
        restarted = Admin(deps.store, deps.course, Nudges(deps.store, deps.course), frozenset(), clock)
        click = Inbound("slack", "UANA", "slack:DUANA", action=yes)
        done = await asyncio.gather(workers[1].handle(click), restarted.handle(click))  # a double click
        assert sorted("deleted" in d[-1].text for d in done) == [False, True]  # once, on any worker
        assert deps.store.quiz_sessions("slack:UANA") == []
        assert deps.store.read("SELECT * FROM confirmations WHERE learner = ?", ["slack:UANA"]) == []
    finally:
        for worker in workers:
            worker.store.close()


def test_expired_codes_are_pruned(store: Store, clock: Clock):
    for user in ("a", "b", "c"):
        store.issue_code("forget me", f"slack:{user}", "slack:D", clock.now, timedelta(minutes=10))
    clock.now += timedelta(minutes=11)
    store.issue_code("forget me", "slack:d", "slack:D", clock.now, timedelta(minutes=10))
    assert [r["learner"] for r in store.read("SELECT learner FROM confirmations")] == ["slack:d"]


# -- 4. report draws off the event loop, at most CHART_ROWS people -----------------------------------


def big_report(people: int) -> TeamReport:
    members = [MemberResult(f"slack:U{i}", f"Person {i:04d}", "sent", 3, i % 4, i % 3) for i in range(people)]
    heat = {
        f"Person {i:04d}": {lesson: (i % 4, 3) for lesson in (1, 2, 3, 4)} for i in range(people) if i % 5
    }
    return TeamReport("abc123", "Sales", "2026-11-23", members, heat=heat, trend=[("2026-11-23", 0.4)])


def test_the_heat_map_shows_the_furthest_behind_and_how_many_more():
    report = big_report(1500)
    shown, more = chart_rows(report)
    assert len(shown) == 40 and more == 1460
    silent = {f"Person {i:04d}" for i in range(1500) if i % 5 == 0}  # no answers at all: furthest behind
    assert set(shown) <= silent
    png = report_png(report)
    assert png.startswith(b"\x89PNG") and len(png) < 400_000  # was 4.3 MB at 1,500 people
    assert chart_rows(big_report(12)) == (sorted(m.name for m in big_report(12).members), 0)


async def test_report_and_digest_charts_are_drawn_off_the_event_loop(
    coach: Coach, deps: Deps, slack, clock: Clock, monkeypatch
):
    drawn_on: list[bool] = []

    def spy(result: TeamReport) -> bytes:
        drawn_on.append(threading.current_thread() is threading.main_thread())
        return report_png(result)

    monkeypatch.setattr(commands_module, "report_png", spy)
    monkeypatch.setattr(clock_module, "report_png", spy)
    schedule = await schedule_team(coach)
    clock.now = MONDAY_9 + timedelta(minutes=1)
    await dispatcher(deps, slack, clock).tick()
    shown = (await coach.handle(slack_says("UMGR", f"report {schedule}")))[-1]
    assert shown.image and shown.image.startswith(b"\x89PNG")
    clock.now += timedelta(days=7)
    assert (await dispatcher(deps, slack, clock).tick()).digests == 1
    assert drawn_on == [False, False]  # the event loop runs in the main thread


# -- 5. the digest's text never depends on the chart; a failure never aborts the tick ----------------


async def test_a_crashing_chart_costs_only_the_chart(
    coach: Coach, deps: Deps, slack, clock: Clock, monkeypatch
):
    def broken(result: TeamReport) -> bytes:
        raise RuntimeError("matplotlib fell over")

    monkeypatch.setattr(clock_module, "report_png", broken)
    schedule = await schedule_team(coach)
    clock.now = MONDAY_9 + timedelta(minutes=1)
    await dispatcher(deps, slack, clock).tick()
    clock.now += timedelta(days=7)
    assert (await dispatcher(deps, slack, clock).tick()).digests == 1
    texts = [m["text"] for m in slack.of("chat.postMessage") if m["channel"] == "DMGR"]
    assert "Weekly practice digest" in texts[0] and f"Say *report {schedule}*" in texts[1]
    (row,) = deps.store.read("SELECT status, chart FROM nudge_digests")
    assert (row["status"], row["chart"]) == ("sent", "pointer")


async def test_a_digest_that_cannot_be_built_is_retried_counted_and_never_stops_the_tick(
    coach: Coach, deps: Deps, slack, clock: Clock, monkeypatch
):
    schedule = await schedule_team(coach)
    assert "one reminder 1 day(s)" in await manager_says(coach, f"nudges remind {schedule} on after 1 day")
    clock.now = MONDAY_9 + timedelta(minutes=1)
    await dispatcher(deps, slack, clock).tick()

    def broken(*args, **kw):
        raise ValueError("a bad row")

    monkeypatch.setattr(clock_module, "build_report", broken)
    clock.now += timedelta(days=7)
    result = await dispatcher(deps, slack, clock).tick()
    assert result.sent == 3 and result.digests == 0
    (row,) = deps.store.read("SELECT status, attempts FROM nudge_digests")
    assert (row["status"], row["attempts"]) == ("retry", 1)  # not left `sending`
    clock.now += timedelta(days=1)  # the new week's reminders are due, and the digest's retry
    again = await dispatcher(deps, slack, clock).tick()
    assert again.reminders == 3  # the digest failed again in this tick; the reminders still went
    for _ in range(MAX_ATTEMPTS - 2):
        clock.now += timedelta(hours=1)
        await dispatcher(deps, slack, clock).tick()
    (row,) = deps.store.read("SELECT status, attempts FROM nudge_digests")
    assert (row["status"], row["attempts"]) == ("failed", MAX_ATTEMPTS)
    (alert,) = [m["text"] for m in slack.of("chat.postMessage") if m["channel"] == "DADM"]
    assert "could not be delivered" in alert and "a bad row" in alert
    assert slack.channels_with()["D1"] == 4 + 4 + 1  # each week's set, and one reminder


async def test_a_digest_whose_sender_dies_every_time_is_abandoned_and_the_admin_told(
    coach: Coach, deps: Deps, slack, clock: Clock
):
    schedule = await schedule_team(coach)
    clock.now = MONDAY_9 + timedelta(minutes=1)
    await dispatcher(deps, slack, clock).tick()
    clock.now += timedelta(days=7)
    nudges = Nudges(deps.store, deps.course)
    nudges.enqueue_digest(schedule, "2026-11-23")
    for _ in range(MAX_ATTEMPTS):  # a clock takes it and dies mid-send, again and again
        assert nudges.claim_digest(clock.now) is not None
        clock.now += timedelta(minutes=11)
    assert nudges.claim_digest(clock.now) is None  # no attempt left: not retried every 10 min forever
    await dispatcher(deps, slack, clock).deliver_digests()
    (row,) = deps.store.read("SELECT status, attempts FROM nudge_digests")
    assert (row["status"], row["attempts"]) == ("failed", MAX_ATTEMPTS)
    (alert,) = [m["text"] for m in slack.of("chat.postMessage") if m["channel"] == "DADM"]
    assert schedule in alert and "mid-send" in alert


async def test_a_paused_or_cancelled_schedule_still_gets_its_last_digest(
    coach: Coach, deps: Deps, slack, clock: Clock
):
    schedule = await schedule_team(coach)
    clock.now = MONDAY_9 + timedelta(minutes=1)
    await dispatcher(deps, slack, clock).tick()
    await manager_says(coach, f"nudges cancel {schedule}")
    clock.now = MONDAY_9 + timedelta(days=6)
    assert (await dispatcher(deps, slack, clock).tick()).digests == 0  # the week is not over
    clock.now = MONDAY_9 + timedelta(days=7, minutes=1)
    assert (await dispatcher(deps, slack, clock).tick()).digests == 1
    clock.now += timedelta(days=7)
    assert (await dispatcher(deps, slack, clock).tick()).digests == 0  # once
    assert [m["channel"] for m in slack.of("chat.postMessage")].count("DMGR") == 1


# -- team edits and "forget me" ------------------------------------------------------------------------


async def test_two_edits_of_one_team_both_land(coach: Coach, deps: Deps, admin: Admin, clock: Clock):
    schedule_id = await schedule_team(coach)
    nudges = Nudges(deps.store, deps.course)
    seen = nudges.get(schedule_id)  # both commands read the team before either wrote it
    assert seen is not None
    for user in ("U8", "U9"):
        inbound = slack_says("UMGR", f"nudges add {schedule_id}", (user,))
        assert "Added" in admin._edit_team(inbound, seen, "add", schedule_id, False).text
    # and many at once, from threads (PostgreSQL: several workers)
    adds = [f"slack:W{i}" for i in range(8)]
    await asyncio.gather(*(asyncio.to_thread(nudges.edit_members, schedule_id, [a]) for a in adds))
    members = set(nudges.get(schedule_id).members)
    assert {"slack:U8", "slack:U9", *adds, *(f"slack:{u}" for u in TEAM)} == members


async def test_an_admin_reassigns_from_the_server_cli(coach: Coach, deps: Deps, admin: Admin):
    schedule = await schedule_team(coach)
    assert "Added 1" in (await coach.handle(slack_says("UMGR", "managers add", ("U9",))))[-1].text
    cli = Inbound("slack", "UADM", "cli:slack:UADM", f"nudges reassign {schedule} slack:U9")
    (reply,) = await admin.handle(cli, operator=True)
    assert "now belongs to slack:U9" in reply.text


async def test_a_reminder_out_of_range_says_the_range(coach: Coach):
    schedule = await schedule_team(coach)
    said = await manager_says(coach, f"nudges remind {schedule} on after 9 days")
    assert "1 to 6 days" in said and "reminder after" not in await manager_says(coach, "nudges list")


def test_every_table_naming_a_person_is_forgotten():
    """A table with a learner/member column is in PERSONAL, or listed here with the reason."""
    kept = {
        ("nudge_schedules", "manager"): "the schedule is deleted whole (`Admin._leave_teams`)",
        ("nudge_schedules", "members"): "a JSON list: the learner is taken out of it (`_leave_teams`)",
        ("learners", "user"): "the row goes with its `id` (in PERSONAL)",
    }
    covered = {(table.name, column) for table, column in (*PERSONAL, *NAMED)}
    personal_words = ("learner", "member", "manager", "added_by", "user")
    for table in metadata.sorted_tables:
        for column in table.columns:
            if any(w in column.name for w in personal_words) and (table.name, column.name) not in covered:
                assert (table.name, column.name) in kept, f"{table.name}.{column.name} is not forgotten"


async def test_forget_me_leaves_no_teams_member_rows(coach: Coach, deps: Deps):
    deps.store.set_place_members("19:team", ["teams:29:ana", "teams:29:ben"], MONDAY_9)
    deps.store.add_managers([{"learner": "slack:UBEN", "added_by": "teams:29:ana", "added_at": "x"}])
    deps.store.forget("teams:29:ana")
    with deps.store.engine.connect() as conn:
        rows = [
            tuple(r)
            for t in ("teams_members", "managers")
            for r in conn.execute(sa.text(f"SELECT * FROM {t}"))
        ]
    assert not any("29:ana" in json.dumps(r) for r in rows), rows
    assert any("29:ben" in json.dumps(r) for r in rows)


async def test_console_members_are_refused_clearly(deps: Deps, clock: Clock):
    admin = Admin(
        deps.store, deps.course, Nudges(deps.store, deps.course), frozenset({"console:boss"}), clock
    )

    async def boss(text: str) -> str:
        return (await admin.handle(Inbound("console", "boss", "console:boss", text)))[-1].text

    made = await boss("nudges weekly mon 09:00 UTC for console:ana slack:U1")
    assert "Members (1): U1" in made and "console:ana: the console can't be messaged later" in made
    schedule = made.split("`")[1]
    added = await boss(f"nudges add console:ben {schedule}")
    assert "console:ben: the console can't be messaged later" in added
    assert Nudges(deps.store, deps.course).get(schedule).members == ("slack:U1",)


def test_a_schedule_id_that_clashes_is_drawn_again(deps: Deps, clock: Clock, monkeypatch):
    from bot.managers import nudges as nudges_module
    from bot.managers.wording import ScheduleRequest

    drawn = iter(["abc123" + "0" * 26, "abc123" + "0" * 26, "def456" + "0" * 26])
    monkeypatch.setattr(nudges_module.uuid, "uuid4", lambda: type("U", (), {"hex": next(drawn)})())
    nudges = Nudges(deps.store, deps.course)
    request = ScheduleRequest(0, "09:00", "UTC", "crew")
    first = nudges.create(MANAGER, request, "crew", ["slack:U1"], clock.now)
    second = nudges.create(MANAGER, request, "crew", ["slack:U2"], clock.now)  # was an IntegrityError
    assert (first.id, second.id) == ("abc123", "def456")


async def test_teams_says_how_many_replies_went_out_before_a_failure(store: Store, clock: Clock):
    from adapters.teams.sender import TeamsSender
    from bot.managers.nudges import DeliveryError
    from bot.messages import Reply

    class Unavailable(Exception):
        response = type("Response", (), {"status_code": 502})()

    class Turn:
        sent = 0

        async def send_activity(self, activity) -> None:
            if Turn.sent == 2:
                raise Unavailable
            Turn.sent += 1

    class Adapter:
        async def continue_conversation(self, reference, logic, app_id) -> None:
            await logic(Turn())

    chat = {"conversationType": "personal", "id": "a:1"}
    reference = {
        "conversation": chat,
        "serviceUrl": "http://x",
        "user": {"id": "29:ana"},
        "channelId": "msteams",
    }
    store.save_reference("teams:29:ana", "teams:a:1", reference, clock.now)
    with pytest.raises(DeliveryError) as failed:
        await TeamsSender(Adapter(), "app", store).deliver("teams:29:ana", [Reply(t) for t in "123"])  # type: ignore[arg-type]
    assert (failed.value.posted, failed.value.permanent) == (2, False)


async def test_forget_me_takes_the_name_out_of_managers_notes(coach: Coach, deps: Deps, admin: Admin):
    """ "Joined the channel: Dana Reyes" is what the next digest tells the manager: after Dana's
    "forget me" the note no longer names her, and other names stay (review)."""
    schedule = await schedule_team(coach)
    deps.store.save_people([{"member": "slack:UDANA", "name": "Dana Reyes", "active": 1, "fetched_at": "x"}])
    Nudges(deps.store, deps.course).note(schedule, "Joined the channel: Dana Reyes, Dana Reyesson", MONDAY_9)
    admin._leave_teams("slack:UDANA")
    (note,) = deps.store.read("SELECT note FROM nudge_notes WHERE schedule = ?", [schedule])
    assert "Dana Reyes," not in note["note"] and "Dana Reyesson" in note["note"], note
