"""The console channel: `coach shell` (interactive, rich rendering) and `coach replay` (scripted JSONL).

Like every adapter it only translates: lines typed become `Inbound`, `Reply` becomes terminal output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape

from bot.conversation import Coach
from bot.messages import Action, Inbound, Reply

PLATFORM = "console"
BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")


def to_rich(text: str) -> str:
    """Our light markup (`*bold*`, `_italic_`) as rich markup, everything else escaped."""
    marked = escape(text)
    marked = BOLD.sub(r"[bold]\1[/bold]", marked)
    return ITALIC.sub(r"[italic]\1[/italic]", marked)


def render(console: Console, reply: Reply, coach_name: str = "coach") -> None:
    if reply.thinking:
        console.print("[dim]… thinking[/dim]")
        return
    style = {"question": "cyan", "feedback": "green", "debrief": "magenta", "notice": "yellow"}.get(
        reply.kind, "blue"
    )
    console.print(f"[bold {style}]{coach_name}[/bold {style}]", highlight=False)
    console.print(to_rich(reply.text), highlight=False)
    for citation in reply.citations:
        console.print(f"  [dim][{citation.number}] {escape(citation.label)}[/dim]", highlight=False)
    if reply.choices:
        labels = " · ".join(escape(c.label) for c in reply.choices)
        console.print(f"  [dim]› {labels}[/dim]", highlight=False)
    console.print()


def inbound(
    user: str,
    text: str = "",
    action: Action | None = None,
    conversation: str | None = None,
    message_id: str | None = None,
) -> Inbound:
    return Inbound(
        PLATFORM, user, conversation or f"{PLATFORM}:{user}", text, action, message_id, user_name=user
    )


async def shell(coach: Coach, user: str, console: Console, lines: Iterable[str] | None = None) -> None:
    """Chat with the coach until Ctrl-D. `lines` replaces the keyboard (for tests)."""
    console.print("[bold]coach[/bold] — type [bold]help[/bold] to see what I can do; Ctrl-D to leave.\n")
    source = iter(lines) if lines is not None else None
    shown: dict[str, Action] = {}  # the buttons of the last replies, by label: typing one presses it
    while True:
        try:
            text = next(source) if source is not None else console.input("[bold]you[/bold] › ")
        except (EOFError, KeyboardInterrupt, StopIteration):
            console.print("\nBye — your progress is saved.")
            return
        pressed = shown.get(_label(text))
        said = inbound(user, action=pressed) if pressed else inbound(user, text)
        replies = await coach.handle(said, notify=_printer(console))
        shown = {_label(c.label): c.action for r in replies for c in r.choices}
        for reply in replies:
            render(console, reply)


def _label(text: str) -> str:
    return " ".join(text.lower().split())


def _printer(console: Console):
    async def notify(reply: Reply) -> None:
        render(console, reply)

    return notify


def summarize_state(state: dict[str, Any]) -> dict[str, Any]:
    """The replay view of a conversation's state: mode, lab coverage, quiz position."""
    lab, quiz = state.get("lab"), state.get("quiz")
    summary: dict[str, Any] = {
        "mode": state.get("mode", "idle"),
        "lab": None,
        "covered": [],
        "missing": [],
        "quiz": None,
    }
    if lab:
        summary["lab"] = lab["id"]
        summary["covered"] = list(lab["covered"])
    if quiz:
        summary["quiz"] = {"id": quiz["id"], "index": quiz["index"], "score": quiz["correct"]}
    return summary


async def replay(coach: Coach, lines: Iterable[str], out: TextIO) -> int:
    """Run scripted turns (one JSON object per line) and write one JSON line per reply. Returns the
    number of lines that could not be read."""
    bad = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            turn = json.loads(line)
            user = str(turn["user"])
        except (ValueError, KeyError, TypeError):
            out.write(json.dumps({"error": f"line {number}: not a turn object with a user"}) + "\n")
            bad += 1
            continue
        conversation = turn.get("conversation") or f"{PLATFORM}:{user}"
        state = await coach.state(conversation)
        action = _action(turn.get("action"), state)
        if turn.get("action") is not None and action is None:
            out.write(json.dumps({"error": f"line {number}: the action is incomplete"}) + "\n")
            bad += 1
            continue
        message = inbound(user, str(turn.get("text", "")), action, conversation, turn.get("id"))
        replies = await coach.handle(message)
        state = summarize_state(await coach.state(conversation))
        if state["lab"]:
            lab = coach.deps.course.labs[state["lab"]]
            state["missing"] = [p.id for p in lab.rubric if p.id not in state["covered"]]
        for reply in replies:
            record = {
                "user": user,
                "conversation": conversation,
                "reply": reply.text,
                "kind": reply.kind,
                "question": reply.question,
                "choices": [c.label for c in reply.choices],
                "citations": [
                    {"number": c.number, "label": c.label, "passage": c.passage} for c in reply.citations
                ],
                "state": state,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return bad


def _action(raw: Any, state: dict[str, Any]) -> Action | None:
    """A scripted click. An answer may leave out question and session: it then means the open one."""
    if not isinstance(raw, dict):
        return None
    raw = dict(raw)
    quiz = state.get("quiz")
    if raw.get("kind") == "answer" and quiz:
        raw.setdefault("session", quiz["session"])
        raw.setdefault("question", quiz["questions"][quiz["index"]])
    return Action.from_dict(raw)
