"""Per-turn CPU as the data grows: `coach serve` on a store of 1,000 learners beside one of 100,000
(1M messages, 20k conversations, quizzes and labs in proportion), built with bulk SQL, under the same
batches of turns from existing learners. A turn's reads must use indexes, so the two stay level."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.cpu import Fakes, channel_env, compare, start
from bench.startup import with_index
from bot.store import Store

MESSAGES_PER_LEARNER = 10
LEARNERS_PER_CONVERSATION = 5  # 100k learners → 20k conversations


def seed(path: Path, learners: int) -> dict[str, int]:
    """A learner store of `learners` Slack users with their history, written in one transaction."""
    Store(path).close()  # the schema and its indexes
    import sqlite3

    stamp = "2026-01-05T09:00:00+00:00"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")  # a throwaway benchmark store: no fsync while building it
    conn.execute("PRAGMA cache_size = -200000")
    users = [f"U{n:07d}" for n in range(learners)]  # the ids `coach bench` sends turns from
    with conn:
        conn.executemany(
            "INSERT INTO learners (id, platform, user, name, first_seen, last_seen)"
            " VALUES (?, 'slack', ?, ?, ?, ?)",
            ((f"slack:{u}", u, f"Learner {u}", stamp, stamp) for u in users),
        )
        conn.executemany(
            "INSERT INTO messages (delivery, conversation, learner, text, action, received_at, status,"
            " replies)"
            " VALUES (?, ?, ?, 'What is a model card?', NULL, ?, 'answered', 1)",
            (
                (f"Ev{u}-{k}", f"slack:D{n // LEARNERS_PER_CONVERSATION:07d}", f"slack:{u}", stamp)
                for n, u in enumerate(users)
                for k in range(MESSAGES_PER_LEARNER)
            ),
        )
        conn.executemany(
            "INSERT INTO quiz_sessions (id, learner, quiz, questions, started_at, finished_at, correct,"
            " total, passed) VALUES (?, ?, 'quiz-1', '[]', ?, ?, 3, 4, 1)",
            ((f"qs-{u}", f"slack:{u}", stamp, stamp) for u in users),
        )
        conn.executemany(
            "INSERT INTO quiz_attempts (session, learner, question, chosen, correct, answered_at)"
            " VALUES (?, ?, ?, 'A', 1, ?)",
            ((f"qs-{u}", f"slack:{u}", f"q1-{k}", stamp) for u in users for k in range(4)),
        )
        conn.executemany(
            "INSERT INTO lab_runs (id, learner, lab, started_at, finished_at, turns, score, covered, missed)"
            " VALUES (?, ?, 'lab-1', ?, ?, 5, 0.8, '[]', '[]')",
            ((f"lab-{u}", f"slack:{u}", stamp, stamp) for u in users),
        )
    conn.execute("ANALYZE")
    conn.close()
    return {
        "learners": learners,
        "messages": learners * MESSAGES_PER_LEARNER,
        "conversations": learners // LEARNERS_PER_CONVERSATION,
    }


async def bench_scale(
    small: int = 1_000, large: int = 100_000, rounds: int = 5, size: int = 20, warmup: bool = True
) -> dict[str, Any]:
    """Offline Slack turns: CPU ms per turn on the small store and on the large one, side by side."""
    coach = [str(Path(sys.executable).parent / "coach"), "serve", "--host", "127.0.0.1"]
    fakes = await Fakes().start()
    try:
        with tempfile.TemporaryDirectory() as small_dir, tempfile.TemporaryDirectory() as large_dir:
            started = time.perf_counter()
            sizes = {}
            for name, folder, learners in (("small", small_dir, small), ("large", large_dir, large)):
                with_index(folder)
                sizes[name] = seed(Path(folder) / "coach.db", learners)
            seed_s = time.perf_counter() - started
            servers = [
                start("small", coach, channel_env(fakes, small_dir, claude=False)),
                start("large", coach, channel_env(fakes, large_dir, claude=False)),
            ]
            try:
                medians = await compare(
                    servers, fakes, rounds, size, channels=("slack",), first=0, warmup=warmup
                )
            finally:
                for server in servers:
                    server.stop()
    finally:
        await fakes.stop()
    small_ms, large_ms = medians["small"]["slack"], medians["large"]["slack"]
    return {
        "small": {**sizes["small"], "cpu_ms": small_ms},
        "large": {**sizes["large"], "cpu_ms": large_ms},
        "ratio": large_ms / small_ms,
        "seed_s": seed_s,
    }
