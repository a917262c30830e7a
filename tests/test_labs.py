"""Complete lab runs with the offline coach: strong learners reach a debrief that quotes their own
words at the level they reached; weak learners are probed about what they miss and score low; the
tutor's policy (corrections, term lists, questions, "I don't know", escalating help) holds."""

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
async def test_strong_learner_debriefs_high_with_own_words_and_levels(
    learner: Learner, course: Course, number: int
):
    lab = course.lab(number)
    await run(learner, number, STRONG[number])
    if (await learner.state()).get("mode") == "lab":  # not every point applied: the learner finishes
        await learner.say("finish")
    debrief = learner.heard[-1]
    assert debrief.kind == "debrief"
    runs = learner.coach.deps.store.lab_runs("console:ana")
    assert len(runs) == 1 and runs[0]["finished_at"]
    assert runs[0]["score"] >= 70, runs[0]["missed"]
    assert f"{round(runs[0]['score'])}%" in debrief.text
    # every point shown is quoted with the learner's own words, at its level, and cited
    for point_id, got in runs[0]["covered"].items():
        assert got["evidence"].rstrip("…") in " ".join(STRONG[number])
        assert f"{lab.point(point_id).area} — {got['level']}" in debrief.text
    assert {c.passage for c in debrief.citations} >= {lab.point(p).passage for p in runs[0]["covered"]}
    assert "Practise next" in debrief.text


@pytest.mark.parametrize("number", [1, 2, 3, 4])
async def test_weak_learner_is_probed_and_scores_low(learner: Learner, course: Course, number: int):
    lab = course.lab(number)
    await run(learner, number, WEAK[number])
    first_point = lab.rubric[0]
    probes = [r.text for r in learner.heard[1:]]
    # probed about a missing point (the most important, or the one a wrong claim was about), cited
    asked = [p for p in lab.rubric if any(p.probe in text or p.hint in text for text in probes)]
    assert asked
    assert any(c.passage == asked[0].passage for r in learner.heard[1:] for c in r.citations)
    # nothing handed out: the rubric's descriptions are not in the probes
    assert not any(p.description in text for p in lab.rubric for text in probes)
    await learner.say("finish")
    debrief = learner.heard[-1]
    assert debrief.kind == "debrief"
    assert learner.coach.deps.store.lab_runs("console:ana")[-1]["score"] <= 30
    assert "Not yet shown" in debrief.text and first_point.area in debrief.text


async def test_help_escalates_probe_hint_worked_example_then_parks(learner: Learner, course: Course):
    lab = course.lab(2)
    await learner.say("lab 2")
    first = await learner.say(
        "We need HIPAA privacy controls on the EHR feeds, because patient data is protected."
    )
    focus = lab.point((await learner.state())["lab"]["focus"])
    texts = [first[-1].text] + [(await learner.say("hint"))[-1].text for _ in range(3)]
    assert len(set(texts)) == 4  # never the same help twice
    assert focus.probe in texts[0]
    assert focus.hint in texts[1]
    assert focus.worked_example in texts[2]
    assert f"park {focus.area.lower()}" in texts[3].lower()
    assert (await learner.state())["lab"]["focus"] != focus.id  # parked: the coach moved on
    missing = (await learner.say("what am I missing?"))[-1]
    for p in lab.rubric:
        assert p.hint not in missing.text and p.probe not in missing.text


async def test_a_bare_list_of_terms_earns_nothing(learner: Learner):
    await learner.say("lab 1")
    reply = (await learner.say("data governance talent leadership culture MLOps KPIs"))[-1]
    assert "Pick one and tell me why it matters here" in reply.text
    assert (await learner.state())["lab"]["levels"] == {}


async def test_a_wrong_claim_is_corrected_first_with_its_citation_and_never_credited(
    learner: Learner, course: Course
):
    lab = course.lab(2)
    await learner.say("lab 2")
    reply = (await learner.say("Drift isn't a real issue in hospitals, so no monitoring is needed."))[-1]
    point = lab.point("monitoring-drift")
    wrong = next(m for m in point.misconceptions if m.id == "validated-forever")
    assert reply.text.startswith("Let me correct one thing first")
    assert wrong.correction in reply.text
    assert any(c.passage == wrong.passage for c in reply.citations)
    state = (await learner.state())["lab"]
    assert "monitoring-drift" not in state["levels"]
    assert state["focus"] == "monitoring-drift"  # the next question is about what was corrected


async def test_naming_a_point_is_not_a_misconception_of_it(learner: Learner):
    """A tentative "maybe privacy?" names the data-governance point and claims nothing wrong about it."""
    await learner.say("lab 2")
    reply = (await learner.say("maybe privacy?"))[-1]
    assert not reply.text.startswith("Let me correct one thing first")
    reply = (await learner.say("We can deal with privacy later, after launch."))[-1]
    assert reply.text.startswith("Let me correct one thing first")  # the belief itself still is


async def test_a_question_in_a_lab_is_answered_from_the_lessons_and_the_lab_resumes(learner: Learner):
    await learner.say("lab 2")
    reply = (await learner.say("What's a model card?"))[-1]
    assert "Back to the lab" in reply.text
    assert any(c.passage.startswith("lesson-2") for c in reply.citations)
    state = await learner.state()
    assert state["mode"] == "lab" and state["lab"]["levels"] == {}
    ladder = {k: state["lab"].get(k) for k in ("covered", "levels", "wrong", "rungs", "stuck")}
    for asked in (
        "wait, what does the course say about model cards?",
        "Sorry, quick question: what is drift?",
    ):
        reply = (await learner.say(asked))[-1]  # however it opens, a question is answered, not assessed
        assert "Back to the lab" in reply.text and reply.citations, asked
    after = (await learner.state())["lab"]
    assert {k: after.get(k) for k in ladder} == ladder  # and it costs no step of the help ladder


async def test_i_dont_know_gets_a_smaller_question_not_the_answer(learner: Learner, course: Course):
    lab = course.lab(3)
    await learner.say("lab 3")
    reply = (await learner.say("idk, just tell me"))[-1]
    assert "smaller" in reply.text and " or " in reply.text
    assert not any(p.worked_example in reply.text or p.description in reply.text for p in lab.rubric)


async def test_the_coach_follows_what_the_learner_raised(learner: Learner, course: Course):
    await learner.say("lab 1")
    reply = (await learner.say("Culture might be an issue too."))[-1]
    state = (await learner.state())["lab"]
    assert state["focus"] == "culture"  # not sent back to rubric order
    assert course.lab(1).point("culture").probe in reply.text


async def test_one_message_earns_at_most_two_points_and_the_lab_goes_on(learner: Learner):
    await learner.say("lab 1")
    await learner.say(" ".join(STRONG[1]))
    state = await learner.state()
    assert state["mode"] == "lab" and len(state["lab"]["levels"]) <= 2


@pytest.mark.parametrize(
    ("number", "turn", "points"),
    [
        (
            2,
            "Two things before go-live: a nurse or doctor confirms every sepsis flag and owns the final call; "
            "and we keep watching for drift after launch, since the patient mix and the coding habits will "
            "shift over time.",
            {"human-in-the-loop", "monitoring-drift"},
        ),
        (
            1,
            "Data first: the pilots ran on a hand-cleaned extract that never touched the live plant systems; "
            "then ownership: someone has to run each model in production after the pilot team leaves.",
            {"data-foundation", "operating-model"},
        ),
    ],
)
async def test_one_turn_of_several_claims_earns_each_point_it_shows(
    learner: Learner, number: int, turn: str, points: set[str]
):
    """Each clause that carries its own claim is read on its own (flows.assessment.claims)."""
    await learner.say(f"lab {number}")
    await learner.say(turn)
    assert set((await learner.state())["lab"]["levels"]) == points


@pytest.mark.parametrize("word", ["post", "node", "tops"])
async def test_one_word_answers_are_not_read_as_commands(learner: Learner, word: str):
    await learner.say("lab 1")
    await learner.say(word)
    assert (await learner.state())["mode"] == "lab"


async def test_a_paraphrase_with_a_typo_is_credited(learner: Learner):
    await learner.say("lab 1")
    await learner.say(
        "Were the pilots trained on a curated extract that never connected to the live plant databses?"
    )
    assert "data-foundation" in (await learner.state())["lab"]["levels"]


async def test_stopped_lab_resumes_with_its_levels(learner: Learner):
    await learner.say("lab 1")
    await learner.say("Were the pilots trained on siloed data that never reached production databases?")
    await learner.say("stop")
    assert (await learner.state())["mode"] == "idle"
    replies = await learner.say("lab 1")
    assert "Welcome back" in replies[-1].text
    assert "data-foundation" in (await learner.state())["lab"]["levels"]


async def test_lab_commands_outside_a_lab_are_explained(learner: Learner):
    for text in ("hint", "finish", "what am I missing"):
        replies = await learner.say(text)
        assert "not in a lab" in replies[-1].text


def test_claims_split_clauses_and_keep_short_list_items_whole():
    from flows.assessment import claims

    turn = "Fairness: check recall across age, sex and ethnicity groups; then publish a model card for the nurses."
    assert claims(turn) == [
        "Fairness, check recall across age, sex and ethnicity groups",
        "then publish a model card for the nurses.",
    ]
