"""`coach bench`: every speed figure against its goal (the harness is the `bench` package)."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from bot.cli.common import out, runtime

bench_app = typer.Typer(
    help="Measure speed. Without a subcommand: every benchmark, a table, and bench/results.json.",
    invoke_without_command=True,
)


@bench_app.command("retrieval")
def bench_retrieval_cmd(
    rounds: Annotated[int, typer.Option(min=1, help="Passes over the evaluation queries.")] = 20,
    scale: Annotated[str, typer.Option(help="Corpus sizes to compare, as multiples of the course.")] = "1,20",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """p50/p99 query time of our FTS5 index vs a rank-bm25 baseline, same chunks and queries, same run."""
    from knowledge.evaluation import bench_retrieval, load_eval_set, scaled_chunks
    from knowledge.retrieval import Index

    rt = runtime()
    eval_set = load_eval_set()
    rows = []
    for copies in (int(x) for x in scale.split(",")):
        idx = rt.index if copies == 1 else Index(":memory:", rt.course, scaled_chunks(rt.index, copies))
        ours, baseline = bench_retrieval(idx, eval_set, rounds=max(1, rounds // copies))
        rows.append(
            {
                "chunks": idx.chunk_count,
                "ours_p50_ms": ours.p50_ms,
                "ours_p99_ms": ours.p99_ms,
                "baseline_p50_ms": baseline.p50_ms,
                "baseline_p99_ms": baseline.p99_ms,
                "speedup_p50": baseline.p50_ms / ours.p50_ms,
                "queries": ours.runs,
            }
        )
    if as_json:
        sys.stdout.write(json.dumps({"retrieval": rows}) + "\n")
        return
    machine = f"{platform.machine()}, Python {platform.python_version()}"
    table = Table(title=f"retrieval speed ({machine})")
    for col in (
        "chunks",
        "queries",
        "fts5 p50",
        "fts5 p99",
        "rank-bm25 p50",
        "rank-bm25 p99",
        "speed-up (p50)",
    ):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            str(r["chunks"]),
            str(r["queries"]),
            f"{r['ours_p50_ms']:.3f} ms",
            f"{r['ours_p99_ms']:.3f} ms",
            f"{r['baseline_p50_ms']:.3f} ms",
            f"{r['baseline_p99_ms']:.3f} ms",
            f"{r['speedup_p50']:.1f}x",
        )
    out.print(table)
    out.print("goal: fts5 p50 under 1 ms; rank-bm25 is the baseline beside it (at parity at course size)")


@bench_app.command("nudges")
def bench_nudges_cmd(
    members: Annotated[int, typer.Option(min=1, help="Team size.")] = 10_000,
    rounds: Annotated[int, typer.Option(min=1)] = 3,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Time to plan and enqueue a weekly nudge for a team, question choice from 12 weeks of answers
    included (goal: 10,000 < 2 s)."""
    from bench.nudges import bench_nudges

    result = bench_nudges(runtime().course, members, rounds)
    if as_json:
        sys.stdout.write(json.dumps({"nudges": result.to_json()}) + "\n")
        return
    out.print(
        f"planned {result.members:,} members ({result.attempts:,} earlier answers, "
        f"{result.deliveries:,} earlier sets): median {result.median_s:.3f} s wall, "
        f"{result.median_cpu_s:.3f} s CPU (wall min {min(result.runs_s):.3f}, max {max(result.runs_s):.3f}, "
        f"{len(result.runs_s)} runs); goal < 2 s"
    )


@bench_app.callback()
def bench_all(
    ctx: typer.Context,
    conversations: Annotated[int, typer.Option(help="Concurrent conversations through coach serve.")] = 200,
    members: Annotated[int, typer.Option(help="Team size for nudge planning.")] = 10_000,
    learners: Annotated[
        int, typer.Option(help="Learners in the large store (1,000 in the small).")
    ] = 100_000,
    rounds: Annotated[int, typer.Option(min=1, help="Rounds of the CPU and start-up comparisons.")] = 5,
    batch: Annotated[int, typer.Option(min=1, help="Conversations per batch in the CPU comparisons.")] = 20,
    postgres: Annotated[
        bool, typer.Option(help="Also run the conversations on PostgreSQL with 1 and 2 workers.")
    ] = True,
    results: Annotated[Path, typer.Option(help="Where to write the JSON.")] = Path("bench/results.json"),
    smoke: Annotated[
        bool,
        typer.Option(
            help="Check that every benchmark runs and writes its figures (for the tests; the figures mean "
            "nothing): the sizes without an option at their smallest, no warm-up batches, no PostgreSQL. "
            "Give small --conversations, --members, --learners, --rounds and --batch too."
        ),
    ] = False,
) -> None:
    """Run every benchmark, print a table with each goal, and write the figures as JSON."""
    if ctx.invoked_subcommand is not None:
        return
    import asyncio

    from bench.harness import SMOKE, Sizes, run_all

    rt = runtime()
    rt.index  # noqa: B018 - build it before measuring
    sizes = SMOKE if smoke else Sizes()
    postgres = postgres and not smoke
    figures = asyncio.run(run_all(rt, conversations, members, learners, rounds, batch, postgres, sizes))
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    out.print(bench_table(figures))
    out.print(f"[dim]{figures['machine']} · written to {results}[/dim]", highlight=False)


def backend_row(row: Any, b: dict) -> None:
    """One concurrency run on a backend (or the reason it was skipped)."""
    what = f"{b['conversations']} conversations on {b['backend']}, {b['workers']} worker(s)"
    if "skipped" in b:
        row(what, f"skipped: {b['skipped']}")
        return
    late = b.get("slack_acks_late")
    row(
        what,
        f"wall / Claude's 1 s {b['wall_over_claude']:.2f} · Slack ack p99 {b['slack_ack_p99_ms']:.1f} ms"
        + ("" if late is None else f" ({late} over 3 s)")
        + f" · Teams p99 {b['teams_http_p99_ms']:.1f} ms · errors {b['errors']}",
        "0 errors",
        b["errors"] == 0,
    )


@bench_app.command("backends")
def bench_backends_cmd(
    conversations: Annotated[int, typer.Option(min=2, help="Concurrent conversations.")] = 200,
    postgres: Annotated[bool, typer.Option(help="Also run on PostgreSQL with 1 and 2 workers.")] = True,
) -> None:
    """The concurrency run alone, side by side: SQLite (one process), PostgreSQL with 1 and 2 workers."""
    import asyncio

    from bench.harness import bench_backends

    rows = asyncio.run(bench_backends(conversations, postgres))
    table = Table(title="coach bench backends")
    for col in ("what", "measured", "goal", "met"):
        table.add_column(col)

    def row(what: str, measured: str, goal: str = "", met: bool | None = None) -> None:
        table.add_row(what, measured, goal, "" if met is None else ("yes" if met else "NO"))

    for b in rows:
        backend_row(row, b)
    out.print(table)


def bench_table(f: dict) -> Table:
    table = Table(title="coach bench")
    for col in ("what", "measured", "goal", "met"):
        table.add_column(col)

    def row(what: str, measured: str, goal: str = "", met: bool | None = None) -> None:
        table.add_row(what, measured, goal, "" if met is None else ("yes" if met else "NO"))

    for r in f["retrieval"]:
        row(
            f"retrieval p50 / p99, {r['chunks']} chunks",
            f"FTS5 {r['fts5_p50_ms']:.3f} / {r['fts5_p99_ms']:.3f} ms · rank-bm25 {r['bm25_p50_ms']:.3f} / "
            f"{r['bm25_p99_ms']:.3f} ms · {r['speedup_p50']:.1f}x",
            "p50 < 1 ms",
            r["fts5_p50_ms"] < 1,
        )
    t = f["turns"]
    row(
        "offline turn p50 / p99",
        f"graph + checkpointer {t['graph_p50_ms']:.2f} / {t['graph_p99_ms']:.2f} ms · brain alone "
        f"{t['direct_p50_ms']:.2f} / {t['direct_p99_ms']:.2f} ms",
    )
    c = f["concurrency"]
    row(
        f"{c['conversations']} conversations, Claude {c['claude_s']:g} s: wall / Claude",
        f"{c['wall_over_claude']:.2f} ({c['wall_s']:.2f} s)",
        "< 1.5",
        c["wall_over_claude"] < 1.5,
    )
    row(
        "Slack ack p50 / p99 in the burst",
        f"coach {c['slack_ack_p50_ms']:.1f} / {c['slack_ack_p99_ms']:.1f} ms · floor "
        f"{c['floor_slack_ack_p50_ms']:.1f} / {c['floor_slack_ack_p99_ms']:.1f} ms (same burst, same run)",
        "p99 ≤ 50 ms",
        c["slack_ack_p99_ms"] <= 50,
    )
    if c.get("slack_ack_cpu_ms") is not None and c.get("floor_slack_ack_cpu_ms") is not None:
        row(
            "server CPU until the last Slack ack, per Slack request",
            f"coach {c['slack_ack_cpu_ms']:.3f} ms · floor {c['floor_slack_ack_cpu_ms']:.3f} ms",
        )
    teams_p99 = f"coach {c['teams_http_p99_ms']:.1f} ms · floor {c['floor_teams_http_p99_ms']:.1f} ms"
    row("Teams HTTP p99", teams_p99)
    row("errors", f"{c['errors']} ({c['answered']} of {c['conversations']} answered)", "0", c["errors"] == 0)
    for b in f.get("backends", []):
        backend_row(row, b)
    rss = c["peak_rss_mb"]
    row("peak RSS of coach serve", f"{rss:.0f} MB" if rss else "n/a (no /proc)")
    for r in f["cpu"]["rows"]:
        row(
            f"CPU per turn, {r['channel']}, {r['brain']} brain",
            f"coach {r['coach_ms']:.2f} ms · floor {r['floor_ms']:.2f} ms · {r['ratio']:.2f}x",
            "≤ 1.3x floor",
            r["ratio"] <= 1.3,
        )
        if "metrics_ratio" in r:
            row(
                f"CPU per turn, {r['channel']}, metrics on vs off",
                f"on {r['coach_ms']:.2f} ms · off {r['metrics_off_ms']:.2f} ms · {r['metrics_ratio']:.2f}x",
                "≤ 1.05x",
                r["metrics_ratio"] <= 1.05,
            )
    sc = f["scale"]
    row(
        f"CPU per turn, {sc['large']['learners']:,} vs {sc['small']['learners']:,} learners",
        f"{sc['large']['cpu_ms']:.2f} vs {sc['small']['cpu_ms']:.2f} ms · {sc['ratio']:.2f}x "
        f"({sc['large']['messages']:,} messages, {sc['large']['conversations']:,} conversations)",
        "≤ 1.2x",
        sc["ratio"] <= 1.2,
    )
    st = f["startup"]
    row(
        "coach --help",
        f"{st['help_wall_s']:.2f} s wall · {st['help_cpu_s']:.2f} s CPU",
        "≤ 0.5 s",
        st["help_wall_s"] <= 0.5,
    )
    for brain in ("offline", "claude"):
        warm = st.get(f"serve_warm_{brain}_s"), st.get(f"serve_warm_{brain}_cpu_s")
        row(
            f"coach serve ready, {brain} (index built)",
            f"{st[f'serve_ready_{brain}_s']:.2f} s wall · {st[f'serve_ready_{brain}_cpu_s']:.2f} s CPU"
            + (f" (warm-up done {warm[0]:.2f} s · {warm[1]:.2f} s CPU)" if warm[0] is not None else ""),
            "≤ 3 s",
            st[f"serve_ready_{brain}_s"] <= 3,
        )
    n = f["nudges"]
    row(
        f"plan weekly nudge, {n['members']:,} members",
        f"{n['median_s']:.3f} s wall (min {n['min_s']:.3f}, max {n['max_s']:.3f}) · "
        f"{n.get('median_cpu_s', 0):.3f} s CPU",
        "< 2 s",
        n["median_s"] < 2,
    )
    return table
