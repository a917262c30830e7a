"""Complete lab runs with the offline coach: strong learners reach a debrief with most points
covered; weak learners are probed about what they miss and score lower."""

from __future__ import annotations

import pytest

from knowledge.loader import Course
from tests.conftest import Learner

STRONG = {
    1: [
        "I'd start with the data: did the pilots run on curated sensor data that never connected to the "
        "production databases? Are there data pipelines from the plants, or are the data silos still there?",
        "Then talent: who built the pilots — outside data scientists, or people with domain expertise from the "
        "plants? And leadership: is the CEO sponsoring this with a real budget beyond the pilot?",
        "On the operating model, I'd ask who owns each model after the pilot and who runs it in production. "
        "Culture matters too: do plant staff trust the outputs, and is it safe to fail?",
        "Each pilot should be tied to a business outcome, like downtime avoided, so we can measure value. "
        "I'd set up a center of excellence to own shared standards and infrastructure.",
        "My prioritized recommendation: fix the data foundation first, then take predictive maintenance to "
        "production before the other two.",
    ],
    2: [
        "Patient data is the first issue: HIPAA privacy, who owns the EHR feeds, access control and lineage "
        "of the data. A clinician must review every flag and make the final decision, with an escalation path.",
        "The threshold is a trade-off: false negatives miss septic patients, false positives cause alert "
        "fatigue. We should test for bias across demographic subgroups.",
        "We need monitoring for drift with a dashboard and retraining, plus a model card documenting intended "
        "use and known limitations.",
        "Clinicians need to know why a patient was flagged, so explainability matters. Accountability: an "
        "incident response playbook and an audit log for regulators.",
        "Roll it out in silent mode at one hospital first, then gradually.",
    ],
    3: [
        "AI will change underwriting and claims processing the most, and the call center agents too. Some "
        "routine tasks disappear, so we should plan redeployment instead of layoffs.",
        "I'd build talent tiers: a few specialists, translators who bridge domain experts and data scientists, "
        "and AI literacy for everyone. Senior underwriters make great translators.",
        "Expect algorithm aversion: underwriters may distrust the model and override it. Start with champions "
        "and early adopters, and position it as augmentation, a copilot that makes them better.",
        "A reskilling roadmap: an academy with learning paths over the first two quarters. Communicate openly "
        "in town halls to lower fear, and build psychological safety.",
        "Change incentives and career paths so people who adopt AI get recognition and promotion.",
    ],
    4: [
        "The top risks: 14 countries with different data quality, a team of six people, and regulation. The "
        "pilot ran on curated, hand-crafted data, and that doesn't scale.",
        "We need MLOps: automated deployment pipelines, monitoring for drift and retraining. A shared platform "
        "with a feature store, a paved road for every country.",
        "Organise as hub and spoke: a central hub sets standards, regional teams adapt locally. We'll hire and "
        "train translators, and upskill dispatchers.",
        "Dispatchers keep an override, with guardrails and an audit trail for compliance with driver hours "
        "rules. Measure fuel cost savings and on-time delivery, not just accuracy.",
        "Roll out in waves, country by country, starting with a pilot region.",
    ],
}

WEAK = {
    1: [
        "I think they should use better AI tools and maybe try again with more effort.",
        "Not sure. More pilots?",
    ],
    2: ["Make sure the AI is good and accurate before using it.", "Test it a lot I guess."],
    3: ["AI is the future, everybody should just use it.", "Tell them it's important."],
    4: ["Buy a bigger server and copy the pilot everywhere.", "Work harder on it."],
}


async def run(learner: Learner, number: int, turns: list[str]) -> tuple[list, dict]:
    await learner.say(f"start lab {number}")
    states = []
    for text in turns:
        await learner.say(text)
        states.append(await learner.state())
        if states[-1]["mode"] != "lab":  # every point covered: the coach has debriefed
            break
    return states, await learner.state()


@pytest.mark.parametrize("number", [1, 2, 3, 4])
async def test_lab_opens_with_the_seed_opening_line(learner: Learner, course: Course, number: int):
    replies = await learner.say(f"lab {number}")
    lab = course.lab(number)
    assert lab.opening_line in replies[-1].text
    assert lab.scenario in replies[-1].text
    state = await learner.state()
    assert state["mode"] == "lab" and state["lab"]["id"] == lab.id


@pytest.mark.parametrize("number", [1, 2, 3, 4])
async def test_strong_learner_reaches_debrief_with_most_points(learner: Learner, course: Course, number: int):
    lab = course.lab(number)
    await run(learner, number, STRONG[number])
    state = await learner.state()
    if state.get("mode") == "lab":  # not every point covered: the learner asks for the debrief
        await learner.say("finish")
    debrief = learner.heard[-1]
    assert debrief.kind == "debrief"
    runs = learner.coach.deps.store.lab_runs("console:ana")
    assert len(runs) == 1 and runs[0]["finished_at"]
    assert runs[0]["score"] >= 75, runs[0]["missed"]
    assert f"{round(runs[0]['score'])}%" in debrief.text
    # every covered point is quoted with the learner's own words and cited
    for point_id, evidence in runs[0]["covered"].items():
        assert evidence in " ".join(STRONG[number])
        assert lab.point(point_id).area in debrief.text
    assert {c.passage for c in debrief.citations} >= {lab.point(p).passage for p in runs[0]["covered"]}
    assert "Practise next" in debrief.text


@pytest.mark.parametrize("number", [1, 2, 3, 4])
async def test_weak_learner_is_probed_and_scores_lower(learner: Learner, course: Course, number: int):
    lab = course.lab(number)
    await run(learner, number, WEAK[number])
    first_point = lab.rubric[0]
    probes = [r.text for r in learner.heard[1:]]
    # probed about the most important missing point, with the lesson passage behind it cited
    assert any(first_point.probe in text or first_point.hint in text for text in probes)
    assert any(c.passage == first_point.passage for r in learner.heard[1:] for c in r.citations)
    # nothing handed out: the rubric's descriptions are not in the probes
    assert not any(p.description in text for p in lab.rubric for text in probes)
    await learner.say("finish")
    debrief = learner.heard[-1]
    assert debrief.kind == "debrief"
    run_row = learner.coach.deps.store.lab_runs("console:ana")[-1]
    assert run_row["score"] <= 25
    assert "What you missed" in debrief.text
    assert first_point.area in debrief.text


async def test_hint_is_stronger_than_the_probe_and_missing_lists_areas_only(learner: Learner, course: Course):
    lab = course.lab(2)
    await learner.say("lab 2")
    await learner.say("We need HIPAA privacy controls on the EHR data.")
    focus = (await learner.state())["lab"]["focus"]
    point = lab.point(focus)
    hint = (await learner.say("hint"))[-1]
    assert point.hint in hint.text
    missing = (await learner.say("what am I missing?"))[-1]
    open_points = [p for p in lab.rubric if p.id != "data-governance"]
    for p in open_points:
        assert p.area in missing.text
        assert p.hint not in missing.text and p.probe not in missing.text
    assert "Data governance" in missing.text.split("Still open")[0]


async def test_coverage_tolerates_typos_plurals_and_word_order(learner: Learner):
    await learner.say("lab 1")
    await learner.say(
        "Check the quality of the data and the pipeline, and whether the leadrship is committed."
    )
    covered = (await learner.state())["lab"]["covered"]
    assert {"data-foundation", "leadership"} <= set(covered)


async def test_stopped_lab_resumes_with_its_coverage(learner: Learner):
    await learner.say("lab 1")
    await learner.say("Were the pilots trained on siloed data that never reached production databases?")
    await learner.say("stop")
    assert (await learner.state())["mode"] == "idle"
    replies = await learner.say("lab 1")
    assert "Welcome back" in replies[-1].text
    assert "data-foundation" in (await learner.state())["lab"]["covered"]


async def test_lab_commands_outside_a_lab_are_explained(learner: Learner):
    for text in ("hint", "finish", "what am I missing"):
        replies = await learner.say(text)
        assert "not in a lab" in replies[-1].text


async def test_a_full_coverage_turn_ends_in_debrief_automatically(learner: Learner):
    await learner.say("lab 1")
    await learner.say(" ".join(STRONG[1]))  # one long answer that covers every point
    assert learner.heard[-1].kind == "debrief"
    assert "100% (9 of 9 points)" in learner.heard[-1].text
    assert (await learner.state())["mode"] == "idle"
