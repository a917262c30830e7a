"""`make e2e`: coach in Microsoft's own local Teams client, as a person sees it.

Starts `coach serve` (COACH_TEAMS_EMULATOR=1), the Microsoft 365 Agents Playground (npm, pinned in the
Makefile) and Debian's Chromium (headless, driven by Playwright), all on 127.0.0.1, then checks: a
personal-chat quiz answered by clicking a card button (the card turns into its feedback), a lab turn,
and a channel @mention whose cited answer appears in the thread. Screenshots go to `e2e/out/` (on
failure, the page as it was).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.async_api import Page, async_playwright, expect

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "e2e" / "out"
PLAYGROUND = ROOT / ".e2e" / "node_modules" / "@microsoft" / "m365agentsplayground" / "cli.js"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 20_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"{url} did not come up") from None
            time.sleep(0.3)


async def say(page: Page, text: str) -> None:
    box = page.get_by_role("textbox").last
    await box.click()
    await box.fill(text)
    await box.press("Enter")


async def personal_chat(page: Page) -> None:
    await page.get_by_text("Personal Chat", exact=True).click()
    await say(page, "quiz 1")
    question = page.get_by_text(re.compile(r"Question 1 of"))
    await expect(question.last).to_be_visible(timeout=WAIT_MS)
    await page.get_by_role("button", name="A", exact=True).last.click()
    await expect(page.get_by_text(re.compile(r"Question 2 of")).last).to_be_visible(timeout=WAIT_MS)
    # the answered card lost its buttons: only question 2's A is left
    await expect(page.get_by_role("button", name="A", exact=True)).to_have_count(1, timeout=WAIT_MS)
    await page.screenshot(path=OUT / "1-quiz-answered.png")
    await say(page, "stop")
    await say(page, "lab 1")
    await expect(page.get_by_role("button", name="Hint").last).to_be_visible(timeout=WAIT_MS)
    before = await page.get_by_role("button", name="Hint").count()
    await say(page, "The sensor data is siloed from production systems, so no pilot can scale.")
    await expect(page.get_by_role("button", name="Hint")).to_have_count(before + 1, timeout=WAIT_MS)
    await page.screenshot(path=OUT / "2-lab-turn.png")


async def channel_mention(page: Page) -> None:
    await page.get_by_text("General", exact=True).click()
    box = page.get_by_role("textbox").last
    await box.click()
    await box.type("@")
    picker = page.get_by_text("Megan Bowen").locator("xpath=ancestor::*[.//*[text()='Test Bot']][1]")
    await picker.get_by_text("Test Bot").first.click(timeout=WAIT_MS)  # the bot, in the mention picker
    await box.type(" What is a model card?")
    await box.press("Enter")
    await expect(page.get_by_text(re.compile(r"Lesson \d")).last).to_be_visible(timeout=WAIT_MS)
    await page.screenshot(path=OUT / "3-channel-answer.png")


async def drive(playground: str) -> None:
    async with async_playwright() as p:
        with tempfile.TemporaryDirectory() as profile:
            browser = await p.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                args=FLAGS,
                headless=True,
                viewport={"width": 1400, "height": 900},
            )
            page = await browser.new_page()
            try:
                await page.goto(playground)
                await personal_chat(page)
                await channel_mention(page)
            except Exception:
                await page.screenshot(path=OUT / "failure.png", full_page=True)
                raise
            finally:
                await browser.close()


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    coach_port, playground_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC", "SLACK", "Microsoft"))}
        env.update(COACH_DATA_DIR=data, COACH_TEAMS_EMULATOR="1")
        coach = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "coach"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(coach_port),
            ],
            env=env,
            stdout=(OUT / "coach.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        playground = subprocess.Popen(
            [
                "node",
                str(PLAYGROUND),
                "-e",
                f"http://127.0.0.1:{coach_port}/api/messages",
                "-c",
                "msteams",
                "-p",
                str(playground_port),
                "--dt",
            ],
            env={**env, "HOST": "127.0.0.1"},
            cwd=OUT,  # it writes a devTools/ log folder where it runs
            stdout=(OUT / "playground.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(f"http://127.0.0.1:{coach_port}/healthz", coach)
            deadline = time.time() + 60
            while "Listening on" not in (OUT / "playground.log").read_text():
                if playground.poll() is not None or time.time() > deadline:
                    raise SystemExit("the Agents Playground did not start")
                time.sleep(0.3)
            port = re.search(r"Listening on (\d+)", (OUT / "playground.log").read_text()).group(1)
            asyncio.run(drive(f"http://127.0.0.1:{port}/"))
        finally:
            for proc in (playground, coach):
                proc.terminate()
                proc.wait(timeout=20)
    print("e2e: 3 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
