"""Fidelity to the customer's seed text: every seed sentence is found in the course files, or is
listed in `knowledge/removed.yaml` with the reason it was left out (a vendor's promotion, a page
label). `coach knowledge check` runs it when the seeds folder (`../shared/seeds/`) is present.

Sentences are compared after normalising what the conversion legitimately changes: markup, quotes
and dashes, bullets and numbering, `Title:Text` spacing, and whitespace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from knowledge.loader import CONTENT_DIR, Problem

SEEDS_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"
REMOVED_FILE = Path(__file__).parent / "removed.yaml"
SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
MIN_WORDS = 4


def normalize(text: str) -> str:
    text = text.lower()
    for old, new in (("’", "'"), ("‘", "'"), ("“", '"'), ("”", '"'), ("–", "-"), ("—", "-")):
        text = text.replace(old, new)
    text = re.sub(r"[*_`#]", "", text)
    text = re.sub(r"(?m)^\s*(?:[-•]\s*)?(?:\d+\.\s+)?", "", text)  # a line's bullet or number
    text = re.sub(r"[•|:]", " ", text)
    return re.sub(r"\s+", " ", text).strip(" -")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def seed_sentences(text: str) -> list[str]:
    """The sentences of a seed file worth checking (at least a few words each)."""
    found = []
    for raw in SENTENCE.split(text):
        if len(normalize(raw).split()) >= MIN_WORDS:
            found.append(raw.strip())
    return found


@dataclass(frozen=True)
class Fidelity:
    checked: int
    removed: int
    problems: list[Problem]


def check_fidelity(
    seeds: Path = SEEDS_DIR, content: Path = CONTENT_DIR, removed_file: Path = REMOVED_FILE
) -> Fidelity:
    """Seed sentences missing from the content and not listed as removed, one `Problem` each."""
    blob = " ".join(
        normalize(s)
        for path in sorted(content.rglob("*.yaml"))
        for s in _strings(yaml.safe_load(path.read_text()))
    )
    raw = yaml.safe_load(removed_file.read_text(encoding="utf-8")) if removed_file.exists() else {}
    removed = {
        normalize(sentence)
        for group in (raw or {}).get("removed", [])
        for sentence in group.get("sentences", [])
    }
    checked = listed = 0
    problems: list[Problem] = []
    for seed in sorted(seeds.glob("[0-9]*.txt")):
        for sentence in seed_sentences(seed.read_text(encoding="utf-8")):
            checked += 1
            norm = normalize(sentence)
            if norm in blob:
                continue
            if norm in removed:
                listed += 1
                continue
            problems.append(
                Problem(seed.name, "sentence", f"not in the course files nor removed.yaml: {sentence[:120]}")
            )
    return Fidelity(checked, listed, problems)
