"""`coach shell`, the console channel that `make run` opens."""

from __future__ import annotations

from knowledge.loader import Course
from tests.conftest import coach_cli


def test_shell_runs_a_lab_and_answers_questions(coach_env, course: Course):
    lines = "lab 1\nWere the pilots fed by siloed sensor data that never reached production?\nquiz 1\nb\n"
    lines += "What is pilot purgatory?\n"
    done = coach_cli("shell", "--user", "sam", input=lines, env=coach_env)
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())  # rich wraps long lines
    assert " ".join(course.lab(1).opening_line.split()) in out
    assert "[1] Lesson 1 · The Five Dimensions of AI Readiness" in out
    assert "› Hint · What am I missing? · Finish" in out
    assert "Question 1 of 4" in out and "Correct." in out
    assert "Bye — your progress is saved." in out
    assert "Traceback" not in done.stderr


def test_typing_a_button_label_presses_it(coach_env):
    """The console shows buttons as labels; typing one is the click, so a choice carrying a one-time
    code (the forget-me confirmation) works here too."""
    lines = "quiz 1\nforget me\nYes, delete my data\nprogress\n"
    done = coach_cli("shell", "--user", "sam", input=lines, env=coach_env)
    out = " ".join(done.stdout.split())
    assert "› Yes, delete my data · No, keep it" in out
    assert "Done: I've deleted your quiz answers" in out, out[-600:]
