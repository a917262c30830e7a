"""Slack acks alone, two versions side by side: `python -m bench.acks --base DIR` starts the coach whose
source is in DIR and this checkout's coach (offline brain, SQLite), and sends each the same bursts of
new Slack conversations (no Teams requests), alternating, the order turning each round. Per server it
prints the medians over rounds of the burst's ack p50 and p99 and of the server's CPU from the burst's
start to its last ack, per ack (threads' run time from schedstat, as `coach bench` reads it).

On a shared machine an ack's wall time is mostly waiting for a core; the CPU per ack is what the
ack path itself costs, and moves far less with the load. `coach bench` runs the burst with Teams and
Claude too; this isolates the Slack ack path (request in → verify → guard → store → 200)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.cpu import Fakes, Server, channel_env, start
from bench.harness import Load, _slack_event, _wait, open_connections, percentile, thread_cpu_s, wait_healthy
from bench.startup import with_index


async def burst(session: aiohttp.ClientSession, server: Server, fakes: Fakes, first: int, size: int):
    """One burst of `size` new conversations: (ack p50 ms, ack p99 ms, CPU µs per ack until the last)."""
    await open_connections(session, server.url, size)
    before = fakes.slack_answers()
    load = Load([], [], [], expected_acks=size, pid=server.process.pid)
    cpu = thread_cpu_s(server.process.pid)
    users = [f"U{first + n:07d}" for n in range(size)]
    await asyncio.gather(*(_slack_event(session, server.url, user, load) for user in users))
    if load.errors:
        raise RuntimeError(f"{server.name}: {load.errors[:3]}")
    if not await _wait(lambda: fakes.slack_answers() - before >= size, 120):
        raise RuntimeError(f"{server.name}: not every turn of the burst was answered")
    await asyncio.sleep(0.2)  # the turns' last writes, before the next burst
    if cpu is None or load.acks_cpu_s is None:
        raise RuntimeError("no /proc/<pid>/task/*/schedstat on this machine")
    per_ack_us = 1e6 * (load.acks_cpu_s - cpu) / size
    return statistics.median(load.slack_ack_ms), percentile(load.slack_ack_ms, 0.99), per_ack_us


def summary(samples: list[tuple[float, float, float]]) -> dict[str, float]:
    """Medians over rounds of each burst's ack p50, ack p99 and CPU per ack."""
    p50, p99, cpu = zip(*samples, strict=True)
    return {
        "ack_p50_ms": statistics.median(p50),
        "ack_p99_ms": statistics.median(p99),
        "cpu_per_ack_us": statistics.median(cpu),
    }


async def compare(base: Path, rounds: int, size: int) -> dict[str, dict[str, float]]:
    coach = [sys.executable, "-P", "-c", "from bot.cli import app; app()", "serve", "--host", "127.0.0.1"]
    here = Path(__file__).resolve().parent.parent
    fakes = await Fakes().start()
    samples: dict[str, list[tuple[float, float, float]]] = {"base": [], "this": []}
    try:
        with contextlib.ExitStack() as dirs:
            servers = []
            for name, tree in (("base", base), ("this", here)):
                data = dirs.enter_context(tempfile.TemporaryDirectory())
                with_index(data)
                env = channel_env(fakes, data, claude=False) | {"PYTHONPATH": str(tree)}
                servers.append(start(name, coach, env))
            try:
                first = int(time.time() * 10) % 1_000_000 * 1_000
                async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                    for server in servers:
                        await wait_healthy(server.url, server.process, timeout_s=180)
                    for r in range(rounds + 1):  # the first round warms up (auth.test, connections)
                        for server in servers[r % 2 :] + servers[: r % 2]:
                            figures = await burst(session, server, fakes, first, size)
                            first += size
                            if r:
                                samples[server.name].append(figures)
            finally:
                for server in servers:
                    server.stop()
    finally:
        await fakes.stop()
    return {name: summary(by) for name, by in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="source tree of the coach to compare with")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--burst", type=int, default=100, help="new Slack conversations a burst")
    args = parser.parse_args()
    medians = asyncio.run(compare(args.base.resolve(), args.rounds, args.burst))
    for name, row in medians.items():
        print(
            f"{name:5} ack p50 {row['ack_p50_ms']:6.1f} ms  p99 {row['ack_p99_ms']:6.1f} ms  "
            f"CPU {row['cpu_per_ack_us']:5.0f} µs an ack",
            flush=True,
        )
    ratio = medians["this"]["cpu_per_ack_us"] / medians["base"]["cpu_per_ack_us"]
    print(f"this/base CPU per ack {ratio:.2f}")


if __name__ == "__main__":
    main()
