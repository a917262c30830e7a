"""Forgiving schedule wording: "weekly mon 09:00 Europe/Berlin for #sales", "every monday at 9am for
@ana @ben", "fridays 4pm for #sales as "Sales EMEA"" all mean what a person would mean."""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FILLER = {"weekly", "every", "each", "on", "at", "week", "a", "the", "nudges", "nudge"}
TIME = re.compile(r"^(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?$")
TEAM_NAME = re.compile(r"\s+(?:as|called|named)\s+[\"“”'‘’](.+?)[\"“”'‘’]\s*$", re.IGNORECASE)
USAGE = (
    "Use: *nudges weekly <day> <time> [timezone] for <team>*, e.g. "
    "`nudges weekly mon 09:00 Europe/Berlin for #sales` or `nudges every friday 4pm for @ana @ben`. "
    'Add *as "Team name"* to name the team.'
)


@dataclass(frozen=True)
class ScheduleRequest:
    weekday: int
    at: str
    tz: str
    team_text: str
    name: str | None = None  # the team's name, from `as "Sales EMEA"`


def _day(word: str) -> int | None:
    word = word.strip(",").lower()
    for i, full in enumerate(DAY_NAMES):
        if len(word) >= 3 and (full.startswith(word) or word in (full + "s", WEEKDAYS[i] + "s")):
            return i
    return None


def parse_schedule(text: str, default_tz: str = "UTC") -> ScheduleRequest | str:
    """A schedule request, or a message saying what is wrong with the wording."""
    head, sep, team = _split(text)
    if not sep or not team.strip():
        return USAGE
    name = None
    named = TEAM_NAME.search(team)
    if named:
        name, team = named.group(1).strip()[:80], team[: named.start()]
    # "9 am" → "9am" so a time is one word
    words = re.sub(r"(\d)\s+(am|pm)\b", r"\1\2", head.lower()).split()
    weekday = time = tz = None
    unknown = []
    for word in words:
        if word in FILLER:
            continue
        if weekday is None and (day := _day(word)) is not None:
            weekday = day
            continue
        if time is None and (match := TIME.match(word)):
            time = match
            continue
        if tz is None and ("/" in word or word in ("utc", "gmt")):
            tz = next((w for w in head.split() if w.lower() == word), word)
            continue
        unknown.append(word)
    if weekday is None:
        which = f"the day “{unknown[0]}”" if unknown else "which day"
        return f"I don't know {which}. {USAGE}"
    if time is None:
        return f"At what time? {USAGE}"
    hh, mm = int(time.group(1)), int(time.group(2) or 0)
    suffix = (time.group(3) or "").replace(".", "")
    if suffix and not 1 <= hh <= 12:
        return f"{time.group(0)} is not a time of day. {USAGE}"
    if suffix == "pm" and hh != 12:
        hh += 12
    elif suffix == "am" and hh == 12:
        hh = 0
    if hh > 23 or mm > 59:
        return f"{time.group(0)} is not a time of day. {USAGE}"
    if unknown:
        return f"I don't understand “{' '.join(unknown)}”. {USAGE}"
    tz = tz or default_tz
    if tz.lower() in ("utc", "gmt"):
        tz = "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return f"I don't know the timezone “{tz}” — use a name like Europe/Berlin or America/New_York."
    return ScheduleRequest(weekday, f"{hh:02d}:{mm:02d}", tz, team.strip(), name)


def _split(text: str) -> tuple[str, str, str]:
    """The words before the first " for " and the team after it."""
    parts = re.split(r"\s+for\s+", " " + text.strip(), maxsplit=1, flags=re.IGNORECASE)
    if len(parts) == 1:
        return parts[0], "", ""
    return parts[0], "for", parts[1]
