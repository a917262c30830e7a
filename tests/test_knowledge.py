"""The structured course is complete and faithful to the customer's seed text."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from knowledge.loader import CONTENT_DIR, KnowledgeError, load_course
from tests.conftest import coach_cli


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_all_31_questions_present_16_lesson_and_15_test(course):
    lesson_ids = {q.id for n in range(1, 5) for q in course.lesson_quiz(n).questions}
    assert lesson_ids == {f"L{n}Q{i}" for n in range(1, 5) for i in range(1, 5)}
    assert [q.id for q in course.module_test.questions] == [f"T{i}" for i in range(1, 16)]
    assert len(course.questions) == 31


def test_every_question_has_four_distinct_options_and_exactly_one_correct(course):
    for q in course.questions:
        assert sorted(q.options) == ["A", "B", "C", "D"], q.id
        assert len({o.lower() for o in q.options.values()}) == 4, q.id
        assert q.answer in q.options, q.id


def test_correct_answers_are_spread_over_letters(course):
    letters = [q.answer for q in course.questions]
    assert all(letters.count(x) >= 5 for x in "ABCD"), letters


def test_module_test_passes_at_80_percent(course):
    assert course.module_test.pass_mark == 0.8


def test_feedback_is_the_seeds_text_verbatim(course, seed_text):
    seed = squash(seed_text)
    for q in course.questions:
        assert squash(q.stem) in seed, q.id
        assert squash(q.feedback.correct) in seed, q.id
        assert squash(q.feedback.incorrect) in seed, q.id


def test_truncated_test_question_15_is_completed_from_lesson_4_question_4(course):
    t15, l4q4 = course.question("T15"), course.question("L4Q4")
    assert t15.completed_from == "L4Q4"
    assert t15.feedback == l4q4.feedback
    # the same fact, but options of its own: quiz 4 must not hand out a free point in the test
    assert not set(t15.options.values()) & set(l4q4.options.values())


def test_every_lab_opens_with_the_seeds_opening_line(course, seed_text):
    seed = squash(seed_text)
    names = {
        "AI Readiness Coach",
        "AI Governance Coach",
        "Workforce Transformation Coach",
        "AI Scaling Strategy Coach",
    }
    assert {lab.coach_name for lab in course.labs.values()} == names
    for lab in course.labs.values():
        assert lab.opening_line.startswith(f"Welcome to Lab {lab.number}.")
        for text in (lab.opening_line, lab.scenario, lab.task, lab.first_prompt):
            assert squash(text) in seed, (lab.id, text[:40])


def test_every_rubric_point_cites_a_passage_that_exists(course):
    for lab in course.labs.values():
        assert 6 <= len(lab.rubric) <= 10
        for point in lab.rubric:
            assert course.passage(point.passage), (lab.id, point.id, point.passage)
            assert point.cues and point.probe and point.hint


def test_lesson_text_is_verbatim_from_the_seed(course, seed_text):
    seed = squash(seed_text)
    for lesson in course.lessons:
        for text in [lesson.title, lesson.subtitle, lesson.opening_question]:
            assert squash(text) in seed
        for section in lesson.sections:
            for text in (
                section.paragraphs + [i.text for i in section.items] + [s.label for s in section.stats]
            ):
                assert squash(text) in seed, (lesson.id, section.id, text[:50])
        for term in lesson.key_terms:
            assert squash(f"{term.term}:{term.definition}") in seed


def test_lessons_mark_case_studies_and_key_terms(course):
    for lesson in course.lessons:
        case_studies = [s for s in lesson.sections if s.kind == "case_study"]
        assert len(case_studies) == 2, lesson.id
        assert all(s.heading.startswith(("Real Case", "Case Study")) for s in case_studies)
        assert len(lesson.key_terms) >= 3
    assert course.lesson(1).section("five-dimensions").items[0].title == "Data Foundation"
    assert [s.value for s in course.lesson(2).section("data-first").stats] == ["$15M", "80%", "$3.1T"]


def test_supplementary_readings_are_marked_and_never_promote_the_vendor(course):
    assert len(course.readings) == 3
    assert all(r.kind == "supplementary" for r in course.readings)
    for path in CONTENT_DIR.rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert "CISIN" not in text and "Cyber Infrastructure" not in text, path.name


def test_broken_file_is_reported_as_file_field_message(content_copy: Path):
    quiz = content_copy / "quizzes" / "quiz-1.yaml"
    data = yaml.safe_load(quiz.read_text())
    data["questions"][1]["answer"] = "E"
    del data["questions"][2]["options"]["D"]
    quiz.write_text(yaml.safe_dump(data))
    (content_copy / "labs" / "lab-2.yaml").write_text("id: lab-2\nrubric: [unclosed\n")
    with pytest.raises(KnowledgeError) as caught:
        load_course(content_copy)
    lines = [str(p) for p in caught.value.problems]
    assert any(line.startswith("quizzes/quiz-1.yaml: questions.1.answer: ") for line in lines), lines
    assert any(
        line.startswith("quizzes/quiz-1.yaml: questions.2") and "four options" in line for line in lines
    )
    assert any(line.startswith("labs/lab-2.yaml: line ") and "not valid YAML" in line for line in lines)


def test_dangling_passage_reference_is_reported(content_copy: Path):
    lab = content_copy / "labs" / "lab-1.yaml"
    lab.write_text(
        lab.read_text().replace("passage: lesson-1#case-amazon", "passage: lesson-1#no-such-section")
    )
    with pytest.raises(KnowledgeError) as caught:
        load_course(content_copy)
    assert "labs/lab-1.yaml: rubric.6.passage: no such passage: lesson-1#no-such-section" in [
        str(p) for p in caught.value.problems
    ]


def test_knowledge_check_command_exits_nonzero_without_traceback(content_copy: Path, coach_env):
    (content_copy / "lessons" / "lesson-3.yaml").write_text("id: lesson-3\nkind: lesson\n")
    result = coach_cli("knowledge", "check", "--dir", str(content_copy), env=coach_env)
    assert result.returncode == 1
    assert "lessons/lesson-3.yaml: source: Field required" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_knowledge_check_command_passes_on_the_shipped_course(coach_env):
    result = coach_cli("knowledge", "check", env=coach_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 lessons, 3 supplementary readings, 5 quizzes (31 questions), 4 labs" in result.stdout


def test_quiz_items_pass_the_item_writing_checks(course):
    from knowledge.items import item_warnings, key_report

    assert item_warnings(course) == []
    report = key_report(course)
    assert len(set(report.lesson_keys.values())) == 4  # no two lesson quizzes share a key sequence
    assert all(0.2 <= n / report.questions <= 0.3 for n in report.letters.values())
    assert report.right_longest <= 0.3 * report.questions and not report.wide_margin


def test_item_checks_catch_a_shared_key_a_long_right_option_and_borrowed_wording(content_copy: Path):
    from knowledge.items import item_warnings

    quizzes = content_copy / "quizzes"
    one = yaml.safe_load((quizzes / "quiz-1.yaml").read_text())
    two = yaml.safe_load((quizzes / "quiz-2.yaml").read_text())
    for q1, q2 in zip(one["questions"], two["questions"], strict=True):  # give quiz 2 quiz 1's key
        opts, key = q2["options"], q1["answer"]
        opts[q2["answer"]], opts[key] = opts[key], opts[q2["answer"]]
        q2["answer"] = key
    two["questions"][0]["options"][two["questions"][0]["answer"]] += ", as the lesson explains at some length"
    (quizzes / "quiz-2.yaml").write_text(yaml.safe_dump(two, sort_keys=False))
    four = yaml.safe_load((quizzes / "quiz-4.yaml").read_text())
    hub = next(q for q in four["questions"] if q["id"] == "L4Q3")
    hub["options"][hub["answer"]] = (  # the lesson's wording for the federated model
        "Mature organizations with established COE infrastructure that want business unit ownership"
    )
    (quizzes / "quiz-4.yaml").write_text(yaml.safe_dump(four, sort_keys=False))
    warnings = [str(w) for w in item_warnings(load_course(content_copy))]
    assert any("quiz-2.yaml: answer: key sequence" in w and "quiz-1" in w for w in warnings)
    assert any("L2Q1: the right option is the longest by a wide margin" in w for w in warnings)
    assert any("L4Q3: right option" in w and "Federated Model" in w for w in warnings)
    done = coach_cli("knowledge", "check", "--dir", str(content_copy), "--strict", env=dict(os.environ))
    assert done.returncode == 1 and "warning: quizzes/quiz-4.yaml" in done.stdout


def test_every_seed_sentence_is_in_the_course_or_listed_as_removed():
    from knowledge.fidelity import SEEDS_DIR, check_fidelity

    if not SEEDS_DIR.is_dir():
        pytest.skip("the seed text is not beside this checkout")
    fidelity = check_fidelity()
    assert fidelity.problems == [] and fidelity.checked > 800


def test_a_dropped_seed_sentence_is_reported(tmp_path: Path):
    from knowledge.fidelity import check_fidelity

    seeds, content = tmp_path / "seeds", tmp_path / "content"
    seeds.mkdir()
    content.mkdir()
    (seeds / "000_x.txt").write_text(
        "Data lineage matters for audits. A sentence nobody kept in the files.\n"
    )
    (content / "a.yaml").write_text("text: Data lineage matters for audits.\n")
    fidelity = check_fidelity(seeds, content, tmp_path / "none.yaml")
    assert [p.message for p in fidelity.problems] == [
        "not in the course files nor removed.yaml: A sentence nobody kept in the files."
    ]


def test_vendor_promotion_is_gone_and_its_useful_sentences_stay(course):
    article = course.documents["reading-scaling-article"]
    text = " ".join(p for s in article.sections for p in s.paragraphs)
    for promo in ("CISIN", "Our leaders", "Ready to move your AI initiatives", "Free Consultation"):
        assert promo not in text
    for kept in (
        "Finally, commit to continuous learning",
        "become a liability rather than an asset",
        "if 'Data Foundation' is identified as weak",
        "provides a comprehensive roadmap",
    ):
        assert kept in text


def test_no_chunk_ends_with_a_heading_split_from_its_text(course):
    from knowledge.retrieval import chunk_course
    from knowledge.units import is_heading

    for chunk in chunk_course(course):
        last = chunk.text.split("\n\n")[-1]
        assert not (is_heading(last) and "\n\n" in chunk.text), chunk.id


def test_lists_written_in_prose_become_list_units(course):
    """Sentences opening "One… / Another… / A third…" or "First, … Finally, …" are one list; a
    one-word paragraph ("intuit.") is no answer unit, and the text after it carries its name."""
    from knowledge.units import passage_units

    def lists(passage: str) -> list[tuple[str, ...]]:
        return [tuple(t for t, _ in u.items) for u in passage_units(course, passage) if u.kind == "list"]

    pitfalls = ("Pilot Purgatory Trap", "Data Governance Blind Spot")
    assert any(items[:2] == pitfalls for items in lists("reading-scaling-article#common-pitfalls"))
    assert any(len(items) == 4 for items in lists("reading-scaling-article#conclusion"))
    strategy = passage_units(
        course, "reading-scaling-paradox#shift-from-annual-plans-to-distributed-strategic"
    )
    assert not any(u.text.strip() == "intuit." for u in strategy)
    assert any(u.within == "intuit" and "quarterly" in u.text for u in strategy)
