"""The whole schema of the learner store, in one place: every table and index, created if missing.

Tables: `learners`, `messages` (every inbound message, stored before any work so nothing is lost),
`quiz_sessions`, `quiz_attempts`, `cards` (one fsrs card per learner and question), `lab_runs`,
`conversation_refs` (how to reach a learner proactively on Teams), `managers`, and the weekly nudges'
`nudge_schedules`, `nudge_deliveries`, `nudge_digests`, `nudge_optouts`, `nudge_notes` and `people`,
`teams_places` and `teams_members` (where Teams members can be reached),
and Q&A `answers` with their `answer_feedback` (👍/👎 and a reason). Each area's reads and writes live
in its own module beside this one. Conversation checkpoints live in a separate file owned by
LangGraph's SQLite checkpointer.
"""

from __future__ import annotations

import sqlite_utils


def create(db: sqlite_utils.Database) -> None:
    """Create every table and index that does not exist yet (run inside the caller's transaction)."""
    db["learners"].create(
        {"id": str, "platform": str, "user": str, "name": str, "first_seen": str, "last_seen": str},
        pk="id",
        if_not_exists=True,
    )
    db["messages"].create(
        {
            "id": int,
            "delivery": str,
            "conversation": str,
            "learner": str,
            "text": str,
            "action": str,
            "received_at": str,
            "status": str,
            "replies": int,
        },
        pk="id",
        if_not_exists=True,
    )
    db["messages"].create_index(["delivery"], unique=True, if_not_exists=True)
    db["messages"].create_index(["conversation", "status"], if_not_exists=True)
    db["messages"].create_index(["learner"], if_not_exists=True)
    db["quiz_sessions"].create(
        {
            "id": str,
            "learner": str,
            "quiz": str,
            "questions": str,
            "started_at": str,
            "finished_at": str,
            "correct": int,
            "total": int,
            "passed": int,
        },
        pk="id",
        if_not_exists=True,
    )
    db["quiz_sessions"].create_index(["learner"], if_not_exists=True)
    db["quiz_attempts"].create(
        {
            "id": int,
            "session": str,
            "learner": str,
            "question": str,
            "chosen": str,
            "correct": int,
            "answered_at": str,
        },
        pk="id",
        if_not_exists=True,
    )
    db["quiz_attempts"].create_index(["learner", "question"], if_not_exists=True)
    db["quiz_attempts"].create_index(["session"], if_not_exists=True)
    db["cards"].create(
        {"learner": str, "question": str, "card": str, "due": str, "last_correct_at": str},
        pk=("learner", "question"),
        if_not_exists=True,
    )
    db["conversation_refs"].create(
        {"learner": str, "conversation": str, "platform": str, "reference": str, "updated_at": str},
        pk=("learner", "conversation"),
        if_not_exists=True,
    )
    db["managers"].create(
        {"learner": str, "added_by": str, "added_at": str}, pk="learner", if_not_exists=True
    )
    db["nudge_schedules"].create(
        {
            "id": str,
            "manager": str,
            "team": str,
            "members": str,
            "weekday": int,
            "at": str,
            "tz": str,
            "status": str,
            "created_at": str,
            "channel": str,
            "roster": str,
            "remind_after_h": int,
        },
        pk="id",
        if_not_exists=True,
    )
    db["nudge_deliveries"].create(
        {
            "id": int,
            "schedule": str,
            "week": str,
            "member": str,
            "questions": str,
            "status": str,
            "attempts": int,
            "next_at": str,
            "error": str,
            "claimed_by": str,
            "claimed_at": str,
            "sent_at": str,
            "planned_at": str,
            "reminded_at": str,
        },
        pk="id",
        if_not_exists=True,
    )
    db["nudge_deliveries"].create_index(["schedule", "week", "member"], unique=True, if_not_exists=True)
    db["nudge_deliveries"].create_index(["status"], if_not_exists=True)
    db["nudge_digests"].create(
        {
            "schedule": str,
            "week": str,
            "status": str,
            "sent_at": str,
            "attempts": int,
            "next_at": str,
            "error": str,
            "chart": str,
            "claimed_at": str,
        },
        pk=("schedule", "week"),
        if_not_exists=True,
    )
    db["nudge_optouts"].create(  # members' stop / pause / resume, every change kept
        {"id": int, "member": str, "kind": str, "until": str, "at": str}, pk="id", if_not_exists=True
    )
    db["nudge_notes"].create(  # what a manager should read in the next digest
        {"id": int, "schedule": str, "note": str, "at": str}, pk="id", if_not_exists=True
    )
    db["people"].create(  # display names looked up on the platform (a cache)
        {"member": str, "name": str, "active": int, "fetched_at": str}, pk="member", if_not_exists=True
    )
    db["teams_places"].create(  # Teams teams and group chats the coach read a roster in
        {"id": str, "service_url": str, "tenant": str, "bot": str, "name": str, "seen_at": str},
        pk="id",
        if_not_exists=True,
    )
    db["teams_members"].create(  # who was in each of them when last read
        {"member": str, "place": str, "seen_at": str}, pk=("member", "place"), if_not_exists=True
    )
    _add_missing_columns(db)
    db["lab_runs"].create(
        {
            "id": str,
            "learner": str,
            "lab": str,
            "started_at": str,
            "finished_at": str,
            "turns": int,
            "score": float,
            "covered": str,
            "missed": str,
        },
        pk="id",
        if_not_exists=True,
    )
    db["answers"].create(
        {
            "id": str,
            "learner": str,
            "conversation": str,
            "question": str,
            "reply": str,
            "citations": str,
            "asked_at": str,
        },
        pk="id",
        if_not_exists=True,
    )
    db["answer_feedback"].create(
        {"answer": str, "learner": str, "rating": str, "reason": str, "at": str},
        pk=("answer", "learner"),
        if_not_exists=True,
    )
    db["lab_runs"].create_index(["learner"], if_not_exists=True)


NEW_COLUMNS: dict[str, dict[str, type]] = {
    "nudge_schedules": {"channel": str, "roster": str, "remind_after_h": int},
    "nudge_deliveries": {"planned_at": str, "reminded_at": str},
    "nudge_digests": {"attempts": int, "next_at": str, "error": str, "chart": str, "claimed_at": str},
}


def _add_missing_columns(db: sqlite_utils.Database) -> None:
    """Databases made by an older coach get the columns added since."""
    for table, columns in NEW_COLUMNS.items():
        have = db[table].columns_dict
        for name, kind in columns.items():
            if name not in have:
                db[table].add_column(name, kind)
