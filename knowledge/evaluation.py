"""Retrieval quality and speed, measured on knowledge/eval/retrieval.yaml; and what a learner who
knows nothing scores on the quizzes by guessing from the screen alone."""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass, replace
from datetime import UTC, timedelta
from pathlib import Path

import yaml

from knowledge.retrieval import Chunk, Index, chunk_course, content_words

EVAL_FILE = Path(__file__).parent / "eval" / "retrieval.yaml"


@dataclass(frozen=True)
class EvalCase:
    question: str
    expect: tuple[str, ...]


@dataclass(frozen=True)
class EvalSet:
    cases: list[EvalCase]
    off_topic: list[str]


def load_eval_set(path: Path = EVAL_FILE) -> EvalSet:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    cases = [EvalCase(c["q"], tuple(c["expect"])) for c in raw["questions"]]
    return EvalSet(cases, list(raw["off_topic"]))


@dataclass(frozen=True)
class RetrievalReport:
    questions: int
    recall_at_1: float
    recall_at_3: float
    mrr: float
    on_topic_grounded: float
    off_topic: int
    off_topic_rejected: int
    misses: list[tuple[str, list[str]]]

    def to_json(self) -> dict:
        return {
            "questions": self.questions,
            "recall@1": round(self.recall_at_1, 3),
            "recall@3": round(self.recall_at_3, 3),
            "mrr": round(self.mrr, 3),
            "on_topic_grounded": round(self.on_topic_grounded, 3),
            "off_topic": self.off_topic,
            "off_topic_rejected": self.off_topic_rejected,
        }


def evaluate(index: Index, eval_set: EvalSet, k: int = 5) -> RetrievalReport:
    """Rank of the first hit from an expected passage, per question; off-topic must not be grounded."""
    r1 = r3 = 0
    rr = 0.0
    grounded = 0
    misses = []
    for case in eval_set.cases:
        result = index.search(case.question, k=k)
        grounded += result.grounded
        ranks = [i for i, h in enumerate(result.hits, start=1) if h.passage in case.expect]
        rank = ranks[0] if ranks else None
        if rank == 1:
            r1 += 1
        if rank and rank <= 3:
            r3 += 1
        else:
            misses.append((case.question, [h.passage for h in result.hits[:3]]))
        rr += 1 / rank if rank else 0.0
    rejected = sum(not index.search(q, k=k).grounded for q in eval_set.off_topic)
    n = len(eval_set.cases)
    return RetrievalReport(n, r1 / n, r3 / n, rr / n, grounded / n, len(eval_set.off_topic), rejected, misses)


@dataclass(frozen=True)
class Timing:
    name: str
    p50_ms: float
    p99_ms: float
    runs: int


def _percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    p99 = samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]
    return statistics.median(samples) * 1000, p99 * 1000


def scaled_chunks(index: Index, copies: int) -> list[Chunk]:
    """The course's chunks repeated `copies` times (new ids), to see how both sides grow with size."""
    base = chunk_course(index.course)
    return [replace(c, id=f"{c.id}~{n}") for n in range(copies) for c in base]


def bench_retrieval(index: Index, eval_set: EvalSet, rounds: int = 20) -> list[Timing]:
    """Time our FTS5 index and a rank-bm25 baseline over the same chunks and queries, side by side."""
    from rank_bm25 import BM25Okapi  # dev extra: the benchmark baseline only

    queries = [c.question for c in eval_set.cases] + eval_set.off_topic
    chunks = index._chunks if index._chunks is not None else chunk_course(index.course)
    corpus = [content_words(f"{c.title} {c.section} {c.text}") for c in chunks]
    bm25 = BM25Okapi(corpus)

    def baseline(q: str) -> list[int]:
        scores = bm25.get_scores(content_words(q))
        return sorted(range(len(scores)), key=scores.__getitem__, reverse=True)[:5]

    for q in queries:  # warm caches for both sides equally
        index.search(q)
        baseline(q)
    ours, theirs = [], []
    for _ in range(rounds):
        for q in queries:
            t0 = time.perf_counter()
            index.search(q)
            t1 = time.perf_counter()
            baseline(q)
            t2 = time.perf_counter()
            ours.append(t1 - t0)
            theirs.append(t2 - t1)
    return [
        Timing("fts5 (ours)", *_percentiles(ours), len(ours)),
        Timing("rank-bm25 baseline", *_percentiles(theirs), len(theirs)),
    ]


# -- quiz items: what a learner who knows nothing scores -------------------------------------------

QUIZ_COMMANDS = ("quiz 1", "quiz 2", "quiz 3", "quiz 4", "module test")
OPTION_LINE = re.compile(r"^\*([A-D])\.\* (.+)$", re.MULTILINE)


def _longest(options: dict[str, str], stem: str) -> str:
    return max(options, key=lambda k: len(options[k]))


def _shortest(options: dict[str, str], stem: str) -> str:
    return min(options, key=lambda k: len(options[k]))


def _stem_words(options: dict[str, str], stem: str) -> str:
    asked = set(content_words(stem))
    return max(options, key=lambda k: len(asked & set(content_words(options[k]))))


def _convergent(options: dict[str, str], stem: str) -> str:
    """The option sharing the most words with the other options (the test-wise "convergence" cue)."""
    words = {k: set(content_words(v)) for k, v in options.items()}
    return max(options, key=lambda k: sum(len(words[k] & words[o]) for o in options if o != k))


def _same(letter: str):
    return lambda options, stem: letter


# Guessers that read only the screen. The "tuned" ones are those the items were revised against
# (shortest option joined them: it was held out until it showed the right option was rarely the
# shortest); the held-out ones were never tuned on, to catch a new give-away.
GUESSERS: dict[str, tuple[str, object]] = {
    "longest option": ("tuned", _longest),
    "always A": ("tuned", _same("A")),
    "always B": ("tuned", _same("B")),
    "always C": ("tuned", _same("C")),
    "always D": ("tuned", _same("D")),
    "shortest option": ("tuned", _shortest),
    "most stem words": ("heldout", _stem_words),
    "most shared words": ("heldout", _convergent),
}


COPIER = "copy last attempt"
ASKER = "ask the coach"  # types each question back as a question, then picks the option its answer holds
ASKED = "what does the course say about this: {}"
CHOSEN = re.compile(r"(?:You chose|Recorded:) \*([A-D])\*")
RIGHT = re.compile(r"The right answer is \*([A-D])\*")
RETAKE_AFTER = timedelta(days=2)  # the copier retakes past any cool-down between attempts


@dataclass(frozen=True)
class GuessScore:
    guesser: str
    split: str
    right: int
    asked: int
    best_learner: float  # the highest share any one learner reached
    passed: int = 0  # learners who passed the module test
    learners: int = 0

    @property
    def share(self) -> float:
        return self.right / self.asked if self.asked else 0.0

    @property
    def pass_rate(self) -> float:
        return self.passed / self.learners if self.learners else 0.0


async def quiz_guessers(coach, replay, learners: int = 1) -> list[GuessScore]:
    """Each guesser takes the four lesson quizzes and the module test through the real flow, driven by
    `replay` (the `coach replay` driver: `replay(coach, lines, out)`, one scripted turn at a time) as
    `learners` different learners (each sees the options in their own order); returns what each
    guesser scored over all of them and how many passed the module test. The copier ("copy last
    attempt") takes every quiz twice, two days apart: first always typing A, then typing for each
    question the letter the first attempt's feedback showed right (else the letter it typed); only its
    retakes are scored."""
    import io
    import json

    out = io.StringIO()
    clock, shift = coach.deps.clock, [timedelta(0)]
    coach.deps.clock = lambda: clock() + shift[0]

    def last_record() -> dict:
        lines = out.getvalue().splitlines()
        return json.loads(lines[-1]) if lines else {}

    def take(user: str, command: str, pick):
        """One quiz: `pick(record)` types the answer to each question shown."""
        yield json.dumps({"user": user, "text": command})
        while (record := last_record()).get("kind") == "question" and record["user"] == user:
            yield json.dumps({"user": user, "text": pick(record)})

    def screen(name: str):
        choose = GUESSERS[name][1]

        def pick(record: dict) -> str:
            stem = coach.deps.course.question(record["question"]).stem
            return choose(dict(OPTION_LINE.findall(record["reply"])), stem)

        return pick

    def learned(user: str) -> dict[str, str]:
        """Per question, the letter this user's feedback showed right, else the letter they typed."""
        letters: dict[str, str] = {}
        for line in out.getvalue().splitlines():
            r = json.loads(line)
            if r.get("user") != user or r.get("kind") != "feedback":
                continue
            right, chose = RIGHT.search(r["reply"]), CHOSEN.search(r["reply"])
            letter = right or (chose if "✅" in r["reply"] or "Recorded" in r["reply"] else None)
            if letter:
                letters[r["question"]] = letter.group(1)
        return letters

    def asks(user: str, command: str):
        """One quiz, asking the coach each question before answering it: the option the answer's
        text holds best (rapidfuzz), else A (a reply holding nothing of the options, or held back)."""
        from rapidfuzz import fuzz

        yield json.dumps({"user": user, "text": command})
        while (record := last_record()).get("kind") == "question" and record["user"] == user:
            stem, before = (
                coach.deps.course.question(record["question"]).stem,
                len(out.getvalue().splitlines()),
            )
            yield json.dumps({"user": user, "text": ASKED.format(stem)})
            told = [json.loads(line) for line in out.getvalue().splitlines()[before:]]
            said = " ".join(r["reply"] for r in told if r.get("kind") not in ("question", "notice"))
            options = dict(OPTION_LINE.findall(last_record()["reply"]))
            scores = {k: fuzz.partial_ratio(v.lower(), said.lower()) for k, v in options.items()}
            best = max(scores, key=scores.get) if said and scores else "A"
            yield json.dumps({"user": user, "text": best})

    retakes: dict[str, str] = {}  # copier -> when its retakes began (ISO, UTC)

    def script():
        for name in GUESSERS:
            for n in range(learners):
                user = f"guesser-{name.replace(' ', '-')}-{n}"
                for command in QUIZ_COMMANDS:
                    yield from take(user, command, screen(name))
        for n in range(learners):
            for command in QUIZ_COMMANDS:
                yield from asks(f"guesser-{ASKER.replace(' ', '-')}-{n}", command)
        for n in range(learners):
            user = f"guesser-{COPIER.replace(' ', '-')}-{n}"
            for command in QUIZ_COMMANDS:
                yield from take(user, command, lambda record: "A")
            shift[0] += RETAKE_AFTER
            retakes[f"console:{user}"] = (clock() + shift[0]).astimezone(UTC).isoformat(timespec="seconds")
            letters = learned(user)
            for command in QUIZ_COMMANDS:
                yield from take(
                    user, command, lambda record, known=letters: known.get(record["question"], "A")
                )

    try:
        await replay(coach, script(), out)
    finally:
        coach.deps.clock = clock
    store, test = coach.deps.store, coach.deps.course.module_test
    scores = []
    for name, split in [*((g, s) for g, (s, _) in GUESSERS.items()), (ASKER, "asks"), (COPIER, "retake")]:
        per_learner: dict[str, list[int]] = {}
        passed = 0
        for n in range(learners):
            learner = f"console:guesser-{name.replace(' ', '-')}-{n}"
            since = retakes.get(learner, "")
            sessions = [s for s in store.quiz_sessions(learner) if s["started_at"] >= since]
            counted = {s["id"] for s in sessions}
            per_learner[learner] = [a["correct"] for a in store.attempts(learner) if a["session"] in counted]
            passed += any(s["quiz"] == (test.id if test else "") and s["passed"] for s in sessions)
        right = sum(sum(v) for v in per_learner.values())
        asked = sum(len(v) for v in per_learner.values())
        best = max((sum(v) / len(v) for v in per_learner.values() if v), default=0.0)
        scores.append(GuessScore(name, split, right, asked, best, passed, learners))
    return scores
