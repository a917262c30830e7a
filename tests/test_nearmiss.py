"""Near-misses: the course's names and words asking what the text never says are answered in part,
naming what is not covered; the covered questions beside them are still answered in full."""

from __future__ import annotations

import pytest

from flows.ask import DECLINE, answer
from flows.nearmiss import (
    asked_which,
    counted_by,
    figures,
    noun_phrase,
    owned_phrases,
    unbound_attributes,
    uncounted,
    undated,
    unfollowed,
    unstated_method,
)
from knowledge.text import stem_words

SQUADS = "DBS removed 16 layers of approval processes, restructured 33,000 employees into agile squads."
WALMART = "Walmart processes 2.5 petabytes of customer data an hour.\nForecast accuracy matters in retail."


def test_a_figure_counts_the_noun_phrase_it_opens():
    assert counted_by(SQUADS, set(stem_words("employees")))
    assert not counted_by(SQUADS, set(stem_words("agile squads")))
    assert counted_by("By 2019, thousands of machine learning models ran on it.", set(stem_words("models")))
    assert counted_by("• *Models deployed* — 24", set(stem_words("models")))  # a label and its value
    assert uncounted("how many agile squads were formed?", SQUADS) == ["how many agile squads"]
    assert uncounted("how many layers of approval did they remove?", SQUADS) == []


def test_the_attribute_of_a_name_must_be_in_a_paragraph_naming_it():
    assert noun_phrase("forecast accuracy improve") == "forecast accuracy"  # a verb ends it
    assert noun_phrase("ML platform - name") == "ml platform"
    asked = "how much did Walmart's forecast accuracy improve?"
    assert unbound_attributes(asked, {"walmart"}, WALMART) == ["Walmart's forecast accuracy"]
    assert unbound_attributes("what is Walmart's customer data?", {"walmart"}, WALMART) == []
    # a name the reply never says owns nothing it gives
    assert unbound_attributes("what is Netflix's ML platform called?", {"netflix"}, WALMART)
    # "the name of AT&T's program" asks of the program, not of AT&T
    owned = owned_phrases("what's the name of AT&T's program?")
    assert ("AT&T", "program") in owned and ("AT&T", "name") not in owned


def test_a_reply_with_only_numbers_naming_parts_gives_no_figure():
    assert figures("*Stage 3 (Operating)*: Regular third-party audits.") == []
    assert figures("AT&T launched a $1 billion reskilling initiative in 2016 [1]")[0] == "$1"


def test_a_year_must_date_what_is_asked():
    reply = 'Amazon centered on "working backwards". By 2022, Amazon reported 1,000 models.'
    assert undated(reply, ["adopt", "working", "backwards"])
    assert not undated("JPMorgan launched its COE in 2017.", ["launch", "coe"])


def test_how_something_is_done_needs_a_unit_saying_the_doing():
    assert unstated_method("how is F1 calculated?", set(stem_words("model metrics such as F1"))) == [
        "how F1 is calculated"
    ]
    stated = set(stem_words("ROI is calculated as gain over cost"))
    assert unstated_method("how is ROI calculated?", stated) == []
    assert unstated_method("how is a pilot different from a platform?", set()) == []


def test_what_followed_an_event_needs_a_sequel():
    case = "In July 2018, the ACLU ran Rekognition against Congress and 28 members were matched."
    assert unfollowed("did Amazon change course after the ACLU test?", case) == [
        "what happened after the ACLU test"
    ]
    assert unfollowed("what did Uber see after the launch?", "After launch, deployment time dropped.") == []
    assert unfollowed("what did the ACLU test show?", case) == []


def test_which_x_have_names_none_when_the_course_never_uses_x():
    asked = "which hospital systems have adopted the governance stack?"
    assert asked_which(asked, ["hospital"]) == ["which hospital systems"]
    assert asked_which("which companies have cultural architectures?", []) == []


@pytest.mark.parametrize(
    ("question", "gap"),
    [
        ("how many agile squads did DBS create?", "how many agile squads"),
        ("by how much did Walmart's forecast accuracy rise?", "Walmart's forecast accuracy"),
        ("how is AUC calculated?", "how AUC is calculated"),
    ],
)
async def test_a_near_miss_is_answered_in_part_naming_the_gap(deps, question, gap):
    reply = await answer(deps, question, [])
    assert reply.text.startswith(DECLINE) and gap in reply.text.split(" — ")[0], reply.text
    assert reply.citations  # what the lessons do say, cited


@pytest.mark.parametrize(
    "question",
    [
        "How many members of Congress did Rekognition wrongly match?",
        "how many layers of approval did DBS remove?",
        "when did JPMorgan launch its AI Center of Excellence?",
    ],
)
async def test_the_covered_neighbours_are_answered_in_full(deps, question):
    reply = await answer(deps, question, [])
    assert reply.citations and not reply.text.startswith(DECLINE), reply.text
