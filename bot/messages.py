"""The one internal message model: every adapter translates to `Inbound` and from `Reply`.

Flows never see Slack or Teams objects. Text uses light markup that every channel can render:
`*bold*`, `_italic_`, lines starting with `• `, and citation markers like `[1]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, Literal

MAX_TEXT = 4000  # longer learner messages are cut to this, and told so


@cache
def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _plain(obj: Any) -> dict[str, Any]:
    """A flat dataclass's fields as a dict: what `dataclasses.asdict` gives for one whose values are
    plain (strings, numbers, tuples of strings), without its deep copy (~25 µs for a reply)."""
    return {name: getattr(obj, name) for name in _names(type(obj))}


@dataclass(frozen=True)
class Action:
    """A structured click: "picked option B of question L2Q3 in quiz session 17"."""

    kind: Literal["answer", "command", "feedback"]
    value: str  # the option letter for answers, the command text for commands, good/bad for feedback
    question: str | None = None
    session: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in _plain(self).items() if v is not None}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Action | None:
        """Parse a payload from a button or card; None when it is not one of ours or is incomplete."""
        if not isinstance(raw, dict) or raw.get("kind") not in ("answer", "command", "feedback"):
            return None
        value = raw.get("value")
        if not isinstance(value, str) or not value:
            return None
        question, session = raw.get("question"), raw.get("session")
        if raw["kind"] == "answer" and not (isinstance(question, str) and isinstance(session, str)):
            return None
        if raw["kind"] == "feedback" and not (value in ("good", "bad") and isinstance(question, str)):
            return None
        return cls(raw["kind"], value[:200], question, session)


@dataclass(frozen=True)
class Inbound:
    """One message or click from a learner, whatever the platform."""

    platform: str  # "console", "slack", "teams"
    user: str  # the platform's user id
    conversation: str  # one per DM, or per channel thread
    text: str = ""
    action: Action | None = None
    message_id: str | None = None  # the platform's id, used to drop duplicate deliveries
    user_name: str | None = None
    shared: bool = False  # a shared channel: only Q&A, never someone else's quiz
    mentions: tuple[str, ...] = ()  # users the message mentions (platform user ids), e.g. a team list
    roster: tuple[str, ...] | None = (
        None  # members of a channel/team the message names, resolved by the adapter
    )
    roster_name: str | None = None  # how to call that roster ("#sales")
    roster_channel: str | None = None  # where the roster came from ("slack:C123"), to re-read it weekly
    roster_error: str | None = None  # why the named roster could not be read ("not_in_channel")

    @property
    def learner(self) -> str:
        """The learner's id across coach: platform and user id together."""
        return f"{self.platform}:{self.user}"

    def to_dict(self) -> dict[str, Any]:
        raw = _plain(self)
        raw["action"] = self.action.to_dict() if self.action else None
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Inbound:
        action = Action.from_dict(raw["action"]) if raw.get("action") else None
        roster = tuple(raw["roster"]) if raw.get("roster") is not None else None
        return cls(
            **{**raw, "action": action, "mentions": tuple(raw.get("mentions") or ()), "roster": roster}
        )


@dataclass(frozen=True)
class Choice:
    """A button: what it says and the action a click sends back."""

    label: str
    action: Action


@dataclass(frozen=True)
class Citation:
    number: int
    label: str  # "Lesson 2 · Data Mesh vs. Data Lake: Modern Infrastructure Choices"
    passage: str  # "lesson-2#data-mesh"
    supplementary: bool = False


@dataclass
class Reply:
    """What the coach says back. Adapters render it; they never decide anything from its text."""

    text: str
    choices: list[Choice] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    kind: Literal["text", "question", "feedback", "debrief", "notice"] = "text"
    question: str | None = None  # for "question" and "feedback": the quiz question id
    session: str | None = None  # the quiz session the question belongs to
    ephemeral: bool = False  # only the asker should see it (a refusal, a stale click)
    thinking: bool = False  # a "working on it" hint, sent before slow work
    image: bytes | None = None  # a PNG to show with the text (a manager's chart)
    image_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        raw = _plain(self)
        raw["choices"] = [{"label": c.label, "action": _plain(c.action)} for c in self.choices]
        raw["citations"] = [_plain(c) for c in self.citations]
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Reply:
        choices = [Choice(c["label"], Action(**c["action"])) for c in raw.get("choices", [])]
        citations = [Citation(**c) for c in raw.get("citations", [])]
        rest = {k: v for k, v in raw.items() if k not in ("choices", "citations")}
        return cls(choices=choices, citations=citations, **rest)
