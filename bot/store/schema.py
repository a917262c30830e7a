"""The whole schema of the learner store, in one place, for both backends (SQLite and PostgreSQL).

Tables: `learners`, `messages` (every inbound message, stored before any work so nothing is lost),
`quiz_sessions`, `quiz_attempts`, `cards` (one fsrs card per learner and question), `lab_runs`,
`conversation_refs` (how to reach a learner proactively on Teams), `managers`, and the weekly nudges'
`nudge_schedules`, `nudge_deliveries`, `nudge_digests`, `nudge_optouts`, `nudge_notes` and `people`,
`teams_places` and `teams_members` (where Teams members can be reached), `inbox` (requests acknowledged
whose turn has not run yet), `confirmations` (one-time codes),
and Q&A `answers` with their `answer_feedback` (👍/👎 and a reason). Each area's reads and writes
live in its own module beside this one. Conversation checkpoints are LangGraph's own tables (its
SQLite or PostgreSQL checkpointer).

Times are ISO 8601 strings in UTC and flags are integers on both backends, so the same rows compare
and sort the same way everywhere. A change to this module goes with a numbered migration in
`migrations/versions/` (the tests check that the migrations build exactly this schema).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, MetaData, Table, Text

metadata = MetaData()

# a 64-bit key on PostgreSQL; on SQLite an INTEGER PRIMARY KEY is the 64-bit rowid
SERIAL = BigInteger().with_variant(Integer, "sqlite")


def text(name: str, **kw) -> Column:
    return Column(name, Text, **kw)


learners = Table(
    "learners",
    metadata,
    text("id", primary_key=True),
    text("platform"),
    text("user"),
    text("name"),
    text("first_seen"),
    text("last_seen"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", SERIAL, primary_key=True),
    text("delivery"),
    text("conversation"),
    text("learner"),
    text("text"),
    text("action"),
    text("received_at"),
    text("status"),
    Column("replies", Integer),
    text("owner"),  # who stored a `waiting` message: "<process key>/<turn key>" (`learners.py`)
    Index("idx_messages_delivery", "delivery", unique=True),
    Index("idx_messages_conversation_status", "conversation", "status"),
    Index("idx_messages_learner", "learner"),
)

inbox = Table(  # a platform request acknowledged, until its turn ran (`bot/store/inbox.py`)
    "inbox",
    metadata,
    Column("id", SERIAL, primary_key=True),
    text("delivery"),  # the platform's delivery key (Slack's event id, a command's trigger id), if any
    text("channel"),  # "slack"
    text("body"),  # the request as received (its signature was checked before it was stored)
    text("query"),
    text("content_type"),
    text("owner"),  # the process key of who runs it (`learners.waiting_turn`'s first part)
    text("received_at"),
    text("learner"),  # whose request it is ("slack:<user id>"), so "forget me" deletes it too
    Index("idx_inbox_delivery", "delivery", unique=True),
)

quiz_sessions = Table(
    "quiz_sessions",
    metadata,
    text("id", primary_key=True),
    text("learner"),
    text("quiz"),
    text("questions"),
    text("started_at"),
    text("finished_at"),
    Column("correct", Integer),
    Column("total", Integer),
    Column("passed", Integer),
    Index("idx_quiz_sessions_learner", "learner"),
)

quiz_attempts = Table(
    "quiz_attempts",
    metadata,
    Column("id", SERIAL, primary_key=True),
    text("session"),
    text("learner"),
    text("question"),
    text("chosen"),
    Column("correct", Integer),
    text("answered_at"),
    Index("idx_quiz_attempts_learner_question", "learner", "question"),
    Index("idx_quiz_attempts_session", "session"),
)

cards = Table(
    "cards",
    metadata,
    text("learner", primary_key=True),
    text("question", primary_key=True),
    text("card"),
    text("due"),
    text("last_correct_at"),
)

conversation_refs = Table(
    "conversation_refs",
    metadata,
    text("learner", primary_key=True),
    text("conversation", primary_key=True),
    text("platform"),
    text("reference"),
    text("updated_at"),
)

managers = Table(
    "managers",
    metadata,
    text("learner", primary_key=True),
    text("added_by"),
    text("added_at"),
)

nudge_schedules = Table(
    "nudge_schedules",
    metadata,
    text("id", primary_key=True),
    text("manager"),
    text("team"),
    text("members"),
    Column("weekday", Integer),
    text("at"),
    text("tz"),
    text("status"),
    text("created_at"),
    text("channel"),
    text("roster"),
    Column("remind_after_h", Integer),
)

nudge_deliveries = Table(
    "nudge_deliveries",
    metadata,
    Column("id", SERIAL, primary_key=True),
    text("schedule"),
    text("week"),
    text("member"),
    text("questions"),
    text("status"),
    Column("attempts", Integer),
    text("next_at"),
    text("error"),
    text("claimed_by"),
    text("claimed_at"),
    text("sent_at"),
    text("planned_at"),
    text("reminded_at"),
    Column("posted", Integer),  # how many of the set's messages went out (a retry resumes after them)
    Index("idx_nudge_deliveries_schedule_week_member", "schedule", "week", "member", unique=True),
    Index("idx_nudge_deliveries_status", "status"),
    Index("idx_nudge_deliveries_member", "member"),
)

nudge_digests = Table(
    "nudge_digests",
    metadata,
    text("schedule", primary_key=True),
    text("week", primary_key=True),
    text("status"),
    text("sent_at"),
    Column("attempts", Integer),
    text("next_at"),
    text("error"),
    text("chart"),
    text("claimed_at"),
)

nudge_optouts = Table(  # members' stop / pause / resume, every change kept
    "nudge_optouts",
    metadata,
    Column("id", SERIAL, primary_key=True),
    text("member"),
    text("kind"),
    text("until"),
    text("at"),
    Index("idx_nudge_optouts_member", "member"),
)

nudge_notes = Table(  # what a manager should read in the next digest
    "nudge_notes",
    metadata,
    Column("id", SERIAL, primary_key=True),
    text("schedule"),
    text("note"),
    text("at"),
)

people = Table(  # display names looked up on the platform (a cache)
    "people",
    metadata,
    text("member", primary_key=True),
    text("name"),
    Column("active", Integer),
    text("fetched_at"),
)

teams_places = Table(  # Teams teams and group chats the coach read a roster in
    "teams_places",
    metadata,
    text("id", primary_key=True),
    text("service_url"),
    text("tenant"),
    text("bot"),
    text("name"),
    text("seen_at"),
)

teams_members = Table(  # who was in each of them when last read
    "teams_members",
    metadata,
    text("member", primary_key=True),
    text("place", primary_key=True),
    text("seen_at"),
)

confirmations = Table(  # one-time codes confirming a dangerous step (`bot/store/confirmations.py`)
    "confirmations",
    metadata,
    text("code", primary_key=True),  # the code's SHA-256
    text("purpose"),
    text("learner"),
    text("conversation"),
    text("expires_at"),
)

lab_runs = Table(
    "lab_runs",
    metadata,
    text("id", primary_key=True),
    text("learner"),
    text("lab"),
    text("started_at"),
    text("finished_at"),
    Column("turns", Integer),
    Column("score", Float),
    text("covered"),
    text("missed"),
    Index("idx_lab_runs_learner", "learner"),
)

answers = Table(
    "answers",
    metadata,
    text("id", primary_key=True),
    text("learner"),
    text("conversation"),
    text("question"),
    text("reply"),
    text("citations"),
    text("asked_at"),
)

answer_feedback = Table(
    "answer_feedback",
    metadata,
    text("answer", primary_key=True),
    text("learner", primary_key=True),
    text("rating"),
    text("reason"),
    text("at"),
)

PERSONAL = (
    (quiz_attempts, "learner"),
    (quiz_sessions, "learner"),
    (cards, "learner"),
    (lab_runs, "learner"),
    (messages, "learner"),
    (conversation_refs, "learner"),
    (nudge_deliveries, "member"),
    (nudge_optouts, "member"),
    (people, "member"),
    (managers, "learner"),
    (answer_feedback, "learner"),
    (answers, "learner"),
    (inbox, "learner"),
    (teams_members, "member"),
    (confirmations, "learner"),
    (learners, "id"),
)
"""Every table holding rows about one person, and the column naming them ("forget me" empties these)."""

NAMED = ((managers, "added_by"),)
"""Columns naming a person in rows that are someone else's: "forget me" blanks the name, keeps the row."""
