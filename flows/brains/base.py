"""The interface every coach brain implements, and the plain data it receives and returns.

A brain judges and words; the graph decides. The lab flow asks a brain what a learner turn shows —
which rubric points it earns and at what level, with the learner's own words as evidence, and which
misconception it shows — and may take the brain's wording of the reply; the flow's dialogue policy
corrects, chooses the focus, keeps the score and decides when to debrief. The Q&A flow hands a brain the
retrieved passages and gets back a short answer that cites them by number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from flows.assessment import Assessment
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
    levels: dict[
        str, str
    ]  # point id -> level reached before this turn ("mentioned" < "explained" < "applied")
    focus: str | None  # the point the coach asked about last
    history: list[dict[str, str]]  # recent turns: {"role": "learner"|"coach", "text": ...}
    move: LabMove = "answer"

    def open_points(self) -> list[RubricPoint]:
        """Points not yet applied, most important (weight, then rubric order) first."""
        todo = [p for p in self.lab.rubric if self.levels.get(p.id) != "applied"]
        return sorted(todo, key=lambda p: -p.weight)


@dataclass
class LabTurn:
    """A brain's reading of one learner turn; `message` is its own wording of the coach's reply (None:
    the lab flow words the reply from the rubric)."""

    assessment: Assessment
    message: str | None = None
    focus: str | None = None  # the point `message` asks about, when the brain words the reply


@dataclass
class QAContext:
    question: str
    hits: list[Hit]  # grounded passages, numbered from 1 in this order
    history: list[dict[str, str]] = field(default_factory=list)  # earlier {"question", "answer"} pairs
    search: str | None = None  # what was searched, when a follow-up was read with the question before it
    course: Course | None = None  # the course, whose structure (lists, key terms) shapes the answer
    weights: dict[str, float] = field(default_factory=dict)  # query stem -> how telling it is
    shaped: str = ""  # the answer units chosen for the question, rendered with their [n] markers
    names: frozenset[str] = frozenset()  # the course names the question names (told first)


@dataclass
class Answer:
    text: str  # short, with [n] markers that refer to `QAContext.hits`
    cited: list[int]  # the 1-based numbers of the hits the text relies on


class Brain(Protocol):
    name: str
    remote: bool  # slow enough that channels should show a "thinking" hint first

    async def lab_turn(self, ctx: LabContext) -> LabTurn: ...

    async def answer(self, ctx: QAContext) -> Answer: ...
