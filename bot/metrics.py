"""Prometheus metrics: every metric coach exports, and the one-line calls the code uses to move them.

Label values come only from the small fixed sets below (a value outside its set is counted as "other"),
so no user id, conversation id or message text can ever reach `/metrics`.

One process keeps its metrics in memory. Several (gunicorn workers, the clock beside the web server)
share them through `PROMETHEUS_MULTIPROC_DIR`: prometheus-client reads that environment variable
itself when it starts, writes each process's values to files there, and `render` sums the files of
every process, the clock's included. `COACH_METRICS=off` turns recording and `/metrics` off.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess, values
from prometheus_client.exposition import choose_encoder

CHANNELS = ("slack", "teams", "console")
FLOWS = ("lab", "quiz", "ask", "feedback", "info", "admin", "none")
TURN_OUTCOMES = ("answered", "failed", "duplicate", "undelivered")
BRAIN_CALLS = ("lab_turn", "answer")
DELIVERY_OUTCOMES = ("sent", "retry", "failed")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

TURNS = Counter(
    "coach_turns",
    "Learner turns handled, by channel, flow (the graph node that ran; admin: a manager command; "
    "none: no flow ran) and outcome (answered, failed: answered with an apology, duplicate: dropped, "
    "undelivered: the platform refused the replies).",
    ["channel", "flow", "outcome"],
)
TURN_SECONDS = Histogram(
    "coach_turn_seconds",
    "Seconds from a message reaching the coach to its replies being delivered (waiting for the "
    "conversation's earlier turns included), by channel.",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
ACK_SECONDS = Histogram(
    "coach_ack_seconds",
    "Seconds the web server took to answer a platform's HTTP request once its body was read and checked "
    "(Slack's 3-second ack, the Bot Framework's POST), by channel.",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
BRAIN_FALLBACKS = Counter(
    "coach_brain_fallbacks",
    "Turns the remote brain (Claude) failed and the offline brain answered, by call (lab_turn, answer).",
    ["call"],
)
CLAUDE_CALLS = Counter(
    "coach_claude_calls",
    "Claude responses by prompt-cache use: hit (some prompt tokens were read from the cache) or miss.",
    ["cache"],
)
CLAUDE_INPUT_TOKENS = Counter(
    "coach_claude_input_tokens",
    "Prompt tokens sent to Claude, by kind: cache_read, cache_write (cache creation) and uncached.",
    ["kind"],
)
NUDGES = Counter(
    "coach_nudges",
    "Weekly nudges delivered, by outcome: sent, retry (failed, will be tried again), failed (for good).",
    ["outcome"],
)
DIGESTS = Counter(
    "coach_digests",
    "Manager digests (their text) delivered, by outcome: sent, retry, failed (for good; admins are told).",
    ["outcome"],
)

_state: dict[str, Any] = {"on": True, "dir": None}  # set by `configure`


def configure(enabled: bool, multiproc_dir: Path | None = None) -> None:
    """Record (or not), and where the processes' shared values live when there are several."""
    _state["on"], _state["dir"] = enabled, multiproc_dir


def problem(multiproc_dir: Path | None) -> str | None:
    """Why the shared directory cannot work (checked before a server or clock starts), or None."""
    if multiproc_dir is None:
        return None
    if not multiproc_dir.is_dir():
        return f"PROMETHEUS_MULTIPROC_DIR={multiproc_dir} is not a directory: create it (empty) first"
    if values.ValueClass is values.MutexValue:
        return "PROMETHEUS_MULTIPROC_DIR must be exported in the environment, not only written in .env"
    return None


def _one_of(value: str, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else "other"


def turn(channel: str, flow: str, outcome: str, seconds: float | None = None) -> None:
    """One learner turn: its flow and outcome, and how long it took (not for duplicates)."""
    if not _state["on"]:
        return
    channel = _one_of(channel, CHANNELS)
    TURNS.labels(channel, _one_of(flow, FLOWS), _one_of(outcome, TURN_OUTCOMES)).inc()
    if seconds is not None:
        TURN_SECONDS.labels(channel).observe(seconds)


def ack(channel: str, started: float) -> None:
    """A platform's HTTP request answered; `started` is its `time.perf_counter()` on arrival."""
    if _state["on"]:
        ACK_SECONDS.labels(_one_of(channel, CHANNELS)).observe(time.perf_counter() - started)


def brain_fallback(call: str) -> None:
    if _state["on"]:
        BRAIN_FALLBACKS.labels(_one_of(call, BRAIN_CALLS)).inc()


def claude_usage(cache_read: int, cache_write: int, uncached: int) -> None:
    """One Claude response's prompt tokens, as its `usage` reports them."""
    if not _state["on"]:
        return
    CLAUDE_CALLS.labels("hit" if cache_read > 0 else "miss").inc()
    for kind, tokens in (("cache_read", cache_read), ("cache_write", cache_write), ("uncached", uncached)):
        if tokens > 0:
            CLAUDE_INPUT_TOKENS.labels(kind).inc(tokens)


def nudge(outcome: str) -> None:
    if _state["on"]:
        NUDGES.labels(_one_of(outcome, DELIVERY_OUTCOMES)).inc()


def digest(outcome: str) -> None:
    if _state["on"]:
        DIGESTS.labels(_one_of(outcome, DELIVERY_OUTCOMES)).inc()


def render(accept: str | None) -> tuple[bytes, str]:
    """The exposition (Prometheus text, or OpenMetrics when the scraper asks for it) and its content
    type: this process's metrics, or every process's from the shared directory."""
    registry: Any = REGISTRY
    if _state["dir"] is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(_state["dir"]))
    try:
        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type
    except (ValueError, TypeError):  # an Accept header the library cannot read: the plain text format
        encoder, content_type = choose_encoder("")
        return encoder(registry), content_type
