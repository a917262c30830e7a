"""The interface every coach brain implements, and the plain data it receives and returns.

A brain judges and words; the graph decides. The lab graph asks a brain which rubric points a learner
turn covers (with the learner's own words as evidence) and for the coach's next message; the graph
validates the assessment, keeps the score and chooses when to debrief. The Q&A flow hands a brain the
retrieved passages and gets back a short answer that cites them by number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from knowledge.loader import Course
from knowledge.retrieval import Hit
from knowledge.schema import Lab, RubricPoint

LabMove = Literal["answer", "hint"]


class BrainError(Exception):
    """A brain could not produce a usable turn (network, rate limit, malformed output)."""


@dataclass
class LabContext:
    lab: Lab
    course: Course
    text: str  # the learner's message this turn
    covered: dict[str, str]  # point id -> evidence, before this turn
    focus: str | None  # the point the coach asked about last
    history: list[dict[str, str]]  # recent turns: {"role": "learner"|"coach", "text": ...}
    move: LabMove = "answer"
    stalls: int = 0  # learner turns in a row that added nothing

    def uncovered(self) -> list[RubricPoint]:
        """Rubric points not yet covered, most important (rubric order) first."""
        return [p for p in self.lab.rubric if p.id not in self.covered]


@dataclass
class LabTurn:
    newly_covered: dict[str, str]  # point id -> the learner's words that cover it
    message: str  # what the coach says next (without the citation line; the graph adds it)
    focus: str | None  # the point the message asks about


@dataclass
class QAContext:
    question: str
    hits: list[Hit]  # grounded passages, numbered from 1 in this order
    history: list[dict[str, str]] = field(default_factory=list)  # earlier {"question", "answer"} pairs
    search: str | None = None  # what was searched, when a follow-up was read with the question before it
    course: Course | None = None  # the course, whose structure (lists, key terms) shapes the answer
    weights: dict[str, float] = field(default_factory=dict)  # query stem -> how telling it is
    shaped: str = ""  # the answer units chosen for the question, rendered with their [n] markers


@dataclass
class Answer:
    text: str  # short, with [n] markers that refer to `QAContext.hits`
    cited: list[int]  # the 1-based numbers of the hits the text relies on


class Brain(Protocol):
    name: str
    remote: bool  # slow enough that channels should show a "thinking" hint first

    async def lab_turn(self, ctx: LabContext) -> LabTurn: ...

    async def answer(self, ctx: QAContext) -> Answer: ...
