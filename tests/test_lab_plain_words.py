"""Learners who say the right thing in everyday words (issue: lab coaching credits ideas in plain words):
a half-there idea is credited and the coach asks for its depth, the lab's buttons can be said in the
learner's own words, and a misconception in plain words is corrected with the lesson's citation.
Through the whole coach graph with the offline brain."""

from __future__ import annotations

import pytest

from flows.router import parse_lab_action
from knowledge.loader import Course
from tests.conftest import Learner


@pytest.mark.parametrize(
    ("said", "action"),
    [
        ("hmm what else am I missing?", "missing"),
        ("What am I missing", "missing"),
        ("give me a hint", "hint"),
        ("I'm stuck", "hint"),
        ("no idea", "hint"),
        ("can we wrap up?", "finish"),
        ("I'm done", "finish"),
        ("ok that's all i've got", "finish"),
    ],
)
def test_natural_phrasings_of_the_lab_buttons(said: str, action: str):
    assert parse_lab_action(said) == {"name": action}


@pytest.mark.parametrize(
    "said",
    [
        "the missing piece is data ownership",
        "what's missing is a named owner for the model",
        "I'm done waiting for the vendor, we need our own monitoring",
        "they need a hint of transparency: show which vitals drove the score",
    ],
)
def test_answers_that_use_an_action_word_stay_answers(said: str):
    assert parse_lab_action(said) is None


async def test_what_else_am_i_missing_mid_lab_lists_the_open_areas(learner: Learner):
    await learner.say("lab 2")
    reply = (await learner.say("hmm what else am I missing?"))[-1]
    assert reply.text.startswith("You've shown 0 of 9 areas")
    assert (await learner.state())["lab"]["turns"] == 0  # an action, not an answer


async def test_what_am_i_missing_separates_untouched_areas_from_ones_to_deepen(learner: Learner):
    await learner.say("lab 2")
    await learner.say("Nobody owns the model after it goes live. Someone should be accountable.")
    reply = (await learner.say("what am I missing?"))[-1].text
    untouched, _, deeper = reply.partition("Worth taking deeper:")
    assert "Accountability and incidents" in deeper and "Accountability and incidents" not in untouched
    assert "Not yet touched" in untouched and "Data governance" in untouched


async def test_a_real_answer_mentioning_missing_is_assessed(learner: Learner):
    await learner.say("lab 2")
    reply = (await learner.say("the missing piece is data ownership"))[-1]
    assert not reply.text.startswith("You've shown")
    assert (await learner.state())["lab"]["turns"] == 1


async def test_stuck_gets_help_and_wrap_up_gets_the_debrief(learner: Learner):
    await learner.say("lab 3")
    helped = (await learner.say("I'm stuck"))[-1]
    assert "[1]" in helped.text and helped.citations
    done = (await learner.say("can we wrap up?"))[-1]
    assert done.kind == "debrief" and "Debrief · Lab 3" in done.text


async def test_a_half_there_idea_is_credited_and_its_depth_asked_for(learner: Learner):
    await learner.say("lab 2")
    first = (await learner.say("Nobody owns the model after it goes live. Someone should be accountable."))[
        -1
    ]
    second = (
        await learner.say("they should check it works equally well for older patients and other groups")
    )[-1]
    levels = (await learner.state())["lab"]["levels"]
    assert {"accountability-incidents", "bias-fairness"} <= set(levels)
    for reply in (first, second):
        assert "can't credit" not in reply.text and "?" in reply.text
    if levels["bias-fairness"] == "mentioned":
        assert "part of bias and fairness" in second.text and "Now the depth" in second.text


async def test_a_plain_worded_misconception_is_corrected_with_the_lesson(learner: Learner, course: Course):
    await learner.say("lab 2")
    reply = (await learner.say("they should retrain it every month no matter what"))[-1]
    assert "correct one thing" in reply.text and "[1]" in reply.text and reply.citations
    assert "calendar" in reply.text  # monitoring, not a fixed schedule, decides when to retrain
    wrong = (await learner.state())["lab"]["wrong"]
    assert [w["misconception"] for w in wrong] == ["retrain-constantly"]
    assert "monitoring-drift" not in (await learner.state())["lab"]["levels"]


async def test_a_terse_dismissal_is_a_claim_to_correct_not_a_list_of_terms(learner: Learner):
    await learner.say("lab 1")
    reply = (await learner.say("data quality doesn't really matter, a good model copes"))[-1]
    assert "correct one thing" in reply.text and "list of terms" not in reply.text and reply.citations


@pytest.mark.parametrize("text", ["lab 0", "lab -1", "quiz 0", "quiz -1"])
async def test_a_number_out_of_range_shows_the_menu(learner: Learner, text: str):
    """Not a Q&A refusal: "lab 0" is a lab command with a number the course lacks."""
    (reply,) = await learner.say(text)
    assert reply.text.startswith(("Which lab?", "Which quiz")), reply.text
    assert "don't cover" not in reply.text
