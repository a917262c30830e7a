"""The learned answer-or-decline decision: a logistic regression over wording-independent signals the
Q&A pipeline already computes (how much of the question the chosen units hold, how much of it the
course never says, how close in meaning the asking part is to the best passage, whether keyword and
semantic search agree, …), never a word or a word list. Its coefficients are fitted offline by
`coach eval qa --fit` (flows/qa_fit.py) into knowledge/decision.json; here only numpy reads them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from flows.ask import Evidence
    from knowledge.retrieval import SearchResult

MODEL_PATH = Path(__file__).resolve().parent.parent / "knowledge" / "decision.json"


def signals(
    evidence: Evidence,
    read: Evidence,
    result: SearchResult,
    repairs: int,
    terms: int,
    meaning: list[float],
    weight: float,
    subject_held: float,
) -> dict[str, float]:
    """The decision's inputs for one question: `evidence` as `weigh` found it and the reading the
    rules judge (`read`: the whole message or its asking parts), the search `result`, how many of
    its words were repaired misspellings and how many words it has to judge, every passage's
    similarity in meaning to the search (best first), the search words' total idf weight and the
    share of an inverted question's subject the chosen units hold."""
    sims = np.array(meaning or [0.0])
    found = read.found
    hits = result.hits
    by_words = max(hits, key=lambda h: h.score)
    by_meaning = max(hits, key=lambda h: h.similarity)
    return {
        "similarity": read.similarity,
        "best_similarity": float(sims[0]),
        "support": found.share,
        "unknown": found.unknown_share,
        "held_terms": min(found.held_terms, 5) / 5,
        "partial": float(found.partial),
        "undefined_unknown": float(read.undefined and bool(found.unknown)),
        "fact": float(read.fact),
        "private_fact": float(read.fact and read.private),
        "fact_unfocused": (1.0 - read.focus) if read.fact else 0.0,
        "fact_unsaid": float(read.fact and bool(read.unsaid)),
        "named_unknown": float(bool(read.named)),
        "names_elsewhere": float(bool(read.elsewhere)),
        "asking_part": float(read is not evidence),
        "grounded": float(result.grounded),
        "bm25": math.log1p(by_words.score),
        "ranks_agree": float(by_words.id == by_meaning.id),
        "repaired": repairs / max(terms, 1),
        "length": math.log1p(terms),
        # a question on the course stands out from most passages in meaning; one on another topic
        # is about as far from all of them
        "peak": float((sims[0] - sims.mean()) / (sims.std() or 1.0)),
        "spread": float(sims[0] - sims[min(9, len(sims) - 1)]),
        "bm25_per_weight": by_words.score / max(weight, 1e-6),
        "subject_held": subject_held,
        "attribute_unsaid": float(bool(read.attribute_missing)),
    }


@dataclass(frozen=True)
class Model:
    """A fitted logistic regression: P(covered) from standardised signals; answer at `threshold`."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float

    def covered(self, found: dict[str, float]) -> float:
        """The probability that the lessons cover the question these signals describe."""
        x = (np.array([found[n] for n in self.names]) - np.array(self.mean)) / np.array(self.scale)
        return float(1.0 / (1.0 + np.exp(-(x @ np.array(self.weights) + self.bias))))

    def answers(self, found: dict[str, float]) -> bool:
        return self.covered(found) >= self.threshold

    def to_json(self) -> dict:
        return {
            "names": list(self.names),
            "mean": [round(v, 6) for v in self.mean],
            "scale": [round(v, 6) for v in self.scale],
            "weights": [round(v, 6) for v in self.weights],
            "bias": round(self.bias, 6),
            "threshold": round(self.threshold, 6),
        }

    @classmethod
    def from_json(cls, raw: dict) -> Model:
        return cls(
            tuple(raw["names"]),
            tuple(raw["mean"]),
            tuple(raw["scale"]),
            tuple(raw["weights"]),
            float(raw["bias"]),
            float(raw["threshold"]),
        )


@lru_cache(maxsize=1)
def shipped_model(path: Path = MODEL_PATH) -> Model | None:
    """The fitted model shipped under knowledge/, or None when there is none (the rules decide)."""
    if not path.exists():
        return None
    return Model.from_json(json.loads(path.read_text(encoding="utf-8")))
