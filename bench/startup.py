"""Start-up figures: `coach --help` (a command that needs none of Claude, LangGraph or botbuilder) and
`coach serve` up to its first `/healthz` on an index that is already built, and on to the end of the
warm-up it runs after ready (`"warm_up": "done"`: Claude's SDK, the semantic model). Each is a fresh
process, timed by wall clock and by its own CPU (user + system), median of several runs."""

from __future__ import annotations

import atexit
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

COACH = str(Path(sys.executable).parent / "coach")


def clean_env(data_dir: str, **extra: str) -> dict[str, str]:
    """The environment of a `coach` child: none of the caller's channel or Claude settings."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC", "SLACK", "Microsoft", "COACH"))
    }
    return {**env, "COACH_DATA_DIR": data_dir, **extra}


_INDEX: dict[str, Path] = {}


def with_index(data_dir: str) -> None:
    """Put a built search index in `data_dir` (built once per process, as `coach index` builds it, in
    this process: a `coach index` child would import the coach again; then a copy)."""
    if "built" not in _INDEX:
        from knowledge.loader import load_course
        from knowledge.retrieval import Index

        folder = tempfile.mkdtemp(prefix="coach-bench-index-")
        atexit.register(shutil.rmtree, folder, True)
        Index(Path(folder) / "index.db", load_course()).close()
        _INDEX["built"] = Path(folder) / "index.db"
    shutil.copyfile(_INDEX["built"], Path(data_dir) / "index.db")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_help(runs: int = 5) -> dict[str, float]:
    """Wall and CPU seconds of `coach --help`, median of `runs`."""
    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            cpu, started = _children_cpu(), time.perf_counter()
            subprocess.run([COACH, "--help"], env=clean_env(tmp), capture_output=True, check=True)
            walls.append(time.perf_counter() - started)
            cpus.append(_children_cpu() - cpu)
    return {"help_wall_s": statistics.median(walls), "help_cpu_s": statistics.median(cpus)}


def process_cpu(pid: int) -> float:
    """User + system CPU seconds a running process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(port: int, server: subprocess.Popen, started: float, timeout_s: float = 60) -> float:
    """Seconds from `started` until the server answers /healthz (polled every 10 ms)."""
    while time.perf_counter() - started < timeout_s:
        if server.poll() is not None:
            raise RuntimeError("coach serve exited during start-up")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"coach serve did not answer /healthz in {timeout_s:.0f} s")


def _warmed(port: int, started: float, timeout_s: float = 60) -> float:
    """Seconds from `started` until /healthz says the after-ready warm-up is done."""
    while time.perf_counter() - started < timeout_s:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            if json.loads(response.read()).get("warm_up") != "running":
                return time.perf_counter() - started
        time.sleep(0.01)
    raise RuntimeError(f"coach serve did not finish its warm-up in {timeout_s:.0f} s")


def time_serve(runs: int = 3, **env: str) -> dict[str, float]:
    """Wall seconds from spawning `coach serve` to its first /healthz, on an index built beforehand."""
    walls, cpus, warm_walls, warm_cpus = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        with_index(tmp)
        for _ in range(runs):
            port = _free_port()
            started = time.perf_counter()
            server = subprocess.Popen(
                [COACH, "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=clean_env(tmp, **env),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                walls.append(_ready(port, server, started))
                cpus.append(process_cpu(server.pid))
                warm_walls.append(_warmed(port, started))
                warm_cpus.append(process_cpu(server.pid))
            finally:
                server.terminate()
                server.wait(timeout=30)
    return {
        "serve_ready_s": statistics.median(walls),
        "serve_ready_cpu_s": statistics.median(cpus),
        "serve_warm_s": statistics.median(warm_walls),
        "serve_warm_cpu_s": statistics.median(warm_cpus),
    }


def bench_startup(runs: int = 5) -> dict[str, Any]:
    """`coach --help`, and `coach serve` ready offline and with Slack, Teams and Claude on."""
    on = {
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": "bench",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "ANTHROPIC_API_KEY": "sk-ant-bench",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        "COACH_TEAMS_EMULATOR": "1",
    }
    offline, claude = time_serve(max(1, runs // 2)), time_serve(max(1, runs // 2), **on)
    return {
        **time_help(runs),
        "serve_ready_offline_s": offline["serve_ready_s"],
        "serve_ready_offline_cpu_s": offline["serve_ready_cpu_s"],
        "serve_warm_offline_s": offline["serve_warm_s"],
        "serve_warm_offline_cpu_s": offline["serve_warm_cpu_s"],
        "serve_ready_claude_s": claude["serve_ready_s"],
        "serve_ready_claude_cpu_s": claude["serve_ready_cpu_s"],
        "serve_warm_claude_s": claude["serve_warm_s"],
        "serve_warm_claude_cpu_s": claude["serve_warm_cpu_s"],
    }
