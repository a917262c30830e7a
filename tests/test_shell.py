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
