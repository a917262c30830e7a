"""The learner review of lab assessment (2026-12-08), its transcripts as dev-side tests: confident
errors are corrected and listed in the debrief, the strongest evidence for a point is what counts,
and one word is not a claim."""

from __future__ import annotations

import pytest

from flows.assessment import Assessor
from knowledge.loader import Course
from tests.conftest import Learner


@pytest.fixture(scope="module")
def assessor(course: Course) -> Assessor:
    return Assessor(course.labs)


async def wrong_then_debrief(learner: Learner, course: Course, number: int, turn: str, point: str):
    lab = course.lab(number)
    await learner.say(f"lab {number}")
    reply = (await learner.say(turn))[-1]
    assert reply.text.startswith("Let me correct one thing first")
    assert "Let's bring it back to the case" not in reply.text
    state = (await learner.state())["lab"]
    assert [w["point"] for w in state["wrong"]] == [point] and point not in state["levels"]
    debrief = (await learner.say("finish"))[-1]
    assert "*Misconceptions to revisit*" in debrief.text
    found = lab.misconception(state["wrong"][0]["misconception"])
    assert found is not None and found[1].correction in debrief.text
    return found[1]


async def test_governance_dismissed_as_paperwork_is_a_misconception(learner: Learner, course: Course):
    turn = "Governance is just paperwork, the clinicians will know what to do."
    wrong = await wrong_then_debrief(learner, course, 2, turn, "accountability-incidents")
    assert "not a compliance checkbox" in wrong.correction  # Lesson 2's own words


async def test_letting_the_model_act_without_human_review_is_a_misconception(
    learner: Learner, course: Course
):
    turn = "The model is 95% accurate so we can let it auto-page the ICU without a nurse reviewing it."
    await wrong_then_debrief(learner, course, 2, turn, "human-in-the-loop")


@pytest.mark.parametrize(
    "turn",
    [
        "Without lineage, how would you trace a missed sepsis case back to a bad EHR feed?",
        "No treatment starts without a clinician signing off on the flag.",
        "Governance isn't just paperwork, it decides who reviews a flag and who answers for a miss.",
    ],
)
def test_arguing_for_a_practice_with_a_negation_is_no_misconception(
    assessor: Assessor, course: Course, turn: str
):
    assert assessor.assess(course.lab(2), turn).wrong == []


def test_one_word_names_a_topic_and_earns_nothing(assessor: Assessor, course: Course):
    found = assessor.assess(course.lab(3), "training")
    assert found.credits == [] and found.wrong == [] and "reskilling-roadmap" in found.touched


async def test_the_strongest_evidence_for_a_point_wins_over_a_passing_mention(
    learner: Learner, course: Course
):
    await learner.say("lab 4")
    await learner.say("Drivers get practitioner training on when to override the route.")
    first = (await learner.state())["lab"]["covered"].get("autonomous-governance")
    assert first is not None  # the passing mention: "override" in a sentence about training
    real = (
        "For hazardous cargo a human reviews the route before dispatch, with an escalation path and an "
        "audit log."
    )
    reply = (await learner.say(real))[-1]
    assert "already shown" not in reply.text and "governance at scale" in reply.text
    state = (await learner.state())["lab"]
    assert state["covered"]["autonomous-governance"] == real and first.startswith("Drivers")
    debrief = (await learner.say("finish"))[-1]
    assert f"Governance at scale — applied: “{real}”" in debrief.text


def test_clear_claims_in_their_own_clauses_are_not_crowded_out_by_a_passing_mention(
    assessor: Assessor, course: Course
):
    """Lab 4's strong first turn: MLOps and the organisational model, each in a clause of its own,
    are the two credits; the sentence about training drivers does not take one of the two places."""
    turn = (
        "I'd set up an MLOps platform with CI/CD, automated rollback and a feature store, plus continuous "
        "monitoring, and organise as hub and spoke with regional teams. Drivers get practitioner training "
        "on when to override the route."
    )
    found = assessor.assess(course.lab(4), turn)
    assert {c.point for c in found.credits} == {"mlops", "org-model"}
    assert all(c.evidence in turn or c.evidence.rstrip(".") in turn for c in found.credits)
