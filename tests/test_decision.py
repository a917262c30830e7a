"""The learned answer-or-decline decision: reproducible from dev, and the decision answer() takes."""

from __future__ import annotations

import json

import pytest

from flows import ask
from flows.ask import answer, declined, drafted, retrieve, weigh
from flows.decision import MODEL_PATH, Model, shipped_model
from flows.deps import Deps
from flows.qa_fit import Sample, declines, fit, leave_one_file_out, samples, write_model

QUESTIONS = [
    "What is a model card?",
    "my VP keeps grumbling that pilots never scale - what usually derails them?",
    "what is MLOps? (asking for my director, she has a board deck on friday)",
    "can I track model drift alerts in Grafana?",
    "How do I bake sourdough bread?",
    "How do I submit my expense report?",
]


def always(answers: bool) -> Model:
    """A model whose verdict is fixed: P(covered) is 1 (or 0) whatever the signals."""
    names = shipped_model().names
    zero = (0.0,) * len(names)
    return Model(names, zero, (1.0,) * len(names), zero, 50.0 if answers else -50.0, 0.5)


def test_the_fit_reproduces_the_shipped_coefficients(deps: Deps, tmp_path):
    # `coach eval qa --fit` on today's dev files writes exactly knowledge/decision.json
    written = write_model(deps, tmp_path / "decision.json")
    assert written.to_json() == json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert shipped_model() == Model.from_json(written.to_json())


def test_the_fit_is_deterministic_and_balances_the_two_errors():
    # two signals: one tells covered from not, the other is noise; both classes weigh the same
    found = [
        Sample(i % 3 != 0, False, {"telling": float(i % 3 != 0) + 0.1 * (i % 5), "noise": i % 7})
        for i in range(60)
    ]
    first, again = fit(found), fit(found)
    assert first == again
    assert abs(first.weights[0]) > 5 * abs(first.weights[1])
    assert all(declines(first, s) != s.covered for s in found)


async def test_the_shipped_model_decides_what_answer_does(deps: Deps, monkeypatch: pytest.MonkeyPatch):
    # the leave-one-file-out figures score the very decision answer() takes
    model = shipped_model()
    for question in QUESTIONS:
        result = retrieve(deps, question, [])
        draft, _, _ = drafted(deps, question, result)
        evidence = weigh(deps, question, [], result, draft)
        read = evidence.reading()
        sample = Sample(
            True, read.fails(), ask.decision_inputs(deps, question, evidence, result, draft), read.vetoes()
        )
        assert declines(model, sample) == declined(await answer(deps, question)), question


async def test_answer_follows_the_learned_verdict_but_not_over_a_veto(
    deps: Deps, monkeypatch: pytest.MonkeyPatch
):
    covered, off_topic = "What is a model card?", "How do I submit my expense report?"
    monkeypatch.setattr(ask, "shipped_model", lambda: always(False))
    assert declined(await answer(deps, covered))
    monkeypatch.setattr(ask, "shipped_model", lambda: always(True))
    reply = await answer(deps, off_topic)
    assert reply.citations and not declined(reply)
    # a figure the lessons do not give is the rules' to decline, whatever the model says
    figure = await answer(deps, "what percentage of companies have a data governance policy?")
    assert figure.text.startswith("The lessons don't cover that figure")


async def test_follow_ups_stay_with_the_rules(deps: Deps, monkeypatch: pytest.MonkeyPatch):
    previous = [{"question": "What is a model card?", "passages": [], "answer": ""}]
    monkeypatch.setattr(ask, "shipped_model", lambda: always(False))
    assert not declined(await answer(deps, "and why does it matter?", previous))


def test_leave_one_file_out_judges_each_file_on_a_model_fitted_without_it(deps: Deps):
    by_file = {"qa-dev.yaml": samples(deps, "qa-dev.yaml"), "qa-dev2.yaml": samples(deps, "qa-dev2.yaml")}
    # the second file's labels flipped: a model fitted on it alone gets the first file backwards
    flipped = {
        **by_file,
        "qa-dev2.yaml": [
            Sample(not s.covered, s.rules_decline, s.signals, s.vetoed) for s in by_file["qa-dev2.yaml"]
        ],
    }
    folds = {f.judged: f for f in leave_one_file_out(flipped)}
    assert folds["qa-dev.yaml"].model.wrongly_refused > 0.5
    assert set(folds) == {"qa-dev.yaml", "qa-dev2.yaml", "all files"}


def test_the_threshold_follows_from_the_targets_budgets():
    # a wrong refusal (budget 0.05) costs twice an off-topic answer (budget 0.10): answer from P = 1/3
    from flows.qa_fit import ANSWERED_BUDGET, REFUSED_BUDGET, THRESHOLD

    assert pytest.approx(REFUSED_BUDGET / (REFUSED_BUDGET + ANSWERED_BUDGET)) == THRESHOLD
    assert shipped_model().threshold == pytest.approx(1 / 3, abs=1e-6)
