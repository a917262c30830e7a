"""How robust the answer-or-decline decision is to how a question is worded: dev's questions rewritten.

Each dev question is asked again in a chatty frame ("does anyone here know - …", "… (asking for my
director, she has a board deck on friday)"), lower-cased without punctuation, and with one typo (two
neighbouring letters of a long word swapped); each covered question naming a company the course names
is asked again about a company it never names ("Siemens: who was…"), which should be declined. The
rewrites are fixed (seeded), written before any rule they measure. `coach eval qa --probe` prints,
per rewrite, covered questions refused and off-topic ones answered. Held-out splits are never read.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from flows.ask import answer, declined
from flows.deps import Deps
from flows.qa_eval import load_split

FRAMES = (
    "hey all, quick one: {q}",
    "{q} (asking for my director, she has a board deck on friday)",
    "sorry if this is a dumb q but {q}",
    "{q} thanks in advance!!",
    "ok so random thing i was wondering, {q}",
    "does anyone here know - {q}",
)
COMPANIES = re.compile(
    r"JPMorgan Chase|JPMorgan|JPMC|JP Morgan|Walmart|Spotify|Uber|DBS Bank|DBS|AT&T|Ping An|Amazon|Google|"
    r"Microsoft|Netflix|Stitch Fix|McKinsey|Gartner|IBM",
    re.IGNORECASE,
)
ELSEWHERE = ("Siemens", "Goldman Sachs", "Unilever", "Deloitte", "Shopify")  # never named by the course


@dataclass(frozen=True)
class Probe:
    rewrite: str
    covered_refused: float | None  # of covered questions, refused (None: none asked)
    uncovered_answered: float | None


def typo(question: str, rng: random.Random) -> str:
    """Two neighbouring letters of one long word swapped (the first letter kept)."""
    said = question.split()
    long = [i for i, w in enumerate(said) if len(w) >= 7 and w.isalpha()]
    if not long:
        return question
    i = rng.choice(long)
    w, j = said[i], rng.randrange(1, len(said[i]) - 2)
    said[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(said)


def rewrites(question: str, rng: random.Random) -> dict[str, str]:
    frame = rng.choice(FRAMES)
    return {
        "frame": frame.format(q=question[:1].lower() + question[1:]),
        "lower": re.sub(r"[?!.]", "", question.lower()),
        "typo": typo(question, rng),
    }


async def probe(deps: Deps, split: str = "dev", seed: int = 7) -> list[Probe]:
    """Each rewrite's refusal and answer rates on the split's questions."""
    covered, uncovered = load_split(split)
    rng = random.Random(seed)
    counts: dict[str, list[int]] = {k: [0, 0, 0, 0] for k in ("frame", "lower", "typo", "elsewhere")}
    for questions, is_covered in (([c.question for c in covered], True), (uncovered, False)):
        for n, question in enumerate(questions):
            asked = rewrites(question, rng)
            if is_covered and COMPANIES.search(question):
                asked["elsewhere"] = COMPANIES.sub(ELSEWHERE[n % len(ELSEWHERE)], question)
            for rewrite, text in asked.items():
                refused = declined(await answer(deps, text))
                row = counts[rewrite]
                if rewrite == "elsewhere":  # a question about another company: declining it is right
                    row[2] += not refused
                    row[3] += 1
                elif is_covered:
                    row[0] += refused
                    row[1] += 1
                else:
                    row[2] += not refused
                    row[3] += 1
    return [
        Probe(k, round(r / n, 3) if n else None, round(a / m, 3) if m else None)
        for k, (r, n, a, m) in counts.items()
    ]
