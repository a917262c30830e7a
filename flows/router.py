"""Turn a learner's words into an intent. Commands are short, typo-tolerant and whole-message only:
"Stop the pilots and fix the data" inside a lab is an answer, "stop" is a command. A typo is at most
one edit away in a short word ("finsh", "hnit"), two in a long one; "post" is not "stop", "node" is
not "done".
"""

from __future__ import annotations

import difflib
import re

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from flows.state import Intent

POLITE = re.compile(
    r"^(?:please\s+|pls\s+|can\s+(?:we|i|you)\s+|could\s+(?:we|i|you)\s+|let'?s\s+"
    r"|i\s+(?:want|would like|'d like)\s+to\s+"
    r"|i'?d\s+like\s+to\s+|i\s+want\s+|give\s+me\s+(?:a\s+)?|show\s+(?:me\s+)?(?:my\s+)?|go\s+to\s+)+"
)
WORDS = {
    "start": "start",
    "begin": "start",
    "open": "start",
    "do": "start",
    "try": "start",
    "take": "start",
    "lab": "lab",
    "quiz": "quiz",
    "test": "test",
    "exam": "test",
    "drill": "drill",
    "review": "drill",
    "practice": "drill",
    "practise": "drill",
    "progress": "progress",
    "stats": "progress",
    "scores": "progress",
    "score": "progress",
    "help": "help",
    "commands": "help",
    "menu": "help",
    "stop": "stop",
    "quit": "stop",
    "exit": "stop",
    "cancel": "stop",
    "hint": "hint",
    "clue": "hint",
    "finish": "finish",
    "done": "finish",
    "debrief": "finish",
    "lesson": "lesson",
    "module": "module",
    "final": "module",
    "my": "my",
    "the": "the",
}
VOCAB = sorted(w for w in WORDS if len(w) >= 3)
TYPO_MIN_LENGTH = 4
MISSING = re.compile(
    r"^(?:what\s+(?:am\s+i|have\s+i|did\s+i)\s+(?:missing|missed|miss|left\s+out)|missing|what'?s\s+missing)\??$"
)
ANSWER_LETTER = re.compile(r"^\(?([a-d])\)?[.)]?$|^(?:option|answer|choice)\s+\(?([a-d1-4])\)?[.)]?$")
# A member's say over weekly nudges, in everyday words ("stop sending me these", "pause nudges for 2
# weeks", "why am I getting these?"). Checked before anything else, so it never reaches Q&A.
NUDGE_THINGS = (
    r"(?:(?:the|these|those|your|all)\s+)?(?:weekly\s+)?(?:nudges?|reminders?|practice(?:\s+questions?)?|"
    r"quiz(?:zes)?|questions?|messages?|emails?|these|them|this|it)"
)
NUDGE_STOP = re.compile(
    r"^(?:stop|no\s+more|turn\s+off|disable|mute|unsubscribe(?:\s+me)?(?:\s+from)?|opt\s*-?\s*out(?:\s+of)?"
    r"|(?:i\s+)?(?:don'?t|do\s+not)\s+(?:want|need|send\s+me)(?:\s+any\s*more)?)\s+"
    rf"(?:sending\s+(?:me\s+)?|getting\s+)?{NUDGE_THINGS}(?:\s+any\s*more|\s+please)?$"
    r"|^(?:unsubscribe(?:\s+me)?|opt\s*-?\s*out|leave\s+(?:the\s+)?nudges)$"
)
NUDGE_PAUSE = re.compile(
    rf"^(?:pause|snooze|hold)\s+(?:sending\s+(?:me\s+)?)?{NUDGE_THINGS}"
    r"(?:\s+(?:for\s+)?(?P<n>\d+|a|an|one|two|three|four|a\s+few|few|couple\s+of|a\s+couple\s+of)"
    r"\s+(?P<unit>weeks?|days?|months?))?$"
)
NUDGE_RESUME = re.compile(
    rf"^(?:resume|restart|unpause|turn\s+on|start\s+sending\s+(?:me\s+)?|send\s+me)\s+{NUDGE_THINGS}"
    r"(?:\s+again)?$|^(?:re)?subscribe(?:\s+me)?(?:\s+again)?$"
)
NUDGE_WHY = re.compile(
    r"^(?:why|how\s+come)\s+(?:am|do|did|are|is)\s+(?:i|you|coach|this)\s+"
    r"(?:getting|receiving|get|being\s+sent|sending(?:\s+me)?|messaging\s+me)\b"
    r"|^who\s+(?:is\s+)?(?:sends?|sending|scheduled|set\s+(?:this|these)\s+up|signed\s+me\s+up)\b"
    r"|^what\s+are\s+(?:these|the\s+weekly)(?:\s+(?:questions?|messages?|nudges?))?$"
)
NUDGE_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "few": 2, "a few": 2}


def parse_nudge_request(text: str) -> Intent | None:
    """ "stop nudges", "pause nudges for 2 weeks", "resume nudges", "why am I getting these?"."""
    norm = normalize(text)
    if NUDGE_WHY.match(norm):
        return {"name": "nudges", "text": "why"}
    if NUDGE_STOP.match(norm):
        return {"name": "nudges", "text": "stop"}
    if NUDGE_RESUME.match(norm):
        return {"name": "nudges", "text": "resume"}
    pause = NUDGE_PAUSE.match(norm)
    if pause:
        raw = (pause["n"] or "2").replace("couple of", "two").replace("a two", "two")
        count = int(raw) if raw.isdigit() else NUDGE_COUNTS.get(raw, 2)
        unit = pause["unit"] or "weeks"
        weeks = count * 4 if unit.startswith("month") else -(-count // 7) if unit.startswith("day") else count
        return {"name": "nudges", "text": "pause", "number": max(1, min(weeks, 26))}
    return None


# What a learner in a lab says instead of pressing a button. Whole-message only and fuzzy (a typo or a
# filler word away), so "the missing piece is data ownership" stays an answer.
LAB_ACTIONS: dict[str, str] = {
    **dict.fromkeys(
        (
            "what am i missing",
            "what else am i missing",
            "what else",
            "what else is there",
            "what have i missed",
            "what have i left out",
            "what did i miss",
            "what haven't i covered",
            "what's left",
            "what's still open",
            "what else should i think about",
            "what else should i consider",
            "anything else",
            "anything i'm missing",
            "is there anything i'm missing",
        ),
        "missing",
    ),
    **dict.fromkeys(
        (
            "hint",
            "give me a hint",
            "can i have a hint",
            "can i get a hint",
            "a hint please",
            "i need a hint",
            "i'm stuck",
            "i am stuck",
            "stuck",
            "no idea",
            "i have no idea",
            "no clue",
            "i've no idea",
            "help me out",
            "give me a clue",
            "any tips",
            "point me in the right direction",
        ),
        "hint",
    ),
    **dict.fromkeys(
        (
            "finish",
            "i'm done",
            "i am done",
            "done",
            "i'm finished",
            "we're done",
            "that's all",
            "that's it",
            "that's all i have",
            "that's all i've got",
            "i think that's it",
            "wrap up",
            "wrap it up",
            "can we wrap up",
            "let's wrap up",
            "let's wrap it up",
            "end the lab",
            "finish the lab",
            "give me my debrief",
            "nothing else",
            "nothing more",
        ),
        "finish",
    ),
}
FILLERS = re.compile(r"^(?:(?:hmm+|umm*|uh+|ok(?:ay)?|so|well|right|yeah|yes|ah|oh|honestly|and)\b[\s,]*)+")
LAB_ACTION_MAX_WORDS = 8
LAB_ACTION_MIN_SCORE = 88


def parse_lab_action(text: str) -> Intent | None:
    """The button a learner in a lab means in their own words: "hmm what else am I missing?" →
    missing, "I'm stuck" → hint, "can we wrap up" → finish; None for anything else (an answer)."""
    norm = FILLERS.sub("", text.lower().replace("’", "'").strip())
    norm = re.sub(r"\s+", " ", re.sub(r"[!?.,;:]+", " ", norm)).strip()
    norm = re.sub(r"\s+(?:please|pls|now|then|here|for now|coach)$", "", norm)
    if not norm or len(norm.split()) > LAB_ACTION_MAX_WORDS:
        return None
    match = process.extractOne(norm, LAB_ACTIONS.keys(), scorer=fuzz.ratio, score_cutoff=LAB_ACTION_MIN_SCORE)
    return {"name": LAB_ACTIONS[match[0]]} if match else None


RATING_WORDS = {"good": "good", "bad": "bad", "👍": "good", "👎": "bad", "+1": "good", "-1": "bad"}
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}


def normalize(text: str) -> str:
    text = text.lower().replace("’", "'").strip()
    text = re.sub(r"^[/!@]?coach[:,]?\s+", "", text)
    text = re.sub(r"[!?.,;:]+$", "", text).strip()
    text = re.sub(r"\s+", " ", text)
    return POLITE.sub("", text).strip()


def _canonical(token: str) -> str:
    """Map a word to its command meaning, forgiving small typos in longer words."""
    if token in WORDS:
        return WORDS[token]
    match = re.fullmatch(r"(lab|quiz|lesson|test)(\d+)", token)
    if match:
        return f"{WORDS[match.group(1)]} {match.group(2)}"
    if token.isdigit() or token in NUMBER_WORDS:
        return str(NUMBER_WORDS.get(token, token))
    if len(token) >= TYPO_MIN_LENGTH:
        bound = 1 if len(token) < 8 else 2  # edits (a swap of neighbours is one): "finsh", "hnit"
        close = process.extractOne(token, VOCAB, scorer=OSA.distance, score_cutoff=bound)
        if close:
            return WORDS[close[0]]
    return token


def parse_command(text: str) -> Intent | None:
    """The command a short message asks for, or None when it is not a command."""
    norm = normalize(text)
    if not norm:
        return None
    if MISSING.match(norm):
        return {"name": "missing"}
    if norm in RATING_WORDS:
        return {"name": "feedback", "text": RATING_WORDS[norm]}
    tokens = norm.split()
    if len(tokens) > 5:
        return None
    words = " ".join(_canonical(t) for t in tokens).split()
    words = [w for w in words if w not in ("the", "my", "a", "an", "me", "i'm", "im", "i", "am", "all")]
    if not words:
        return None
    head, rest = words[0], words[1:]
    if head == "start" and rest:
        head, rest = rest[0], rest[1:]
    # Any integer, 0 and negatives included: "lab 0" gets the lab menu, as "lab 7" does, not a Q&A refusal.
    numeral = next((w for w in rest if re.fullmatch(r"[-−]?\d+", w)), None)
    number = int(numeral.replace("−", "-")) if numeral else None
    if head == "lab" and numeral and set(rest) <= {numeral, "lesson"}:
        return {"name": "lab", "number": number}
    if head == "quiz" and numeral and set(rest) <= {numeral, "lesson", "on", "for"}:
        return {"name": "quiz", "number": number}
    if head == "lesson" and numeral and rest[1:] in ([], ["quiz"]):
        return {"name": "quiz", "number": number}
    if (head == "module" and rest in ([], ["test"], ["quiz"], ["exam"])) or (head == "test" and not rest):
        return {"name": "test"}
    if head == "quiz" and not rest:
        return {"name": "quiz"}
    if head == "lab" and not rest:
        return {"name": "lab"}
    simple = {"drill", "progress", "help", "stop", "hint", "finish"}
    if head in simple and (not rest or rest in (["please"], ["me"])):
        return {"name": head}
    return None


QUESTION_START = re.compile(
    r"^(what|what's|whats|why|how|who|when|which|where|is|are|can|could|does|do|should|would|explain|"
    r"define|tell me|remind me)\b",
    re.IGNORECASE,
)


def is_question(text: str) -> bool:
    """A message that asks something ("what is a model card?") rather than answers or commands."""
    text = text.strip()
    return len(text.split()) >= 3 and bool(QUESTION_START.match(text))


def parse_answer(text: str, options: dict[str, str]) -> str | None:
    """The option letter a learner means: a letter, a number, or (fuzzily) the option's own text."""
    norm = normalize(text)
    if not norm:
        return None
    match = ANSWER_LETTER.match(norm)
    if match:
        picked = match.group(1) or match.group(2)
        return "ABCD"[int(picked) - 1] if picked.isdigit() else picked.upper()
    if norm in ("1", "2", "3", "4") or norm in NUMBER_WORDS:
        n = int(NUMBER_WORDS.get(norm, norm))
        return "ABCD"[n - 1] if 1 <= n <= 4 else None
    if not options:
        return None
    scores = {
        letter: difflib.SequenceMatcher(None, norm, option.lower()).ratio()
        for letter, option in options.items()
    }
    best = max(scores, key=scores.__getitem__)
    ranked = sorted(scores.values(), reverse=True)
    contained = [k for k, o in options.items() if len(norm) >= 4 and norm in o.lower()]
    if len(contained) == 1:
        return contained[0]
    if ranked[0] >= 0.6 and ranked[0] - ranked[1] >= 0.1:
        return best
    return None


def talks_to_coach(state: dict, learner: str) -> bool:
    """In a shared thread, whether a message that does not mention the coach is for it: its sender asked
    the coach something in this thread, or owes the reason for a 👎. Others' chatter in the thread is
    theirs: neither answered nor kept."""
    pending = state.get("feedback_pending") or {}
    asked = any(t.get("learner") == learner for t in state.get("qa") or [])
    return asked or pending.get("learner") == learner


# Saying hello, thanks or "ok" to the coach: a social turn, not a question about the lessons.
SOCIAL = {
    "greeting": r"hi|hello|hey|hiya|howdy|yo|hi there|hey there|hello there"
    r"|good (?:morning|afternoon|evening)",
    "thanks": r"thanks|thank you|thank u|thx|ty|cheers|many thanks|much appreciated"
    r"|(?:great|perfect|ok),? thanks",
    "ack": r"ok|okay|k|cool|got it|yes|yeah|yep|yup|no|nope|nah|sure|great|nice|perfect|awesome"
    r"|alright|sounds good",
}
SOCIAL_ACT = {
    act: re.compile(rf"^(?:{words})(?:,?\s+(?:coach|again|so much|a lot|all|everyone))?[\s!.🙂🙏👋😊]*$")
    for act, words in SOCIAL.items()
}


def social_act(text: str) -> str | None:
    """ "greeting", "thanks" or "ack" when the whole message only says hello, thanks or ok."""
    said = normalize(text)
    return next((act for act, pattern in SOCIAL_ACT.items() if pattern.match(said)), None)
