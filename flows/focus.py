"""What a fact question asks for, and whether a reply gives it.

A question asking a fact ("how much did Uber charge…", "who is Uber's current CEO?", "when was Nirvana
shut down?") names a thing and asks one attribute of it. A good tutor answers only when the text
gives THAT attribute: a passage about Uber is no answer to what Uber charges. So the question's
words are split into the names it mentions (the course's companies, people, years) and the rest,
its focus (charge, current, shut down), and the reply must hold most of the focus, weighted by how
telling each word is; chat words and politeness weigh nothing. A fact only the learner's own
organisation knows ("our company's CEO", "our Singapore office") no lesson can give; the roles and
practices the lessons recommend for it they can.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from lemminflect import getAllLemmas

from flows.deps import Deps
from knowledge.retrieval import YEAR, content_words, words
from knowledge.spelling import WORD_CACHE, known_to_english, repaired
from knowledge.text import stem, stem_words
from knowledge.vocabulary import load_vocabulary

# Words that only say a fact is asked (a figure, a time), not which fact.
CUES = frozenset(
    ["exactly", "roughly", "approximately", "total", "year", "years", "dollars", "usd", "euros", "percent"]
)
# A reply must hold at least this share of the focus (idf-weighted) to answer a fact question.
MIN_FOCUS = 0.34
# The posts an organisation fills ("our head of data", "who is my manager?"): one list for both checks.
POSTS = (
    "ceo|cfo|cto|cio|cdo|coo|head|heads|director|directors|manager|managers|boss|lead|vp|chief|president|"
    "chair|founder|founders"
)
OWN_ORGANISATION = re.compile(
    r"\b(our|my)\b(?: [\w'-]+){0,2} (company|company's|office|offices|org|organisation|organization|"
    r"firm|department|building|payroll|hr|intranet|drive|laptop|salary|salaries|team|teams|"
    rf"staff|headcount|{POSTS})\b",
    re.IGNORECASE,
)
# What only the organisation itself knows: who holds one of its posts, how many people it has, its
# money, its places and equipment, the dates of its own events. Roles and practices ("who is
# responsible for AI governance in our company?", "how long does it take my team to get a model to
# production?") are what the lessons recommend: those are answered.
ORGANISATION_ONLY = re.compile(
    rf"\bwho(?: is|'s| are| was)\b(?: [\w'-]+){{0,3}}? ({POSTS})\b"
    r"|\bhow many (people|employees|staff|engineers|scientists|analysts|members|heads|workers|folks|persons|"
    r"colleagues|hires|contractors)\b|\bheadcount\b|\bhow (big|large) (is|are)\b"
    r"|\b(budgets?|salary|salaries|pay|paid|payroll|bonus|bonuses|revenues?|spend|spent|spending|costs?|prices?|"
    r"expenses?|offices?|building|buildings|address|intranet|drive|laptops?|wifi|vpn|passwords?|desk)\b"
    r"|^(and )?when (did|was|were|will|is the next)\b",
    re.IGNORECASE,
)
OWN_POST = re.compile(rf"\b(?:my|our)\s+(?:[\w'-]+\s+)?({POSTS})\b", re.IGNORECASE)
ADVICE = re.compile(r"\b(should|could|would|ought|need|needs|recommend)\b", re.IGNORECASE)


# A chief officer written as its acronym ("our CHRO", "my CMO", "our CISO"): C, the office, O.
OWN_CHIEF = re.compile(r"\b(?:[Mm]y|[Oo]ur)\s+(?:[\w'-]+\s+)?(C[A-Z]{1,3}O)s?\b")


def own_posts(question: str) -> set[str]:
    """The learner's own people a question mentions ("my **VP** wants stats", "our **CEO** keeps
    quoting…", "our **CHRO**"): who asks or why, never what is asked about."""
    chiefs = {m.group(1).lower() for m in OWN_CHIEF.finditer(question)}
    return {m.group(1).lower() for m in OWN_POST.finditer(question)} | chiefs


# The asker's own role: "As a BI analyst, …", "why would I care as a BI analyst?", "I'm a nurse, …",
# "IT admin here." (up to three words, never past a preposition or a clause word; "…, as a warning"
# is no role). Linear on any input: a role word is taken whole (possessive: it cannot be split into
# several "words") and "I … as a" looks at most 80 characters ahead.
ROLE_WORDS = (
    r"((?:(?!(?:of|on|in|for|with|about|at|to|and|but|or|who|that|the|what|how|why)\b)[\w&/'’-]++ ?){1,3})"
)
OWN_ROLE = re.compile(
    rf"(?:^\W*|\b(?:i|me)\b[^.?!,]{{0,80}}?)\bas an? {ROLE_WORDS}"
    rf"|\b(?:i'm|i’m|im|i am)\s+an? {ROLE_WORDS}(?=\s*[,.;:!?)-])"
    rf"|(?:^|[,.;:!?]\s*){ROLE_WORDS}\s+here\b(?=\s*[,.;:!?—–-])",
    re.IGNORECASE,
)


def own_people(deps: Deps, question: str) -> set[str]:
    """The learner's own people (`own_posts`) and the words of the asker's own role that the course
    never uses ("as a **BI** analyst"): they say who asks, never a topic the course lacks. A role
    word the course uses ("as a data scientist, …") may be what is asked, and stays."""
    role = {w for m in OWN_ROLE.finditer(question) for g in m.groups() if g for w in words(g)}
    return own_posts(question) | {w for w in role if not deps.index.doc_freq(w)[0]}


@dataclass(frozen=True)
class Focus:
    share: float  # of the focus's weight, what the reply holds
    missing: list[str]  # the focus words the reply does not hold
    given: bool = True  # the reply holds the kind of fact asked (a figure; one counting what is counted)


def written_as_names(text: str) -> set[str]:
    """The words a question writes capitalised after another word ("which template does Hugging Face
    use?", "DBS Bank's budget"): names, whatever else the word can mean; and, wherever it stands (first,
    after a "?" or a bracket), a capitalised word English's lexicon does not know ("Siemens: …")."""
    mid = {m.group(1).lower().removesuffix("'s") for m in re.finditer(r"(?<=[\w,] )([A-Z][\w'’-]*)", text)}
    return mid | proper_names(text)


def proper_names(text: str) -> set[str]:
    """The capitalised words English's lexicon does not know, wherever they stand ("Siemens: …",
    "… right? Deloitte had a figure"): names of organisations, people, products."""
    found = re.finditer(r"(?<![\w'’&-])([A-Z][a-z][\w'’-]*)", text)
    return {
        w
        for m in found
        if not known_to_english(w := m.group(1).lower().removesuffix("'s")) and not CONTRACTION.search(w)
    }


# "We're", "I'm", "Don't": a pronoun or a verb with its ending, never a name.
CONTRACTION = re.compile(r"['’](re|m|ve|ll|d|t)$")


def focus_words(deps: Deps, question: str) -> list[str]:
    """The question's words that say what is asked: not the names it mentions (the course's, or any
    it writes as a name: "DBS Bank", "Nirvana"), not chat words."""
    vocab = load_vocabulary()
    names = deps.index.names() | written_as_names(question)
    return [w for w in content_words(question) if w not in vocab.chat and w not in names and w not in CUES]


def focus(deps: Deps, question: str, reply: str) -> Focus:
    """How much of what the question asks for (its focus) the reply's own words hold."""
    vocab = load_vocabulary()
    said = set(stem_words(reply)) | {lemma for w in words(reply) for lemma in lemmas(w)}
    total = held = 0.0
    missing: list[str] = []
    for word in focus_words(deps, question):
        fixed = repaired(deps.index, word)  # a misspelt word weighs what the word it means does
        weight = deps.index.doc_freq(fixed or word)[1]
        total += weight
        meant = {stem(word), *stem_words(vocab.means(word)), *stem_words(fixed or ""), *lemmas(word)}
        if meant & said:
            held += weight
        else:
            missing.append(word)
    return Focus(held / total if total else 1.0, missing)


@lru_cache(maxsize=WORD_CACHE)
def lemmas(word: str) -> frozenset[str]:
    """The dictionary forms of a word ("ran", "running" → "run"), as `~`-marked keys that no stem
    equals, from lemminflect's lexicon: a reply saying "models ran" holds "running"."""
    from lemminflect import getAllLemmas

    return frozenset(f"~{lemma}" for forms in getAllLemmas(word).values() for lemma in forms)


def own_organisation(question: str) -> bool:
    """Whether a question asks a fact only the learner's own organisation knows ("who is our CEO?",
    "how many people are on our data team?"); a role or practice in it ("who owns data quality in my
    org?") and advice for it ("how big should our team be?") are not."""
    return bool(
        OWN_ORGANISATION.search(question) and ORGANISATION_ONLY.search(question)
    ) and not ADVICE.search(question)


# A figure: digits ("8%", "$15M", "2017") or a quantity written out ("dozens", "twice", "half").
FIGURE = re.compile(
    r"\d|\b(dozens?|hundreds?|thousands?|millions?|billions?|trillions?|half|twice|double|triple|thrice)\b",
    re.IGNORECASE,
)
PERCENTAGE = re.compile(r"\b(percentage|percent|proportion|fraction)\b|%", re.IGNORECASE)
PERCENT = re.compile(r"%|\b(percent|half|a third|a quarter|one in)\b", re.IGNORECASE)
MARKER = re.compile(r"\[\d+\]")  # a citation, not a figure
YEARS = re.compile(r"\b(19|20)\d\d\b(?![%,.]\d)")


# A figure as written ("33,000", "8%", "$1.5B"): what a question may state and a reply repeat.
WRITTEN_FIGURE = re.compile(r"[$€£]?\d[\d,.]*\d%?|[$€£]?\d%?")


def figure_focus(deps: Deps, question: str, reply: str, stated: frozenset[str] = frozenset()) -> Focus:
    """For a number question: how much of its focus the reply holds, when the reply gives a figure,
    in a paragraph about what the question names if it names anything ("how much does Netflix
    pay…": a figure where Netflix is named); a share asked for ("what percentage…") is a
    percentage. A passage on the topic with no figure (a year is none), or a figure about another
    company, holds nothing; nor does a figure the question itself states (`stated`: "how many
    squads did DBS end up with after restructuring the 33,000 employees?")."""
    wanted = PERCENT if PERCENTAGE.search(question) else FIGURE
    if stated:
        reply = WRITTEN_FIGURE.sub(lambda m: " " if m.group() in stated else m.group(), reply)
    # a year is a date, not the count or amount asked for; a citation marker is no figure
    figures = [p for p in reply.splitlines() if wanted.search(YEARS.sub(" ", MARKER.sub(" ", p)))]
    # an abbreviation of course words ("ML" platform) is a concept, not a name a figure is about
    named = (deps.index.names() | written_as_names(question)) - load_vocabulary().synonyms.keys()
    names = [w for w in content_words(question) if w in named - own_posts(question) and not YEAR.fullmatch(w)]
    if names:
        figures = [s for s in figures if set(names) & set(content_words(s))]
    counted = counted_thing(question, lambda word: repaired(deps.index, word) or word)
    if counted and not any(counts(p, counted) for p in figures):
        return Focus(0.0, sorted(counted), given=False)  # "how many engineers…": no figure counts engineers
    return focus(deps, question, reply) if figures else Focus(0.0, [], given=False)


COUNTED = re.compile(r"\bhow many ([\w'-]+)(?: ([\w'-]+))?", re.IGNORECASE)
COUNT_REACH = 4  # words between a figure and the thing it counts ("4,000 **engineers**", "12 ML **models**")


def counted_thing(
    question: str, spelled: Callable[[str], str] = str, kinds: frozenset[str] = frozenset(["NOUN"])
) -> set[str]:
    """The stems of what a "how many…" question counts ("how many **ML models**…"): the nouns right
    after it (and its adjectives, with `kinds` ADJ too: "how many **agile squads**"), as `spelled`
    repairs them ("employes" is "employees"); none when a verb follows ("how many got mismatched?")."""
    found = COUNTED.search(question)
    if not found:
        return set()
    nouns = []
    said = [spelled(w.lower()) for w in found.groups() if w]
    for i, word in enumerate(said):
        classes = getAllLemmas(word)
        # an adjective before a noun says which are counted ("how many agile squads")
        modifies = set(classes) == {"ADJ"} and i + 1 < len(said) and "NOUN" in getAllLemmas(said[i + 1])
        if word in CUES or (classes and not kinds & set(classes) and not modifies):  # "how many got…"
            break
        nouns.append(word)
    counted = " ".join(nouns)
    return set(stem_words(f"{counted} {load_vocabulary().means(counted)}"))  # "execs": executives


def counts(paragraph: str, counted: set[str]) -> bool:
    """Whether a figure (not a year) in a sentence of `paragraph` stands within COUNT_REACH words of
    a word it counts."""
    for sentence in re.split(r"(?<=[.;!?])\s+", MARKER.sub(" ", paragraph)):
        said = sentence.split()
        at = [i for i, w in enumerate(said) if set(stem_words(w)) & counted]
        near = {j for i in at for j in range(max(0, i - COUNT_REACH), min(len(said), i + COUNT_REACH + 1))}
        if any(FIGURE.search(YEARS.sub(" ", said[j])) for j in near):
            return True
    return False
