"""The shape of the course: lessons, readings, quizzes and labs, validated on load.

Files under `knowledge/content/` are data; these models say what a valid file holds. A passage
reference (`lesson-1#five-dimensions`) names a document and one of its sections.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Slug = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
Letter = Literal["A", "B", "C", "D"]
LETTERS: tuple[Letter, ...] = ("A", "B", "C", "D")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Item(_Strict):
    """A titled card inside a section, such as one readiness dimension."""

    title: str = Field(min_length=1)
    text: str = Field(min_length=1)


class Stat(_Strict):
    """A stat callout: a figure and what it measures."""

    value: str = Field(min_length=1)
    label: str = Field(min_length=1)


class Section(_Strict):
    id: str = Slug
    heading: str = Field(min_length=1)
    kind: Literal["text", "case_study"] = "text"
    paragraphs: list[str] = []
    items: list[Item] = []
    stats: list[Stat] = []
    editorial_note: str | None = None  # ours, not the seed's: shown with the section's answers

    @model_validator(mode="after")
    def _not_empty(self) -> Section:
        if not (self.paragraphs or self.items or self.stats):
            raise ValueError("a section needs paragraphs, items or stats")
        return self


class KeyTerm(_Strict):
    term: str = Field(min_length=1)
    definition: str = Field(min_length=1)


def document_name(kind: str, number: int | None, title: str, spoken: bool = False) -> str:
    """How the course names a document: "Lesson 2", or "Supplementary reading: From Pilot to
    Platform" in a citation label and 'the reading "From Pilot to Platform"' in a sentence."""
    if kind == "lesson":
        return f"Lesson {number}"
    return f'the reading "{title}"' if spoken else f"Supplementary reading: {title}"


class Document(_Strict):
    """A core lesson or a supplementary reading."""

    id: str = Slug
    kind: Literal["lesson", "supplementary"]
    number: int | None = Field(None, ge=1)
    source: str
    module: str | None = None
    title: str = Field(min_length=1)
    subtitle: str | None = None
    opening_question: str | None = None
    editorial_note: str | None = None
    sections: list[Section] = Field(min_length=1)
    key_terms: list[KeyTerm] = []

    def name(self, spoken: bool = False) -> str:
        """How the course names this document (see `document_name`)."""
        return document_name(self.kind, self.number, self.title, spoken)

    @model_validator(mode="after")
    def _lesson_fields(self) -> Document:
        if self.kind == "lesson" and (self.number is None or not self.opening_question):
            raise ValueError("a lesson needs a number and an opening_question")
        ids = [s.id for s in self.sections]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate section ids: {', '.join(dupes)}")
        return self

    @property
    def supplementary(self) -> bool:
        return self.kind == "supplementary"

    def section(self, section_id: str) -> Section | None:
        return next((s for s in self.sections if s.id == section_id), None)


class Feedback(_Strict):
    correct: str
    incorrect: str

    @field_validator("correct")
    @classmethod
    def _correct_prefix(cls, v: str) -> str:
        if not v.startswith("Correct."):
            raise ValueError('must start with "Correct."')
        return v

    @field_validator("incorrect")
    @classmethod
    def _incorrect_prefix(cls, v: str) -> str:
        if not v.startswith("Incorrect."):
            raise ValueError('must start with "Incorrect."')
        return v


class Question(_Strict):
    id: str = Field(pattern=r"^(L[1-9]Q\d+|T\d+)$")
    lesson: int = Field(ge=1)
    passage: str = Field(pattern=r"^[a-z0-9-]+#[a-z0-9-]+$")
    stem: str = Field(min_length=1)
    options: dict[Letter, str]
    answer: Letter
    feedback: Feedback
    completed_from: str | None = None

    @model_validator(mode="after")
    def _four_distinct_options(self) -> Question:
        if sorted(self.options) != list(LETTERS):
            raise ValueError("needs exactly the four options A, B, C and D")
        texts = [t.strip().lower() for t in self.options.values()]
        if len(set(texts)) != 4 or not all(texts):
            raise ValueError("options must be four different, non-empty texts")
        return self

    @property
    def correct_text(self) -> str:
        return self.options[self.answer]


class Quiz(_Strict):
    id: str = Slug
    kind: Literal["lesson_quiz", "module_test"]
    lesson: int | None = Field(None, ge=1)
    title: str
    subtitle: str | None = None
    source: str
    pass_mark: float | None = Field(None, gt=0, le=1)
    editorial_note: str | None = None
    questions: list[Question] = Field(min_length=1)

    @model_validator(mode="after")
    def _kind_fields(self) -> Quiz:
        if self.kind == "lesson_quiz" and self.lesson is None:
            raise ValueError("a lesson quiz needs its lesson number")
        if self.kind == "module_test" and self.pass_mark is None:
            raise ValueError("a module test needs a pass_mark")
        return self


PassageRef = Field(pattern=r"^[a-z0-9-]+#[a-z0-9-]+$")


class Misconception(_Strict):
    """A wrong belief learners bring to a rubric point, and the lesson's correction of it."""

    id: str = Slug
    claim: str = Field(min_length=1)  # the belief, as a learner would state it
    examples: list[str] = []  # more ways learners say it (training text for the assessor)
    correction: str = Field(min_length=1)  # one or two sentences, grounded in `passage`
    passage: str = PassageRef


class RubricPoint(_Strict):
    """One thing a strong answer covers, how to recognise it, how a tutor escalates help on it, the
    wrong beliefs it attracts, and where the lesson teaches it."""

    id: str = Slug
    area: str = Field(min_length=1, max_length=40)  # a short name that does not give the answer away
    description: str
    cues: list[str] = Field(min_length=1)  # distinctive phrases of the point (no scenario nouns)
    weight: float = Field(1.0, gt=0, le=5)  # share of the lab's score, relative to the other points
    examples: list[str] = Field(min_length=3)  # strong answers in varied wording
    misconceptions: list[Misconception] = Field(min_length=2, max_length=4)
    passage: str = PassageRef
    probe: str  # the first question about the point
    hint: str  # a stronger nudge, after the probe did not land
    worked_example: str  # the point worked through on a lesson case, before it is parked


class Lab(_Strict):
    id: str = Slug
    number: int = Field(ge=1)
    lesson: int = Field(ge=1)
    title: str
    subtitle: str
    source: str
    scenario: str
    task: str
    first_prompt: str
    coach_name: str
    case: str = Field(min_length=1)  # how the coach names the case mid-sentence: "this manufacturer"
    opening_line: str
    practice_default: str
    scenario_terms: list[str] = Field(
        min_length=5
    )  # the scenario's own nouns: an answer that uses them applies
    rubric: list[RubricPoint] = Field(min_length=6, max_length=10)

    @model_validator(mode="after")
    def _unique_points(self) -> Lab:
        ids = [p.id for p in self.rubric]
        if len(set(ids)) != len(ids):
            raise ValueError("rubric point ids must be unique")
        wrong = [m.id for p in self.rubric for m in p.misconceptions]
        dupes = sorted({i for i in wrong if wrong.count(i) > 1})
        if dupes:
            raise ValueError(f"misconception ids must be unique in a lab: {', '.join(dupes)}")
        return self

    def misconception(self, misconception_id: str) -> tuple[RubricPoint, Misconception] | None:
        return next(((p, m) for p in self.rubric for m in p.misconceptions if m.id == misconception_id), None)

    def point(self, point_id: str) -> RubricPoint | None:
        return next((p for p in self.rubric if p.id == point_id), None)
