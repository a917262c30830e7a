"""Replies as Bot Framework activities: Markdown text, or an Adaptive Card when there are buttons.

Buttons are `Action.Submit` whose data carries our `Action` under the key "coach"; Teams sends it
back as the `value` of a message activity.
"""

from __future__ import annotations

import base64
import io
import re
from typing import Any

from botbuilder.core import CardFactory
from botbuilder.schema import Activity, ActivityTypes, AttachmentLayoutTypes, InputHints

from bot.messages import Reply
from knowledge.schema import LETTERS, Question

CARD_VERSION = "1.4"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
DATA_KEY = "coach"
BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
PINGS = re.compile(r"<at>|</at>", re.IGNORECASE)


MAX_ACTIONS = 6  # what Teams shows on one card
MAX_IMAGE_BYTES = 20_000  # an inline chart, base64-encoded: Teams refuses messages over about 28 KB
MIN_IMAGE_WIDTH = 480


def inline_image(png: bytes) -> str | None:
    """The PNG as a data URI small enough for a Teams message (repainted with a 32-colour palette,
    then narrowed step by step), or None if it cannot be made to fit while staying readable."""
    from PIL import Image

    uri = f"data:image/png;base64,{base64.b64encode(png).decode('ascii')}"
    if len(uri) <= MAX_IMAGE_BYTES:
        return uri
    image = Image.open(io.BytesIO(png)).convert("RGB")
    while image.width >= MIN_IMAGE_WIDTH:
        out = io.BytesIO()
        image.quantize(colors=32).save(out, format="PNG", optimize=True)
        uri = f"data:image/png;base64,{base64.b64encode(out.getvalue()).decode('ascii')}"
        if len(uri) <= MAX_IMAGE_BYTES:
            return uri
        image = image.resize((int(image.width * 0.85), int(image.height * 0.85)), Image.LANCZOS)
    return None


def markdown(text: str) -> str:
    """Our markup as Teams Markdown: `*bold*` → `**bold**`, one line per paragraph, no <at> mentions."""
    text = PINGS.sub("", text)
    return "\n\n".join(BOLD.sub(r"**\1**", line) for line in text.split("\n") if line.strip())


def citations_text(reply: Reply) -> str:
    return "\n\n".join(f"[{c.number}] {c.label}" for c in reply.citations)


def card(reply: Reply) -> dict[str, Any]:
    body: list[dict[str, Any]] = [{"type": "TextBlock", "text": markdown(reply.text), "wrap": True}]
    if reply.image:
        uri = inline_image(reply.image)
        if uri is not None:
            body.append({"type": "Image", "url": uri, "altText": reply.image_name or "chart"})
        else:
            body.append(
                {"type": "TextBlock", "text": "(The chart is too large to show in Teams.)", "wrap": True}
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


class Outgoing(Activity):
    """An activity built for one send. botbuilder's `TurnContext.send_activities` deep-copies every
    activity it is given, to leave the caller's as it was: for an answer card that is every node of
    the card (~0.1 ms of CPU, more than building it). One built for a single send is never read
    again, so its copy is itself; what is sent is the same."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Outgoing:
        return self


def activity(reply: Reply) -> Activity:
    """The activity to send for a reply (what `MessageFactory.attachment` or `.text` would build)."""
    if reply.choices or reply.image:
        return Outgoing(
            type=ActivityTypes.message,
            attachment_layout=AttachmentLayoutTypes.list,
            attachments=[CardFactory.adaptive_card(card(reply))],
        )
    text = markdown(reply.text)
    if reply.citations:
        text += "\n\n" + "\n\n".join(f"_[{c.number}] {c.label}_" for c in reply.citations)
    return Outgoing(
        type=ActivityTypes.message, text=text, input_hint=InputHints.accepting_input, text_format="markdown"
    )


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
