"""How well the answer-or-decline thresholds generalise: k-fold cross-validation on the dev split.

The decision's thresholds (`flows.ask.Limits`) were tuned on dev, so dev's own figures flatter them.
Here dev is cut into folds; for each fold the thresholds are tuned again on the other folds (the
grid point with the fewest errors: wrongly refused plus off-topic answered, each as a rate) and
scored on the held-aside fold. The pooled figures estimate what a tuning on dev gives on questions
it never saw; `coach eval qa --cv` prints them beside the shipped thresholds' own dev figures.
Held-out splits are never read here.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from flows.ask import LIMITS, Evidence, Limits, drafted, retrieve, weigh
from flows.deps import Deps
from flows.qa_eval import load_split

GRID = {
    "min_support": (0.25, 0.3, 0.35, 0.4, 0.45),
    "min_similarity": (0.1, 0.125, 0.15, 0.175, 0.2),
    "partial_share": (0.3, 0.35, 0.4, 0.45, 0.5),
    "min_focus": (0.25, 0.3, 0.34, 0.4, 0.45),
    "far_similarity": (0.25, 0.3, 0.35),
    "far_unknown": (0.2, 0.25, 0.3),
}


@dataclass(frozen=True)
class Case:
    covered: bool
    evidence: Evidence | None  # None: nothing found or nothing to say, always declined

    def declined(self, limits: Limits) -> bool:
        return self.evidence is None or self.evidence.reading(limits).fails(limits)


@dataclass(frozen=True)
class Rates:
    wrongly_refused: float
    off_topic_declined: float

    @property
    def error(self) -> float:
        return self.wrongly_refused + (1.0 - self.off_topic_declined)


def cases(deps: Deps, split: str = "dev") -> list[Case]:
    """Each question of the split with the evidence the decision reads (computed once)."""
    covered, uncovered = load_split(split)
    found: list[Case] = []
    for question, is_covered in [*((c.question, True) for c in covered), *((q, False) for q in uncovered)]:
        result = retrieve(deps, question, [])
        evidence = None
        if result.hits:
            draft, _, _ = drafted(deps, question, result)
            evidence = weigh(deps, question, [], result, draft) if draft.text else None
        found.append(Case(is_covered, evidence))
    return found


def rates(decisions: list[bool], labels: list[bool]) -> Rates:
    """Wrongly refused (of covered) and off-topic declined (of uncovered) for these decisions."""
    covered = [d for d, c in zip(decisions, labels, strict=True) if c]
    uncovered = [d for d, c in zip(decisions, labels, strict=True) if not c]
    return Rates(sum(covered) / max(len(covered), 1), sum(uncovered) / max(len(uncovered), 1))


def cross_validate(found: list[Case], folds: int = 5, repeats: int = 3) -> Rates:
    """Pooled held-aside figures of thresholds re-tuned on the other folds (stratified, repeated)."""
    grid = [Limits(**dict(zip(GRID, values, strict=True))) for values in itertools.product(*GRID.values())]
    decided = [[case.declined(limits) for case in found] for limits in grid]
    labels = [case.covered for case in found]
    pooled: list[Rates] = []
    for repeat in range(repeats):
        order = {c: [i for i, case in enumerate(found) if case.covered == c] for c in (True, False)}
        for members in order.values():
            random.Random(repeat).shuffle(members)
        fold_of = {i: n % folds for members in order.values() for n, i in enumerate(members)}
        for fold in range(folds):
            train = [i for i in fold_of if fold_of[i] != fold]
            test = [i for i in fold_of if fold_of[i] == fold]

            def train_error(g: int, train: list[int] = train) -> tuple[float, float]:
                tuned = rates([decided[g][i] for i in train], [labels[i] for i in train])
                return tuned.error, distance(grid[g], LIMITS)

            best = min(range(len(grid)), key=train_error)
            pooled.append(rates([decided[best][i] for i in test], [labels[i] for i in test]))
    return Rates(
        round(sum(r.wrongly_refused for r in pooled) / len(pooled), 3),
        round(sum(r.off_topic_declined for r in pooled) / len(pooled), 3),
    )


def distance(a: Limits, b: Limits) -> float:
    """How far two sets of thresholds are apart (ties go to the shipped thresholds)."""
    return sum(abs(getattr(a, name) - getattr(b, name)) for name in GRID)


def shipped(found: list[Case]) -> Rates:
    """The shipped thresholds' figures on the same cases (tuned on all of them)."""
    figures = rates([case.declined(LIMITS) for case in found], [case.covered for case in found])
    return Rates(round(figures.wrongly_refused, 3), round(figures.off_topic_declined, 3))
