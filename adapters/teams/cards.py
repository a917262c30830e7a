"""Replies as Bot Framework activities: Markdown text, or an Adaptive Card when there are buttons.

Buttons are `Action.Submit` whose data carries our `Action` under the key "coach"; Teams sends it
back as the `value` of a message activity.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from botbuilder.core import CardFactory, MessageFactory
from botbuilder.schema import Activity

from bot.messages import Reply
from knowledge.schema import LETTERS, Question

CARD_VERSION = "1.4"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
DATA_KEY = "coach"
BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
PINGS = re.compile(r"<at>|</at>", re.IGNORECASE)


MAX_ACTIONS = 6  # what Teams shows on one card


def markdown(text: str) -> str:
    """Our markup as Teams Markdown: `*bold*` → `**bold**`, one line per paragraph, no <at> mentions."""
    text = PINGS.sub("", text)
    return "\n\n".join(BOLD.sub(r"**\1**", line) for line in text.split("\n") if line.strip())


def citations_text(reply: Reply) -> str:
    return "\n\n".join(f"[{c.number}] {c.label}" for c in reply.citations)


def card(reply: Reply) -> dict[str, Any]:
    body: list[dict[str, Any]] = [{"type": "TextBlock", "text": markdown(reply.text), "wrap": True}]
    if reply.image:
        encoded = base64.b64encode(reply.image).decode("ascii")
        body.append(
            {
                "type": "Image",
                "url": f"data:image/png;base64,{encoded}",
                "altText": reply.image_name or "chart",
            }
        )
    if reply.citations:
        body.append(
            {
                "type": "TextBlock",
                "text": citations_text(reply),
                "wrap": True,
                "isSubtle": True,
                "size": "Small",
                "spacing": "Medium",
            }
        )
    actions = [
        {"type": "Action.Submit", "title": choice.label, "data": {DATA_KEY: choice.action.to_dict()}}
        for choice in reply.choices
    ]
    if len(actions) > MAX_ACTIONS:  # Teams drops actions past the sixth: the rest go under "More…"
        more = {
            "type": "AdaptiveCard",
            "version": CARD_VERSION,
            "body": [],
            "actions": actions[MAX_ACTIONS - 1 :],
        }
        actions = [*actions[: MAX_ACTIONS - 1], {"type": "Action.ShowCard", "title": "More…", "card": more}]
    return {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": CARD_VERSION,
        "body": body,
        "actions": actions,
    }


def activity(reply: Reply) -> Activity:
    """The activity to send for a reply."""
    if reply.choices or reply.image:
        return MessageFactory.attachment(CardFactory.adaptive_card(card(reply)))
    text = markdown(reply.text)
    if reply.citations:
        text += "\n\n" + "\n\n".join(f"_[{c.number}] {c.label}_" for c in reply.citations)
    message = MessageFactory.text(text)
    message.text_format = "markdown"
    return message


def answered_card(question: Question, feedback: Reply) -> dict[str, Any]:
    """The question card after an answer: the question, the options, the feedback; no buttons."""
    options = "\n\n".join(f"**{letter}.** {question.options[letter]}" for letter in LETTERS)
    body = [
        {"type": "TextBlock", "text": question.stem, "wrap": True, "weight": "Bolder"},
        {"type": "TextBlock", "text": options, "wrap": True},
        {"type": "TextBlock", "text": markdown(feedback.text), "wrap": True, "separator": True},
    ]
    return {"type": "AdaptiveCard", "$schema": SCHEMA, "version": CARD_VERSION, "body": body, "actions": []}


WELCOME = (
    "Hi! I'm your coach for **Building an AI-Ready Organization**. Practise four scenario labs with me, "
    "take the lesson quizzes and the module test, drill what you got wrong, or ask me anything about the "
    "lessons — I answer from the lesson text, with citations. In a channel, mention me with your question."
)
