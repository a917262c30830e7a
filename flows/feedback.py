"""👍/👎 on Q&A answers: a click (or typing *good* / *bad*) rates the answer; a 👎 asks for an optional
one-line reason, which the reader's next message gives unless it is a question or a command."""

from __future__ import annotations

from bot.messages import Action, Choice, Inbound, Reply
from flows.deps import Deps
from flows.state import CoachState

THANKS = {"good": "Thanks — glad that helped. 👍", "bad": "Thanks for telling me. 👎"}
ASK_REASON = "What was wrong or missing? One line is plenty — or just carry on."


def choices(answer_id: str) -> list[Choice]:
    """The two buttons every Q&A answer carries."""
    return [
        Choice("👍 Helpful", Action("feedback", "good", question=answer_id)),
        Choice("👎 Not helpful", Action("feedback", "bad", question=answer_id)),
    ]


def last_answer(state: CoachState) -> str | None:
    """The id of the newest answer in this conversation (what a typed *good* / *bad* rates)."""
    for turn in reversed(state.get("qa") or []):
        if turn.get("answer_id"):
            return turn["answer_id"]
    return None


def rate(state: CoachState, deps: Deps, inbound: Inbound, rating: str, answer_id: str | None) -> dict:
    answer_id = answer_id or last_answer(state)
    if not answer_id or not deps.store.rate_answer(answer_id, inbound.learner, rating, deps.clock()):
        note = "There's no answer of mine to rate yet — ask me something about the lessons first."
        return {"replies": [Reply(note, kind="notice", ephemeral=True).to_dict()]}
    text = THANKS[rating] + (f" {ASK_REASON}" if rating == "bad" else "")
    pending = {"answer": answer_id, "learner": inbound.learner} if rating == "bad" else None
    return {"feedback_pending": pending, "replies": [Reply(text, kind="notice", ephemeral=True).to_dict()]}


def waiting_for_reason(state: CoachState, inbound: Inbound) -> bool:
    pending = state.get("feedback_pending")
    return bool(pending) and pending.get("learner") == inbound.learner


def reason(state: CoachState, deps: Deps, inbound: Inbound) -> dict:
    pending = state.get("feedback_pending") or {}
    deps.store.add_feedback_reason(pending["answer"], inbound.learner, inbound.text)
    reply = Reply("Noted — the course owner will see it. Thanks!", kind="notice", ephemeral=True)
    return {"feedback_pending": None, "replies": [reply.to_dict()]}
