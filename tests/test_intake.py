"""`bot.intake`: a turn starts once no request is being taken in, and never waits longer than the bound."""

from __future__ import annotations

import asyncio
import time

from aiohttp.test_utils import make_mocked_request

from bot import intake as intake_module
from bot.intake import Intake


async def test_a_turn_waits_until_the_requests_are_taken_in():
    intake, first, second = Intake(), make_mocked_request("POST", "/"), make_mocked_request("POST", "/")
    intake.begin(first)
    intake.begin(second)
    turn = asyncio.create_task(intake.quiet())
    await asyncio.sleep(0.01)
    intake.end(first)
    intake.end(first)  # ending twice counts once
    await asyncio.sleep(0.01)
    assert not turn.done()
    intake.end(second)
    await asyncio.wait_for(turn, 1)
    assert intake.taking == 0


async def test_a_flood_of_requests_holds_a_turn_back_for_a_bounded_time(monkeypatch):
    monkeypatch.setattr(intake_module, "MAX_WAIT_S", 0.05)
    intake = Intake()
    intake.begin(make_mocked_request("POST", "/"))  # never ends
    started = time.monotonic()
    await asyncio.wait_for(intake.quiet(), 1)
    assert 0.04 <= time.monotonic() - started < 0.5


async def test_requests_that_come_and_go_between_passes_still_hold_turns_back():
    """A request answered within one loop pass leaves nothing being taken in, yet the burst is not
    over: turns start only after passes in which no request came in at all."""
    intake = Intake()
    turns = [asyncio.create_task(intake.quiet()) for _ in range(3)]
    for _ in range(20):
        request = make_mocked_request("POST", "/")
        intake.begin(request)
        intake.end(request)
        await asyncio.sleep(0)
    assert not any(turn.done() for turn in turns)
    await asyncio.wait_for(asyncio.gather(*turns), 1)
