"""The quiz flow: lesson quizzes, the module test and the spaced-repetition drill.

Every answer is stored as an attempt (the option's text, not the letter it was shown under) and
reviews the learner's `fsrs` card for that question (see `flows.drill`), so what a learner gets
wrong comes back first in the drill and sooner in weekly nudges. Options are shown in the learner's
own stable order (`flows.options`); buttons carry the option id, typed letters are read through it.
"""

from __future__ import annotations

import json
from dataclasses import replace

from bot.messages import Action, Choice, Inbound, Reply
from flows.deps import Deps
from flows.drill import drill_order, review
from flows.options import letter_of, shown, shown_options
from flows.router import parse_answer
from flows.state import CoachState, QuizState
from knowledge.schema import LETTERS, Question

DRILL = "drill"

# -- rendering -------------------------------------------------------------------------------------


def question_reply(question: Question, quiz: QuizState, note: str | None = None) -> Reply:
    """The question with its options in the learner's order; each button carries the option id."""
    learner = quiz.get("owner", "")
    position = f"Question {quiz['index'] + 1} of {len(quiz['questions'])}"
    texts = shown_options(question, learner)
    options = "\n".join(f"*{letter}.* {text}" for letter, text in texts.items())
    text = f"*{position}* · {quiz['title']}\n{question.stem}\n\n{options}"
    if note:
        text = f"{note}\n\n{text}"
    choices = [
        Choice(letter, Action("answer", option, question=question.id, session=quiz["session"]))
        for letter, option in shown(question, learner).items()
    ]
    return Reply(text, choices=choices, kind="question", question=question.id, session=quiz["session"])


def feedback_reply(question: Question, learner: str, option: str, session: str, tally: str | None) -> Reply:
    """`option` is the chosen option id; letters are the ones this learner was shown."""
    correct = option == question.answer
    text = f"You chose *{letter_of(question, learner, option)}*. " + (
        "✅ " + question.feedback.correct if correct else "❌ " + question.feedback.incorrect
    )
    if not correct:
        right = letter_of(question, learner, question.answer)
        text += f"\nThe right answer is *{right}*: {question.correct_text}"
    if tally:
        text += f"\n_{tally}_"
    return Reply(text, kind="feedback", question=question.id, session=session)


def typed_option(question: Question, learner: str, text: str) -> str | None:
    """The option id a typed answer means: a letter or number as shown to this learner, or the text."""
    letter = parse_answer(text, shown_options(question, learner))
    return shown(question, learner)[letter] if letter in LETTERS else None


def quiz_menu(deps: Deps) -> Reply:
    quizzes = sorted(
        (q for q in deps.course.quizzes.values() if q.kind == "lesson_quiz"), key=lambda q: q.lesson
    )
    choices = [Choice(f"Quiz {q.lesson}", Action("command", f"quiz {q.lesson}")) for q in quizzes]
    choices += [
        Choice("Module test", Action("command", "module test")),
        Choice("Drill", Action("command", "drill")),
    ]
    lines = [f"• *Quiz {q.lesson}* · {q.title}" for q in quizzes]
    test = deps.course.module_test
    if test:
        mark = round(100 * (test.pass_mark or 0))
        lines.append(f"• *Module test* · {len(test.questions)} questions, {mark}% to pass")
    lines.append(f"• *Drill* · {deps.drill_size} questions picked by spaced repetition")
    return Reply("Which quiz?\n" + "\n".join(lines), choices=choices)


# -- starting --------------------------------------------------------------------------------------


def start(state: CoachState, deps: Deps, inbound: Inbound, kind: str, number: int | None = None) -> dict:
    now = deps.clock()
    if kind == "quiz":
        quiz = deps.course.lesson_quiz(number) if number else None
        if quiz is None:
            return {"replies": [quiz_menu(deps).to_dict()]}
        quiz_id, title, questions, pass_mark = quiz.id, quiz.title, [q.id for q in quiz.questions], None
        intro = f"*{quiz.title}* — {len(questions)} questions. Answer with a button, a letter, or the option."
    elif kind == "test":
        test = deps.course.module_test
        assert test is not None
        quiz_id, title, questions, pass_mark = (
            test.id,
            test.title,
            [q.id for q in test.questions],
            test.pass_mark,
        )
        intro = (
            f"*{test.title}* — {len(questions)} questions across all four lessons; "
            f"{round(100 * (pass_mark or 0))}% to pass. Good luck!"
        )
    else:
        quiz_id, title, pass_mark = DRILL, "Spaced-repetition drill", None
        questions = drill_order(deps, inbound.learner, now)[: deps.drill_size]
        intro = f"*Drill* — {len(questions)} questions, the ones you most need to review first."
    session = deps.store.start_quiz_session(inbound.learner, quiz_id, questions, now)
    quiz_state: QuizState = {
        "id": quiz_id,
        "title": title,
        "session": session,
        "owner": inbound.learner,
        "questions": questions,
        "index": 0,
        "correct": 0,
        "pass_mark": pass_mark,
    }
    first = question_reply(deps.course.question(questions[0]), quiz_state, note=intro)
    return {"mode": "quiz", "quiz": quiz_state, "lab": None, "replies": [first.to_dict()]}


# -- answering -------------------------------------------------------------------------------------


def is_letter(text: str) -> bool:
    """A bare answer such as "b", "(C)" or "option 2" — not a sentence that happens to start with one."""
    return len(text.strip()) <= 12 and parse_answer(text, {}) is not None


def open_nudge(deps: Deps, learner: str) -> tuple[str, str] | None:
    """The oldest unanswered question of the learner's open weekly-nudge sessions: (session, question)."""
    sessions = deps.store.open_nudge_sessions(learner)
    for session in sessions:
        answered = {a["question"] for a in deps.store.session_attempts(session["id"])}
        for question in json.loads(session["questions"]):
            if question not in answered:
                return session["id"], question
    return None


LATE = (
    "That set closed when the next week's questions went out, so this answer wasn't counted. "
    "The new set is waiting in this chat — answer those instead."
)


def closed_nudge(deps: Deps, learner: str) -> str | None:
    """The learner's most recent weekly-nudge set that closed with questions unanswered, if any."""
    return deps.store.closed_nudge_session(learner)


def answer(state: CoachState, deps: Deps, inbound: Inbound) -> dict:
    """A click or a typed answer: to the open question, or to a question from elsewhere (a nudge)."""
    quiz = state.get("quiz") if state.get("mode") == "quiz" else None
    action = inbound.action
    if action is not None and (quiz is None or action.session != quiz["session"]):
        return {"replies": [r.to_dict() for r in _outside_answer(deps, inbound)]}
    if quiz is None:
        nudge = open_nudge(deps, inbound.learner)
        nudged = deps.course.question(nudge[1]) if nudge else None
        option = typed_option(nudged, inbound.learner, inbound.text) if nudged else None
        if nudge and option:
            typed = replace(inbound, action=Action("answer", option, question=nudge[1], session=nudge[0]))
            return {"replies": [r.to_dict() for r in _outside_answer(deps, typed)]}
        if is_letter(inbound.text) and closed_nudge(deps, inbound.learner):
            return {"replies": [Reply(LATE, kind="notice").to_dict()]}
        return {
            "replies": [
                Reply("There's no quiz open. Say *quiz* to pick one, or *drill*.", kind="notice").to_dict()
            ]
        }
    question = deps.course.question(quiz["questions"][quiz["index"]])
    if action is not None and action.question != question.id:
        note = f"You already answered that one — question {quiz['index'] + 1} is the open one."
        if action.question not in quiz["questions"]:
            note = "That button isn't part of this quiz."
        return {"replies": [Reply(note, kind="notice", ephemeral=True).to_dict()]}
    viewer = quiz.get("owner") or inbound.learner  # the options were shown in the quiz owner's order
    chosen = action.value.upper() if action else typed_option(question, viewer, inbound.text)
    if chosen not in LETTERS:
        note = "Answer with *A*, *B*, *C* or *D* (or click a button) — or say *stop* to leave the quiz."
        return {"replies": [question_reply(question, quiz, note=note).to_dict()]}
    now = deps.clock()
    correct = chosen == question.answer
    text = question.options[chosen]
    deps.store.record_attempt(quiz["session"], inbound.learner, question.id, text, correct, now)
    review(deps, inbound.learner, question.id, correct, now)
    quiz = {**quiz, "index": quiz["index"] + 1, "correct": quiz["correct"] + correct}
    tally = f"{quiz['correct']} of {quiz['index']} right so far"
    replies = [feedback_reply(question, viewer, chosen, quiz["session"], tally)]
    if quiz["index"] < len(quiz["questions"]):
        replies.append(question_reply(deps.course.question(quiz["questions"][quiz["index"]]), quiz))
        return {"quiz": quiz, "replies": [r.to_dict() for r in replies]}
    replies.append(_final(deps, inbound, quiz))
    return {"mode": "idle", "quiz": None, "replies": [r.to_dict() for r in replies]}


def stop(state: CoachState, deps: Deps, inbound: Inbound) -> Reply:
    quiz = state["quiz"]
    assert quiz is not None
    deps.store.finish_quiz_session(quiz["session"], quiz["correct"], None, deps.clock())
    return Reply(
        f"Quiz stopped after {quiz['index']} of {len(quiz['questions'])} questions "
        f"({quiz['correct']} right). Your answers are saved."
    )


def _final(deps: Deps, inbound: Inbound, quiz: QuizState) -> Reply:
    total, correct = len(quiz["questions"]), quiz["correct"]
    share = correct / total
    passed = share >= quiz["pass_mark"] if quiz["pass_mark"] is not None else None
    deps.store.finish_quiz_session(quiz["session"], correct, passed, deps.clock())
    text = f"*{quiz['title']} done: {correct} of {total} ({round(100 * share)}%).*"
    if passed is not None:
        mark = round(100 * (quiz["pass_mark"] or 0))
        text += (
            f" ✅ You passed ({mark}% needed)."
            if passed
            else f" You did not pass this time ({mark}% needed)."
        )
    if correct < total:
        text += " What you missed comes first in your *drill* — try it now."
    else:
        text += " Every answer right."
    choices = [Choice("Drill", Action("command", "drill")), Choice("Progress", Action("command", "progress"))]
    return Reply(text, choices=choices, kind="notice")


def _outside_answer(deps: Deps, inbound: Inbound) -> list[Reply]:
    """A click on a question that is not the conversation's open one: expired, foreign, or a nudge."""
    action = inbound.action
    assert action is not None
    session = deps.store.quiz_session(action.session or "")
    retry = "Say *quiz*, *test* or *drill* to start a fresh one."
    if session is None:
        return [
            Reply(
                f"That quiz has expired, so I can't take that answer. {retry}", kind="notice", ephemeral=True
            )
        ]
    if session["learner"] != inbound.learner:
        return [
            Reply(
                "That quiz belongs to someone else — start your own with *quiz*.",
                kind="notice",
                ephemeral=True,
            )
        ]
    questions = json.loads(session["questions"])
    question = deps.course.question(action.question or "")
    if question is None or question.id not in questions:
        return [
            Reply(
                f"That answer doesn't match any question of that quiz. {retry}", kind="notice", ephemeral=True
            )
        ]
    answered = {a["question"] for a in deps.store.session_attempts(session["id"])}
    if session["finished_at"] and session["quiz"] == "nudge" and question.id not in answered:
        return [Reply(LATE, kind="notice", ephemeral=True)]
    if session["finished_at"]:
        return [
            Reply(f"That quiz is over, so the answer wasn't counted. {retry}", kind="notice", ephemeral=True)
        ]
    answered = {a["question"] for a in deps.store.session_attempts(session["id"])}
    if question.id in answered:
        return [Reply("You've already answered that question.", kind="notice", ephemeral=True)]
    chosen = action.value.upper()
    if chosen not in LETTERS:
        return [Reply("That answer isn't one of A-D.", kind="notice", ephemeral=True)]
    # An open question from a session outside this conversation's quiz (a weekly nudge): count it.
    now = deps.clock()
    correct = chosen == question.answer
    text = question.options[chosen]
    deps.store.record_attempt(session["id"], inbound.learner, question.id, text, correct, now)
    review(deps, inbound.learner, question.id, correct, now)
    answered.add(question.id)
    right = sum(a["correct"] for a in deps.store.session_attempts(session["id"]))
    tally = f"{right} of {len(answered)} right in this set"
    if answered >= set(questions):
        deps.store.finish_quiz_session(session["id"], right, None, now)
        tally += " — all done, thank you!"
    return [feedback_reply(question, inbound.learner, chosen, session["id"], tally)]
