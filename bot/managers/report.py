"""The manager's digest for one weekly window: who answered, how well, where the team is weak.

Built from the window's nudge deliveries and the answers to them; rendered as text (any channel) and
as a PNG bar chart (matplotlib, headless). Sent by the clock (`bot/managers/clock.py`), shown on
request by the `report` command (`bot/managers/commands.py`, `coach report`).
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from dataclasses import dataclass, field

from bot.managers.nudges import Schedule
from bot.store import Store
from knowledge.loader import Course


@dataclass
class MemberResult:
    member: str
    name: str
    status: str  # delivery status: sent, failed, uncertain, pending, retry, or "none"
    asked: int
    answered: int
    correct: int


@dataclass
class TeamReport:
    schedule: str
    team: str
    week: str
    members: list[MemberResult]
    by_lesson: dict[int, tuple[int, int]] = field(default_factory=dict)  # lesson -> (correct, answered)
    by_question: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def delivered(self) -> list[MemberResult]:
        return [m for m in self.members if m.status == "sent"]

    @property
    def completion_rate(self) -> float:
        done = [m for m in self.delivered if m.asked and m.answered >= m.asked]
        return len(done) / len(self.delivered) if self.delivered else 0.0

    @property
    def average_score(self) -> float | None:
        answered = sum(m.answered for m in self.members)
        return sum(m.correct for m in self.members) / answered if answered else None

    @property
    def silent(self) -> list[MemberResult]:
        return [m for m in self.delivered if m.answered == 0]

    def weakest_questions(self, n: int = 3) -> list[tuple[str, int, int]]:
        ranked = sorted(self.by_question.items(), key=lambda kv: (kv[1][0] / kv[1][1], -kv[1][1], kv[0]))
        return [(q, c, a) for q, (c, a) in ranked if c < a][:n]


def build_report(store: Store, course: Course, schedule: Schedule, week: str) -> TeamReport:
    deliveries = {
        r["member"]: r
        for r in store.read(
            "SELECT * FROM nudge_deliveries WHERE schedule = ? AND week = ?", [schedule.id, week]
        )
    }
    sessions = {f"nudge-{r['id']}": r["member"] for r in deliveries.values()}
    attempts = store.attempts_in(list(sessions))
    names = store.names_of(schedule.members)
    per_member: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_lesson: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    by_question: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for a in attempts:
        per_member[a["learner"]][0] += 1
        per_member[a["learner"]][1] += a["correct"]
        question = course.question(a["question"])
        if question:
            by_lesson[question.lesson][0] += a["correct"]
            by_lesson[question.lesson][1] += 1
        by_question[a["question"]][0] += a["correct"]
        by_question[a["question"]][1] += 1
    members = []
    for member in schedule.members:
        row = deliveries.get(member)
        asked = len(json.loads(row["questions"])) if row else 0
        answered, correct = per_member.get(member, [0, 0])
        name = names.get(member) or member.partition(":")[2]
        members.append(MemberResult(member, name, row["status"] if row else "none", asked, answered, correct))
    return TeamReport(
        schedule.id,
        schedule.team,
        week,
        members,
        {k: (v[0], v[1]) for k, v in sorted(by_lesson.items())},
        {k: (v[0], v[1]) for k, v in by_question.items()},
    )


def report_text(report: TeamReport, course: Course) -> str:
    delivered = report.delivered
    lines = [f"*Weekly practice digest · {report.team} · week of {report.week}*"]
    lines.append(
        f"• Sent to {len(delivered)} of {len(report.members)} member(s); "
        f"completion {round(100 * report.completion_rate)}%"
        + (
            f"; average score {round(100 * report.average_score)}%"
            if report.average_score is not None
            else ""
        )
    )
    if report.by_lesson:
        parts = [f"Lesson {lesson}: {round(100 * c / a)}%" for lesson, (c, a) in report.by_lesson.items()]
        lines.append("• Right answers by lesson — " + ", ".join(parts))
    weakest = report.weakest_questions()
    if weakest:
        lines.append("*Weakest questions*")
        for qid, correct, answered in weakest:
            stem = course.question(qid).stem if course.question(qid) else qid
            short = stem if len(stem) <= 90 else stem[:89] + "…"
            lines.append(f"• {qid} ({correct} of {answered} right): {short}")
    lines.append("*Who did what*")
    for m in report.members:
        if m.status != "sent":
            lines.append(f"• {m.name}: not delivered ({m.status})")
        else:
            lines.append(f"• {m.name}: {m.answered} of {m.asked} answered, {m.correct} right")
    if report.silent:
        lines.append("*Not answered yet:* " + ", ".join(m.name for m in report.silent))
    return "\n".join(lines)


def report_png(report: TeamReport) -> bytes:
    """A bar chart: share of right answers per lesson, and the completion rate."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    labels = [f"Lesson {lesson}" for lesson in report.by_lesson] + ["Completion"]
    values = [100 * c / a for c, a in report.by_lesson.values()] + [100 * report.completion_rate]
    colors = ["#2a9d8f"] * len(report.by_lesson) + ["#1d3557"]
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    bars = ax.bar(labels, values, color=colors)
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.set_title(f"{report.team} · week of {report.week}", fontsize=10)
    ax.bar_label(bars, labels=[f"{round(v)}%" for v in values], fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
