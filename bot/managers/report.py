"""The manager's digest for one weekly window: who is behind on what.

Built from the schedule's nudge deliveries and the answers to them: this week's completion and its
trend over the last six weeks, each person's right-answer rate per lesson (same six weeks), members
silent two weeks in a row, the three weakest questions with the lesson to revisit, opt-outs and
roster notes. Rendered as text (any channel) and as a PNG (matplotlib, headless): a heat map of
people × lessons beside the completion trend.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.managers.nudges import Schedule, window_start
from bot.store import Store, now_iso
from knowledge.loader import Course

TREND_WEEKS = 6
CHART_ROWS = 40  # people in the heat map at most: past that, the furthest behind and "+N more"


@dataclass
class MemberResult:
    member: str
    name: str
    status: str  # delivery status: sent, skipped (opted out), failed, uncertain, pending, retry, or "none"
    asked: int
    answered: int
    correct: int
    note: str | None = None  # why it was skipped or failed

    @property
    def done(self) -> bool:
        return self.status == "sent" and self.asked > 0 and self.answered >= self.asked


@dataclass
class TeamReport:
    schedule: str
    team: str
    week: str
    members: list[MemberResult]
    by_lesson: dict[int, tuple[int, int]] = field(default_factory=dict)  # lesson -> (correct, answered)
    by_question: dict[str, tuple[int, int]] = field(default_factory=dict)  # over the trend weeks
    heat: dict[str, dict[int, tuple[int, int]]] = field(default_factory=dict)  # member -> lesson -> (c, a)
    trend: list[tuple[str, float | None]] = field(default_factory=list)  # (week, completion) oldest first
    missed_twice: list[str] = field(default_factory=list)  # names
    notes: list[str] = field(default_factory=list)
    final: bool = True  # False: the week is still in progress
    days_left: int = 0
    lesson_titles: dict[int, str] = field(default_factory=dict)

    @property
    def delivered(self) -> list[MemberResult]:
        return [m for m in self.members if m.status == "sent"]

    @property
    def opted_out(self) -> list[MemberResult]:
        return [m for m in self.members if m.status == "skipped"]

    @property
    def completion_rate(self) -> float:
        done = [m for m in self.delivered if m.done]
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


def _tally(store: Store, deliveries: list[dict]) -> dict[int, list[dict]]:
    """The answers to each delivery's set, by delivery id."""
    sessions = [f"nudge-{d['id']}" for d in deliveries]
    found: dict[int, list[dict]] = defaultdict(list)
    for a in store.attempts_in(sessions):
        found[int(a["session"].removeprefix("nudge-"))].append(a)
    return found


def build_report(
    store: Store,
    course: Course,
    schedule: Schedule,
    week: str,
    names: dict[str, str] | None = None,
    now: datetime | None = None,
    final: bool = True,
) -> TeamReport:
    """The digest of `week`; `final=False` for a week still in progress (an on-demand report)."""
    names = names or {}
    weeks, rows = store.deliveries_upto(schedule.id, week, TREND_WEEKS)
    answers = _tally(store, rows)
    by_week: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in rows:
        by_week[r["week"]][r["member"]] = r

    def name(member: str) -> str:
        return names.get(member) or member.partition(":")[2] or member

    # this week, per member
    this_week = by_week.get(week, {})
    members = []
    everyone = list(dict.fromkeys([*schedule.members, *this_week]))
    for member in everyone:
        row = this_week.get(member)
        got = answers.get(row["id"], []) if row else []
        members.append(
            MemberResult(
                member,
                name(member),
                row["status"] if row else "none",
                len(json.loads(row["questions"] or "[]")) if row else 0,
                len(got),
                sum(a["correct"] for a in got),
                row["error"] if row else None,
            )
        )
    # the trend weeks: completion, people × lessons, questions
    trend: list[tuple[str, float | None]] = []
    heat: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    by_question: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_lesson: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    silent_weeks: dict[str, list[bool]] = defaultdict(list)
    for w in weeks:
        sent = [r for r in by_week[w].values() if r["status"] == "sent"]
        done = [r for r in sent if len(answers.get(r["id"], [])) >= len(json.loads(r["questions"]))]
        trend.append((w, len(done) / len(sent) if sent else None))
        for r in by_week[w].values():
            silent_weeks[r["member"]].append(r["status"] == "sent" and not answers.get(r["id"]))
            for a in answers.get(r["id"], []):
                question = course.question(a["question"])
                if question is None:
                    continue
                cell = heat[name(r["member"])][question.lesson]
                cell[0] += a["correct"]
                cell[1] += 1
                by_question[a["question"]][0] += a["correct"]
                by_question[a["question"]][1] += 1
                if w == week:
                    by_lesson[question.lesson][0] += a["correct"]
                    by_lesson[question.lesson][1] += 1
    missed_twice = [
        name(m) for m, flags in silent_weeks.items() if len(flags) >= 2 and flags[-1] and flags[-2]
    ]
    if not final and missed_twice:  # this week is not over: judge on the two finished weeks
        missed_twice = [
            name(m) for m, flags in silent_weeks.items() if len(flags) >= 3 and flags[-2] and flags[-3]
        ]
    start = window_start(week, schedule)
    until = now or start + timedelta(days=7)
    notes = store.notes_between(schedule.id, now_iso(start - timedelta(days=7)), now_iso(until))
    days_left = max(0, (start + timedelta(days=7) - (now or start)).days)
    return TeamReport(
        schedule.id,
        schedule.team,
        week,
        members,
        {k: (v[0], v[1]) for k, v in sorted(by_lesson.items())},
        {k: (v[0], v[1]) for k, v in by_question.items()},
        {p: {lesson: (c[0], c[1]) for lesson, c in sorted(cells.items())} for p, cells in heat.items()},
        trend,
        missed_twice,
        notes,
        final,
        days_left,
        {lesson.number or 0: f"“{lesson.title}”" for lesson in course.lessons},
    )


def _percent(value: float) -> str:
    return f"{round(100 * value)}%"


def report_text(report: TeamReport, course: Course) -> str:
    delivered = report.delivered
    done = [m for m in delivered if m.done]
    if report.final:
        lines = [f"*Weekly practice digest · {report.team} · week of {report.week}*"]
        headline = f"• Completion: {len(done)} of {len(delivered)} finished their set"
        if delivered:
            headline += f" ({_percent(report.completion_rate)})"
    else:
        lines = [
            f"*{report.team} · week of {report.week} — in progress, {report.days_left} day(s) left; "
            "the final digest comes when next week's questions go out*"
        ]
        headline = (
            f"• So far: {len(done)} of {len(delivered)} finished, "
            f"{len([m for m in delivered if m.answered])} started"
        )
    if report.average_score is not None:
        headline += f"; right answers {_percent(report.average_score)}"
    lines.append(headline)
    finished = [(w, c) for w, c in report.trend if c is not None]
    if len(finished) > 1:
        lines.append(
            f"• Completion over the last {len(finished)} weeks: "
            + " → ".join(_percent(c) for _, c in finished)
        )
    behind = []
    for person in report.missed_twice:
        behind.append(f"• {person}: no answers two weeks in a row")
    for person, cells in sorted(report.heat.items()):
        weak = [(lesson, c, a) for lesson, (c, a) in cells.items() if a >= 2 and c / a < 0.5]
        for lesson, c, a in weak:
            behind.append(f"• {person}: Lesson {lesson} — {c} of {a} right")
    if behind:
        lines.append("*Who is behind on what*")
        lines.extend(behind)
    weakest = report.weakest_questions()
    if weakest:
        lines.append("*Three weakest questions* (last 6 weeks)")
        for qid, correct, answered in weakest:
            question = course.question(qid)
            if question is None:
                continue
            lesson = course.lesson(question.lesson)
            stem = question.stem if len(question.stem) <= 80 else question.stem[:79] + "…"
            title = f" “{lesson.title}”" if lesson else ""
            lines.append(
                f"• {correct} of {answered} right: {stem} → revisit *Lesson {question.lesson}*{title}"
            )
    lines.append("*Who did what this week*")
    for m in report.members:
        if m.status == "skipped":
            lines.append(f"• {m.name}: opted out ({m.note or 'stopped'})")
        elif m.status == "none":
            lines.append(f"• {m.name}: not sent this week (joined later)")
        elif m.status != "sent":
            lines.append(f"• {m.name}: not delivered ({m.status})")
        else:
            lines.append(f"• {m.name}: {m.answered} of {m.asked} answered, {m.correct} right")
    if report.silent:
        label = "*Not answered yet:* " if not report.final else "*No answers:* "
        lines.append(label + ", ".join(m.name for m in report.silent))
    if report.opted_out:
        lines.append("*Opted out:* " + ", ".join(m.name for m in report.opted_out))
    if report.notes:
        lines.append("*Team changes*")
        lines.extend(f"• {n}" for n in report.notes)
    return "\n".join(lines)


def report_png(report: TeamReport) -> bytes:
    """Two panels a manager reads in seconds: who × lesson right-answer rates (a heat map, red is
    behind, grey is no answers yet) and completion per week for the last six weeks."""
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.figure import Figure  # not pyplot: no global state, so safe off the event loop
    from matplotlib.patches import Rectangle

    people, more = chart_rows(report)
    lessons = sorted({lesson for cells in report.heat.values() for lesson in cells} | {1, 2, 3, 4})
    height = max(3.2, 0.45 * (len(people) + bool(more)) + 1.6)
    fig = Figure(figsize=(10, height), dpi=100)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.5, 1]})
    cmap = LinearSegmentedColormap.from_list("behind", ["#d62828", "#f4d35e", "#2a9d8f"])
    for row, person in enumerate(people):
        for col, lesson in enumerate(lessons):
            correct, answered = report.heat.get(person, {}).get(lesson, (0, 0))
            if answered:
                share = correct / answered
                left.add_patch(Rectangle((col, row), 0.96, 0.92, color=cmap(share)))
                left.text(
                    col + 0.48,
                    row + 0.46,
                    f"{correct}/{answered}",
                    ha="center",
                    va="center",
                    fontsize=10,
                    color="white" if share < 0.3 or share > 0.7 else "black",
                    fontweight="bold",
                )
            else:
                left.add_patch(Rectangle((col, row), 0.96, 0.92, color="#e9ecef"))
                left.text(col + 0.48, row + 0.46, "—", ha="center", va="center", fontsize=9, color="#868e96")
    member_status = {m.name: m for m in report.members}
    labels = []
    for person in people:
        m = member_status.get(person)
        suffix = ""
        if m is not None and m.status == "skipped":
            suffix = "  (opted out)"
        elif person in report.missed_twice:
            suffix = "  ⚠ silent 2 wks"
        labels.append(person + suffix)
    if more:
        labels.append(f"+{more} more (say report for the list)")
    left.set_xlim(0, len(lessons))
    left.set_ylim(len(labels), 0)
    left.set_xticks([i + 0.48 for i in range(len(lessons))], [f"Lesson {n}" for n in lessons])
    left.set_yticks([i + 0.46 for i in range(len(labels))], labels)
    left.tick_params(length=0)
    left.xaxis.tick_top()
    for side in left.spines.values():
        side.set_visible(False)
    left.set_title("Right answers by person and lesson (last 6 weeks)", fontsize=10, loc="left", pad=24)

    weeks = [w for w, _ in report.trend]
    values = [100 * (c or 0) for _, c in report.trend]
    colors = ["#adb5bd"] * max(0, len(weeks) - 1) + (["#1d3557"] if report.final else ["#a8dadc"])
    bars = right.bar([w[5:] for w in weeks], values, color=colors[-len(weeks) :] if weeks else colors)
    right.bar_label(
        bars,
        labels=[("—" if c is None else f"{round(100 * c)}%") for _, c in report.trend],
        fontsize=9,
    )
    right.set_ylim(0, 112)
    right.set_yticks([0, 50, 100], ["0%", "50%", "100%"])
    right.spines[["top", "right"]].set_visible(False)
    right.set_title(
        "Finished their set, per week" + ("" if report.final else " (this week in progress)"),
        fontsize=10,
        loc="left",
    )
    done = [m for m in report.delivered if m.done]
    state = "" if report.final else " · in progress"
    extra = f" · {len(report.opted_out)} opted out" if report.opted_out else ""
    fig.suptitle(
        f"{report.team} · week of {report.week}{state} — {len(done)} of {len(report.delivered)} "
        f"finished{extra}",
        fontsize=12,
        fontweight="bold",
        x=0.01,
        ha="left",
    )
    lessons_total: dict[int, list[int]] = {}
    for cells in report.heat.values():
        for lesson, (c, a) in cells.items():
            total = lessons_total.setdefault(lesson, [0, 0])
            total[0], total[1] = total[0] + c, total[1] + a
    weakest = min(
        (lesson for lesson, (c, a) in lessons_total.items() if a and c < a),
        key=lambda n: lessons_total[n][0] / lessons_total[n][1],
        default=None,
    )
    if weakest is not None:
        c, a = lessons_total[weakest]
        title = report.lesson_titles.get(weakest, "")
        fig.text(
            0.01,
            0.01,
            f"Revisit first: Lesson {weakest} {title} — {c} of {a} answers right across the team",
            fontsize=10,
            color="#d62828",
        )
    fig.tight_layout(rect=(0, 0.05 if weakest is not None else 0, 1, 1))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def chart_rows(report: TeamReport, limit: int = CHART_ROWS) -> tuple[list[str], int]:
    """The people the heat map shows (by name) and how many more it leaves out: everyone when they
    fit; else the `limit` furthest behind (the fewest right answers of their set, silent ones first)."""
    people = sorted({m.name for m in report.members} | set(report.heat))
    if len(people) <= limit:
        return people, 0

    def behind(person: str) -> tuple[float, int, str]:
        cells = report.heat.get(person, {}).values()
        correct, answered = sum(c for c, _ in cells), sum(a for _, a in cells)
        return (correct / answered if answered else -1.0, answered, person)

    shown = sorted(people, key=behind)[:limit]
    return sorted(shown), len(people) - limit
