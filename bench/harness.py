"""`coach bench`: every performance figure of the README, measured side by side in one run and written
to `bench/results.json` beside this harness (the command itself is `bot/cli/bench.py`).

- retrieval: our FTS5 index vs a rank-bm25 baseline over the same chunks and queries;
- turn overhead: the offline brain through the whole LangGraph flow with the SQLite checkpointer vs
  the same brain called directly (what the framework costs per turn);
- concurrency: 200 conversations at once through a real `coach serve` process (100 Slack events, 100
  Teams activities over loopback HTTP) with a fake Claude that takes a fixed 1 s per call, then the
  same burst against the frameworks' floor (`bench/floor.py`), whose Slack ack is the least one costs;
- nudge planning for 10,000 members; peak RSS of `coach serve` under the load;
- CPU per turn against the frameworks' floor, per channel and brain (`bench/cpu.py`, `bench/floor.py`);
- per-turn CPU on 1,000 vs 100,000 learners (`bench/scale.py`); start-up times (`bench/startup.py`).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from slack_sdk.signature import SignatureVerifier

from bench.nudges import bench_nudges
from bot.app import Runtime
from bot.conversation import Coach
from bot.store import Store
from bot.testing.fake_anthropic import FakeAnthropic, Outcome
from bot.testing.fake_connector import FakeConnector
from bot.testing.fake_slack import BOT_USER, FakeSlack
from flows.brains.base import LabContext
from flows.brains.offline import OfflineBrain
from flows.deps import Deps
from knowledge.evaluation import bench_retrieval, load_eval_set, scaled_chunks
from knowledge.retrieval import Index

LAB_TURNS = [
    "I'd ask whether the pilots ran on curated sensor data that never reached the production databases.",
    "Who built the pilots? Were there domain experts from the plants or only outside data scientists?",
    "Is the CEO sponsoring this with a budget beyond the pilot?",
    "Who owns each model once the pilot is over?",
    "Do plant staff trust the model, and is it safe to fail here?",
]
SIGNING_SECRET = "bench-signing-secret"
CLAUDE_SECONDS = 1.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} CPUs, {system}, Python {platform.python_version()}"


# -- turn overhead -----------------------------------------------------------------------------------


async def bench_turns(rt: Runtime, turns: int = 200) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "coach.db")
        deps = Deps(course=rt.course, index=rt.index, store=store, brain=OfflineBrain())
        graph_ms: list[float] = []
        async with Coach.open(deps, Path(tmp) / "checkpoints.db") as coach:
            from adapters.console import inbound

            for i in range(turns):
                user = f"b{i // 10}"
                text = "lab 1" if i % 10 == 0 else LAB_TURNS[i % len(LAB_TURNS)]
                started = time.perf_counter()
                await coach.handle(inbound(user, text))
                if i % 10:
                    graph_ms.append(1000 * (time.perf_counter() - started))
        lab = rt.course.lab(1)
        direct_ms = []
        for i in range(len(graph_ms)):
            ctx = LabContext(lab, rt.course, LAB_TURNS[i % len(LAB_TURNS)], {}, None, [])
            started = time.perf_counter()
            await deps.brain.lab_turn(ctx)
            direct_ms.append(1000 * (time.perf_counter() - started))
        store.close()
    return {
        "turns": len(graph_ms),
        "graph_p50_ms": statistics.median(graph_ms),
        "graph_p99_ms": percentile(graph_ms, 0.99),
        "direct_p50_ms": statistics.median(direct_ms),
        "direct_p99_ms": percentile(direct_ms, 0.99),
        "overhead_p50_ms": statistics.median(graph_ms) - statistics.median(direct_ms),
    }


# -- concurrency through coach serve ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far (Linux)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def peak_rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def thread_cpu_s(pid: int) -> float | None:
    """CPU seconds a process's threads have run so far, in nanoseconds from
    `/proc/<pid>/task/*/schedstat` (a burst's acks take tens of milliseconds: 10 ms ticks cannot
    time them)."""
    total, seen = 0, False
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[0])
            seen = True
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9 if seen else None


@dataclass
class Load:
    slack_ack_ms: list[float]
    teams_http_ms: list[float]
    errors: list[str]
    expected_acks: int = 0  # with `pid`: read the server's CPU when this many Slack acks are in
    pid: int | None = None
    acks_cpu_s: float | None = None  # the server's CPU when the last expected ack came in


async def _slack_event(session: aiohttp.ClientSession, url: str, user: str, load: Load) -> None:
    ts = f"{time.time():.6f}"
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0001",
            "api_app_id": "A0001",
            "event_id": f"Ev{user}",
            "event_time": int(time.time()),
            "event": {
                "type": "message",
                "channel_type": "im",
                "channel": f"D{user[1:]}",
                "user": user,
                "text": "What is a model card?",
                "ts": ts,
                "event_ts": ts,
            },
            "authorizations": [{"team_id": "T0001", "user_id": BOT_USER, "is_bot": True}],
        }
    )
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=body),
    }
    sent: dict[str, float] = {}
    started = time.perf_counter()
    async with session.post(
        f"{url}/slack/events", data=body.encode(), headers=headers, trace_request_ctx=sent
    ) as response:
        await response.read()
        # Slack's clock starts when its request is sent, not when this loop got round to sending it
        load.slack_ack_ms.append(1000 * (time.perf_counter() - sent.get("at", started)))
        if load.pid is not None and len(load.slack_ack_ms) == load.expected_acks:
            load.acks_cpu_s = thread_cpu_s(load.pid)
        if response.status != 200:
            load.errors.append(f"slack {user}: HTTP {response.status}")


def sent_at() -> aiohttp.TraceConfig:
    """Notes when a request's body has been written (in its `trace_request_ctx` dict): aiohttp writes
    the bodies of 200 requests started at once only after all their heads, ~60 ms later on this box."""

    async def body_sent(session: Any, context: Any, params: Any) -> None:
        if isinstance(context.trace_request_ctx, dict):
            context.trace_request_ctx["at"] = time.perf_counter()

    trace = aiohttp.TraceConfig()
    trace.on_request_chunk_sent.append(body_sent)
    return trace


async def _teams_activity(session: aiohttp.ClientSession, url: str, service: str, n: int, load: Load) -> None:
    activity = {
        "type": "message",
        "id": f"bench-{n}",
        "serviceUrl": service,
        "channelId": "msteams",
        "from": {"id": f"29:bench-{n}", "name": f"Bench {n}"},
        "conversation": {"id": f"a:bench-{n}", "conversationType": "personal"},
        "recipient": {"id": "28:coach", "name": "coach"},
        "text": "What is a model card?",
    }
    started = time.perf_counter()
    async with session.post(f"{url}/api/messages", json=activity) as response:
        await response.read()
        load.teams_http_ms.append(1000 * (time.perf_counter() - started))
        if response.status not in (200, 201):
            load.errors.append(f"teams {n}: HTTP {response.status}")


def _teams_text(activity: dict[str, Any]) -> str:
    """A Teams message's text, or its card's text (answers carry 👍/👎, so they come as cards)."""
    cards = [a.get("content") or {} for a in activity.get("attachments") or []]
    blocks = [b.get("text", "") for card in cards for b in card.get("body", [])]
    return " ".join([activity.get("text") or "", *blocks])


def slack_answers(slack: FakeSlack) -> list[str]:
    """The answers Slack shows: posted messages (not a "Thinking…" placeholder) and placeholder updates.
    A quick answer is one post; one slower than the placeholder delay is a placeholder, then an update."""
    texts = [
        str(c.args.get("text", "")) for c in slack.calls if c.method in ("chat.postMessage", "chat.update")
    ]
    return [t for t in texts if "Thinking" not in t]


async def bench_concurrency(
    conversations: int = 200,
    timeout_s: float = 60.0,
    database_url: str | None = None,
    workers: int = 1,
    floor: bool = False,
    claude_s: float = CLAUDE_SECONDS,
) -> dict[str, Any]:
    """The concurrency run on SQLite (one process) or on PostgreSQL (`database_url`) with `workers`;
    with `floor`, the same burst against the frameworks' floor (`bench/floor.py`) instead. Fake Claude
    takes `claude_s` per call."""
    slack, connector, claude = FakeSlack(), FakeConnector(), FakeAnthropic()
    claude.default = Outcome(
        text="A model card documents a model's intended use and limits [1].", delay_s=claude_s
    )
    for fake in (slack, connector, claude):
        await fake.start()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ANTHROPIC", "SLACK", "Microsoft", "COACH"))
        }
        env.update(
            COACH_DATA_DIR=tmp,
            SLACK_BOT_TOKEN="xoxb-bench",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.api_url,
            ANTHROPIC_API_KEY="sk-ant-bench",
            ANTHROPIC_BASE_URL=claude.url,
            COACH_LLM_TIMEOUT="30",
            COACH_TEAMS_EMULATOR="1",  # Teams without auth, on loopback, like the Bot Framework Emulator
        )
        if database_url:
            env["COACH_DATABASE_URL"] = database_url
        coach = str(Path(sys.executable).parent / "coach")
        command = [coach, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.floor", "--port", str(port)] if floor else command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0), trace_configs=[sent_at()]
            ) as session:
                await wait_healthy(url, server, timeout_s=180)  # a busy machine starts slowly
                warm = Load([], [], [])  # first requests pay for auth.test and connection set-up
                await asyncio.gather(
                    _slack_event(session, url, "UWARM", warm),
                    _teams_activity(session, url, connector.url, -1, warm),
                )
                await _wait(
                    lambda: len(slack_answers(slack)) >= 1 and len(connector.messages()) >= 1, timeout_s
                )
                await open_connections(session, url, conversations)
                base_slack, base_teams, base_claude = (
                    len(slack_answers(slack)),
                    len(connector.messages()),
                    len(claude.requests),
                )
                half = conversations // 2
                load = Load([], [], [], expected_acks=half, pid=server.pid)
                cpu_before, harness_before = cpu_seconds(server.pid), time.process_time()
                threads_before = thread_cpu_s(server.pid)
                started = time.perf_counter()
                await asyncio.gather(
                    *(_slack_event(session, url, f"U{n:04d}", load) for n in range(half)),
                    *(
                        _teams_activity(session, url, connector.url, n, load)
                        for n in range(conversations - half)
                    ),
                )
                done = await _wait(
                    lambda: (
                        len(slack_answers(slack)) - base_slack >= half
                        and len(connector.messages()) - base_teams >= conversations - half
                    ),
                    timeout_s,
                )
                wall = time.perf_counter() - started
                cpu_after, harness_cpu = cpu_seconds(server.pid), time.process_time() - harness_before
                rss = peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
            for fake in (slack, connector, claude):
                await fake.stop()
    slack_texts = slack_answers(slack)[base_slack:]
    teams_answers = [_teams_text(m.activity) for m in connector.messages()[base_teams:]]
    answered_slack, answered_teams = len(slack_texts), len(teams_answers)
    errors = list(load.errors)
    if not done:
        errors.append(
            f"only {answered_slack + answered_teams} of {conversations} answered in {timeout_s:.0f} s"
        )
    # an answer that is not Claude's is an offline fallback: it counts as an error here
    fallbacks = [t for t in slack_texts + teams_answers if "intended use and limits" not in t]
    return {
        "server": "floor" if floor else "coach",
        "backend": "postgresql" if database_url else "sqlite",
        "workers": workers,
        "conversations": conversations,
        "claude_s": claude_s,
        "claude_calls": len(claude.requests) - base_claude,
        "wall_s": wall,
        "wall_over_claude": wall / claude_s,
        "slack_ack_p50_ms": statistics.median(load.slack_ack_ms),
        "slack_ack_p99_ms": percentile(load.slack_ack_ms, 0.99),
        "slack_acks_late": sum(ms > 3000 for ms in load.slack_ack_ms),  # Slack would have retried these
        # the server's CPU from the burst's start to its last Slack ack, per Slack request: what the
        # acks cost it (with what it did for the burst's Teams requests meanwhile), whatever the load
        "slack_ack_cpu_ms": (
            1000 * (load.acks_cpu_s - threads_before) / half
            if load.acks_cpu_s is not None and threads_before is not None
            else None
        ),
        "teams_http_p99_ms": percentile(load.teams_http_ms, 0.99),
        "answered": answered_slack + answered_teams,
        "errors": len(errors) + len(fallbacks),
        "error_details": errors[:10],
        "peak_rss_mb": rss,
        "serve_cpu_s": (cpu_after - cpu_before) if cpu_before is not None and cpu_after is not None else None,
        "harness_cpu_s": harness_cpu,  # the fakes and the load generator, in this process
    }


FLOOR_FIGURES = ("slack_ack_p50_ms", "slack_ack_p99_ms", "slack_ack_cpu_ms", "teams_http_p99_ms", "wall_s")
FLOOR_FIGURES += ("errors",)
BACKEND_FIGURES = ("backend", "workers", "conversations", "wall_s", "wall_over_claude", "slack_ack_p99_ms")
BACKEND_FIGURES += ("slack_acks_late", "teams_http_p99_ms", "answered", "errors")
PG_WORKERS = (1, 2)


def postgres_skipped(reason: str, conversations: int) -> list[dict[str, Any]]:
    """The PostgreSQL rows, each saying why it was not measured."""
    return [
        {"backend": "postgresql", "workers": w, "conversations": conversations, "skipped": reason}
        for w in PG_WORKERS
    ]


async def bench_postgres(conversations: int = 200) -> list[dict[str, Any]]:
    """The concurrency run on a throwaway PostgreSQL with 1 and 2 workers (rows saying "skipped" and
    why when PostgreSQL is not installed)."""
    from bot.testing.postgres import ThrowawayPostgres, binaries

    if binaries() is None:
        reason = "PostgreSQL is not installed (tools/ensure-postgres installs it from the Debian packages)"
        return postgres_skipped(reason, conversations)
    runs = []
    with ThrowawayPostgres() as server:
        for workers in PG_WORKERS:
            result = await bench_concurrency(conversations, database_url=server.database(), workers=workers)
            runs.append({k: result[k] for k in BACKEND_FIGURES})
    return runs


async def bench_backends(
    conversations: int = 200, postgres: bool = True, sqlite: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The concurrency run on SQLite (one process; `sqlite` if already measured in this run), then on
    PostgreSQL with 1 and 2 workers."""
    sqlite = sqlite or await bench_concurrency(conversations)
    rows = [{k: sqlite[k] for k in BACKEND_FIGURES}]
    if postgres:
        return rows + await bench_postgres(conversations)
    return rows + postgres_skipped("not asked for (--no-postgres)", conversations)


async def open_connections(session: aiohttp.ClientSession, url: str, count: int) -> None:
    """Open `count` kept-alive connections to the server before a burst, so that an ack's figure is
    the server's answer and not this load generator setting up 200 TCP connections at once (~120 ms of
    its own loop, measured: no request reached the server before the last connection was made)."""

    async def healthz() -> None:
        async with session.get(f"{url}/healthz") as response:
            await response.read()
            await asyncio.sleep(0.05)  # hold the connection so the next request opens another

    await asyncio.gather(*(healthz() for _ in range(count)))


async def wait_healthy(url: str, server: subprocess.Popen, timeout_s: float = 60) -> None:
    """Wait until a `coach serve` process answers /healthz and has finished the warm-up it runs after
    ready (so neither a measurement nor a test's time bound counts it); fails if it exits first."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError("coach serve exited during start-up")
            try:
                async with session.get(f"{url}/healthz") as response:
                    if response.status == 200 and (await response.json()).get("warm_up") != "running":
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"coach serve did not become healthy in {timeout_s:.0f} s")


async def _wait(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


# -- everything --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    """The sizes of a run that have no option of their own."""

    retrieval_copies: int = 20  # the larger corpus, in copies of the course
    retrieval_rounds: int = 10  # passes over the evaluation queries (on the course; fewer on the copies)
    turns: int = 200  # in-process turns of the turn-overhead figure
    warmup: bool = True  # a batch per server and channel before the CPU comparisons count
    claude_s: float = CLAUDE_SECONDS  # fake Claude's time per call in the concurrency runs


SMOKE = Sizes(retrieval_copies=2, retrieval_rounds=1, turns=20, warmup=False, claude_s=0.2)


async def run_all(
    rt: Runtime,
    conversations: int = 200,
    members: int = 10_000,
    learners: int = 100_000,
    rounds: int = 5,
    batch: int = 20,
    postgres: bool = True,
    sizes: Sizes = Sizes(),
) -> dict[str, Any]:
    from bench.cpu import bench_cpu
    from bench.scale import bench_scale
    from bench.startup import bench_startup

    eval_set = load_eval_set()
    retrieval = []
    for copies in (1, sizes.retrieval_copies):
        idx = rt.index if copies == 1 else Index(":memory:", rt.course, scaled_chunks(rt.index, copies))
        ours, baseline = bench_retrieval(idx, eval_set, rounds=max(1, sizes.retrieval_rounds // copies))
        retrieval.append(
            {
                "chunks": idx.chunk_count,
                "fts5_p50_ms": ours.p50_ms,
                "fts5_p99_ms": ours.p99_ms,
                "bm25_p50_ms": baseline.p50_ms,
                "bm25_p99_ms": baseline.p99_ms,
                "speedup_p50": baseline.p50_ms / ours.p50_ms,
            }
        )
    turns = await bench_turns(rt, sizes.turns)
    concurrency = await bench_concurrency(conversations, claude_s=sizes.claude_s)
    # the same burst against the floor: what acks cost at least
    floor = await bench_concurrency(conversations, floor=True, claude_s=sizes.claude_s)
    concurrency |= {f"floor_{k}": floor[k] for k in FLOOR_FIGURES}
    backends = await bench_backends(conversations, postgres, sqlite=concurrency)
    nudges = bench_nudges(rt.course, members).to_json()
    cpu = await bench_cpu(rounds, batch, warmup=sizes.warmup)
    scale = await bench_scale(min(1_000, learners), learners, rounds, batch, warmup=sizes.warmup)
    startup = bench_startup(rounds)
    return {
        "machine": machine(),
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "retrieval": retrieval,
        "turns": turns,
        "concurrency": concurrency,
        "backends": backends,
        "nudges": nudges,
        "cpu": cpu,
        "scale": scale,
        "startup": startup,
    }
