"""Near-misses: questions made of the course's own names and words that ask what the text never says.

"How many agile squads did DBS end up with?" is answered by no sentence counting employees into
squads; "by how much did Walmart's forecast accuracy improve?" by no paragraph on Walmart that says
accuracy; "what year did Amazon first adopt 'working backwards'?" by no year dating the adoption; "how
is F1 calculated?" by no unit saying how. A good tutor says the lessons don't say that, then what they
do say. Each check reads what the question asks against the reply's own text (`flows/ask.py`'s
evidence vetoes what it finds and names it as not covered).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from lemminflect import getAllLemmas

from flows.attribute import OF_NAME, POSSESSIVE
from flows.focus import FIGURE, MARKER, YEARS, counted_thing, lemmas
from flows.parts import dated
from flows.question import NUMBERED
from knowledge.retrieval import STOPWORDS, content_words, words
from knowledge.text import stem, stem_words
from knowledge.vocabulary import load_vocabulary

# A noun phrase holds nouns, adjectives and words English's lexicon does not know ("ML", "AT&T's");
# a verb or adverb ends it ("Walmart's forecast accuracy **improve**", "AT&T's reskilling **actually**").
PHRASE_KINDS = frozenset(["NOUN", "ADJ"])
NOUN_PHRASE = PHRASE_KINDS | {"PROPN"}
AFTER_FIGURE = 6  # words a figure's noun phrase may run to ("thousands of machine learning models")
LABEL_WORDS = 10  # a line this short with a figure is a label and its value ("Models deployed — 24")
LABEL_REACH = 3  # words before the figure a label's noun may stand
# "how is F1 calculated?", "how are accelerators calculated?", "how was the platform priced?"
METHOD = re.compile(r"^\W*how\s+(is|are|was|were)\s+(.+?)\s+([a-z]+ed)\b", re.IGNORECASE)


def said(text: str) -> set[str]:
    """The stems and dictionary forms (`~`-marked) of a text's words."""
    return set(stem_words(text)) | {lemma for w in words(text) for lemma in lemmas(w)}


def holds(word: str, known: set[str]) -> bool:
    """Whether `known` (see `said`) holds `word` (each part of "trade-offs"), a synonym of it or
    another form of it."""
    parts = set(stem_words(word))
    whole = {stem(word), *stem_words(load_vocabulary().means(word)), *lemmas(word)}
    return bool(parts and parts <= known) or bool(whole & known)


def in_phrase(word: str) -> bool:
    """Whether a word can stand in a noun phrase: a noun or adjective, or a word the lexicon does not
    know that is no stop word (a name, an abbreviation, a figure)."""
    classes = set(getAllLemmas(word))
    return bool(classes & NOUN_PHRASE) if classes else word not in STOPWORDS


def owned_phrases(question: str) -> list[tuple[str, str]]:
    """Each (name, phrase) the question writes as "NAME's …" or "the … of NAME"; not "the name of
    AT&T's program", whose phrase is owned by the program, not by AT&T."""
    owned = [(m.group(1), m.group(2)) for m in POSSESSIVE.finditer(question)]
    of_name = OF_NAME.finditer(question)
    return owned + [(m.group(2), m.group(1)) for m in of_name if not POSSESSED.match(question, m.end())]


POSSESSED = re.compile(r"['’]s\b")


def noun_phrase(phrase: str) -> str:
    """The noun phrase `phrase` opens: its words up to a dash, a verb or an adverb (the last is its
    head)."""
    kept: list[str] = []
    for word in re.split(r"\s+", re.split(r"\s[-–—]+\s", phrase.lower(), maxsplit=1)[0].strip()):
        if not in_phrase(word):
            break
        kept.append(word)
    return " ".join(kept)


def paragraphs_naming(reply: str, name: str) -> list[str]:
    """The reply's paragraphs that say `name` (possessive too)."""
    return [p for p in reply.splitlines() if name in content_words(p) or f"{name}'s" in words(p)]


def unbound_attributes(question: str, names: set[str], reply: str, asked: Iterable[str] = ()) -> list[str]:
    """What the question asks of a name ("Walmart's forecast **accuracy**", the `asked` thing of "what
    X did NAME…") that no paragraph of the reply naming that name says: a paragraph on Walmart is no
    answer to Walmart's accuracy because another paragraph says accuracy, nor one on Spotify's
    platform to Netflix's."""
    chat = load_vocabulary().chat
    wanted = [(name, noun_phrase(p), True) for name, p in owned_phrases(question)]
    wanted += [(name, thing, False) for thing in asked for name in names]
    missing: list[str] = []
    for written, phrase, owned in wanted:
        name, head = written.lower(), phrase.split()[-1] if phrase else ""
        if name not in names or not head or head in names or head in chat or not content_words(head):
            continue
        if not holds(head, said(" ".join(paragraphs_naming(reply, name)))):
            missing.append(f"{written}'s {phrase}" if owned else phrase)
    return list(dict.fromkeys(missing))


def counted_by(paragraph: str, counted: set[str]) -> bool:
    """Whether a figure (not a year) in `paragraph` counts what is counted (stems): the noun phrase the
    figure opens holds it ("4,000 **engineers**", "dozens of ML **models**"; "33,000 employees into
    agile squads" counts employees), or, in a short label line, a word just before it ("Models
    deployed — 24")."""
    for line in paragraph.splitlines():
        for sentence in re.split(r"(?<=[.;!?])\s+", MARKER.sub(" ", line)):
            tokens = sentence.split()
            label = len(tokens) <= LABEL_WORDS
            for i, token in enumerate(tokens):
                if not FIGURE.search(YEARS.sub(" ", token)):
                    continue
                if label and any(set(stem_words(t)) & counted for t in tokens[max(0, i - LABEL_REACH) : i]):
                    return True
                for after in tokens[i + 1 : i + 1 + AFTER_FIGURE]:
                    word = after.strip(",.;:()\"'*").lower()
                    if set(stem_words(word)) & counted:
                        return True
                    if not word or (word != "of" and not in_phrase(word)) or after[-1:] in ",.;:)":
                        break
    return False


def uncounted(question: str, reply: str, spelled: Callable[[str], str] = str) -> list[str]:
    """For a "how many…" question, what it counts when no figure of the reply counts it ("how many
    agile squads…", answered by "restructured 33,000 employees into agile squads")."""
    counted = counted_thing(question, spelled, PHRASE_KINDS)
    if not counted or counted_by(reply, counted):
        return []
    found = re.search(r"\bhow many\s+((?:[\w'-]+\s+)?[\w'-]+)", question, re.IGNORECASE)
    return [f"how many {found.group(1).lower()}"] if found else []


def figures(reply: str) -> list[str]:
    """The figures a reply gives: not a year, a citation or a number naming a part ("Stage 3")."""
    found: list[str] = []
    for tokens in (MARKER.sub(" ", line).split() for line in reply.splitlines()):
        for before, token in zip(["", *tokens], tokens, strict=False):
            if before.strip("*(").lower() not in NUMBERED and FIGURE.search(YEARS.sub(" ", token)):
                found.append(token)
    return found


def undated(reply: str, asked: Iterable[str]) -> bool:
    """Whether a "when" question's reply gives no year near a word of what it dates (`asked`, words),
    nor in a clause with one ("launched its AI Center of Excellence (COE) in 2017"): "By 2022, Amazon
    reported…" dates no adoption of "working backwards"."""
    stems = {stem(w) for w in asked}
    clauses = re.split(r"[,;:—–]|\s-\s|(?<=[.!?])\s", MARKER.sub(" ", reply))
    in_clause = any(YEARS.search(c) and set(stem_words(c)) & stems for c in clauses)
    return not in_clause and not dated(reply, stems)


# "after the ACLU test", "since its transformation": what followed an event of a case
AFTER_EVENT = re.compile(
    r"\b(?:after|since|following)\s+(?:the|its|their|his|her|that)\s+[\w'’&-]+(?:\s+[\w'’&-]+){0,3}?"
    r"(?=\s*[?,.!;:—–]|\s+-|\s*$|\s+(?:and|did|was|were|is|are|has|have)\b)",
    re.IGNORECASE,
)
# Words a text tells what came next with: a sequel, a result, a later year
SEQUEL = re.compile(
    r"\b(?:after|afterwards?|then|later|since|following|subsequently|within|results?|resulted|"
    r"by (?:19|20)\d\d|now|became|went on)\b",
    re.IGNORECASE,
)


def unfollowed(question: str, reply: str) -> list[str]:
    """What a question asks followed an event of a case ("did Amazon stop selling Rekognition **after
    the ACLU test**?") when the reply tells no sequel: the case told is no answer to its aftermath."""
    found = AFTER_EVENT.search(question)
    return [f"what happened {found.group(0)}"] if found and not SEQUEL.search(reply) else []


# "which **hospital systems** have adopted…", "which **countries** besides the EU have passed…"
WHICH_HAVE = re.compile(
    r"^\W*(which|what)\s+((?:[\w'-]+\s+){0,3}?[\w'-]+)\s+(?:has|have|had)\b", re.IGNORECASE
)


def asked_which(question: str, unknown: Iterable[str]) -> list[str]:
    """The things a "which X have…" question asks for ("which hospital systems") when the course never
    uses a word of X (`unknown`): it names none of them."""
    found = WHICH_HAVE.match(question)
    if not found or not set(content_words(found.group(2))) & set(unknown):
        return []
    return [f"{found.group(1).lower()} {found.group(2)}"]


def unstated_method(question: str, known: set[str]) -> list[str]:
    """What a "how is X calculated / priced / measured?" question asks when the chosen units (`known`,
    see `said`) never say the doing: how X is done, not what X is ("how is F1 calculated?" is not
    answered by a passage naming F1 among model metrics)."""
    found = METHOD.match(question)
    if not found:
        return []
    be, thing, done = found.group(1).lower(), found.group(2).strip(), found.group(3).lower()
    if "VERB" not in getAllLemmas(done) or holds(done, known):
        return []
    return [f"how {thing} {be} {done}"]
