"""What a question asks that the lessons lack: a year, an attribute of a name, the thing "what are
the X of…" asks; and what a learner quotes, searched word for word."""

from __future__ import annotations

from flows.ask import DECLINE, answer, asked_of, clause_verbs, retrieve, searchable, unsaid_years
from flows.attribute import owned_heads
from knowledge.retrieval import hyphenated, quoted_runs


def test_a_year_the_reply_never_gives_is_unsaid():
    reply = "Gartner estimated in 2022 that 85% of AI projects fail to move from pilot to production."
    assert unsaid_years("what did Gartner estimate for 2031?", reply) == ["2031"]
    assert unsaid_years("what did Gartner estimate in 2022?", reply) == []


def test_the_attribute_asked_of_a_name_is_the_head_of_its_phrase():
    assert owned_heads("what is Walmart's store parking policy?", {"walmart"}) == ["policy"]
    assert owned_heads("who were the founders of the Uber team?", {"uber"}) == ["founders"]
    # "lesson" says nothing of what is asked
    assert owned_heads("what is the real lesson of the Amazon story?", {"amazon"}) == []
    assert owned_heads("what is Walmart's store parking policy?", set()) == []


def test_what_are_the_x_of_asks_x():
    assert asked_of("What are the penalties under GDPR for a breach?") == ["penalties"]
    assert asked_of("how do penalties work?") == []


def test_a_noun_after_a_determiner_ends_no_clause():
    assert "sector" not in clause_verbs("what did the survey say about AI in the retail sector?")
    assert "care" in clause_verbs("why should someone doing AI governance care?")


async def test_a_year_or_an_attribute_the_lessons_lack_is_named(deps):
    for question in (
        "What did Gartner estimate about AI pilots failing in 2031?",
        "What's Walmart's Data Café uptime?",
    ):
        reply = await answer(deps, question, [])
        assert not reply.citations or reply.text.startswith(DECLINE), (question, reply.text)


def test_a_quote_is_searched_word_for_word(deps):
    assert quoted_runs("she asks 'what AI should we buy?'")[0] == '"what ai should we buy"'
    assert quoted_runs("stuck in 'pilot purgatory'") == ['"pilot purgatory"']  # two words: a phrase whole
    assert quoted_runs("what is 'mesh'") == []  # one word: the search has it already
    found = retrieve(deps, "what does the course mean by 'operating AI'?", [])
    assert found.hits[0].passage == "lesson-4#inflection-point"
    found = retrieve(deps, "my director opens with 'what AI should we buy?' - what should she ask?", [])
    assert "lesson-1#strategic-imperative" in [h.passage for h in found.hits[:3]]


def test_asking_words_are_how_one_asks_not_what(deps):
    # "ask" matched only the heading "Frequently Asked Questions", weighed four times a text's word
    assert searchable(deps, "asking for my director: what should we ask about data mesh?") == "data mesh"


def test_a_hyphenated_compound_is_searched_as_a_phrase(deps):
    # "over-engineering" is "over" (a stop word) and "engineering" (everywhere) word by word
    assert hyphenated("know-it-all vs learn-it-all?") == ["know it all", "learn it all"]
    found = retrieve(deps, "isn't over-engineering the real risk for a platform team?", [])
    assert found.hits[0].passage == "reading-pilot-to-platform#common-platform-mistakes"


def test_the_lesson_a_question_names_is_where_to_look_not_what_to_find(deps):
    # "1" of "lesson 1" matched every "Stage 1" and "Phase 1"
    assert searchable(deps, "what does lesson 1 say about data mesh?") == "data mesh"


def test_everyday_abbreviations_search_the_words_the_course_writes_out(deps):
    assert "technology" in searchable(deps, "are tech limits why pilots stall?").split()
    assert "operations" in searchable(deps, "what should ops own?").split()


def test_who_decides_asks_for_decision_rights(deps):
    # "decide" is an asking word ("help me decide"), never searched; after "who" it is the topic
    assert "decision" in searchable(deps, "in the paradox reading, who gets to decide what?").split()
    assert "decision" not in searchable(deps, "help me decide: data lake or mesh?").split()
