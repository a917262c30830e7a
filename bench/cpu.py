"""CPU per turn of `coach serve` against the frameworks' floor (`bench/floor.py`), measured side by
side: both servers run at once under the same batches of new conversations, alternating, so the
machine's noise falls on both; the figure is the server process's own CPU (its threads' run time,
from /proc in nanoseconds) over the batch, divided by the turns it answered. Medians over rounds.
With the offline brain a third server runs beside them: the same coach with `COACH_METRICS=off`, so
the cost of recording metrics is read as a same-run ratio."""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness import (
    SIGNING_SECRET,
    Load,
    _slack_event,
    _teams_activity,
    _wait,
    cpu_seconds,
    free_port,
    slack_answers,
)
from bench.harness import wait_healthy as wait_ready
from bench.startup import clean_env, with_index
from bot.testing.fake_anthropic import FakeAnthropic, Outcome
from bot.testing.fake_connector import FakeConnector
from bot.testing.fake_slack import FakeSlack

CLAUDE_DELAY_S = 0.05  # CPU is the measure here; the fake answers quickly to keep the run short


@dataclass
class Fakes:
    slack: FakeSlack = field(default_factory=FakeSlack)
    connector: FakeConnector = field(default_factory=FakeConnector)
    claude: FakeAnthropic = field(default_factory=FakeAnthropic)

    async def start(self) -> Fakes:
        self.claude.default = Outcome(
            text="A model card documents a model's intended use [1].", delay_s=CLAUDE_DELAY_S
        )
        for fake in (self.slack, self.connector, self.claude):
            await fake.start()
        return self

    async def stop(self) -> None:
        for fake in (self.slack, self.connector, self.claude):
            await fake.stop()

    def slack_answers(self) -> int:
        return len(slack_answers(self.slack))

    def teams_answers(self) -> int:
        return len(self.connector.messages())


@dataclass
class Server:
    """A server process under load: `coach serve` or the floor."""

    name: str
    process: subprocess.Popen
    url: str

    def cpu(self) -> float:
        """CPU seconds so far, from `/proc/<pid>/task/*/schedstat` (nanoseconds, summed over the
        process's threads) rather than `/proc/<pid>/stat`'s 10 ms ticks, which over a batch of 20 turns
        are ±0.5 ms a turn (and a fast floor's small batch could read 0); a thread that ends takes its
        time with it (coach's worker threads live as long as the process). Ticks where there is no
        schedstat."""
        total, seen = 0, False
        for stat in Path(f"/proc/{self.process.pid}/task").glob("*/schedstat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int(stat.read_text().split()[0])
                seen = True
        return total / 1e9 if seen else cpu_seconds(self.process.pid) or 0.0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start(name: str, command: list[str], env: dict[str, str]) -> Server:
    port = free_port()
    process = subprocess.Popen(
        [*command, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return Server(name, process, f"http://127.0.0.1:{port}")


def channel_env(fakes: Fakes, data_dir: str, claude: bool) -> dict[str, str]:
    extra = {
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fakes.slack.api_url,
        "COACH_LLM_TIMEOUT": "30",
        "COACH_TEAMS_EMULATOR": "1",  # Teams without auth, on loopback, like the Bot Framework Emulator
    }
    if claude:
        extra |= {"ANTHROPIC_API_KEY": "sk-ant-bench", "ANTHROPIC_BASE_URL": fakes.claude.url}
    return clean_env(data_dir, **extra)


async def batch(
    session: aiohttp.ClientSession, server: Server, fakes: Fakes, channel: str, first: int, size: int
) -> float:
    """CPU seconds per turn for `size` new conversations sent at once on one channel."""
    answered: Callable[[], int] = fakes.slack_answers if channel == "slack" else fakes.teams_answers
    before, load = answered(), Load([], [], [])
    cpu = server.cpu()
    if channel == "slack":
        sends = [_slack_event(session, server.url, f"U{first + n:07d}", load) for n in range(size)]
    else:
        sends = [
            _teams_activity(session, server.url, fakes.connector.url, first + n, load) for n in range(size)
        ]
    await asyncio.gather(*sends)
    if not await _wait(lambda: answered() - before >= size, 120):
        raise RuntimeError(f"{server.name}: only {answered() - before} of {size} {channel} turns answered")
    await asyncio.sleep(0.05)  # let the last reply's bookkeeping finish before reading the CPU
    if load.errors:
        raise RuntimeError(f"{server.name}: {load.errors[:3]}")
    return (server.cpu() - cpu) / size


async def compare(
    servers: list[Server],
    fakes: Fakes,
    rounds: int,
    size: int,
    channels: tuple[str, ...] = ("slack", "teams"),
    first: int | None = None,
    warmup: bool = True,
) -> dict[str, dict[str, float]]:
    """Median CPU ms per turn of each server on each channel, batches alternating between servers
    (the order rotating from round to round).
    Users are numbered from `first` on (default: fresh ones on every run); `warmup`: a batch per
    server and channel first, not counted."""
    samples: dict[str, dict[str, list[float]]] = {s.name: {c: [] for c in channels} for s in servers}
    if first is None:
        first = int(time.time() * 10) % 1_000_000 * 10
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        for server in servers:
            await wait_ready(server.url, server.process, timeout_s=180)
            for channel in channels if warmup else ():  # first-call costs (auth.test, connections, caches)
                await batch(session, server, fakes, channel, first, size)
                first += size
        for r in range(rounds):
            for channel in channels:
                # each round in another order: a batch right after another coach's pays for its tail
                # (its last writes, a busier harness), and a fixed order billed that to the same one
                for server in servers[r % len(servers) :] + servers[: r % len(servers)]:
                    samples[server.name][channel].append(
                        1000 * await batch(session, server, fakes, channel, first, size)
                    )
                    first += size
    return {name: {c: statistics.median(v) for c, v in by.items()} for name, by in samples.items()}


async def bench_cpu(rounds: int = 5, size: int = 20, warmup: bool = True) -> dict[str, Any]:
    """coach serve vs the floor, per channel and brain: CPU ms per turn and the ratio."""
    coach = [str(Path(sys.executable).parent / "coach"), "serve", "--host", "127.0.0.1"]
    floor = [sys.executable, "-m", "bench.floor"]
    fakes = await Fakes().start()
    rows = []
    try:
        for brain in ("offline", "claude"):
            with contextlib.ExitStack() as dirs:
                coach_dir, floor_dir, off_dir = (
                    dirs.enter_context(tempfile.TemporaryDirectory()) for _ in range(3)
                )
                with_index(coach_dir)
                servers = [
                    start("floor", floor, channel_env(fakes, floor_dir, brain == "claude")),
                    start("coach", coach, channel_env(fakes, coach_dir, brain == "claude")),
                ]
                if brain == "offline":  # what recording metrics costs: the same coach with them off
                    with_index(off_dir)
                    off = channel_env(fakes, off_dir, False) | {"COACH_METRICS": "off"}
                    servers.append(start("metrics off", coach, off))
                try:
                    medians = await compare(servers, fakes, rounds, size, warmup=warmup)
                finally:
                    for server in servers:
                        server.stop()
            for channel in ("slack", "teams"):
                ours, base = medians["coach"][channel], medians["floor"][channel]
                row = {
                    "channel": channel,
                    "brain": brain,
                    "coach_ms": ours,
                    "floor_ms": base,
                    "ratio": ours / base if base else math.nan,
                }
                if "metrics off" in medians:
                    off_ms = medians["metrics off"][channel]
                    row |= {"metrics_off_ms": off_ms, "metrics_ratio": ours / off_ms}
                rows.append(row)
    finally:
        await fakes.stop()
    return {"rounds": rounds, "batch": size, "rows": rows}
