"""The quiz flow: lesson quizzes, the module test and the spaced-repetition drill.

Every answer is stored as an attempt (the option's text, not the letter it was shown under) and
reviews the learner's `fsrs` card for that question (see `flows.drill`), so what a learner gets
wrong comes back first in the drill and sooner in weekly nudges. Options are shown in the attempt's
order (`flows.options`: the learner's own on a first attempt, a fresh one on each retake); buttons
carry the option id, typed letters are read through it.

Lesson quizzes and the drill are practice: each answer is graded at once, with the right option.
The module test is an assessment: an answer is only recorded, the review (each missed question
with its right option, by text) comes at the end, a retake asks the questions in a fresh order, and
after a failed attempt the next one opens `RETEST_AFTER` later, so a retake shows what the learner
remembers rather than what they just read.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from rapidfuzz import fuzz

from bot.messages import Action, Choice, Inbound, Reply
from flows.deps import Deps
from flows.drill import drill_order, review, when
from flows.options import letter_of, shown, shown_options
from flows.router import parse_answer
from flows.state import CoachState, QuizState
from knowledge.schema import LETTERS, Question

DRILL = "drill"
NUDGE = "nudge"
RETEST_AFTER = timedelta(hours=24)  # after a failed module test, the next attempt opens this much later

# -- whose order -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """Whose order a question's options were shown in: the quiz owner's, in this quiz and attempt."""

    learner: str
    quiz: str = ""
    attempt: int = 1

    def shown(self, question: Question) -> dict[str, str]:
        return shown(question, self.learner, self.quiz, self.attempt)

    def options(self, question: Question) -> dict[str, str]:
        return shown_options(question, self.learner, self.quiz, self.attempt)

    def letter(self, question: Question, option: str) -> str:
        return letter_of(question, self.learner, option, self.quiz, self.attempt)


def view_of(quiz: QuizState) -> View:
    return View(quiz.get("owner", ""), quiz.get("id", ""), quiz.get("attempt", 1))


def attempt_number(deps: Deps, learner: str, quiz_id: str, session: dict | None = None) -> int:
    """1 + the learner's earlier sessions of this quiz in which they answered something (a quiz
    stopped before its first answer is not an attempt). `session`: count only those started before
    it (the attempt an old session was); without it, every session so far (the attempt starting now)."""
    if quiz_id == NUDGE:
        return 1
    earlier = [s for s in deps.store.quiz_sessions(learner) if s["quiz"] == quiz_id]
    if session is not None:
        earlier = [
            s for s in earlier if s["id"] != session["id"] and s["started_at"] <= session["started_at"]
        ]
    answered = {a["session"] for a in deps.store.attempts_in([s["id"] for s in earlier])}
    return 1 + sum(s["id"] in answered for s in earlier)


def fresh_order(questions: list[str], learner: str, quiz_id: str, attempt: int) -> list[str]:
    """The questions of a retake in a fresh order, deterministic from learner, quiz and attempt."""
    if attempt == 1:
        return questions
    seed = hashlib.sha256(f"order:{learner}:{quiz_id}:{attempt}".encode()).digest()
    order = list(questions)
    random.Random(seed).shuffle(order)
    return order


def is_test(deps: Deps, quiz_id: str) -> bool:
    """The module test: graded at its end, not answer by answer."""
    quiz = deps.course.quizzes.get(quiz_id)
    return quiz is not None and quiz.kind == "module_test"


# -- rendering -------------------------------------------------------------------------------------


def question_reply(question: Question, quiz: QuizState, note: str | None = None) -> Reply:
    """The question with its options in the attempt's order; each button carries the option id."""
    view = view_of(quiz)
    position = f"Question {quiz['index'] + 1} of {len(quiz['questions'])}"
    options = "\n".join(f"*{letter}.* {text}" for letter, text in view.options(question).items())
    text = f"*{position}* · {quiz['title']}\n{question.stem}\n\n{options}"
    if note:
        text = f"{note}\n\n{text}"
    choices = [
        Choice(letter, Action("answer", option, question=question.id, session=quiz["session"]))
        for letter, option in view.shown(question).items()
    ]
    return Reply(text, choices=choices, kind="question", question=question.id, session=quiz["session"])


def feedback_reply(
    question: Question, view: View, option: str, session: str, tally: str | None, note: str | None = None
) -> Reply:
    """`option` is the chosen option id; letters are the ones this attempt showed. Practice feedback:
    right or wrong at once, with the right option."""
    correct = option == question.answer
    text = f"You chose *{view.letter(question, option)}*. " + (
        "✅ " + question.feedback.correct if correct else "❌ " + question.feedback.incorrect
    )
    if not correct:
        text += f"\nThe right answer is *{view.letter(question, question.answer)}*: {question.correct_text}"
    if note:
        text = f"{note}\n{text}"
    if tally:
        text += f"\n_{tally}_"
    return Reply(text, kind="feedback", question=question.id, session=session)


def recorded_reply(question: Question, view: View, option: str, session: str, tally: str) -> Reply:
    """A module-test answer: recorded, not graded — the review comes at the end."""
    text = f"Recorded: *{view.letter(question, option)}*. _{tally}; the answers come at the end._"
    return Reply(text, kind="feedback", question=question.id, session=session)


def typed_option(question: Question, view: View, text: str) -> str | None:
    """The option id a typed answer means: a letter or number as shown in this attempt, or the text."""
    letter = parse_answer(text, view.options(question))
    return view.shown(question)[letter] if letter in LETTERS else None


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


def retest_opens(deps: Deps, learner: str, test_id: str) -> datetime | None:
    """When the learner may take the module test again, if a failed attempt makes them wait."""
    failed = [
        s
        for s in deps.store.quiz_sessions(learner)
        if s["quiz"] == test_id and s["finished_at"] and s["passed"] == 0
    ]
    if not failed:
        return None
    opens = max(datetime.fromisoformat(s["finished_at"]) for s in failed) + RETEST_AFTER
    return opens if opens > deps.clock() else None


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
        opens = retest_opens(deps, inbound.learner, test.id)
        if opens is not None:
            text = (
                f"You can take the *{test.title}* again {when(opens, now)} — a day after the last attempt, "
                "so the retake shows what you remember rather than what you just read. Until then, "
                "your *drill* brings back what you missed."
            )
            choices = [Choice("Drill", Action("command", "drill"))]
            return {"replies": [Reply(text, choices=choices, kind="notice").to_dict()]}
        quiz_id, title, questions, pass_mark = (
            test.id,
            test.title,
            [q.id for q in test.questions],
            test.pass_mark,
        )
        intro = (
            f"*{test.title}* — {len(questions)} questions across all four lessons; "
            f"{round(100 * (pass_mark or 0))}% to pass. Your answers are graded at the end. Good luck!"
        )
    else:
        quiz_id, title, pass_mark = DRILL, "Spaced-repetition drill", None
        questions = drill_order(deps, inbound.learner, now)[: deps.drill_size]
        intro = f"*Drill* — {len(questions)} questions, the ones you most need to review first."
    attempt = attempt_number(deps, inbound.learner, quiz_id)
    if kind == "test":
        questions = fresh_order(questions, inbound.learner, quiz_id, attempt)
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
        "attempt": attempt,
    }
    first = question_reply(deps.course.question(questions[0]), quiz_state, note=intro)
    return {"mode": "quiz", "quiz": quiz_state, "lab": None, "replies": [first.to_dict()]}


# -- answering -------------------------------------------------------------------------------------


def is_letter(text: str) -> bool:
    """A bare answer such as "b", "(C)" or "option 2" — not a sentence that happens to start with one."""
    return len(text.strip()) <= 12 and parse_answer(text, {}) is not None


def open_nudges(deps: Deps, learner: str) -> list[tuple[str, str]]:
    """The unanswered questions of the learner's open weekly-nudge sessions, oldest first:
    (session, question)."""
    found = []
    for session in deps.store.open_nudge_sessions(learner):
        answered = {a["question"] for a in deps.store.session_attempts(session["id"])}
        found += [(session["id"], q) for q in json.loads(session["questions"]) if q not in answered]
    return found


def open_nudge(deps: Deps, learner: str) -> tuple[str, str] | None:
    """The oldest unanswered question of the learner's open weekly-nudge sessions: (session, question)."""
    found = open_nudges(deps, learner)
    return found[0] if found else None


LATE = (
    "That set closed when the next week's questions went out, so this answer wasn't counted. "
    "The new set is waiting in this chat — answer those instead."
)


def closed_nudge(deps: Deps, learner: str) -> str | None:
    """The learner's most recent weekly-nudge set that closed with questions unanswered, if any."""
    return deps.store.closed_nudge_session(learner)


def _which(question: Question) -> str:
    """Names the question a typed letter answered when several were open."""
    stem = question.stem if len(question.stem) <= 90 else question.stem[:89].rstrip() + "…"
    return f"_Several questions are open, so that letter answered the oldest: “{stem}”_"


def answer(state: CoachState, deps: Deps, inbound: Inbound) -> dict:
    """A click or a typed answer: to the open question, or to a question from elsewhere (a nudge)."""
    quiz = state.get("quiz") if state.get("mode") == "quiz" else None
    action = inbound.action
    if action is not None and (quiz is None or action.session != quiz["session"]):
        return {"replies": [r.to_dict() for r in _outside_answer(deps, inbound)]}
    if quiz is None:
        nudges = open_nudges(deps, inbound.learner)
        nudge = nudges[0] if nudges else None
        nudged = deps.course.question(nudge[1]) if nudge else None
        option = typed_option(nudged, View(inbound.learner), inbound.text) if nudged else None
        if nudge and nudged and option:
            typed = replace(inbound, action=Action("answer", option, question=nudge[1], session=nudge[0]))
            note = _which(nudged) if len(nudges) > 1 else None
            return {"replies": [r.to_dict() for r in _outside_answer(deps, typed, note)]}
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
    view = view_of(quiz)  # the options were shown in the quiz owner's order for this attempt
    if not view.learner:
        view = replace(view, learner=inbound.learner)
    chosen = action.value.upper() if action else typed_option(question, view, inbound.text)
    if chosen not in LETTERS:
        note = "Answer with *A*, *B*, *C* or *D* (or click a button) — or say *stop* to leave the quiz."
        return {"replies": [question_reply(question, quiz, note=note).to_dict()]}
    now = deps.clock()
    correct = chosen == question.answer
    text = question.options[chosen]
    deps.store.record_attempt(quiz["session"], inbound.learner, question.id, text, correct, now)
    review(deps, inbound.learner, question.id, correct, now)
    quiz = {**quiz, "index": quiz["index"] + 1, "correct": quiz["correct"] + correct}
    if is_test(deps, quiz["id"]):
        tally = f"{quiz['index']} of {len(quiz['questions'])} answered"
        replies = [recorded_reply(question, view, chosen, quiz["session"], tally)]
    else:
        tally = f"{quiz['correct']} of {quiz['index']} right so far"
        replies = [feedback_reply(question, view, chosen, quiz["session"], tally)]
    if quiz["index"] < len(quiz["questions"]):
        replies.append(question_reply(deps.course.question(quiz["questions"][quiz["index"]]), quiz))
        return {"quiz": quiz, "replies": [r.to_dict() for r in replies]}
    replies.append(_final(deps, quiz["session"], quiz["title"], quiz["pass_mark"]))
    return {"mode": "idle", "quiz": None, "replies": [r.to_dict() for r in replies]}


def stop(state: CoachState, deps: Deps, inbound: Inbound) -> Reply:
    quiz = state["quiz"]
    assert quiz is not None
    deps.store.finish_quiz_session(quiz["session"], quiz["correct"], None, deps.clock())
    done = f"{quiz['index']} of {len(quiz['questions'])} questions"
    if is_test(deps, quiz["id"]):  # graded only at its end: a count here would let answers be probed
        return Reply(f"Test stopped after {done}; it is graded only when finished. Your answers are saved.")
    return Reply(f"Quiz stopped after {done} ({quiz['correct']} right). Your answers are saved.")


def _final(deps: Deps, session: str, title: str, pass_mark: float | None) -> Reply:
    """The end of a quiz: the score, passed or not against `pass_mark`, and — for the module test,
    graded only now — each missed question with its right option, by text."""
    row = deps.store.quiz_session(session)
    assert row is not None
    attempts = deps.store.session_attempts(session)
    total, correct = row["total"], sum(a["correct"] for a in attempts)
    share = correct / total
    passed = share >= pass_mark if pass_mark is not None else None
    deps.store.finish_quiz_session(session, correct, passed, deps.clock())
    text = f"*{title} done: {correct} of {total} ({round(100 * share)}%).*"
    if passed is not None:
        mark = round(100 * (pass_mark or 0))
        text += (
            f" ✅ You passed ({mark}% needed)."
            if passed
            else f" You did not pass this time ({mark}% needed)."
        )
    if correct < total:
        text += " What you missed comes first in your *drill* — try it now."
    else:
        text += " Every answer right."
    if is_test(deps, row["quiz"]):
        text += _review(deps, json.loads(row["questions"]), attempts)
    choices = [Choice("Drill", Action("command", "drill")), Choice("Progress", Action("command", "progress"))]
    return Reply(text, choices=choices, kind="notice")


def _review(deps: Deps, questions: list[str], attempts: list[dict]) -> str:
    """The module test's answers, after its end: each missed question, what was chosen and the right
    option by its text (letters change from attempt to attempt)."""
    chosen = {a["question"]: a for a in attempts}
    lines = []
    for n, qid in enumerate(questions, start=1):
        question, attempt = deps.course.question(qid), chosen.get(qid)
        if question is None or attempt is None or attempt["correct"]:
            continue
        lines.append(
            f"❌ *{n}.* {question.stem}\nYou chose: {attempt['chosen']}\n"
            f"The answer: *{question.correct_text}* — {question.feedback.incorrect}"
        )
    return "\n\n*What you missed*\n" + "\n\n".join(lines) if lines else ""


def _outside_answer(deps: Deps, inbound: Inbound, note: str | None = None) -> list[Reply]:
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
    if session["finished_at"] and session["quiz"] == NUDGE and question.id not in answered:
        return [Reply(LATE, kind="notice", ephemeral=True)]
    if session["finished_at"]:
        return [
            Reply(f"That quiz is over, so the answer wasn't counted. {retry}", kind="notice", ephemeral=True)
        ]
    if question.id in answered:
        return [Reply("You've already answered that question.", kind="notice", ephemeral=True)]
    chosen = action.value.upper()
    if chosen not in LETTERS:
        return [Reply("That answer isn't one of A-D.", kind="notice", ephemeral=True)]
    # An open question from a session outside this conversation's quiz (a weekly nudge, or a quiz
    # left open when another started): count it.
    now = deps.clock()
    correct = chosen == question.answer
    text = question.options[chosen]
    deps.store.record_attempt(session["id"], inbound.learner, question.id, text, correct, now)
    review(deps, inbound.learner, question.id, correct, now)
    answered.add(question.id)
    view = View(
        inbound.learner, session["quiz"], attempt_number(deps, inbound.learner, session["quiz"], session)
    )
    quiz = deps.course.quizzes.get(session["quiz"])
    done = answered >= set(questions)
    if is_test(deps, session["quiz"]):
        tally = f"{len(answered)} of {len(questions)} answered"
        replies = [recorded_reply(question, view, chosen, session["id"], tally)]
    else:
        right = sum(a["correct"] for a in deps.store.session_attempts(session["id"]))
        tally = f"{right} of {len(answered)} right in this set"
        if done and session["quiz"] == NUDGE:
            tally += " — all done, thank you!"
        replies = [feedback_reply(question, view, chosen, session["id"], tally, note)]
    if done and session["quiz"] == NUDGE:
        right = sum(a["correct"] for a in deps.store.session_attempts(session["id"]))
        deps.store.finish_quiz_session(session["id"], right, None, now)
    elif done:
        title = quiz.title if quiz else "Drill" if session["quiz"] == DRILL else "Quiz"
        replies.append(_final(deps, session["id"], title, quiz.pass_mark if quiz else None))
    return replies


HELD = "That's close to the question in front of you, so I'll answer it right after you've answered that one."
POINTS_AT = 60  # how well the reply must hold the right option (rapidfuzz partial ratio) to give it away
SAME_QUESTION = 70  # how alike the message and the question's stem are (rapidfuzz ratio) to ask the same


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w%$.]+", " ", text.lower()).split())


def gives_away(question: Question, asked: str, reply: Reply) -> bool:
    """Whether answering `asked` now would answer the open quiz question: the reply cites the passage
    the question is drawn from and holds its right option better than any other, or the message asks
    what the question asks. A tutor answers that once the learner has answered."""
    if question.passage not in {c.passage for c in reply.citations}:
        return False
    said = _plain(reply.text)
    scores = {letter: fuzz.partial_ratio(_plain(text), said) for letter, text in question.options.items()}
    right = scores.pop(question.answer)
    if right >= POINTS_AT and right > max(scores.values()):
        return True
    return fuzz.ratio(_plain(asked), _plain(question.stem)) >= SAME_QUESTION
