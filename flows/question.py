"""What a message asks: its shape (a definition, a number, a list, a comparison, a recommendation,
who, when), its asking parts, the sides it compares, the counts it asks for and the document it
names. Read from the question's words alone, before any passage is looked at.
"""

from __future__ import annotations

import re
from functools import lru_cache

from flows.manner import without_manner
from knowledge.loader import Course
from knowledge.spelling import everyday_slip
from knowledge.text import stem, stem_set, stem_words
from knowledge.vocabulary import load_vocabulary

SHAPES = {
    # "who" opening a question or a clause of it, or embedded after a verb of knowing or telling ("do
    # you know who…", "tell me who…", "any idea who…"); a noun right before it makes it a relative
    # clause ("my manager who is stressed"), no question.
    "who": re.compile(
        r"(^|[,:;?.!-] *|\band |\bso )who\b|(^|[,:;?.!-] *|\band |\bso )\w+ who (came up|coined|invented|"
        r"created|proposed|wrote|said|introduced|developed|founded|leads?|led|runs?|ran|owns?|is|was|were|are)\b"
        r"|\b(whose idea|which (person|company|companies|firm|researchers?))\b"
        r"|\b(know|knows|knew|tell|told|say|idea|clue|wonder|wondering|wondered|curious|sure|remember|recall|"
        r"remind|explain|ask|asking|asked|guess|find out|figure out|check|confirm|learn|see|name)"
        r"(?: (?:me|us|again|exactly|please|pls))* who\b"
    ),
    # "when is X the right fit?" asks a condition, not a date: only a past or a next event is a time.
    "when": re.compile(r"^(and )?when (did|was|were|is the next|will)\b|\bwhat year\b|\bsince when\b"),
    # a situation told ("we're just starting", "I'm a nurse") asks a pick only among options it offers
    "recommendation": re.compile(
        r"\b(should (we|i|you|my|our)|which (?:[\w-]+ ){0,2}(one|model|structure|approach|option)s?\b|"
        r"recommend|(we're|we are|i'm|i am) (just )?(starting|new|small|a |an |about)\b.*\bor\b(?! not\b)|"
        r"best for|"
        r"right (for|choice))\b"
    ),
    "comparison": re.compile(
        r"\b(vs\.?|versus|compared?|comparison|difference|differences|differ|diff|different from|pros|cons|"
        r"trade-?offs?|better)\b|\bor\b(?! not\b).*\?"
    ),
    # "how big" asks a size before a verb or the end ("how big is…", "how long does each take?"), not
    # in "how big tech companies' cultures…"
    "number": re.compile(
        r"\b(how (many|much)|how (long|big|often|fast)(?= (is|are|was|were|do|does|did|can|could|will|would|"
        r"should|to|it|they|we|you|i|each)\b|\W*$|\?)|what (percent|percentage|share|proportion|fraction)|"
        r"percent|number of|cost|costs|figure|figures|stats?|numbers|"
        r"budgets?|revenues?|prices?|salary|salaries|spend|spent|accuracy|headcount|valuation)\b"
        r"|%|\$"
    ),
    "list": re.compile(
        r"\b(what are|list|steps|stages|phases|dimensions|layers|tiers|pillars|components|practices|"
        r"mistakes|reasons|causes|types|models|imperatives|principles|checklist|metrics|alerts|all the|"
        r"ways|kinds|elements|parts|slas?|docs|documentation|bullet|bullets)\b"
        # "what allocation patterns does…", "which 2026 trends…": things asked for in the plural
        r"|\b(what|which)(?: [\w-]+){0,2} (?!(?:happens|goes|means|does|says|makes|takes|gets|works|helps|"
        r"needs|seems|looks|lets|is|was|has)\b)[a-z-]{3,}[^s']s (do|does|did|are|were|should|would|"
        r"can|could|will|have|in|of|for|from|to|that|the|a|an|this|our|my|we|you|i)\b"
    ),
    "definition": re.compile(
        r"^(what'?s|whats|what is|what are|define|definition|meaning|explain|eli5)\b|\bmean\b"
    ),
}


# What separates the sides of a comparison ("COE vs federated", "between a lake and a mesh").
COMPARED = (  # a hyphenated name is one side: "hub-and-spoke" is not "hub" and "spoke"
    r"\bvs\.?|\bversus\b|(?<!-)\bor\b(?!-| not\b)|(?<!-)\band\b(?!-)|,|/|\bcompared? (?:to|with)\b"
    r"|\bbetween\b|\bdiff(?:erence)?\b|\bdiffer(?:ent|s)? (?:from|to|than)\b"
)


CONTRASTED = r"\bvs\.?|\bversus\b|(?<!-)\bor\b(?!-| not\b)|\bcompared? (?:to|with)\b|\bbetween\b|\bdiff"


# What a comparison asks about each side (its pros, its cons), not a side itself.
ASPECTS = (
    "pros",
    "cons",
    "side",
    "sides",
    "advantages",
    "disadvantages",
    "tradeoffs",
    "trade",
    "offs",
    "better",
    "worse",
)


# A question asking how to do something: a way, which no definition of the thing named gives.
HOW_TO = re.compile(
    r"\bhow (do|can|should|could|would|might) (we|i|you|they|organi[sz]ations?|companies|teams?|orgs?)\b"
    r"|\bhow to\b|\bway out\b|\bwhat (do|should|can|could|would) (we|i|you|they) do\b"
)


# "Who owns data quality?" asks a role and what it does, which the lessons give by role, not by name.
ROLE = re.compile(
    r"\bwho(?: is| are|'s)? (owns?|(responsible|accountable|in charge) for|should (own|be responsible|"
    r"be accountable|sit|decide|approve)|decides?|approves?|maintains?|sits? on)\b"
)


# "Who is an AI translator?", "who are data stewards?": what a role or a kind of person is, a
# definition (no name answers it), unlike "who is the CEO of Uber?".
ROLE_DEFINED = re.compile(
    r"(^|[,:;?.!-] *|\band |\bso )(?:who(?: is|'s)|whos) an? (?:[\w-]+ ){0,2}[\w-]+"
    r"(?=\s*(?:[?,.;!]|$|\band\b|\bor\b|\bexactly\b))"
    r"|(^|[,:;?.!-] *|\band |\bso )who are (?!(?:the|these|those|they|you|we|your|our|their|my)\b)"
    r"(?:[\w-]+ ){0,2}[\w-]+s(?=\s*(?:[?,.;!]|$|\band\b|\bor\b|\bexactly\b))"
)


@lru_cache(maxsize=1024)  # asked four times per answer (shaper, evidence, brain), seven patterns each
def question_shape(question: str) -> str:
    """The first shape whose cue the question carries, most specific first; "general" otherwise. A
    slip of an everyday word is read as the word ("whats the diffrence between…" compares), a range
    ("one or two sentences") offers no choice, and how to put it ("explain … like i'm new", "in
    plain english", see flows.manner) is no part of what is asked."""
    q = RANGE.sub(r"\1-\2", respelled(without_manner(question).lower().replace("’", "'")))
    if ROLE_DEFINED.search(q):
        return "definition"
    for shape, cue in SHAPES.items():
        if shape == "who" and ROLE.search(q):
            continue
        if cue.search(q):
            return shape
    return "general"


# Where an asking clause may start after a lead-in: "…, what is X?", "…: when did…", "… - what…", "… but…"
CLAUSE = re.compile(r"[,:;.!?]\s+|\s[-–—]+\s|\bbut\s+", re.IGNORECASE)


def asked_shape(question: str) -> str:
    """The shape the shaper answers: `question_shape`, or, when the message opens with a lead-in
    that asks nothing ("ok so random thing i was wondering, what is X?", "sorry if this is a dumb q
    but when did…"), the shape of the clause where the asking starts: a cue that opens a question
    ("what is…", "when did…") opens its asking clause, wherever that stands in the message."""
    shape = question_shape(question)
    if shape != "general":
        return shape
    for cut in CLAUSE.finditer(question):
        if (asked := question_shape(question[cut.end() :])) != "general":
            return asked
    return shape


# "in one or two sentences", "2 or 3 examples": a range of counts, no choice between two things
_N = r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten)"


RANGE = re.compile(rf"\b{_N} or {_N}\b")


def respelled(text: str) -> str:
    """The text with each slip of an everyday word written as the word ("diffrence" → "difference"),
    so the cues of what is asked read through typos; a contraction without its apostrophe ("whats")
    is no slip of the word it contracts ("what"), nor is a count ("three" is not "there")."""

    def word(m: re.Match) -> str:
        slip = None if m.group() in COUNTS else everyday_slip(m.group())
        return slip if slip and slip != m.group()[:-1] else m.group()

    return re.sub(r"[a-z]+", word, text)


COUNTS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}


# A number naming a part of the course ("lesson 2", "phase 3", "tier 1") is a topic; any other small
# number before a word ("the 3 stats", "three pitfalls") says how many things are asked.
NUMBERED = frozenset(
    ["lesson", "module", "quiz", "lab", "phase", "stage", "tier", "step", "mistake", "part", "level", "q"]
)


COUNT = re.compile(
    r"(\w+ )?\b(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten)\b(?= [a-z])", re.IGNORECASE
)


PLACE = re.compile(
    r"\b(lesson|module) ?(\d)\b|\b(reading|article|deck|paper|piece|whitepaper)\b", re.IGNORECASE
)


EACH = re.compile(r"\b(each|every|all|what are|list)\b")  # "how many models" asks one count, not a list


def asked_counts(question: str) -> set[int]:
    """How many things the question asks for ("the 3 stats" → 3), not a numbered part ("stage 3")."""
    said = question.lower()
    found = [m.group(2) for m in COUNT.finditer(said) if (m.group(1) or "").strip() not in NUMBERED]
    return {int(w) if w.isdigit() else COUNTS[w] for w in found}


def asked_stems(question: str, query: set[str]) -> set[str]:
    """The query's stems without what only says how many things are asked ("the 3 stats": 3) or where
    in the course to look ("from lesson 2": lesson, 2): neither is a word the answer must hold."""
    said = question.lower()
    noise = {stem(m.group(2)) for m in COUNT.finditer(said) if (m.group(1) or "").strip() not in NUMBERED}
    for m in PLACE.finditer(said):
        noise |= {stem(w) for w in m.groups() if w}
    return query - noise


# "a deck", "my deck", "for a budget deck", "our board slide deck": the learner's own, not the course's
OWN_FORM = re.compile(r"\b(a|an|my|our|your|their)(\s+[\w-]+){0,2}\s*$")


def place(question: str, course: Course) -> str:
    """The document the question says its answer is in ("according to lesson 2" → "lesson-2", "the
    paradox reading" → "reading-scaling-paradox", "the deck" → the one reading that is a slide deck,
    "according to the scaling paradox" → the reading of that title), as a passage prefix; "" when it
    names none or several."""
    found = set()
    said = set(stem_words(question))
    readings = [d for d in course.documents.values() if d.kind != "lesson"]
    for m in PLACE.finditer(question.lower()):
        if m.group(2):
            found.add(f"lesson-{m.group(2)}")
            continue
        # a reading named by what it is: the one whose title or subtitle says "deck" or "article"
        # ("the deck"; "for a deck", "my board deck" is the learner's own)
        own = OWN_FORM.search(question.lower()[: m.start(3)])
        form = stem(m.group(3))
        formed = {d.id for d in readings if form in stem_set(f"{d.title} {d.subtitle or ''}")}
        if len(formed) == 1 and not own:
            found |= formed
            continue
        named = said - {stem(w) for w in ("reading", "scaling", "ai")}
        found |= {d.id for d in readings if named & set(stem_words(d.id.replace("reading-", "")))}
    if not found:  # a reading named by its title alone: every word of "The AI Scaling Paradox" but "AI"
        titled = [(d.id, set(stem_words(d.title)) - {"ai"}) for d in readings]
        found = {doc for doc, title in titled if len(title) >= 2 and title <= said}
    found &= set(course.documents)  # "lesson 5" names no document of a four-lesson course
    return f"{found.pop()}#" if len(found) == 1 else ""


def counts_told(question: str) -> set[int]:
    """How many things the question says there are ("the 3 stats", "four reasons")."""
    said = re.findall(
        r"\b(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten)\b(?![%$.,]\d|%)", question.lower()
    )
    return {int(w) if w.isdigit() else COUNTS[w] for w in said}


FACTS = ("number", "who", "when")  # the shapes that ask one fact: a figure, a person, a year


# A second question in the message ("who was it and what problem did it fix?"): more than one fact.
SECOND_PART = re.compile(r"\b(and|but|also)\s+(what|how|why|which|who|when|where)\b|\?\s*\S.*\?")


def comparison_sides(question: str) -> list[set[str]]:
    """The things a comparison question compares ("COE vs federated" → {coe…}, {federat…}), each as
    stems, with the course words they stand for."""
    vocab = load_vocabulary()
    # What a second asking part asks ("…, and which is best for a bank?", "…, and can you just grow
    # one into the other?") is no side of the first.
    parts = [p.lower() for p in separate_questions(question)]
    compared = next((p for p in parts if re.search(CONTRASTED, p)), parts[0])
    compared, *_ = SECOND_PART.split(compared, maxsplit=1)
    # ...nor what another clause tells ("lake vs mesh - which? our lake has turned into a mess")
    # (the clause saying "vs" or "or" when one does: "we've got fraud, churn and recs. platform or not?")
    clauses = re.split(r"[?.!;]| - | — ", compared)
    compared = next((c for c in clauses if re.search(CONTRASTED, c)), None) or next(
        (c for c in clauses if len(re.split(COMPARED, c)) > 1), compared
    )
    parts = re.split(COMPARED, compared)
    aspects = {stem(w) for w in ASPECTS} | {stem(w) for w in vocab.chat}
    # what is asked "of each" / "for both" ("characteristics of each") is asked of every side
    aspects |= {stem(w) for w in re.findall(r"([\w-]+) (?:of|for) (?:each|both)\b", compared)}
    sides = [set(stem_words(f"{p} {vocab.expansion(p)}")) - aspects for p in parts]
    return [side for side in sides if side] if len(sides) > 1 else []


def asks_several(question: str) -> bool:
    """Whether a question asks for several things: a list, or a count of them ("the 3 stats")."""
    return question_shape(question) == "list" or any(n >= 2 for n in asked_counts(question))


# Where a message starts asking its next thing: "…, and how big is…", "…? What about…".
NEXT_PART = re.compile(
    r"(?:[,;:]\s*|\s+)(?:and|but|also|plus)\s+(?=(?:what|what's|whats|how|why|which|who|when|where|is|are|"
    r"does|do|did|should|can)\b)|(?<=\?)\s+(?=\S)",
    re.IGNORECASE,
)


ASKS = re.compile(r"\?\s*$|\b(what|whats|what's|how|why|which|who|when|where)\b", re.IGNORECASE)


def separate_questions(question: str) -> list[str]:
    """The things a message asks, each on its own: its asking parts with words of their own. One part
    (the whole message) when it asks one thing, or when a later part has nothing to search on of its
    own ("…and why does it matter?": it asks about what the first part asks)."""
    parts = [p.strip(" ,;") for p in NEXT_PART.split(question) if p and p.strip(" ,;?")]
    # a part that asks: the first, or one with a question word or a question mark ("I count six" tells)
    own = [p for i, p in enumerate(parts) if stem_words(p) and (i == 0 or ASKS.search(p))]
    return own if len(own) >= 2 else [question]
