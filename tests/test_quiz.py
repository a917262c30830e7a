"""Quizzes, the module test and the spaced-repetition drill, driven as a learner would."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.messages import Action
from flows.deps import Deps
from knowledge.loader import Course
from tests.conftest import Learner, coach_cli, shown_letter


def wrong_letter(question) -> str:
    """A wrong option's id (what a button carries); `Learner.letter` turns it into the typed letter."""
    return next(letter for letter in "ABCD" if letter != question.answer)


def replay(script: list[dict], tmp_path: Path, env: dict[str, str]) -> list[dict]:
    path = tmp_path / "script.jsonl"
    path.write_text("\n".join(json.dumps(turn) for turn in script) + "\n", encoding="utf-8")
    done = coach_cli("replay", str(path), "--json", env=env)
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
                option = q.answer if right else wrong_letter(q)
                # half typed (the letter this learner was shown), half clicked (the button carries
                # the option): both ways count the same
                if len(script) % 2:
                    script.append({"user": user, "text": shown_letter(f"console:{user}", q, option).lower()})
                else:
                    script.append({"user": user, "action": {"kind": "answer", "value": option}})
    out = replay(script, tmp_path, coach_env)
    feedback = [r for r in out if r["kind"] == "feedback"]
    assert len(feedback) == 2 * 31
    asked = {q.id for _, quiz in quizzes for q in quiz.questions}
    assert len(asked) == 31
    assert {r["question"] for r in feedback} == asked
    test_questions = {q.id for q in course.module_test.questions}
    for record in feedback:
        q = course.question(record["question"])
        expected = q.feedback.correct if record["user"] == "right" else q.feedback.incorrect
        if q.id in test_questions:  # the module test grades at its end: an answer is only recorded
            assert (
                "Recorded" in record["reply"] and "✅" not in record["reply"] and "❌" not in record["reply"]
            )
            assert q.correct_text not in record["reply"] and expected not in record["reply"]
        else:
            assert expected in record["reply"]
    finals = [r["reply"] for r in out if "done:" in r["reply"]]
    assert len(finals) == 10
    for _, quiz in quizzes:
        n = len(quiz.questions)
        assert any(f"{quiz.title} done: {n} of {n} (100%)" in f for f in finals)
        assert any(f"{quiz.title} done: 0 of {n} (0%)" in f for f in finals)
    test_finals = [f for f in finals if course.module_test.title in f]
    assert "You passed" in test_finals[0] and "did not pass" in test_finals[1]
    assert "What you missed" not in test_finals[0]
    for q in course.module_test.questions:  # the review at the end: each miss, its answer by text
        assert q.feedback.incorrect in test_finals[1] and f"The answer: *{q.correct_text}*" in test_finals[1]


@pytest.mark.parametrize(("right", "passed"), [(12, True), (11, False)])
async def test_module_test_pass_mark_is_80_percent(
    learner: Learner, course: Course, right: int, passed: bool
):
    await learner.say("module test")
    for i, q in enumerate(course.module_test.questions):
        await learner.say(learner.letter(q) if i < right else learner.letter(q, wrong_letter(q)))
    final = learner.heard[-1].text
    assert f"{right} of 15" in final
    assert ("You passed" in final) is passed
    session = learner.coach.deps.store.quiz_sessions("console:ana")[-1]
    assert session["passed"] == int(passed) and session["correct"] == right


async def test_a_letter_after_the_quiz_ended_is_told_no_question_is_open(learner: Learner, course: Course):
    await learner.say("quiz 1")
    for q in course.lesson_quiz(1).questions:
        await learner.say(learner.letter(q))
    sessions = learner.coach.deps.store.quiz_sessions("console:ana")
    reply = (await learner.say("C"))[-1]
    assert "No quiz question is open" in reply.text and not reply.citations  # not a Q&A answer
    assert learner.coach.deps.store.quiz_sessions("console:ana") == sessions  # nothing was scored
    for blank in ("\u200b", "\u2800", "\u3164 \u200d"):  # zero-width, braille blank, Hangul filler
        assert not (await learner.say(blank))[-1].citations  # text that shows nothing is no question


async def test_answers_by_letter_number_and_option_text(learner: Learner, course: Course):
    quiz = course.lesson_quiz(2)
    await learner.say("quiz lesson 2")
    q1, q2, q3, q4 = quiz.questions
    await learner.say(f"({learner.letter(q1).lower()})")
    await learner.say(str("ABCD".index(learner.letter(q2)) + 1))
    await learner.say(q3.correct_text.lower())
    await learner.say(f"option {learner.letter(q4)}")
    assert "4 of 4" in learner.heard[-1].text
    attempts = learner.coach.deps.store.attempts("console:ana")
    assert [a["correct"] for a in attempts] == [1, 1, 1, 1]
    assert [a["chosen"] for a in attempts] == [
        q.correct_text for q in quiz.questions
    ]  # the option, not a letter


async def test_options_are_shown_in_each_learners_own_stable_order(coach, course: Course):
    q = course.lesson_quiz(1).questions[0]
    orders = set()
    for name in ("ana", "ben", "chloe", "dev", "eve", "femi"):
        learner = Learner(coach, name)
        first = (await learner.say("quiz 1"))[-1]
        await learner.say("stop")
        again = (await learner.say("quiz 1"))[-1]
        listed = [line for line in first.text.splitlines() if line.startswith("*") and ".* " in line]
        assert listed == [line for line in again.text.splitlines() if line.startswith("*") and ".* " in line]
        assert sorted(c.action.value for c in first.choices) == ["A", "B", "C", "D"]  # buttons carry options
        orders.add(tuple(listed))
        click = next(c.action for c in again.choices if c.action.value == q.answer)
        reply = (await learner.click(click))[0]
        assert q.feedback.correct in reply.text
    assert len(orders) > 1  # not always the file's order


def test_a_learner_who_knows_nothing_cannot_pass_by_guessing(tmp_path: Path, coach_env):
    """`coach eval quiz` drives every guesser through the real flow (the replay driver)."""
    done = coach_cli("eval", "quiz", "--json", "--learners", "2", env=coach_env)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    scores = {g["guesser"]: g for g in figures["guessers"]}
    assert scores["longest option"]["asked"] == 2 * 31
    assert scores["longest option"]["best_learner"] <= 0.4
    for letter in "ABCD":
        assert scores[f"always {letter}"]["best_learner"] <= 0.3
    # retaking every quiz with the letters the first attempt's feedback showed right
    copier = scores["copy last attempt"]
    assert copier["asked"] == 2 * 31 and copier["best_learner"] <= 0.5
    # asking the coach each question first, then picking the option its answer holds (81% before the
    # coach held such questions back until the quiz question is answered)
    asker = scores["ask the coach"]
    assert asker["asked"] == 2 * 31 and asker["best_learner"] <= 0.5
    assert all(g["passed_module_test"] == 0 for g in figures["guessers"])


async def test_anything_else_gets_a_reminder_and_the_question_again(learner: Learner, course: Course):
    await learner.say("quiz 1")
    reply = (await learner.say("I have no idea, maybe the second-to-last?"))[-1]
    q = course.lesson_quiz(1).questions[0]
    assert "Answer with *A*, *B*, *C* or *D*" in reply.text
    assert q.stem in reply.text and reply.kind == "question"
    assert learner.coach.deps.store.attempts("console:ana") == []
    assert (await learner.state())["quiz"]["index"] == 0


async def test_a_question_mid_quiz_is_answered_and_the_quiz_resumes(learner: Learner, course: Course):
    await learner.say("quiz 1")
    replies = await learner.say("What are the dimensions of AI readiness?")
    answer, back = replies[-2], replies[-1]
    assert answer.citations and "Governance & Ethics" in answer.text
    q = course.lesson_quiz(1).questions[0]
    assert back.kind == "question" and q.stem in back.text
    assert (await learner.state())["quiz"]["index"] == 0
    await learner.say(q.answer)
    assert (await learner.state())["quiz"]["index"] == 1
    assert len(learner.coach.deps.store.attempts("console:ana")) == 1


async def test_a_question_that_would_answer_the_open_one_waits_for_it(learner: Learner, course: Course):
    """Asking the open question in other words (or what its passage says) is no way around the quiz:
    the coach holds the question back, and answers it once the quiz question is answered."""
    await learner.say("quiz 1")
    q = course.lesson_quiz(1).questions[0]  # McKinsey's 8%
    asked = "what percentage of organizations captured meaningful value from AI at scale?"
    held, back = await learner.say(asked)
    assert "right after you've answered" in held.text and not held.citations and "8%" not in held.text
    assert back.kind == "question" and q.stem in back.text
    assert (await learner.state())["quiz"]["index"] == 0
    assert learner.coach.deps.store.read("SELECT id FROM answers") == []  # nothing logged while held
    feedback, answer, following = (await learner.say("B"))[-3:]
    assert feedback.kind == "feedback" and answer.citations and "8%" in answer.text
    assert following.kind == "question" and course.lesson_quiz(1).questions[1].stem in following.text
    state = await learner.state()
    assert state["quiz"]["index"] == 1 and "held" not in state["quiz"]


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
        await learner.say(learner.letter(q, wrong_letter(q)) if i < 2 else learner.letter(q))
    cards = deps.store.cards("console:ana")
    assert set(cards) == {q.id for q in quiz}
    assert cards[quiz[0].id]["due"] < cards[quiz[2].id]["due"]  # wrong answers are due sooner
    now += timedelta(minutes=5)
    await learner.say("drill")
    drill = (await learner.state())["quiz"]["questions"]
    lesson_2 = [q.id for q in course.lesson_quiz(2).questions]
    assert drill == [quiz[0].id, quiz[1].id, *lesson_2[: deps.drill_size - 2]]
    assert learner.heard[-1].question == quiz[0].id


async def test_a_missed_question_is_the_first_drill_question_right_after_the_quiz(
    learner: Learner, deps: Deps, course: Course
):
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    deps.clock = lambda: now  # the same minute: the missed card is not even due yet
    quiz = course.lesson_quiz(3).questions
    await learner.say("quiz 3")
    for i, q in enumerate(quiz):
        await learner.say(learner.letter(q, wrong_letter(q)) if i == 2 else learner.letter(q))
    assert "drill* — try it now" in learner.heard[-1].text
    progress = (await learner.say("progress"))[-1].text
    assert "1 due now" in progress and "next review in 10 minutes" in progress
    first = (await learner.say("drill"))[-1]
    assert first.question == quiz[2].id and quiz[2].stem in first.text
    # put right in the drill, it no longer jumps the queue
    await learner.say(learner.letter(quiz[2]))
    await learner.say("stop")
    await learner.say("drill")
    assert (await learner.state())["quiz"]["questions"][0] != quiz[2].id


async def test_the_drill_never_shows_a_module_test_question_before_the_learner_met_it(
    learner: Learner, deps: Deps, course: Course
):
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    deps.clock = lambda: now
    met: set[int] = set()  # lessons whose quiz questions the learner has seen
    shown: list[str] = []
    for _ in range(5):  # 25 drill questions, all answered right, from a blank record
        await learner.say("drill")
        for qid in (await learner.state())["quiz"]["questions"]:
            q = course.question(qid)
            if qid.startswith("T"):
                assert q.lesson in met, f"{qid} (lesson {q.lesson}) shown before that lesson's quiz"
            else:
                met.add(q.lesson)
            shown.append(qid)
            await learner.say(learner.letter(q))
    lesson_order = [q.id for n in range(1, 5) for q in course.lesson_quiz(n).questions]
    assert shown[:16] == lesson_order  # unseen lesson-quiz questions come in lesson order
    assert any(q.startswith("T") for q in shown[16:])


async def test_taking_the_module_test_makes_its_questions_drillable(
    learner: Learner, deps: Deps, course: Course
):
    from flows.drill import drill_order

    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert not [q for q in drill_order(deps, "console:ana", now) if q.startswith("T")]
    await learner.say("module test")
    await learner.say("stop")  # met the test, answered nothing
    order = drill_order(deps, "console:ana", now)
    assert [q for q in order if q.startswith("T")] == [q.id for q in course.module_test.questions]


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
        await learner.say(learner.letter(q))
    await learner.say("lab 3")
    await learner.say("Underwriting and claims will change; we plan redeployment, not layoffs.")
    await learner.say("finish")
    text = (await learner.say("progress"))[-1].text
    assert "Lesson 4 Quiz: best 4 of 4" in text
    score = round(learner.coach.deps.store.lab_runs("console:ana")[-1]["score"])
    assert "Lab 3" in text and f"best {score}%" in text
    assert "27 question(s) never seen" in text
    assert "next review in 10 minutes" in text  # as people say it, not a date


@pytest.mark.parametrize(
    ("due", "said"),
    [
        (datetime(2026, 11, 25, 9, 0, 30), "now"),
        (datetime(2026, 11, 25, 9, 10), "in 10 minutes"),
        (datetime(2026, 11, 25, 9, 1), "in 1 minute"),
        (datetime(2026, 11, 25, 12, 0), "in 3 hours"),
        (datetime(2026, 11, 25, 19, 0), "this evening"),
        (datetime(2026, 11, 26, 0, 30), "tonight"),
        (datetime(2026, 11, 26, 8, 0), "tomorrow morning"),
        (datetime(2026, 11, 26, 14, 0), "tomorrow afternoon"),
        (datetime(2026, 11, 27, 9, 0), "on Friday morning"),
        (datetime(2026, 12, 9, 9, 0), "on 9 December"),
        (datetime(2027, 1, 9, 9, 0), "on 9 January 2027"),
    ],
)
def test_review_times_are_said_as_people_say_them(due: datetime, said: str):
    from flows.drill import when

    now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a Wednesday morning on the learner's clock
    assert when(due.replace(tzinfo=UTC), now) == said


def test_review_times_follow_the_learners_clock():
    from zoneinfo import ZoneInfo

    from flows.drill import when

    tokyo = datetime(2026, 11, 25, 21, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 12:00 UTC
    assert when(datetime(2026, 11, 25, 23, 30, tzinfo=UTC), tokyo) == "tomorrow morning"  # 08:30 there
