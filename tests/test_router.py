"""Commands are understood in plain words and with typos; answers as letters, numbers or text."""

from __future__ import annotations

import pytest

from flows.router import parse_answer, parse_command, social_act


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("start lab 2", {"name": "lab", "number": 2}),
        ("lab 3", {"name": "lab", "number": 3}),
        ("Lab3!", {"name": "lab", "number": 3}),
        ("strat lab 4", {"name": "lab", "number": 4}),
        ("please start the lab 1", {"name": "lab", "number": 1}),
        ("quiz lesson 1", {"name": "quiz", "number": 1}),
        ("quiz 2", {"name": "quiz", "number": 2}),
        ("qiuz 3", {"name": "quiz", "number": 3}),
        ("module test", {"name": "test"}),
        ("the final exam", {"name": "test"}),
        ("drill", {"name": "drill"}),
        ("dril", {"name": "drill"}),
        ("show my progress", {"name": "progress"}),
        ("progres", {"name": "progress"}),
        ("help", {"name": "help"}),
        ("stop", {"name": "stop"}),
        ("quit", {"name": "stop"}),
        ("hint please", {"name": "hint"}),
        ("finish", {"name": "finish"}),
        ("what am I missing?", {"name": "missing"}),
        ("/coach lab 2", {"name": "lab", "number": 2}),
        # Out of range is still a command (the coach shows its menu), not a question for Q&A.
        ("lab 0", {"name": "lab", "number": 0}),
        ("quiz -1", {"name": "quiz", "number": -1}),
        ("lab 7", {"name": "lab", "number": 7}),
    ],
)
def test_commands(text, intent):
    assert parse_command(text) == intent


@pytest.mark.parametrize(
    "text",
    [
        "Stop the pilots and fix the data pipelines first",
        "What is a data mesh?",
        "I think leadership is the problem",
        "lab results from the hospital",
        "",
    ],
)
def test_answers_and_questions_are_not_commands(text):
    assert parse_command(text) is None


OPTIONS = {"A": "17%", "B": "8%", "C": "38%", "D": "85%"}
WORDY = {
    "A": "A centralized Center of Excellence",
    "B": "Outsourced AI vendors",
    "C": "Fully independent business-unit teams",
    "D": "A federated model across business units",
}


@pytest.mark.parametrize(
    ("text", "letter", "options"),
    [
        ("b", "B", OPTIONS),
        ("B)", "B", OPTIONS),
        ("(c)", "C", OPTIONS),
        ("answer d", "D", OPTIONS),
        ("2", "B", OPTIONS),
        ("three", "C", OPTIONS),
        ("outsourced vendors", "B", WORDY),
        ("a federated model across business unit", "D", WORDY),
        ("banana", None, WORDY),
        ("e", None, OPTIONS),
    ],
)
def test_answers(text, letter, options):
    assert parse_answer(text, options) == letter


@pytest.mark.parametrize(
    ("text", "act"),
    [
        ("hi", "greeting"),
        ("Hello!", "greeting"),
        ("good morning coach", "greeting"),
        ("thanks!", "thanks"),
        ("thank you so much 🙏", "thanks"),
        ("great, thanks", "thanks"),
        ("ok", "ack"),
        ("yes", "ack"),
        ("hi, what is data mesh?", None),  # a question after the hello: asked
        ("no idea", None),
        ("thanks for the data mesh answer, but what about lineage?", None),
    ],
)
def test_hello_thanks_and_ok_are_social_turns(text, act):
    assert social_act(text) == act


async def test_a_social_turn_gets_no_lesson_text(learner):
    for said in ("hi", "thanks!", "yes"):
        reply = (await learner.say(said))[-1]
        assert not reply.citations and "don't cover" not in reply.text, said
