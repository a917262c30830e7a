"""The conversation state LangGraph checkpoints after every turn (plain JSON-friendly values)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict


class LabState(TypedDict, total=False):
    id: str  # lab id, e.g. "lab-1"
    run: str  # lab run id in the store
    started_at: str
    covered: dict[str, str]  # rubric point id -> the learner's own words that earned it
    levels: dict[str, str]  # rubric point id -> "mentioned" | "explained" | "applied"
    strength: dict[str, float]  # rubric point id -> the assessor's confidence in the evidence kept
    wrong: list[dict[str, str]]  # misconceptions shown: {"point", "misconception", "evidence"}
    rungs: dict[str, int]  # point id -> help given so far: 1 probe, 2 hint, 3 worked example, 4 parked
    turns: int
    focus: str | None  # the point the coach last asked about
    stuck: int  # "I don't know" turns in a row
    history: list[dict[str, str]]  # recent {"role": "learner"|"coach", "text": ...}
    said: list[str]  # every coach reply in this run, so none is sent twice


class QuizState(TypedDict):
    id: str  # quiz id ("quiz-1", "module-test") or "drill"
    title: str
    session: str
    owner: str  # the learner who started it
    questions: list[str]
    index: int  # the question now open
    correct: int
    pass_mark: float | None
    attempt: NotRequired[int]  # 1 + the learner's earlier answered sessions of this quiz (its option order)
    held: NotRequired[str]  # a question asked meanwhile that would answer the open one: answered after it


class QATurn(TypedDict, total=False):
    learner: str  # who asked ("platform:id"): a shared thread's turns are several people's
    question: str
    passages: list[str]  # the passages its answer cites
    answer: str
    answer_id: str  # the logged answer (bot.answers), which 👍/👎 refer to


class Intent(TypedDict, total=False):
    name: str
    number: int
    text: str


class CoachState(TypedDict, total=False):
    inbound: dict[str, Any]  # this turn's message: see bot.messages.Inbound
    intent: Intent
    replies: list[dict[str, Any]]  # this turn's replies: see bot.messages.Reply
    mode: Literal["idle", "lab", "quiz"]
    lab: LabState | None
    quiz: QuizState | None
    qa: list[QATurn]
    feedback_pending: dict[str, str] | None  # {"answer", "learner"}: a 👎 whose reason may come next
