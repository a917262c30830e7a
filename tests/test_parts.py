"""A message asking several things: each question the lessons cover answered with its own cited
unit, the ones they don't named plainly, an off-topic message declined whole, and a question with
an aside or a fragment kept one question."""

from __future__ import annotations

from bot.messages import Citation, Reply
from flows.ask import answer, declined, narrows
from flows.parts import dated, joined
from flows.question import separate_questions


async def test_a_covered_part_is_answered_and_the_uncovered_one_named(deps):
    question = "what are the four layers of AI governance, and what does Workday charge per seat?"
    reply = await answer(deps, question)
    assert not declined(reply)
    assert "Data Governance" in reply.text and "Risk & Compliance" in reply.text
    assert reply.citations and all(c.passage.startswith("lesson-2#") for c in reply.citations)
    # the answer first, in the asker's order; the part not covered named in one plain sentence, last
    assert reply.text.index("Data Governance") < reply.text.index("don't cover")
    assert reply.text.rstrip().endswith("“what does Workday charge per seat?”")


async def test_an_off_topic_message_of_two_questions_is_declined_whole(deps):
    for question in (
        "how do I reset my VPN password, and who approves my expense reports?",
        # the first question names what the course never mentions: the second is about it too
        "What is a confusion matrix and what threshold means drift?",
    ):
        reply = await answer(deps, question)
        assert declined(reply) and reply.citations == [], question
        assert "closest material" in reply.text


async def test_a_question_with_an_aside_or_a_fragment_is_one_question(deps):
    aside = "what is model drift? asking because my team lead keeps mentioning it"
    assert separate_questions(aside) == [aside]
    reply = await answer(deps, aside)
    assert reply.citations and "don't cover" not in reply.text
    # a fragment after a question narrows it ("…? number of models?"): it asks nothing of its own
    assert narrows("number of models?") and narrows("thresholds?")
    assert not narrows("how many teams use it?") and not narrows("is it paid?")


def test_parts_joined_number_each_passage_once_and_drop_repeats():
    first = Reply(
        "A says x. [1]\n\nB says y. [2]", citations=[Citation(1, "A", "a#1"), Citation(2, "B", "b#1")]
    )
    second = Reply("B says y. [1]", citations=[Citation(1, "B", "b#1")])
    third = Reply("C says z. [1]", citations=[Citation(1, "C", "c#1")])
    reply = joined([first, second, third], ["how much did it cost?"])
    assert [c.passage for c in reply.citations] == ["a#1", "b#1", "c#1"]
    assert reply.text.count("B says y") == 1  # an answer saying nothing new is left out
    assert "C says z. [3]" in reply.text
    assert reply.text.endswith("The lessons don't cover this: “how much did it cost?”")


def test_a_year_must_stand_by_what_it_dates():
    assert dated("Michelangelo launched in 2017 at Uber. [1]", {"launch"})
    assert not dated(
        "After launch, deployment time dropped from months to weeks, and by 2019 it ran.", {"launch"}
    )
    assert dated("It was articulated in 2019.", set())


async def test_a_message_of_many_questions_is_answered_a_few_at_a_time(deps, monkeypatch):
    """Each part is a search and, with Claude, a call while the conversation waits: a repeated
    question is answered once, and past MAX_PARTS the learner is asked to send the rest again."""
    import flows.ask as ask

    calls = []
    real = ask.planned
    monkeypatch.setattr(ask, "planned", lambda *a, **kw: calls.append(a[1]) or real(*a, **kw))
    repeated = "what is a feature store and what does Workday charge per seat? " * 8
    reply = await answer(deps, repeated)
    assert len(calls) <= 3 and reply.text.count("don't cover") == 1  # the message, then each part once
    many = (
        "what is a feature store and what does Workday charge per seat? what is model drift and who is "
        "the CEO of Nvidia? what is MLOps and what is the price of Databricks?"
    )
    calls.clear()
    reply = await answer(deps, many)
    assert len(calls) <= 1 + ask.MAX_PARTS
    assert reply.text.rstrip().endswith(ask.LATER_PARTS.format(ask.MAX_PARTS))
