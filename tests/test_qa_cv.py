"""The answer-or-decline decision as one function of its evidence, and its dev cross-validation."""

from __future__ import annotations

from flows.ask import Limits, answer, declined, drafted, retrieve, weigh
from flows.deps import Deps
from flows.qa_cv import Case, cross_validate, rates

QUESTIONS = [
    "What is a model card?",
    "my VP keeps grumbling that pilots never scale - what usually derails them?",
    "can I track model drift alerts in Grafana?",
    "How do I bake sourdough bread?",
]


async def test_the_evidence_decides_as_answer_does(deps: Deps):
    # the cross-validation scores the very decision answer() takes, not a copy of it
    for question in QUESTIONS:
        result = retrieve(deps, question, [])
        draft, _, _ = drafted(deps, question, result)
        case = Case(True, weigh(deps, question, [], result, draft) if draft.text else None)
        assert case.declined(Limits()) == declined(await answer(deps, question)), question


def test_rates_count_refusals_of_covered_and_declines_of_uncovered():
    figures = rates([True, False, False, True, True], [True, True, True, False, False])
    assert round(figures.wrongly_refused, 3) == 0.333 and figures.off_topic_declined == 1.0


def test_cross_validation_scores_only_held_aside_folds():
    # no evidence: always declined, whatever the thresholds: every covered case refused on its fold
    found = [Case(c, None) for c in [True] * 10 + [False] * 5]
    assert cross_validate(found, folds=5, repeats=1).wrongly_refused == 1.0


def test_the_probe_rewrites_are_fixed_and_keep_the_question():
    import random

    from flows.qa_probe import COMPANIES, ELSEWHERE, rewrites, typo

    question = "How did Spotify standardize feature storage?"
    first, again = rewrites(question, random.Random(7)), rewrites(question, random.Random(7))
    assert first == again and "spotify standardize feature storage" in first["lower"]
    swapped = typo(question, random.Random(1))
    assert sorted(swapped) == sorted(question) and swapped != question  # two letters swapped, none lost
    assert not any(COMPANIES.search(other) for other in ELSEWHERE)  # the stand-ins are never course names
