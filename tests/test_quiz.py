"""Quizzes, the module test and the spaced-repetition drill, driven as a learner would."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.messages import Action
from flows.deps import Deps
from knowledge.loader import Course
from tests.conftest import COACH, Learner


def wrong_letter(question) -> str:
    return next(letter for letter in "ABCD" if letter != question.answer)


def replay(script: list[dict], tmp_path: Path, env: dict[str, str]) -> list[dict]:
    path = tmp_path / "script.jsonl"
    path.write_text("\n".join(json.dumps(turn) for turn in script) + "\n", encoding="utf-8")
    done = subprocess.run(
        [str(COACH), "replay", str(path), "--json"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_all_31_questions_right_and_wrong_through_replay(course: Course, tmp_path: Path, coach_env):
    quizzes = [(f"quiz {n}", course.lesson_quiz(n)) for n in range(1, 5)] + [
        ("module test", course.module_test)
    ]
    script: list[dict] = []
    for command, quiz in quizzes:
        for user, right in (("right", True), ("wrong", False)):
            script.append({"user": user, "text": command})
            for q in quiz.questions:
                letter = q.answer if right else wrong_letter(q)
                # half typed, half clicked: both ways count the same
                if len(script) % 2:
                    script.append({"user": user, "text": letter.lower()})
                else:
                    script.append({"user": user, "action": {"kind": "answer", "value": letter}})
    out = replay(script, tmp_path, coach_env)
    feedback = [r for r in out if r["kind"] == "feedback"]
    assert len(feedback) == 2 * 31
    asked = {q.id for _, quiz in quizzes for q in quiz.questions}
    assert len(asked) == 31
    assert {r["question"] for r in feedback} == asked
    for record in feedback:
        q = course.question(record["question"])
        expected = q.feedback.correct if record["user"] == "right" else q.feedback.incorrect
        assert expected in record["reply"]
    finals = [r["reply"] for r in out if "done:" in r["reply"]]
    assert len(finals) == 10
    for _, quiz in quizzes:
        n = len(quiz.questions)
        assert any(f"{quiz.title} done: {n} of {n} (100%)" in f for f in finals)
        assert any(f"{quiz.title} done: 0 of {n} (0%)" in f for f in finals)
    test_finals = [f for f in finals if course.module_test.title in f]
    assert "You passed" in test_finals[0] and "did not pass" in test_finals[1]


@pytest.mark.parametrize(("right", "passed"), [(12, True), (11, False)])
async def test_module_test_pass_mark_is_80_percent(
    learner: Learner, course: Course, right: int, passed: bool
):
    await learner.say("module test")
    for i, q in enumerate(course.module_test.questions):
        await learner.say(q.answer if i < right else wrong_letter(q))
    final = learner.heard[-1].text
    assert f"{right} of 15" in final
    assert ("You passed" in final) is passed
    session = learner.coach.deps.store.quiz_sessions("console:ana")[-1]
    assert session["passed"] == int(passed) and session["correct"] == right


async def test_answers_by_letter_number_and_option_text(learner: Learner, course: Course):
    quiz = course.lesson_quiz(2)
    await learner.say("quiz lesson 2")
    q1, q2, q3, q4 = quiz.questions
    await learner.say(f"({q1.answer.lower()})")
    await learner.say(str("ABCD".index(q2.answer) + 1))
    await learner.say(q3.correct_text.lower())
    await learner.say(f"option {q4.answer}")
    assert "4 of 4" in learner.heard[-1].text
    attempts = learner.coach.deps.store.attempts("console:ana")
    assert [a["correct"] for a in attempts] == [1, 1, 1, 1]


async def test_anything_else_gets_a_reminder_and_the_question_again(learner: Learner, course: Course):
    await learner.say("quiz 1")
    reply = (await learner.say("I have no idea, maybe the second-to-last?"))[-1]
    q = course.lesson_quiz(1).questions[0]
    assert "Answer with *A*, *B*, *C* or *D*" in reply.text
    assert q.stem in reply.text and reply.kind == "question"
    assert learner.coach.deps.store.attempts("console:ana") == []
    assert (await learner.state())["quiz"]["index"] == 0


async def test_stale_foreign_and_forged_clicks_get_a_clear_note(coach, course: Course):
    ana, ben = Learner(coach, "ana"), Learner(coach, "ben")
    await ana.say("quiz 3")
    first = ana.heard[-1]
    q = course.lesson_quiz(3).questions[0]
    click = Action("answer", q.answer, question=q.id, session=first.session)
    # another learner clicking ana's button: refused, ana's quiz untouched
    note = (await ben.click(click))[-1]
    assert note.ephemeral and "someone else" in note.text
    assert coach.deps.store.attempts("console:ben") == []
    # ana answers it, then clicks the same button again
    await ana.click(click)
    again = (await ana.click(click))[-1]
    assert "already answered" in again.text
    assert len(coach.deps.store.attempts("console:ana")) == 1
    # ana stops the quiz; a click on it afterwards is not counted
    await ana.say("stop")
    q2 = course.lesson_quiz(3).questions[1]
    late = (await ana.click(Action("answer", "A", question=q2.id, session=first.session)))[-1]
    assert late.ephemeral and "over" in late.text
    forged = (await ana.click(Action("answer", "A", question="L9Q9", session="nope")))[-1]
    assert forged.ephemeral and "expired" in forged.text
    assert len(coach.deps.store.attempts("console:ana")) == 1


async def test_drill_brings_back_what_was_wrong_first(learner: Learner, deps: Deps, course: Course):
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    deps.clock = lambda: now
    quiz = course.lesson_quiz(1).questions
    await learner.say("quiz 1")
    for i, q in enumerate(quiz):
        await learner.say(wrong_letter(q) if i < 2 else q.answer)
    cards = deps.store.cards("console:ana")
    assert set(cards) == {q.id for q in quiz}
    assert cards[quiz[0].id]["due"] < cards[quiz[2].id]["due"]  # wrong answers are due sooner
    now += timedelta(minutes=5)
    await learner.say("drill")
    drill = (await learner.state())["quiz"]["questions"]
    unseen = [q.id for q in course.questions if q.id not in cards]
    assert drill == [quiz[0].id, quiz[1].id, *unseen[: deps.drill_size - 2]]
    assert learner.heard[-1].question == quiz[0].id


async def test_a_nudged_question_outside_the_open_quiz_counts(learner: Learner, deps: Deps, course: Course):
    """A question sent in its own session (as a weekly nudge does) is answered by a click."""
    q = course.question("L4Q2")
    session = deps.store.start_quiz_session("console:ana", "nudge", [q.id], deps.clock())
    reply = (await learner.click(Action("answer", q.answer, question=q.id, session=session)))[-1]
    assert q.feedback.correct in reply.text and "all done" in reply.text
    assert deps.store.quiz_session(session)["finished_at"]
    assert q.id in deps.store.cards("console:ana")


async def test_progress_shows_labs_quizzes_and_reviews(learner: Learner, course: Course):
    await learner.say("quiz 4")
    for q in course.lesson_quiz(4).questions:
        await learner.say(q.answer)
    await learner.say("lab 3")
    await learner.say("Underwriting and claims will change; we plan redeployment, not layoffs.")
    await learner.say("finish")
    text = (await learner.say("progress"))[-1].text
    assert "Lesson 4 Quiz: best 4 of 4" in text
    score = round(learner.coach.deps.store.lab_runs("console:ana")[-1]["score"])
    assert "Lab 3" in text and f"best {score}%" in text
    assert "27 question(s) never seen" in text
