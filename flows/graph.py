"""The coach as one LangGraph `StateGraph`: route the turn, run one flow node, end.

    START ─ route ─┬─ lab   (start, answer, hint, what am I missing, finish)
                   ├─ quiz  (lesson quiz, module test, drill, answers)
                   ├─ ask   (grounded Q&A)
                   ├─ feedback (👍/👎 on an answer, and a 👎's reason)
                   └─ info  (help, progress, stop, and polite refusals)
                   → END

`route` is START's conditional edge, not a node of its own: it sends the state with the turn's
intent to one flow node (a `Send`), and that node's update checkpoints the intent with its own, so a
turn is one graph step (a routing node was a second step: ~0.3 ms of LangGraph's loop a turn).
State is checkpointed per conversation (thread id = conversation id), so a lab or quiz continues
after a restart. Nodes receive the course, index, store and brain through the runtime context.
The store is synchronous (it may wait on a database lock), so every node runs its store work off the
event loop (`Store.off_loop`: the SQLite store's own thread): the loop keeps serving other
conversations meanwhile.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from bot.messages import Inbound, Reply
from flows import ask, feedback, info, lab, quiz
from flows.deps import Deps
from flows.router import (
    is_question,
    parse_answer,
    parse_command,
    parse_lab_action,
    parse_nudge_request,
    social_act,
)
from flows.state import CoachState, Intent

LAB_INTENTS = {"lab", "hint", "finish", "missing"}
QUIZ_INTENTS = {"quiz", "test", "drill", "answer"}
PRIVATE_INTENTS = {"lab", "quiz", "test", "drill", "hint", "finish", "missing"}
# letters that render as nothing: the Hangul fillers and the braille blank
BLANKS = frozenset("\u115f\u1160\u2800\u3164\uffa0")


async def route(state: CoachState, runtime: Runtime[Deps]) -> Send:
    """Decide what this turn is and send the state, with its intent and mode, to the flow node for it.
    Only a typed letter outside a quiz needs the store (is it an answer to a weekly nudge?), so only
    that lookup leaves the loop: a hop costs more CPU than routing. (A coroutine: LangGraph runs a
    plain function edge in a thread pool.)"""
    deps = runtime.context
    update = _route(state, deps)
    inbound = Inbound.from_dict(state["inbound"])
    letter = update["intent"]["name"] == "question" and quiz.is_letter(inbound.text)
    if letter:  # a typed answer to a weekly nudge (a late one is told so), or to no question at all
        nudged = await deps.store.off_loop(_nudged, deps, inbound.learner)
        update["intent"] = {"name": "answer" if nudged else "stray_letter"}
    routed: CoachState = {**state, **update}  # type: ignore[typeddict-item]
    return Send(pick_node(routed), routed)


def routed(node: Callable[[CoachState, Runtime[Deps]], Awaitable[dict]]) -> Callable:
    """A flow node whose update also holds the turn's intent and mode as `route` decided them (so they
    are checkpointed, as when routing was a node); the flow's own update wins (e.g. a lab's mode)."""

    async def run(state: CoachState, runtime: Runtime[Deps]) -> dict:
        return {"intent": state["intent"], "mode": state["mode"], **await node(state, runtime)}

    run.__name__ = node.__name__
    return run


def visible(text: str) -> bool:
    """Whether the text shows anything: not only spaces, format characters (zero-width ones) and blanks."""
    return any(not c.isspace() and c not in BLANKS and unicodedata.category(c) != "Cf" for c in text)


def _nudged(deps: Deps, learner: str) -> bool:
    return bool(quiz.open_nudge(deps, learner) or quiz.closed_nudge(deps, learner))


def _route(state: CoachState, deps: Deps) -> dict:
    """A command, a quiz answer, a lab answer or a question (a typed letter: see `route`)."""
    inbound = Inbound.from_dict(state["inbound"])
    mode = state.get("mode", "idle")
    intent: Intent
    if inbound.action is not None:
        if inbound.action.kind == "answer":
            intent = {"name": "answer"}
        elif inbound.action.kind == "feedback":
            intent = {"name": "feedback", "text": inbound.action.value}
        else:
            intent = parse_command(inbound.action.value) or {"name": "unknown"}
    elif not visible(inbound.text):
        intent = {"name": "empty"}
    elif (request := parse_nudge_request(inbound.text)) is not None:
        return {"intent": request, "mode": mode}
    else:
        intent = parse_command(inbound.text) or {"name": "text"}
    if intent["name"] == "feedback" and inbound.action is None and mode != "idle":
        intent = {"name": "text"}  # "good" inside a lab or quiz is an answer, not a rating
    if intent["name"] == "text" and mode == "idle" and feedback.waiting_for_reason(state, inbound):
        intent = {"name": "question" if is_question(inbound.text) else "feedback_reason"}
    if intent["name"] == "text" and mode == "idle" and (act := social_act(inbound.text)):
        intent = {"name": "social", "text": act}  # "hi", "thanks!": no lesson text to search for
    if intent["name"] == "text" and mode == "lab":
        intent = parse_lab_action(inbound.text) or intent
    if intent["name"] == "text":
        intent = {"name": {"lab": "lab_answer", "quiz": "answer"}.get(mode, "question")}
        if mode == "quiz" and _asks_mid_quiz(state, deps, inbound.text):
            intent = {"name": "question"}
    if inbound.shared and intent["name"] in PRIVATE_INTENTS:
        intent = {"name": "private_only"}
    return {"intent": intent, "mode": mode}


def pick_node(state: CoachState) -> str:
    name = state["intent"]["name"]
    if name in LAB_INTENTS or name == "lab_answer":
        return "lab"
    if name in QUIZ_INTENTS:
        return "quiz"
    if name == "question":
        return "ask"
    if name in ("feedback", "feedback_reason"):
        return "feedback"
    return "info"


async def lab_node(state: CoachState, runtime: Runtime[Deps]) -> dict:
    deps, inbound, name = runtime.context, Inbound.from_dict(state["inbound"]), state["intent"]["name"]
    if name in ("lab_answer", "hint") and state.get("mode") == "lab" and state.get("lab"):
        return await lab.turn(state, deps, inbound, "answer" if name == "lab_answer" else "hint")
    return await deps.store.off_loop(_lab_step, state, deps, inbound)


def _lab_step(state: CoachState, deps: Deps, inbound: Inbound) -> dict:
    """Start, what am I missing, finish: no brain call, store work only."""
    intent = state["intent"]
    name = intent["name"]
    if name == "lab":
        if not deps.course.lab(intent.get("number") or 0):
            return _replies(lab.lab_menu(deps))
        return _then(
            _ending_current(state, deps, inbound), lab.start(state, deps, inbound, intent.get("number"))
        )
    if state.get("mode") != "lab" or not state.get("lab"):
        return _replies(
            Reply("You're not in a lab right now. Say *lab 1* to *lab 4* to start one.", kind="notice")
        )
    if name == "missing":
        return lab.missing(state, deps)
    return lab.debrief(state, deps, inbound)


async def quiz_node(state: CoachState, runtime: Runtime[Deps]) -> dict:
    update = await runtime.context.store.off_loop(_quiz_step, state, runtime.context)
    return await _answer_held(state, runtime.context, update)


async def _answer_held(state: CoachState, deps: Deps, update: dict) -> dict:
    """A question held back while the quiz question it would answer was open (`quiz.gives_away`) is
    answered once that one is: after its feedback, before the next question."""
    before = state.get("quiz") if state.get("mode") == "quiz" else None
    held = (before or {}).get("held")
    after = update.get("quiz", before)
    if not held or before is None or state["intent"]["name"] != "answer":
        return update
    if after is not None and after["index"] == before["index"]:  # not answered yet (not a letter)
        return update
    if after is not None:
        update["quiz"] = {k: v for k, v in after.items() if k != "held"}  # type: ignore[assignment]
    inbound = Inbound.from_dict(state["inbound"])
    again = Inbound(inbound.platform, inbound.learner, inbound.conversation, held)
    asked = await ask.ask(state, deps, again)
    assert asked is not None
    replies = update["replies"]
    update["replies"] = [*replies[:1], *asked["replies"], *replies[1:]]
    update["qa"] = asked["qa"]
    return update


def _quiz_step(state: CoachState, deps: Deps) -> dict:
    inbound, intent = Inbound.from_dict(state["inbound"]), state["intent"]
    if intent["name"] == "answer":
        return quiz.answer(state, deps, inbound)
    if intent["name"] == "quiz" and not deps.course.lesson_quiz(intent.get("number") or 0):
        return _replies(quiz.quiz_menu(deps))
    started = quiz.start(state, deps, inbound, intent["name"], intent.get("number"))
    return _then(_ending_current(state, deps, inbound), started)


async def ask_node(state: CoachState, runtime: Runtime[Deps]) -> dict:
    """A question; asked during a quiz, it is answered and the open quiz question shown again."""
    deps = runtime.context
    inbound = Inbound.from_dict(state["inbound"])
    open_quiz = state.get("quiz") if state.get("mode") == "quiz" else None
    question = deps.course.question(open_quiz["questions"][open_quiz["index"]]) if open_quiz else None

    def withhold(reply: Reply) -> bool:
        return question is not None and quiz.gives_away(question, inbound.text, reply)

    update = await ask.ask(state, deps, inbound, withhold)
    if open_quiz and question is not None:
        if update is None:  # it would answer the open question: answered once that one is
            held = Reply(quiz.HELD, kind="notice").to_dict()
            back = quiz.question_reply(question, open_quiz).to_dict()
            return {"quiz": {**open_quiz, "held": inbound.text}, "replies": [held, back]}
        back = quiz.question_reply(question, open_quiz, note="Back to the quiz:")
        update["replies"] = [*update["replies"], back.to_dict()]
    return update or {}


def _asks_mid_quiz(state: CoachState, deps: Deps, text: str) -> bool:
    """Whether a message typed during a quiz is a question about the lessons, not an answer."""
    open_quiz = state.get("quiz")
    if not open_quiz or not is_question(text):
        return False
    question = deps.course.question(open_quiz["questions"][open_quiz["index"]])
    return parse_answer(text, question.options) is None


async def feedback_node(state: CoachState, runtime: Runtime[Deps]) -> dict:
    return await runtime.context.store.off_loop(_feedback_step, state, runtime.context)


def _feedback_step(state: CoachState, deps: Deps) -> dict:
    inbound, intent = Inbound.from_dict(state["inbound"]), state["intent"]
    if intent["name"] == "feedback_reason":
        return feedback.reason(state, deps, inbound)
    answer_id = inbound.action.question if inbound.action else None
    return feedback.rate(state, deps, inbound, intent["text"], answer_id)


async def info_node(state: CoachState, runtime: Runtime[Deps]) -> dict:
    return await runtime.context.store.off_loop(_info_step, state, runtime.context)


def _info_step(state: CoachState, deps: Deps) -> dict:
    inbound, name = Inbound.from_dict(state["inbound"]), state["intent"]["name"]
    if name == "progress":
        return _replies(info.progress(deps, inbound.learner, deps.clock()), ephemeral=inbound.shared)
    if name == "stop":
        ended = _ending_current(state, deps, inbound)
        if not ended:
            return _replies(
                Reply("Nothing to stop — you're not in a lab or a quiz. Say *help* to see options.")
            )
        return ended
    if name == "nudges":
        request = state["intent"]
        reply = info.nudge_request(deps, inbound.learner, request["text"], request.get("number"))
        return _replies(reply, ephemeral=inbound.shared)
    if name == "empty":
        return _replies(info.help_reply(deps, "I didn't get any text there."))
    if name == "private_only":
        note = (
            "Labs and quizzes run in a direct message with me, so your answers stay yours. "
            "Open a DM with me and say *help*. Here, mention me with a question about the lessons."
        )
        return _replies(Reply(note, kind="notice", ephemeral=True))
    if name == "unknown":
        return _replies(info.help_reply(deps, "I don't know that button any more."))
    if name == "social":
        return _replies(info.social_reply(deps, state["intent"]["text"], inbound.shared))
    if name == "stray_letter":
        note = (
            f"No quiz question is open, so I can't take “{inbound.text.strip()}” as an answer "
            "(a finished quiz stays finished). Start one with *quiz*, or practise with *drill*."
        )
        return _replies(info.help_reply(deps, note))
    return _replies(info.help_reply(deps))


def _replies(reply: Reply, ephemeral: bool = False) -> dict:
    if ephemeral:
        reply.ephemeral = True
    return {"replies": [reply.to_dict()]}


def _then(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two updates in order: the second wins, replies are kept from both."""
    return {**first, **second, "replies": [*first.get("replies", []), *second.get("replies", [])]}


def _ending_current(state: CoachState, deps: Deps, inbound: Inbound) -> dict[str, Any]:
    """Close the open lab or quiz before something else starts (its progress is saved)."""
    mode = state.get("mode")
    if mode == "lab" and state.get("lab"):
        ended = lab.stop(state, deps, inbound)
    elif mode == "quiz" and state.get("quiz"):
        ended = quiz.stop(state, deps, inbound)
    else:
        return {}
    return {"mode": "idle", "lab": None, "quiz": None, "replies": [ended.to_dict()]}


def build_graph() -> StateGraph:
    graph = StateGraph(CoachState, context_schema=Deps)
    nodes = {"lab": lab_node, "quiz": quiz_node, "ask": ask_node, "info": info_node}
    nodes["feedback"] = feedback_node
    for name, node in nodes.items():
        graph.add_node(name, routed(node))
        graph.add_edge(name, END)
    graph.add_conditional_edges(START, route, list(nodes))
    return graph
