"""The SQLite store's own thread (`bot.store.lane`): results, errors, order, context, batching."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from bot.store.lane import Lane

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


def test_results_errors_and_order_reach_their_callers() -> None:
    lane, ran = Lane(), []

    def work(n: int) -> int:
        ran.append(n)
        if n == 3:
            raise ValueError("three")
        return n * 10

    async def main() -> list:
        return await asyncio.gather(*(lane.run(work, n) for n in range(6)), return_exceptions=True)

    try:
        results = asyncio.run(main())
    finally:
        lane.close()
    assert results[:3] == [0, 10, 20] and results[4:] == [40, 50]
    assert isinstance(results[3], ValueError)
    assert ran == list(range(6))  # in the order they were made


def test_calls_made_while_busy_run_in_one_wake_up_with_their_own_context() -> None:
    lane, release, threads = Lane(), threading.Event(), set()

    def slow() -> None:
        release.wait(5)

    def whoami() -> str:
        threads.add(threading.current_thread().name)
        return WHO.get()

    async def ask(name: str) -> str:
        WHO.set(name)
        return await lane.run(whoami)

    async def main() -> list[str]:
        first = asyncio.ensure_future(lane.run(slow))
        await asyncio.sleep(0.05)  # the lane's thread is busy with `slow`
        asks = [asyncio.ensure_future(ask(f"turn {n}")) for n in range(5)]
        await asyncio.sleep(0.05)
        release.set()
        await first
        return await asyncio.gather(*asks)

    try:
        assert asyncio.run(main()) == [f"turn {n}" for n in range(5)]
    finally:
        lane.close()
    assert threads == {"coach-store"}


def test_a_closed_lane_starts_again_and_a_cancelled_caller_is_skipped() -> None:
    lane = Lane()

    async def main() -> int:
        waiting = asyncio.ensure_future(lane.run(threading.Event().wait, 0.2))
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return await lane.run(lambda: 7)

    assert asyncio.run(main()) == 7
    lane.close()
    assert asyncio.run(main()) == 7
    lane.close()
