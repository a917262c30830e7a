"""Which questions a member gets in a weekly nudge: spacing sized for a weekly rhythm.

A question answered wrong comes back the next week. A question answered right stays away for at
least 2 weeks, then 4, 8 and 16 as the member keeps getting it right. Questions never answered come
next (the ones asked least often first, so a silent member is not shown the same three forever).
Within one week a member never gets the same question twice, whichever team or `send-now` asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter

RIGHT_GAP_WEEKS = (2, 4, 8, 16)  # after 1, 2, 3, 4+ right answers in a row
SAME_WEEK = timedelta(days=6, hours=12)  # questions sent this recently are not sent again
SLACK = timedelta(days=2)  # an answer given mid-week counts as that week's


@dataclass(slots=True)
class QuestionHistory:
    streak: int = 0  # right answers in a row, ending with the last answer (0: the last was wrong)
    last_at: datetime | None = None

    @property
    def last_right(self) -> bool:
        return self.streak > 0

    def back_at(self) -> datetime:
        """When a right answer lets the question come back."""
        assert self.last_at is not None
        if not self.last_right:
            return self.last_at
        weeks = RIGHT_GAP_WEEKS[min(self.streak, len(RIGHT_GAP_WEEKS)) - 1]
        return self.last_at + timedelta(weeks=weeks) - SLACK


def histories(attempts: Iterable[dict]) -> dict[str, QuestionHistory]:
    """Per question: the streak and time of the last answer, from attempts in answering order."""
    found: dict[str, QuestionHistory] = {}
    for a in attempts:
        h = found.setdefault(a["question"], QuestionHistory())
        h.streak = h.streak + 1 if a["correct"] else 0
        h.last_at = datetime.fromisoformat(a["answered_at"])
    return found


def pick_questions(
    order: list[str],
    history: dict[str, QuestionHistory],
    times_asked: Mapping[str, int],
    taken: set[str],
    now: datetime,
    n: int,
) -> list[str]:
    """The n questions a member most needs this week: wrong ones (oldest first), then never-answered
    ones (least asked, then course order), then right ones whose gap has passed (longest waiting
    first). Never one in `taken` (already sent to this member this week)."""
    course = set(order)
    candidates = {q: h for q, h in history.items() if q in course and q not in taken}
    wrong = [(h.last_at or now, q) for q, h in candidates.items() if not h.last_right]
    wrong.sort(key=itemgetter(0))
    picked = [q for _, q in wrong[:n]]
    if len(picked) < n:
        fresh = [q for q in order if q not in history and q not in taken]  # in course order
        picked += sorted(fresh, key=lambda q: times_asked.get(q, 0))[: n - len(picked)]
    if len(picked) < n:  # only now the right answers' gaps: most members have enough before
        back = [(at, q) for q, h in candidates.items() if h.last_right and (at := h.back_at()) <= now]
        back.sort(key=itemgetter(0))
        picked += [q for _, q in back[: n - len(picked)]]
    return picked
