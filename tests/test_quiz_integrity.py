"""Quiz integrity: a retake is not answered by the letters of the last attempt, the module test is
graded at its end, retakes of it are spaced, and answers outside the open quiz say what they counted."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

from bot.messages import Action
from flows.deps import Deps
from flows.options import ARRANGEMENTS, arrangement
from flows.quiz import RETEST_AFTER
from knowledge.loader import Course
from tests.conftest import Learner

OPTION = re.compile(r"^\*([A-D])\.\* (.+)$", re.MULTILINE)


def wrong_letter(question) -> str:
    return next(letter for letter in "ABCD" if letter != question.answer)


def order(reply) -> list[str]:
    """The option texts in the order a question reply shows them."""
    return [text for _, text in OPTION.findall(reply.text)]


class Clock:
    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def test_every_retake_gets_a_fresh_arrangement_never_the_last_one():
    for learner in ("console:ana", "slack:U1", "teams:29:x"):
        orders = [arrangement(learner, "module-test", n) for n in range(1, 30)]
        assert orders[0] == arrangement(learner)  # a first attempt is the learner's own order
        assert all(a != b for a, b in itertools.pairwise(orders))
        assert len(set(orders)) > 8 and set(orders) <= set(ARRANGEMENTS)
        assert orders == [arrangement(learner, "module-test", n) for n in range(1, 30)]  # deterministic


async def test_a_lesson_quiz_retake_is_not_answered_by_the_first_attempts_letters(
    learner: Learner, deps: Deps, course: Course
):
    deps.clock = Clock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    quiz = course.lesson_quiz(1).questions
    await learner.say("quiz 1")
    revealed = {}
    for q in quiz:
        feedback = (await learner.say("A"))[0]  # practice: graded at once, the right letter shown
        right = re.search(r"The right answer is \*([A-D])\*", feedback.text)
        revealed[q.id] = right.group(1) if right else "A"
    first = next(r for r in learner.heard if r.kind == "question")
    deps.clock.at += timedelta(minutes=5)
    again = (await learner.say("quiz 1"))[-1]
    assert order(again) != order(first)  # a fresh order for the retake
    assert (await learner.state())["quiz"]["attempt"] == 2
    # a resumed attempt keeps its order: the question shown again after a stray message
    shown_again = (await learner.say("hmm, not sure"))[-1]
    assert order(shown_again) == order(again)
    for q in quiz:
        await learner.say(revealed[q.id])
    copied = learner.coach.deps.store.attempts("console:ana")[len(quiz) :]
    assert sum(a["correct"] for a in copied) < len(quiz)


async def test_a_quiz_stopped_before_its_first_answer_is_not_an_attempt(learner: Learner, course: Course):
    first = (await learner.say("quiz 2"))[-1]
    await learner.say("stop")
    again = (await learner.say("quiz 2"))[-1]
    assert order(first) == order(again) and (await learner.state())["quiz"]["attempt"] == 1


async def test_the_module_test_is_graded_at_its_end_by_option_text(learner: Learner, course: Course):
    test = course.module_test
    await learner.say("module test")
    for i, q in enumerate(test.questions):
        reply = (await learner.say(learner.letter(q, wrong_letter(q) if i < 4 else None)))[0]
        assert "Recorded" in reply.text and "✅" not in reply.text and "❌" not in reply.text
        assert "right answer" not in reply.text and q.correct_text not in reply.text
    final = learner.heard[-1].text
    assert "11 of 15" in final and "did not pass" in final
    for i, q in enumerate(test.questions):
        assert (f"The answer: *{q.correct_text}*" in final) is (i < 4)
    assert not re.search(r"answer is \*[A-D]\*", final)  # by text: letters change between attempts


async def test_stopping_the_module_test_tells_no_score(learner: Learner, course: Course):
    """Answer one question, stop, start again: were the stop to count right answers, each answer could be
    probed one at a time."""
    q = course.module_test.questions[0]
    await learner.say("module test")
    await learner.say(learner.letter(q, None))
    stopped = (await learner.say("stop"))[-1].text
    assert "1 of 15" in stopped and "right" not in stopped and "graded only when finished" in stopped


async def test_a_module_test_retake_opens_a_day_later_in_a_fresh_order(
    learner: Learner, deps: Deps, course: Course
):
    deps.clock = Clock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    test = course.module_test
    await learner.say("module test")
    first = (await learner.state())["quiz"]
    for q in test.questions:
        await learner.say(learner.letter(q, wrong_letter(q)))
    deps.clock.at += timedelta(hours=2)
    wait = (await learner.say("module test"))[-1]
    assert "again" in wait.text and "drill" in wait.text and (await learner.state())["quiz"] is None
    assert len(deps.store.quiz_sessions("console:ana")) == 1
    deps.clock.at += RETEST_AFTER
    again = (await learner.say("module test"))[-1]
    retake = (await learner.state())["quiz"]
    assert retake["attempt"] == 2 and sorted(retake["questions"]) == sorted(first["questions"])
    assert retake["questions"] != first["questions"]  # a fresh question order
    assert again.question == retake["questions"][0]
    for q in (course.question(qid) for qid in retake["questions"]):
        await learner.say(learner.letter(q))
    assert "You passed" in learner.heard[-1].text
    deps.clock.at += timedelta(minutes=1)
    assert (await learner.say("module test"))[-1].kind == "question"  # no wait after a pass


async def test_an_abandoned_test_finished_through_its_old_buttons_is_graded(
    learner: Learner, deps: Deps, course: Course
):
    """Its buttons clicked where the conversation holds no quiz (another thread of the same learner)."""
    from adapters.console import inbound

    test = course.module_test
    session = (await learner.say("module test"))[-1].session
    replies = []
    for q in test.questions:
        click = Action("answer", q.answer, question=q.id, session=session)
        replies += await learner.coach.handle(inbound("ana", action=click, conversation="console:thread"))
    row = deps.store.quiz_session(session)
    assert row["finished_at"] and row["passed"] == 1 and row["correct"] == 15
    assert all("✅" not in r.text for r in replies[:-1]) and "You passed" in replies[-1].text


async def test_a_typed_letter_with_several_questions_open_says_which_it_answered(
    learner: Learner, deps: Deps, course: Course
):
    first, second = course.question("L2Q1"), course.question("L3Q2")
    deps.store.start_quiz_session("console:ana", "nudge", [first.id, second.id], deps.clock())
    reply = (await learner.say(learner.letter(first)))[-1]
    assert "oldest" in reply.text and first.stem[:60] in reply.text
    assert first.feedback.correct in reply.text
    last = (await learner.say(learner.letter(second)))[-1]
    assert "oldest" not in last.text and "all done" in last.text  # only one was open then
