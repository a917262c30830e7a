"""Two versions of coach side by side: `python -m bench.pair --base DIR` runs the frameworks' floor, the
coach whose source is in DIR (e.g. `git worktree add --detach DIR main`, then remove from it the
held-out evaluation files you must not see, as in your own tree; `git archive` copies them all) and
this checkout's coach as
three servers under the same alternating batches (`bench.cpu.compare`), and prints each one's CPU per
turn and the ratios from that one run: on a shared, loaded machine only same-run ratios mean much.

CPU is read as `bench.cpu.Server.cpu` reads it: nanoseconds from schedstat, not 10 ms ticks."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from pathlib import Path

from bench.cpu import Fakes, channel_env, compare, start
from bench.startup import with_index


async def pair(base: Path, rounds: int, size: int, brains: list[str], channels: tuple[str, ...]) -> None:
    # Both coaches start the same way, each with its own tree first on PYTHONPATH (-P: not the current
    # directory): this checkout's through the venv's `coach` script and editable install, the base's
    # through `python -c`, would differ in how every module is found.
    coach = [sys.executable, "-P", "-c", "from bot.cli import app; app()", "serve", "--host", "127.0.0.1"]
    here = Path(__file__).resolve().parent.parent
    floor = [sys.executable, "-m", "bench.floor"]
    fakes = await Fakes().start()
    try:
        for brain in brains:
            claude = brain == "claude"
            with contextlib.ExitStack() as dirs:
                floor_dir, base_dir, here_dir = (
                    dirs.enter_context(tempfile.TemporaryDirectory()) for _ in range(3)
                )
                with_index(base_dir)
                with_index(here_dir)
                servers = [
                    start("floor", floor, channel_env(fakes, floor_dir, claude)),
                    start("base", coach, channel_env(fakes, base_dir, claude) | {"PYTHONPATH": str(base)}),
                    start("this", coach, channel_env(fakes, here_dir, claude) | {"PYTHONPATH": str(here)}),
                ]
                try:
                    medians = await compare(servers, fakes, rounds, size, channels=channels)
                finally:
                    for server in servers:
                        server.stop()
            for channel in channels:
                f, b, t = (medians[name][channel] for name in ("floor", "base", "this"))
                print(
                    f"{brain:7} {channel:5}  floor {f:5.2f} ms  base {b:5.2f} ms ({b / f:.2f}x floor)  "
                    f"this {t:5.2f} ms ({t / f:.2f}x floor)  this/base {t / b:.2f}",
                    flush=True,
                )
    finally:
        await fakes.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="source tree of the coach to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--brain", choices=["offline", "claude", "both"], default="both")
    parser.add_argument("--channel", choices=["slack", "teams", "both"], default="both")
    args = parser.parse_args()
    brains = ["offline", "claude"] if args.brain == "both" else [args.brain]
    channels = ("slack", "teams") if args.channel == "both" else (args.channel,)
    asyncio.run(pair(args.base.resolve(), args.rounds, args.batch, brains, channels))


if __name__ == "__main__":
    main()
