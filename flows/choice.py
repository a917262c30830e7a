"""An answer unit chosen for a question: the unit, the hit it came from, its score, what it covers."""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.units import Unit


@dataclass(frozen=True)
class Choice:
    unit: Unit
    hit: int  # 1-based number of the hit whose passage the unit belongs to
    score: float
    covers: frozenset[str]  # query stems the unit holds
    text: str = ""  # for text units: the chosen sentences
    aside: bool = False  # told for completeness (the other name asked), not weighed as support
