"""Help, progress, stopping, and the polite answers to messages the coach cannot act on."""

from __future__ import annotations

from datetime import datetime

from bot.messages import Action, Choice, Reply
from bot.store import now_iso, optouts
from flows.deps import Deps
from flows.drill import missed_today, when

HELP = """I'm your coach for *Building an AI-Ready Organization*. Here's what I can do:
• *lab 1* … *lab 4* — a scenario you work through with me, ending in a debrief
• *quiz 1* … *quiz 4* — the lesson quizzes · *module test* — 15 questions, 80% to pass
• *drill* — a few questions picked by spaced repetition: what you got wrong comes back
• *progress* — your labs, quiz results and reviews due
• Or just ask a question about the lessons, and I'll answer with citations.
In a lab: *hint*, *what am I missing*, *finish*. Anywhere: *stop*."""


def menu_choices(deps: Deps) -> list[Choice]:
    labs = [
        Choice(f"Lab {n}", Action("command", f"lab {n}"))
        for n in sorted(lab.number for lab in deps.course.labs.values())
    ]
    return [
        *labs,
        Choice("Quiz", Action("command", "quiz")),
        Choice("Drill", Action("command", "drill")),
        Choice("Progress", Action("command", "progress")),
    ]


SOCIAL_REPLIES = {
    "greeting": "Hi! 👋",
    "thanks": "You're welcome! Ask me anything else about the lessons, or pick something to practise.",
    "ack": "Sure. What would you like to do next?",
}


def social_reply(deps: Deps, act: str, shared: bool = False) -> Reply:
    """A hello, a thanks or an "ok" answered as one, never with lesson text: a hello gets what the coach
    can do; a thanks or an "ok" one line, with the menu's buttons in a chat of one's own."""
    if act == "greeting":
        return help_reply(deps, SOCIAL_REPLIES[act])
    return Reply(SOCIAL_REPLIES.get(act, SOCIAL_REPLIES["ack"]), choices=[] if shared else menu_choices(deps))


def help_reply(deps: Deps, note: str | None = None) -> Reply:
    return Reply(f"{note}\n\n{HELP}" if note else HELP, choices=menu_choices(deps))


def progress(deps: Deps, learner: str, now: datetime) -> Reply:
    """The learner's own record: labs, quizzes, the test and the reviews due."""
    lines = ["*Your progress*"]
    runs = deps.store.lab_runs(learner)
    labs = sorted(deps.course.labs.values(), key=lambda lab: lab.number)
    lab_lines = []
    for lab in labs:
        mine = [r for r in runs if r["lab"] == lab.id]
        finished = [r for r in mine if r["finished_at"] and r["score"] is not None]
        if finished:
            best = max(r["score"] for r in finished)
            lab_lines.append(
                f"• Lab {lab.number} · {lab.title}: best {round(best)}% ({len(finished)} run(s))"
            )
        elif mine:
            lab_lines.append(
                f"• Lab {lab.number} · {lab.title}: in progress ({len(mine[-1]['covered'])} of "
                f"{len(lab.rubric)} points)"
            )
    lines.append("*Labs*\n" + ("\n".join(lab_lines) if lab_lines else "• none yet — try *lab 1*"))
    sessions = [
        s for s in deps.store.quiz_sessions(learner) if s["finished_at"] and s["quiz"] in deps.course.quizzes
    ]
    quiz_lines = []
    for quiz in sorted(deps.course.quizzes.values(), key=lambda q: (q.kind != "lesson_quiz", q.lesson or 0)):
        done = [s for s in sessions if s["quiz"] == quiz.id and s["total"]]
        complete = [s for s in done if _answered(deps, s) == s["total"]]
        if not complete:
            continue
        best = max(complete, key=lambda s: s["correct"])
        text = f"• {quiz.title}: best {best['correct']} of {best['total']}"
        if quiz.kind == "module_test":
            text += " — passed" if any(s["passed"] for s in complete) else " — not passed yet"
        quiz_lines.append(text)
    lines.append(
        "*Quizzes*\n" + ("\n".join(quiz_lines) if quiz_lines else "• none finished yet — try *quiz 1*")
    )
    cards = deps.store.cards(learner)
    stamp = now_iso(now)
    due = {q for q, c in cards.items() if c["due"] <= stamp} | set(missed_today(deps, learner, now))
    unseen = len(deps.course.questions) - len(cards)
    review = f"*Reviews*\n• {len(due)} due now, {unseen} question(s) never seen"
    upcoming = sorted(c["due"] for q, c in cards.items() if q not in due)
    if upcoming:
        review += f", next review {when(datetime.fromisoformat(upcoming[0]), now)}"
    lines.append(review)
    return Reply("\n".join(lines), choices=menu_choices(deps))


def _answered(deps: Deps, session: dict) -> int:
    return len(deps.store.session_attempts(session["id"]))


DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
HOW_TO_STOP = (
    "Say *pause nudges for 2 weeks* for a break or *stop nudges* to stop; *resume nudges* brings them "
    "back. Your answers so far are kept either way, and your manager sees that you opted out."
)


def nudge_request(deps: Deps, learner: str, verb: str, weeks: int | None = None) -> Reply:
    """A member's "why am I getting these?", "stop nudges", "pause nudges for 2 weeks", "resume"."""
    now = deps.clock()
    teams = deps.store.schedules_of_member(learner)
    state = optouts.opted_out(deps.store, [learner], now).get(learner)
    if verb == "why":
        if not teams:
            return Reply(
                "You're not on any team's weekly practice right now, so I won't send you questions "
                "unless a manager adds you. You can practise any time with *drill*.",
                kind="notice",
            )
        names = optouts.known_names(deps.store, [t["manager"] for t in teams])
        lines = ["*Why you get weekly practice questions*"]
        for t in teams:
            lines.append(
                f"• {names[t['manager']]} scheduled them for *{t['team']}*: 3 questions every "
                f"{DAYS[t['weekday']]} at {t['at']} {t['tz']}"
                + (" (paused by your manager)" if t["status"] == "paused" else "")
            )
        if state:
            lines.append(f"Right now you've opted out ({state}).")
        lines.append(HOW_TO_STOP)
        return Reply("\n".join(lines), kind="notice")
    if verb == "resume":
        optouts.record(deps.store, learner, "resume", now)
        where = ", ".join(t["team"] for t in teams) or "no team yet"
        return Reply(f"Welcome back: your weekly practice questions start again ({where}).", kind="notice")
    if verb == "pause":
        until = optouts.record(deps.store, learner, "pause", now, weeks or 2)
        assert until is not None
        deps.store.withdraw_member(learner, now_iso(now), f"paused until {until[:10]}")
        day = datetime.fromisoformat(until).strftime("%A %d %B")
        return Reply(
            f"Paused: no weekly practice questions until {day}. Your answers so far are kept. "
            "Say *resume nudges* to start earlier.",
            kind="notice",
        )
    optouts.record(deps.store, learner, "stop", now)
    deps.store.withdraw_member(learner, now_iso(now), "stopped")  # nothing queued goes out after "stop"
    where = " from " + ", ".join(t["team"] for t in teams) if teams else ""
    return Reply(
        f"Done: no more weekly practice questions{where}. Your answers and progress are kept, and your "
        "manager will see that you opted out. Say *resume nudges* if you change your mind.",
        kind="notice",
    )
