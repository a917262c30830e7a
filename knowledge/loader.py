"""Load and validate the course from `knowledge/content/`.

Every problem is reported as `file: field: message` (a `Problem`), never as a traceback: a course
author who breaks a file learns which file and which field, and coach refuses to start on bad data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from knowledge.schema import Document, Item, Lab, Question, Quiz, Section

CONTENT_DIR = Path(__file__).parent / "content"
KEY_TERMS = "key-terms"  # the passage id of a document's glossary
FOLDERS: dict[str, type[BaseModel]] = {
    "lessons": Document,
    "readings": Document,
    "quizzes": Quiz,
    "labs": Lab,
}


@dataclass(frozen=True)
class Problem:
    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class KnowledgeError(Exception):
    """The course files are invalid; `problems` says where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class Course:
    """The whole validated course, with look-ups by id."""

    documents: dict[str, Document]
    quizzes: dict[str, Quiz]
    labs: dict[str, Lab]
    content_hash: str
    _questions: dict[str, Question] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._questions = {q.id: q for quiz in self.quizzes.values() for q in quiz.questions}

    @property
    def lessons(self) -> list[Document]:
        return sorted((d for d in self.documents.values() if d.kind == "lesson"), key=lambda d: d.number or 0)

    @property
    def readings(self) -> list[Document]:
        return [d for d in self.documents.values() if d.supplementary]

    def lesson(self, number: int) -> Document | None:
        return next((d for d in self.lessons if d.number == number), None)

    def lab(self, number: int) -> Lab | None:
        return next((lab for lab in self.labs.values() if lab.number == number), None)

    def lesson_quiz(self, lesson: int) -> Quiz | None:
        return next(
            (q for q in self.quizzes.values() if q.kind == "lesson_quiz" and q.lesson == lesson), None
        )

    @property
    def module_test(self) -> Quiz | None:
        return next((q for q in self.quizzes.values() if q.kind == "module_test"), None)

    def question(self, question_id: str) -> Question | None:
        return self._questions.get(question_id)

    @property
    def questions(self) -> list[Question]:
        return list(self._questions.values())

    def passage(self, ref: str):
        """Resolve `doc-id#section-id` to (document, section), or None."""
        doc_id, _, section_id = ref.partition("#")
        doc = self.documents.get(doc_id)
        section = doc.section(section_id) if doc else None
        if doc and section is None and section_id == KEY_TERMS and doc.key_terms:
            items = [Item(title=k.term, text=k.definition) for k in doc.key_terms]
            section = Section(id=KEY_TERMS, heading="Key terms", items=items)
        return (doc, section) if section else None

    def cite(self, ref: str) -> str:
        """A human label for a passage: `Lesson 1 · The Five Dimensions of AI Readiness`."""
        found = self.passage(ref)
        if not found:
            return ref
        doc, section = found
        return f"{doc.name()} · {section.heading}"


def content_hash(root: Path) -> str:
    """A hash of every content file's name and bytes; changes whenever the course changes."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.yaml")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# libyaml's safe loader when PyYAML was built with it (the wheels are): 10x faster to read the course,
# which every process does at start-up.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _field(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "(file)"


def _read(path: Path, rel: str, model: type[BaseModel], problems: list[Problem]):
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        problems.append(Problem(rel, where, f"not valid YAML: {getattr(exc, 'problem', exc)}"))
        return None
    if not isinstance(raw, dict):
        problems.append(Problem(rel, "(file)", "expected a mapping at the top level"))
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(Problem(rel, _field(err["loc"]), err["msg"]))
        return None


def _cross_check(course: Course, files: dict[str, str], problems: list[Problem]) -> None:
    """Checks that span files: unique ids, and every passage reference resolves."""
    seen: dict[str, str] = {}
    for quiz in course.quizzes.values():
        for i, q in enumerate(quiz.questions):
            rel = files[quiz.id]
            if q.id in seen:
                problems.append(Problem(rel, f"questions.{i}.id", f"{q.id} is also in {seen[q.id]}"))
            seen[q.id] = rel
            if not course.passage(q.passage):
                problems.append(Problem(rel, f"questions.{i}.passage", f"no such passage: {q.passage}"))
            if not course.lesson(q.lesson):
                problems.append(Problem(rel, f"questions.{i}.lesson", f"no lesson {q.lesson}"))
    numbers: dict[int, str] = {}
    for lab in course.labs.values():
        rel = files[lab.id]
        if lab.number in numbers:
            problems.append(Problem(rel, "number", f"lab {lab.number} is also {numbers[lab.number]}"))
        numbers[lab.number] = rel
        for i, point in enumerate(lab.rubric):
            if not course.passage(point.passage):
                problems.append(Problem(rel, f"rubric.{i}.passage", f"no such passage: {point.passage}"))
            for j, wrong in enumerate(point.misconceptions):
                if not course.passage(wrong.passage):
                    where = f"rubric.{i}.misconceptions.{j}.passage"
                    problems.append(Problem(rel, where, f"no such passage: {wrong.passage}"))


# Courses already read in this process, by folder and content hash: a process that opens several
# runtimes (the tests' servers, `coach bench`) parses the YAML once (~0.1 s of CPU each time).
_LOADED: dict[tuple[Path, str], Course] = {}


def load_course(root: Path | None = None) -> Course:
    """Load every content file under `root`; raise `KnowledgeError` listing all problems. The same
    bytes give the same course: a folder read before in this process and unchanged since is not
    parsed again."""
    root = root or CONTENT_DIR
    if not root.is_dir():
        raise KnowledgeError([Problem(str(root), "(folder)", "the knowledge folder does not exist")])
    key = (root.resolve(), content_hash(root))
    if key not in _LOADED:
        _LOADED[key] = _load(root, key[1])
    return _LOADED[key]


def _load(root: Path, digest: str) -> Course:
    problems: list[Problem] = []
    loaded: dict[str, dict] = {name: {} for name in FOLDERS}
    files: dict[str, str] = {}
    for folder, model in FOLDERS.items():
        for path in sorted((root / folder).glob("*.yaml")):
            rel = str(path.relative_to(root))
            item = _read(path, rel, model, problems)
            if item is None:
                continue
            if item.id in files:
                problems.append(Problem(rel, "id", f"{item.id} is also defined in {files[item.id]}"))
                continue
            files[item.id] = rel
            loaded[folder][item.id] = item
    documents = {**loaded["lessons"], **loaded["readings"]}
    course = Course(documents, loaded["quizzes"], loaded["labs"], digest)
    _cross_check(course, files, problems)
    if not course.lessons and not problems:
        problems.append(Problem(str(root), "lessons", "no lessons found"))
    if problems:
        raise KnowledgeError(problems)
    return course
