"""Replies as Slack Block Kit: text sections, buttons that carry our `Action`, citations as context.

Our light markup (`*bold*`, `_italic_`, `• ` bullets) is already Slack mrkdwn; only `&`, `<` and `>`
are escaped, so nothing a learner typed can become a link, a user mention or a `<!channel>` ping.
"""

from __future__ import annotations

import json
from typing import Any

from bot.messages import Reply

ACTION_PREFIX = "coach_"
SECTION_LIMIT = 3000  # characters of mrkdwn per section block
BUTTON_LIMIT = 75  # characters of a button label
CONTEXT_LIMIT = 10  # elements of a context block
FALLBACK_LIMIT = 3900


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sections(text: str) -> list[dict[str, Any]]:
    """The text as section blocks, split on line breaks to stay under Slack's size limit."""
    blocks, chunk = [], ""
    for line in escape(text).split("\n"):
        while len(line) > SECTION_LIMIT:
            blocks.append(line[:SECTION_LIMIT])
            line = line[SECTION_LIMIT:]
        if len(chunk) + len(line) + 1 > SECTION_LIMIT:
            blocks.append(chunk)
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    if chunk.strip():
        blocks.append(chunk)
    return [{"type": "section", "text": {"type": "mrkdwn", "text": b}} for b in blocks if b.strip()]


def citation_block(reply: Reply) -> dict[str, Any] | None:
    if not reply.citations:
        return None
    elements = [
        {"type": "mrkdwn", "text": escape(f"[{c.number}] {c.label}")} for c in reply.citations[:CONTEXT_LIMIT]
    ]
    return {"type": "context", "elements": elements}


def buttons(reply: Reply) -> dict[str, Any] | None:
    if not reply.choices:
        return None
    elements = []
    for i, choice in enumerate(reply.choices[:25]):
        button = {
            "type": "button",
            "action_id": f"{ACTION_PREFIX}{i}",
            "text": {"type": "plain_text", "text": choice.label[:BUTTON_LIMIT]},
            "value": json.dumps(choice.action.to_dict()),
        }
        elements.append(button)
    return {
        "type": "actions",
        "block_id": f"choices:{reply.session or 'menu'}:{reply.question or ''}",
        "elements": elements,
    }


def render(reply: Reply) -> dict[str, Any]:
    """`chat.postMessage` arguments (text and blocks) for a reply."""
    blocks = sections(reply.text)
    for extra in (citation_block(reply), buttons(reply)):
        if extra:
            blocks.append(extra)
    return {"text": escape(reply.text)[:FALLBACK_LIMIT], "blocks": blocks}


def answered(question_blocks: list[dict[str, Any]], feedback: Reply) -> dict[str, Any]:
    """The question message after a click: the question, then the choice and feedback, no buttons."""
    kept = [b for b in question_blocks if b.get("type") != "actions"]
    return {
        "text": escape(feedback.text)[:FALLBACK_LIMIT],
        "blocks": [*kept, {"type": "divider"}, *sections(feedback.text)],
    }


def home_view(progress: Reply) -> dict[str, Any]:
    """The App Home tab: the learner's progress and buttons to start each activity."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Building an AI-Ready Organization"}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "Practise with four labs, four lesson quizzes, the module test and a "
                "spaced-repetition drill. Ask me anything about the lessons in a DM or by mentioning me "
                "in a channel.",
            },
        },
        {"type": "divider"},
        *sections(progress.text),
    ]
    button_block = buttons(progress)
    if button_block:
        blocks.append(button_block)
    return {"type": "home", "blocks": blocks}
