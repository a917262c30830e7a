"""The Q&A flow: retrieve, then answer briefly with numbered citations, or say plainly that the
lessons do not cover the question. Follow-ups in the same conversation are read with the previous
question, so "and why does that matter?" finds the passage the first question found.
"""

from __future__ import annotations

import difflib
import itertools
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

from bot.messages import Citation, Inbound, Reply
from bot.store import deferred
from flows import feedback, verdict
from flows.attribute import owned_heads
from flows.brains.base import QAContext
from flows.decision import shipped_model, signals
from flows.deps import Deps
from flows.focus import (
    CUES,
    FIGURE,
    MIN_FOCUS,
    WRITTEN_FIGURE,
    YEARS,
    Focus,
    figure_focus,
    focus,
    focus_words,
    lemmas,
    own_organisation,
    own_people,
    own_posts,
    proper_names,
    written_as_names,
)
from flows.manner import without_manner
from flows.nearmiss import (
    asked_which,
    figures,
    noun_phrase,
    said,
    unbound_attributes,
    uncounted,
    undated,
    unfollowed,
    unstated_method,
)
from flows.parts import dated, joined
from flows.question import NUMBERED, place, question_shape, separate_questions
from flows.shape import Draft, compose, key_topics
from flows.state import CoachState, QATurn
from knowledge.loader import Course
from knowledge.retrieval import STOPWORDS, YEAR, Hit, SearchResult, content_words, words
from knowledge.spelling import TYPO_CUTOFF, TYPO_MIN, WORD_CACHE, everyday_slip, learner_slip, repaired
from knowledge.text import stem, stem_words
from knowledge.vocabulary import ACTIONS, load_vocabulary, names_no_topic

PASSAGES = 4
SEARCHABLE_CACHE = 1024  # texts whose search query is remembered, per index
_SEARCHABLE: weakref.WeakKeyDictionary[object, dict[str, str]] = weakref.WeakKeyDictionary()
# Answer only when the chosen units hold this share of the question's (idf-weighted) words; say what
# is not covered when the course's unknown words weigh this much. Tuned on the dev split only.
MIN_SUPPORT = 0.35
# The semantic score as a second signal for "covered": a question far in meaning from every passage
# is declined whatever words it shares with them; one very close to the passage answering it is
# answered though its wording differs from the text's (and the course knows all its words).
MIN_SIMILARITY = 0.15
CLOSE_SIMILARITY = 0.5
CLOSE_UNKNOWN = 0.2
# ...and one far in meaning from every passage (though above MIN_SIMILARITY) is declined when this
# share of it is words the course never uses: two weak signs of another topic make a strong one.
FAR_SIMILARITY = 0.3
FAR_UNKNOWN = 0.25
MAX_UNKNOWN = 0.5
PARTIAL_SHARE = 0.4
PARTIAL_KNOWN = 0.35  # a partial answer needs this share of the question to be course words it holds
NAME_ASIDE = (
    2  # words besides a course name a question about the name alone has ("what did the ACLU test show?")
)
KEPT_TURNS = 3  # per asker
KEPT_ASKERS = 20  # a shared thread keeps the turns of this many most recent askers
FACTS = ("number", "who", "when")  # shapes asking for a fact about the named thing, not about its topic
# What a reply says it can't give when what the question asks is no topic word ("how much did X save?")
FACT_GAP = {"number": "that figure", "who": "who that is", "when": "that date"}
FOLLOW_UP = re.compile(
    r"\b(it|its|that|this|these|those|they|them|their|there|more|why|examples?|elaborate|else|also|how so)\b"
    r"|^(and|but|so|what about)\b",
    re.IGNORECASE,
)
FOLLOW_UP_WORDS = 8
# A fragment this short with no question word of its own ("any examples?", "cons?", "in practice?")
# asks something of the previous question.
FRAGMENT_WORDS = 3
QUESTION_WORD = re.compile(r"\b(what|whats|what's|who|whom|whose|when|where|why|how|which)\b", re.IGNORECASE)
MARKER = re.compile(r"\[(\d+)\]")
DECLINE = "The lessons don't cover"


def leans_on(text: str, topics: frozenset[str] = frozenset()) -> bool:
    """Whether a message leans on the one before it: short, with a pronoun or an ellipsis ("and
    why?", "what about federated?", "who should sit on it?"), or a fragment with no question word
    and no topic of its own ("any examples?", "cons?"; "data mesh?" names a topic, one of `topics`'
    stems); a full question stands alone."""
    said = text.split()
    if len(said) <= FRAGMENT_WORDS and not QUESTION_WORD.search(text):
        return not set(stem_words(text)) & topics
    return bool(FOLLOW_UP.search(text)) and len(said) <= FOLLOW_UP_WORDS


def retrieve(
    deps: Deps, text: str, previous: list[QATurn], shared: bool = False, follows: bool = False
) -> SearchResult:
    """Search for the question (with the course words it means); for a follow-up, with the previous
    question too. `previous` holds the asker's own turns only. In a conversation with one learner a
    message that leans on the previous question, or finds nothing on its own and names no subject
    of its own, is read with it; in a shared thread only one that leans on it, since anything else
    there is likely a new question; `follows` reads it with the previous question whenever that
    grounds it (a later question of the same message)."""
    named = place(text, deps.course)
    alone = deps.index.search(searchable(deps, text), k=PASSAGES, named=named, asked=text)
    if not previous or follows or leans_on(text, key_topics(deps.course)):
        stands = not previous
    else:
        stands = shared or alone.grounded or names_own_subject(deps, text)
    if stands:
        return alone
    combined = deps.index.search(
        searchable(deps, f"{without_manner(previous[-1]['question'])} {text}"), k=PASSAGES, named=named
    )
    return combined if combined.grounded else alone


def names_own_subject(deps: Deps, text: str) -> bool:
    """Whether a message names what it asks about, so stands alone whatever was asked before: a
    course topic ("data mesh"), a course name ("AT&T") or one it writes as a name ("ChatGPT")."""
    said = {w.removesuffix("'s") for w in words(text)} - own_posts(text)
    course_named = {w for w in said & deps.index.names() if not YEAR.fullmatch(w)}
    topics = set(stem_words(text)) & key_topics(deps.course)
    return bool(course_named or topics or names_in(deps, text))


def searchable(deps: Deps, text: str) -> str:
    """The question with the course words it means: synonyms, abbreviations, misspellings fixed; not
    the learner's own people ("my **VP** keeps saying…"), who say why it is asked, not what about.
    Remembered per index (an answer asks for the same question's 4 times; the index never changes)."""
    known = _SEARCHABLE.setdefault(deps.index, {})
    if (found := known.get(text)) is None:
        if len(known) >= SEARCHABLE_CACHE:
            known.clear()
        found = known[text] = _searchable(deps, text)
    return found


def _searchable(deps: Deps, text: str) -> str:
    vocab = load_vocabulary()
    posts = own_posts(text)
    # "lesson 2" says where the answer is (`place`), not what it says: its number is no search word
    unplaced = re.sub(r"\b(lesson|module|unit) ?\d\b", " ", text, flags=re.IGNORECASE)
    kept = [w for w in content_words(unplaced) if w not in vocab.chat and w not in posts]
    fixed = {word: found for word in kept if (found := repaired(deps.index, word) or learner_slip(word))}
    extra = [vocab.expansion(text), *fixed.values()]
    extra += (in_phrase := repaired_in_phrase(deps, text)).values()
    if meant := fixed | in_phrase:  # the learner's phrases read as meant too ("builidng blocks")
        spelt = re.sub(r"[^\W_]+", lambda m: meant.get(m.group().lower(), m.group()), text)
        extra += [w for w in vocab.expansion(spelt).split() if w not in " ".join(extra).split()]
    return " ".join([*kept, *filter(None, extra)])


def repaired_in_phrase(deps: Deps, text: str) -> dict[str, str]:
    """Short misspellings (too short to repair alone) that make a course phrase with the word before
    them: "feature stor" → "store" ("feature store"); a word alone that short has too many near ones."""
    said = words(text)
    found: dict[str, str] = {}
    for before, word in itertools.pairwise(said):
        if (
            len(word) < TYPO_MIN
            and len(word) > 2
            and word not in STOPWORDS
            and deps.index.doc_freq(word)[0] == 0
        ):
            alike = [w for w in deps.index.vocabulary() if w[:1] == word[:1] and w != word]
            for near in difflib.get_close_matches(word, alike, n=3, cutoff=TYPO_CUTOFF - 0.1):
                if deps.index.doc_freq(f"{before} {near}")[0]:
                    found[word] = near
                    break
    return found


@dataclass(frozen=True)
class Support:
    """How much of a question the best answer units hold, weighted by how telling each word is."""

    share: float  # of the question's weight, what the chosen units hold
    unknown: list[str]  # the question's words the course never uses
    unknown_share: float
    held_terms: int = 0  # how many of the question's words the chosen units hold

    @property
    def partial(self) -> bool:
        """Part of the question is a topic the lessons treat in full ("EU AI Act" in "EU AI Act fine
        amounts"), the rest something they never mention: answer the part, name the rest."""
        known = 1.0 - self.unknown_share
        return self.held_terms >= 2 and known >= PARTIAL_KNOWN and self.share >= 0.95 * known


def support(
    deps: Deps, text: str, covers: frozenset[str], said: str = "", subject: frozenset[str] = frozenset()
) -> Support:
    """How much of `text` the chosen units hold: their `covers` (stems) and their words `said`.

    Judged on the question's topic words: a verb or adverb ("died", "revisit") or an everyday word
    the units do not hold says how the learner asks, so it weighs nothing either way; a word written
    as a name ("Hugging Face") always counts, and so does a word the course never uses in what the
    question is about (`subject`: "how does chain of **thought prompting** work?")."""
    vocab = load_vocabulary()
    said = " ".join(words(said))
    # the learner's own people ("our **CFO** opened with…") say who asks, not what about (`searchable`)
    posts = own_people(deps, text)
    terms = [w for w in content_words(text) if w not in vocab.chat and w not in posts]
    total = held = missing = 0.0
    held_terms = 0
    unknown: list[str] = []
    phrased = vocab.phrase_meanings(text)
    repairs = repaired_in_phrase(deps, text)
    capitalised = written_as_names(text) | course_names(deps, [*terms, *joined_names(text)])
    acts = used_as_verbs(text) | clause_verbs(text)
    unit_words = set(words(said))
    for term in terms:
        df, weight = deps.index.doc_freq(term)
        meant = [
            *content_words(searchable(deps, term))[1:],
            *content_words(phrased.get(term, "")),
            *([repairs[term]] if term in repairs else []),
        ]
        kin = family(term, unit_words)  # "danger" when the units say "dangerous"
        meant += kin
        if fixed := repaired(deps.index, term) or repairs.get(term):
            weight = deps.index.doc_freq(fixed)[1]  # a misspelt word weighs what the word it means does
        total += weight
        if df == 0 and everyday_slip(term) in vocab.chat:  # "fatcors": a chat word, wherever it stands
            total -= weight
            continue
        if df == 0 and not any(deps.index.doc_freq(m)[0] for m in meant):
            if is_count(term, text):  # "a 4500 person company": how big, not what about
                total -= weight
                continue
            # "went", "died", "I count": how it is asked; "Hugging Face" is a name whatever "hugging" is
            if (
                names_no_topic(term) or term in acts or everyday_slip(term)
            ) and term not in capitalised | subject:
                total -= weight
                continue
            unknown.append(term)
            missing += weight
            continue
        if (
            ({stem(term)} | {stem(m) for m in meant}) & covers
            or kin
            or (" " in term and f" {term} " in f" {said} ")
        ):
            held += weight
            held_terms += 1
        elif (names_no_topic(term) or term in acts) and term not in capitalised:
            total -= weight  # "staying", "went" not in the units: how it is asked, not what
    if not total:
        return Support(0.0, [], 0.0)
    return Support(held / total, unknown, missing / total, held_terms)


FAMILY_MIN = 5


def family(term: str, said: set[str]) -> list[str]:
    """The words of `said` that extend `term` ("danger" → "dangerous", "partner" → "partnership"):
    the same word family, which the stemmer keeps apart."""
    if len(term) < FAMILY_MIN or not term.isalpha():
        return []
    return [w for w in said if w.startswith(term) and w != term]


def joined_names(text: str) -> set[str]:
    """The names a text joins with "&" ("AT&T's", "P&G"), which content words split ("at t")."""
    return {w.removesuffix("'s").removesuffix("’s") for w in words(text) if "&" in w.strip("&")}


def course_names(deps: Deps, terms: list[str]) -> set[str]:
    """The question's words the course only writes as names and English's lexicon does not know
    ("Microsoft", "JPMorgan"): names wherever the question puts them, never everyday words (the
    stop-word list holds a few such: "microsoft", "netscape")."""
    names = deps.index.names()
    return {t for t in terms if t in names and not YEAR.fullmatch(t) and not _lemmas(t)}


def is_count(term: str, text: str) -> bool:
    """Whether a number in a question is a count or size ("a 4500 person company", "our 12 pilots"),
    not a topic: not a year (a date is asked about) nor a part of the course ("phase 2", "tier 1")."""
    if not term.replace(",", "").isdigit() or YEAR.fullmatch(term):
        return False
    said = words(text)
    return not any(before in NUMBERED for before, w in itertools.pairwise(said) if w == term)


# Words after which English puts a verb: a subject pronoun or "to" ("I count six", "tried to roll it
# out"); an auxiliary or modal only after a subject ("we should start"). In a question the auxiliary
# comes before the subject ("how does chain of thought prompting work?"), so the word after it is
# the subject, not a verb; a verb then follows a pronoun ("should we start", "do I catch").
_SUBJECTS = "i we you they he she it to i'm we're you're they're"
_AUXILIARIES = "do does did can could will would should might must may don't doesn't didn't can't won't"
SUBJECT = frozenset(_SUBJECTS.split())
# A pronoun standing for whoever answers is no subject asked about ("does anyone here know…?").
INDEFINITE = frozenset(["anyone", "anybody", "someone", "somebody", "everyone", "everybody", "one"])
AUXILIARY = frozenset(_AUXILIARIES.split())


def used_as_verbs(text: str) -> set[str]:
    """The words a question uses as verbs: a word English also uses as a verb, right after a subject
    pronoun or "to" ("I count six", "they lay people off", "tried to roll it out"), after a subject
    and an auxiliary ("we should count"), or after an auxiliary and a name ("how much did JPMorgan
    **save**?"); not the subject an inverted auxiliary asks about ("how does
    **chain** of thought work?", "what does **model** drift mean?")."""
    said = words(text)
    names = written_as_names(text)
    placed = {
        w
        for i, w in enumerate(said)
        if (
            i
            and (
                said[i - 1] in SUBJECT
                or (i > 1 and said[i - 2] in SUBJECT and said[i - 1] in AUXILIARY)
                or (i > 1 and said[i - 2] in AUXILIARY and said[i - 1].removesuffix("'s") in names)
            )
        )
        or (i + 1 < len(said) and said[i + 1] in OBJECT)
    }
    return {w for w in placed if "VERB" in _lemmas(w)}


# A pronoun a verb takes as its object ("walk **me** through", "rein **it** in or leave **it**"), or
# "whether" opening the clause it takes ("how does governance affect **whether** we can scale?").
OBJECT = frozenset(["me", "us", "it", "them", "him", "her", "whether"])


# A word one or two after one of these ends a noun phrase, not a clause ("in the healthcare **sector**")
DETERMINER = frozenset(["the", "a", "an", "my", "our", "your", "their", "its", "each", "every"])


def clause_verbs(text: str) -> set[str]:
    """The verb ending each inverted clause of a message, after its subject ("why should someone
    doing AI governance **care**?", "what do feature stores **mean**?"): how it asks, not what about;
    not a noun after a determiner ("…about AI value in the healthcare **sector**?")."""
    found: set[str] = set()
    for clause in re.split(r"[?.!;:,()]| - | — ", text):
        clause = re.sub(r"^\W*(and|but|so|or)\s+", "", clause, flags=re.IGNORECASE)
        inverted = INVERTED.match(clause)
        if not inverted:
            continue
        said = words(inverted.group(1))
        said = list(itertools.takewhile(lambda w: w not in SUBJECT and w not in AUXILIARY, said))
        copula = words(clause[: inverted.start(1)])[-1] in ("is", "are", "was", "were")
        noun = bool(set(said[-3:-1]) & DETERMINER)  # "the healthcare **sector**"
        if len(said) >= 2 and not copula and not noun and "VERB" in _lemmas(said[-1]):
            found.add(said[-1])
    return found


@lru_cache(maxsize=WORD_CACHE)
def _lemmas(word: str) -> dict[str, tuple[str, ...]]:
    from lemminflect import getAllLemmas

    return getAllLemmas(word)


# An inverted question: a question word, then an auxiliary or a form of "be", then its subject.
INVERTED = re.compile(
    r"^\W*(?:(?:what|how|why|which|when|where)\W+)?(?:is|are|was|were|"
    + "|".join(_AUXILIARIES.split())
    + r")\s+(.+)$",
    re.IGNORECASE,
)


def subject_words(question: str) -> frozenset[str]:
    """The words of what an inverted question is about, every one a topic word whatever else English
    uses it as: between the auxiliary and the verb ending the clause ("how does **chain of thought
    prompting** work?", "what do **feature stores** mean?"), or after "is" to the clause's end ("what
    is **chain of thought prompting**?"). None when the subject is a pronoun ("how do I catch drift?")
    or the clause goes on past its verb ("why do companies keep rejecting AI?"); a clause inside it
    ends it ("what are the ways **scaling** can go wrong?")."""
    clause = re.split(r"[?.!;:,()]| - | — ", question, maxsplit=1)[0]
    inverted = INVERTED.match(clause)
    if not inverted:
        return frozenset()
    said = words(inverted.group(1))
    if not said or said[0] in SUBJECT or said[0] in INDEFINITE or said[0] in ("you're", "it's", "there"):
        return frozenset()
    copula = words(clause[: inverted.start(1)])[-1] in ("is", "are", "was", "were")
    # a clause of its own inside it ends the subject: "what are the ways **scaling** can go wrong?"
    said = list(itertools.takewhile(lambda w: w not in SUBJECT and w not in AUXILIARY, said))
    if not copula:
        # after "do", "does" or a modal the verb is bare: "…without micromanaging **teams**" goes on
        # past its verb ("keep"), as "how does **chain of thought prompting** work?" does not
        if len(said) < 2 or said[-1] not in _lemmas(said[-1]).get("VERB", ()):
            return frozenset()
        said = said[:-1]
    # a word English only uses as a verb is no part of a noun phrase: it is a clause's verb ("what are
    # the pitfalls the article **warns** about?"), how the question is put, not what it is about
    return frozenset(w for w in content_words(" ".join(said)) if not verb_only(w))


def verb_only(word: str) -> bool:
    """Whether English's lexicon uses a word only as a verb or adverb ("warns", "wrongly"); an -ing
    form is also a noun ("chain of thought **prompting**")."""
    classes = _lemmas(word)
    return bool(classes) and set(classes) <= ACTIONS and not word.endswith("ing")


ASKED_FOR = re.compile(
    r"^\W*(?:what|which|how much|how many)\s+([\w' -]+?)\s+(?:is|are|was|were|"
    + "|".join(_AUXILIARIES.split())
    + r")\b",
    re.IGNORECASE,
)


# "what are the **fines** under the EU AI Act?", "what was the **vote split** on the court?"
ASKED_OF = re.compile(
    r"^\W*(?:what|which)(?:'s|’s|\s+is|\s+are|\s+was|\s+were)\s+the\s+([\w' -]+?)\s+"
    r"(?:of|under|on|in|for|at|between|to|with|from|behind|that|did|does|do)\b",
    re.IGNORECASE,
)


def asked_thing(question: str) -> list[str]:
    """The topic words of the thing a "what X did…" / "which X does…" question asks for ("what
    **fine** did Amazon pay?"): when the course never uses one, it cannot give that thing."""
    found = ASKED_FOR.match(question)
    return topical(question, content_words(found.group(1))) if found else []


def asked_of(question: str) -> list[str]:
    """The topic words of the thing a "what are the X of / under / on…" question asks for ("what
    are the **fines** under the EU AI Act?"): when the course never uses one, it cannot give it."""
    found = ASKED_OF.match(question)
    return topical(question, content_words(found.group(1))) if found else []


def topical(question: str, said: list[str]) -> list[str]:
    """The words of `said` that name a topic in `question`, as `support` judges them: not a verb or
    an everyday word ("take", "save", "random") unless written as a name."""
    acts, capitalised = used_as_verbs(question) | clause_verbs(question), written_as_names(question)
    return [w for w in said if w in capitalised or not (names_no_topic(w) or w in acts)]


def fact_gap(question: str, shape: str, missing: list[str]) -> list[str]:
    """How a partial decline names the fact a reply lacks: the thing asked for ("how much
    **revenue** did Uber make?"), else "that figure" when what is asked is an action ("how much
    does Uber **charge** outside companies?"), else the missing topic words."""
    asked = [w for w in missing if w in asked_thing(question)]
    if asked:
        return asked
    if set(missing) & used_as_verbs(question) or not topical(question, missing):
        return [FACT_GAP.get(shape, "that detail")]
    return topical(question, missing)


# Where a message breaks into parts: after a question mark or a sentence, at dashes and ellipses,
# before a question word after a colon, a comma or "but" ("I blanked: what's data mesh?", "random
# one but what's a model registry?"), and before a yes/no question after a colon ("finance partner:
# does the course put a number on…?").
BREAK = re.compile(
    r"(?<=\?)|(?<=[.!;])\s| - | – | — | -- |\.\.\.|…"
    r"|(?:(?<=[:,])|(?<=\bbut))\s+(?=(?:what|whats|what's|how|why|which|who|where|when)\b)"
    r"|(?<=:)\s+(?=(?:is|are|was|were|do|does|did|can|could|should|would|will|has|have)\b)",
    re.IGNORECASE,
)
ASIDE = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
# A bracket telling of the asker or someone they speak of: it holds a personal pronoun
TOLD = re.compile(
    r"\((?=[^()]*\b(?:i|i'm|im|me|my|we|we're|our|us|you|your|she|he|her|his|they|their)\b)[^()]*\)", re.I
)
# A clause telling why one asks, to the end of its sentence ("… because my director asked"); not
# "because of", which is part of what is asked.
REASON = re.compile(r"\bbecause\b(?! of\b)[^?.!;]*", re.IGNORECASE)
ASKING = re.compile(
    r"^\W*(what|whats|what's|how|why|which|who|whom|whose|when|where|is|are|was|were|do|does|did|can|could|"
    r"should|would|will|list|explain|tell|give|describe|compare|define|summari[sz]e|name)\b",
    re.IGNORECASE,
)
MIN_ASKED_WORDS = 2


def asked_part(text: str, named: frozenset[str] = frozenset()) -> str:
    """The parts of a message that ask (a question, or a request: "list…", "explain…"), without an
    aside in brackets, a "because…" clause, or the parts that only tell why or for whom ("… need it
    for a workshop on thursday", "(prepping slides)"): a question is judged on what it asks. The
    whole message when nothing is left out, or what is left holds fewer than MIN_ASKED_WORDS content
    words."""
    bare = REASON.sub(" ", ASIDE.sub(" ", text))
    parts = [p.strip() for p in BREAK.split(bare) if p and p.strip()]
    chat = load_vocabulary().chat
    kept = " ".join(asking_parts(text, named) or parts)
    if kept == text.strip():
        return text
    return kept if len([w for w in content_words(kept) if w not in chat]) >= MIN_ASKED_WORDS else text


def _only_names(part: str) -> bool:
    """Whether a part is a name and nothing else ("Siemens", "Ping An") — a label for what follows."""
    names = proper_names(part)
    return bool(names) and set(content_words(part)) <= names


def asking_parts(text: str, named: frozenset[str] = frozenset()) -> list[str]:
    """The parts of a message that ask: a question or a request with a topic word of its own (a part
    with none asks nothing: "does anyone here know - what is X?"), one that is only a name, which
    says what is asked about ("Siemens: who was the chief algorithms officer?", while "Deloitte says
    most pilots fail - what…?" tells something about a name: context), or a label naming
    one of the course's topics (`named`, stems) before the question ("COE vs federated model - what's
    the actual difference?")."""
    chat = load_vocabulary().chat
    bare = REASON.sub(" ", ASIDE.sub(" ", text))
    parts = [p.strip() for p in BREAK.split(bare) if p and p.strip()]

    def asks(p: str) -> bool:
        return bool(p.endswith("?") or ASKING.match(p) or _only_names(p))

    # a label before a dash or a colon names what the question after it asks about when it names a
    # course topic ("COE vs federated model - what's the actual difference?"), as a name does; a part
    # telling something about a name is no label but context ("Deloitte says most pilots fail - …")
    labels = {
        p
        for p, after in itertools.pairwise(parts)
        if asks(after)
        and LABEL.match(bare, bare.find(p) + len(p))
        and set(stem_words(p)) & named
        and not (proper_names(p) and not _only_names(p))
    }
    return [
        p
        for p in parts
        if (asks(p) or p in labels) and any(w not in chat and not names_no_topic(w) for w in content_words(p))
    ]


LABEL = re.compile(r"\s*(?::|-|–|—|--)\s")


def defined(question: str) -> str:
    """The thing a definition question asks about: what follows "what is" up to the first break
    ("what is model drift, asking for my boss" → "model drift")."""
    body = re.sub(
        r"^\W*(what'?s|whats|what is|what are|define|definition of|meaning of|explain)\b",
        "",
        question.lower(),
    )
    # a second question ends it: "what's data lineage and why does walmart care about it?"
    second = r"\band (?=(?:why|how|what|when|who|where|which)\b)"
    return re.split(rf"[,?.!;:()]| - | — |{second}", body, maxsplit=1)[0]


def not_said(deps: Deps, question: str, reply: str) -> list[str]:
    """For a question asking a fact about something named: the names the reply is silent about when
    it names none of the question's names, and any year asked that it does not give. A figure for
    Google is not one for Amazon, and one for 2020 is not one for 2022."""
    said = set(content_words(reply))
    names = [w for w in content_words(question) if w in deps.index.names() - own_posts(question)]
    years = [w for w in names if YEAR.fullmatch(w) and w not in said]
    others = [w for w in names if not YEAR.fullmatch(w)]
    return years + (others if others and not set(others) & said else [])


def not_covered(result: SearchResult, deps: Deps) -> Reply:
    lessons: list[int] = []
    for hit in result.hits:
        if hit.lesson and hit.lesson not in lessons:
            lessons.append(hit.lesson)
    if not lessons:
        lessons = [doc.number for doc in deps.course.lessons if doc.number]
    closest = "; ".join(f"Lesson {n}: {deps.course.lesson(n).title}" for n in lessons[:2])
    return Reply(
        f"{DECLINE} that, so I won't guess. "
        f"The closest material is in {closest}. Ask me about AI readiness, governance, talent and culture, "
        "or scaling AI — or say *help* to see what else I can do."
    )


def _citations(hits: list[Hit], cited: list[int], text: str, course: Course) -> tuple[str, list[Citation]]:
    """Keep the cited hits (or the best one), one number per passage, and rewrite the markers."""
    renumber: dict[int, int] = {}
    citations: list[Citation] = []

    def first_mention(n: int) -> int:
        at = text.find(f"[{n}]")
        return at if at >= 0 else len(text)

    for n in sorted(cited or [1], key=first_mention):
        hit = hits[n - 1]
        same = next((c for c in citations if c.passage == hit.passage), None)
        if same is None:
            label = (
                hit.label
                if " — " not in hit.section or "Key term" in hit.section
                else course.cite(hit.passage)
            )
            same = Citation(len(citations) + 1, label, hit.passage, hit.source != "lesson")
            citations.append(same)
        renumber[n] = same.number
    text = MARKER.sub(lambda m: f"[{renumber[int(m.group(1))]}]" if int(m.group(1)) in renumber else "", text)
    return re.sub(r"(\[\d+\])(\s*\1)+", r"\1", text).strip(), citations


@dataclass(frozen=True)
class Limits:
    """The thresholds of the decision to answer (tuned on the dev split only; `coach eval qa --cv`
    estimates how a tuning on part of dev generalises to the rest)."""

    min_support: float = MIN_SUPPORT
    min_similarity: float = MIN_SIMILARITY
    partial_share: float = PARTIAL_SHARE
    min_focus: float = MIN_FOCUS
    far_similarity: float = FAR_SIMILARITY
    far_unknown: float = FAR_UNKNOWN


LIMITS = Limits()


@dataclass(frozen=True)
class Evidence:
    """What the decision to answer or decline reads, for one question and the units chosen for it."""

    similarity: float  # of the best passage to the question
    found: Support  # how much of the question the units hold
    undefined: bool  # a definition of something the course never names
    fact: bool  # a number / who / when question
    private: bool  # a fact only the learner's own organisation knows
    focus: float  # the share of a fact question's focus the reply holds (1.0 otherwise)
    focus_missing: tuple[str, ...]
    unsaid: tuple[str, ...]  # names or years asked that the reply does not give
    named: tuple[str, ...]  # words the course never uses that the question writes as names or asks for
    elsewhere: tuple[str, ...] = ()  # course names the question asks about that the chosen units never say
    about_names: bool = False  # a fact question naming an organisation, person or product
    given: bool = True  # the reply holds the kind of fact asked (a figure for a number question)
    subject_missing: tuple[str, ...] = ()  # what an inverted question is about that the units never say
    years: tuple[str, ...] = ()  # years the question asks about that the reply never gives
    attribute_missing: tuple[str, ...] = ()  # what it asks of a name that the units never say
    near_miss: tuple[str, ...] = ()  # what it asks that the reply never gives (`flows/nearmiss.py`)
    part: Evidence | None = None  # the same for the message's asking parts alone, when it has others

    def reading(self, limits: Limits = LIMITS) -> Evidence:
        """The reading to answer on: the whole message, or its asking parts when only they are
        answered in full ("what are the readiness dimensions? need it for a workshop thursday")."""
        if self.part and self.fails(limits) and not self.part.fails(limits):
            return self.part
        return self

    def fails(self, limits: Limits = LIMITS) -> bool:
        """Whether this reading is declined in whole or in part."""
        return self.declines(limits) or bool(self.gap(limits))

    def declines(self, limits: Limits = LIMITS) -> bool:
        """Whether to decline outright (the lessons don't cover it, nearest lessons offered)."""
        found = self.found
        close = self.similarity >= CLOSE_SIMILARITY and found.unknown_share < CLOSE_UNKNOWN
        far = self.similarity < limits.far_similarity and found.unknown_share >= limits.far_unknown
        return (
            self.similarity < limits.min_similarity
            or far
            or (found.share < limits.min_support and not close)
            or (found.unknown_share >= MAX_UNKNOWN and not found.partial)
            or (self.undefined and bool(found.unknown))  # "what is chain of thought prompting?"
            or (self.fact and self.private)
            or bool(self.elsewhere)  # "Microsoft Teams keeps logging me out": a passage not about Microsoft
        )

    def vetoes(self, limits: Limits = LIMITS) -> bool:
        """Whether a specific thing the question asks is one the lessons lack, so no weighing of how
        much of it they hold answers it: a fact they do not give (a figure, a name, a date, the
        learner's own organisation's), a name they never say or say elsewhere, a definition of
        something they never name. The rules decide it; the learned decision weighs the rest."""
        # a fact of a kind the reply does not give (no figure for "what percentage…?") or about a name
        # whose attribute it does not say ("how long did Nirvana take to build?") is the rules'; a
        # topic fact question whose wording the reply does not hold ("how long does each phase take?")
        # the model weighs
        unfocused = self.focus < limits.min_focus and (self.about_names or not self.given)
        fact_missing = self.fact and (self.private or bool(self.unsaid) or unfocused)
        # what an inverted question is about, not all in the units ("how does **prompt** engineering
        # work?"), is a thing they do not treat when the rules decline it, as a definition of
        # something they never name
        unheld = bool(self.subject_missing) and self.declines(limits)
        undefined = (self.undefined and bool(self.found.unknown)) or unheld
        # a year asked that the reply never gives ("Gartner's estimate for 2025", when the lessons
        # give its 2022 one) is another time than the one the lessons treat
        # so is what it asks of a name that the units never say ("Walmart's forecasting accuracy")
        # so is what it asks of a name that no paragraph naming it says, a count no figure counts, a
        # date no year dates, a method no unit states (`flows/nearmiss.py`)
        asked = bool(self.years) or bool(self.attribute_missing) or bool(self.near_miss)
        return fact_missing or undefined or bool(self.named) or bool(self.elsewhere) or asked

    def gap(self, limits: Limits = LIMITS) -> list[str]:
        """What the reply must say the lessons don't cover before what they do say (empty: none).

        A fact the reply does not give (Amazon's figure, when only Walmart's is there), and a product
        or body the course never names ("Workday", "SageMaker"), are the question's subject."""
        unsaid = self.unsaid if self.fact else ()
        elsewhere = [*unsaid, *self.years, *self.attribute_missing, *self.near_miss]
        elsewhere = list(dict.fromkeys(elsewhere))
        if self.fact and self.focus < limits.min_focus:
            elsewhere += [w for w in self.focus_missing if w not in elsewhere]
        unknown = [*elsewhere, *self.named, *(w for w in self.found.unknown if w not in CUES)]
        if elsewhere or self.named or (unknown and self.found.unknown_share >= limits.partial_share):
            named = list(dict.fromkeys(unknown))
            # a word already said in a longer item is not named again ("which hospital systems")
            return [w for w in named if not any(w != o and w in o.lower().split() for o in named)]
        return []


def drafted(
    deps: Deps, question: str, result: SearchResult
) -> tuple[Draft, dict[str, float], frozenset[str]]:
    """The answer units chosen for `question` from `result`, with the query's word weights and the
    course names the question mentions (what the shaper and the brain are given)."""
    weights = {stem(w): deps.index.doc_freq(w)[1] for w in content_words(result.query)}
    # The course's names the question mentions ("AT&T" too, which content_words searches as "at t").
    said = [*content_words(question), *(w for w in words(question) if "&" in w)]
    # a chat word is no name ("ok so…" is not the course's "Custom solutions OK")
    chat = load_vocabulary().chat
    names = frozenset(w for w in said if w in deps.index.names() and not YEAR.fullmatch(w) and w not in chat)
    # an aside in brackets telling of the asker ("(asking for my director, she has a board deck on
    # friday)") says why or for whom, not what: the shaper neither reads nor weighs its words (a
    # bracket naming a thing, "stage 2 (scaling)", "(amazon/google/netflix stuff)", is kept)
    bare = " ".join(TOLD.sub(" ", question).split())
    aside = set(stem_words(question)) - set(stem_words(bare)) if content_words(bare) else set()
    query = set(stem_words(result.query)) - aside
    draft = compose(
        respelled(deps, bare if aside else question), result.hits, deps.course, query, weights, names
    )
    return draft, weights, names


def respelled(deps: Deps, text: str) -> str:
    """The question with each misspelt word written as the course writes it ("what are the
    componetns?" → "components"), as the search already reads it: the shaper reads the words the
    learner meant, so a slip hides neither what is asked (a list of components) nor the learner's
    own word (which outweighs the course words it only means)."""

    def word(m: re.Match) -> str:
        return repaired(deps.index, m.group().lower()) or m.group()

    return re.sub(r"(?<![\w'’&-])[A-Za-z]+(?![\w'’&-])", word, text)


def weigh(deps: Deps, question: str, previous: list[QATurn], result: SearchResult, draft: Draft) -> Evidence:
    """The evidence for answering `question` with `draft` (units chosen from `result`): for the whole
    message, and for its asking parts alone when the rest only tells why or for whom (`asked_part`)."""
    followed = bool(previous) and result.query != searchable(deps, question)
    asked_alone = f"{without_manner(previous[-1]['question'])} {question}" if followed else question
    # A definition is judged on the thing it asks about: the rest ("in two lines", "asking for my
    # boss") says how to answer or why, not what; what the course never names it cannot define.
    named = key_topics(deps.course)
    asking = asked_part(question, named)
    # "does anyone here know - what is X?": the part left out says nothing, so the shape is the asking part's
    told = set(topical(question, content_words(question))) - set(content_words(asking))
    asked = asking if not told - load_vocabulary().chat else question
    judged = defined(asking) if question_shape(asked) == "definition" and not followed else ""
    if content_words(judged):
        close = closeness(deps, asking, result) if asking != question else result.hits[0].similarity
        return _evidence(deps, judged, asked_alone, asked, result, draft, close, undefined=True)
    whole = _evidence(deps, asked_alone, asked_alone, question, result, draft, result.hits[0].similarity)
    part = asked_part(asked_alone, named)
    if part == asked_alone:
        return whole
    close = closeness(deps, part, result)
    return replace(whole, part=_evidence(deps, part, asked_alone, asking, result, draft, close))


def closeness(deps: Deps, asked: str, result: SearchResult) -> float:
    """How close in meaning the asking part of a message is to the passages found for it (the best
    of them): an aside ("asking for my director, she has a board deck on friday") moves the whole
    message's meaning away from its topic, not the question's."""
    similar = deps.index.semantic(searchable(deps, asked))
    return max(similar.get(h.id, 0.0) for h in result.hits)


def _evidence(
    deps: Deps,
    judged: str,
    asked_alone: str,
    question: str,
    result: SearchResult,
    draft: Draft,
    similarity: float,
    undefined: bool = False,
) -> Evidence:
    units = " ".join(u.searchable for u in draft.units)
    found = support(deps, judged, draft.covers, units, subject_words(question))
    # a fact is asked in the parts that ask: "we ran a course, 100% completion… what are we missing?"
    # tells a figure and asks none
    shape = asked_shape(asking_parts(question) or [question])
    # "which cloud provider does Uber run…?", "what fine did Amazon pay?": an attribute of a name
    fact = shape in FACTS or bool(asked_thing(question) and names_in(deps, question))
    asked_for = None
    if shape == "number":
        asked_for = figure_focus(deps, question, draft.text, stated_figures(question))
    elif shape == "who":
        asked_for = name_focus(deps, question, draft.text)
    elif fact:
        asked_for = focus(deps, question, draft.text)
    return Evidence(
        similarity=similarity,
        found=found,
        undefined=undefined,
        fact=fact,
        private=fact and own_organisation(question),
        focus=asked_for.share if asked_for else 1.0,
        focus_missing=tuple(fact_gap(question, shape, asked_for.missing)) if asked_for else (),
        unsaid=tuple(not_said(deps, question, draft.text)) if fact else (),
        named=tuple(
            w
            for w in found.unknown
            if w in written_as_names(asked_alone) or w in asked_thing(question) or w in asked_of(question)
        ),
        elsewhere=tuple(unsaid_names(deps, judged, draft.covers, units, asked_alone)),
        about_names=fact and bool(names_in(deps, question)),
        given=asked_for.given if asked_for else True,
        subject_missing=tuple(w for w in subject_words(question) if stem(w) not in units_say(draft)),
        years=tuple(unsaid_years(judged, draft.text)),
        attribute_missing=tuple(unsaid_attributes(deps, judged, draft)),
        near_miss=tuple(near_misses(deps, question, shape, draft, found.unknown)),
    )


def name_focus(deps: Deps, question: str, reply: str) -> Focus:
    """For a who question: how much of its focus the reply holds, when the reply names someone the
    question does not (a course name, or a word written as a name); a reply naming no one ("Uses
    technical forums for drug discovery AI teams.") tells no who."""
    asked = set(content_words(question)) | written_as_names(question)
    said = {w for w in content_words(reply) if w in deps.index.names() and not YEAR.fullmatch(w)}
    if (said | written_as_names(reply)) - asked:
        return focus(deps, question, reply)
    return Focus(0.0, [], given=False)


def asked_shape(parts: list[str]) -> str:
    """The shape of what the asking parts ask. A yes/no question asks whether, not how much: "is the
    number of models in production a good measure of AI success?" asks for no figure, so a number
    is asked only outside its yes/no clauses ("…how much did they put in, and did it work?"), or
    in one stating a figure to check ("is Google's 20% time still allowed?"); a figure it states
    elsewhere asks for none."""
    shape = question_shape(" ".join(parts))
    if shape != "number":
        return shape
    # nor does a figure it states ("google's 20% time… what does the course call these?")
    stated = stated_figures(" ".join(parts))
    rest = " ".join(p for p in (without_yes_no(p, FIGURE) for p in parts) if p.strip())
    rest = WRITTEN_FIGURE.sub(lambda m: " " if m.group() in stated else m.group(), rest)
    return shape if rest.strip() and question_shape(rest) == "number" else "general"


def without_yes_no(part: str, kept: re.Pattern[str] | None = None) -> str:
    """A part without the clause asking yes or no (`flows/verdict.py`), from where it starts, unless
    that clause holds `kept` (a figure, not a year)."""
    for start in verdict.ASKING.finditer(part):
        clause = part[start.end() :]
        if verdict.YES_NO.match(clause) and not verdict.CHOICE.search(clause):
            holds = kept is not None and kept.search(YEARS.sub(" ", clause))
            return part if holds else part[: start.start()]
    return part


def stated_figures(question: str) -> frozenset[str]:
    """The figures a question states in what it asks ("…after restructuring the 33,000 employees?"),
    which answer nothing; not one a yes/no clause checks ("is it true that only 8%…?"), nor a year."""
    opened = " ".join(map(without_yes_no, asking_parts(question) or [question]))
    return frozenset(m.group() for m in WRITTEN_FIGURE.finditer(YEARS.sub(" ", opened)))


def near_misses(deps: Deps, question: str, shape: str, draft: Draft, unknown: list[str]) -> list[str]:
    """What `question` asks that the reply never gives though it holds the question's words
    (`flows/nearmiss.py`): an attribute of a name in no paragraph naming it, what followed an event of
    it, a count no figure counts, a date no year dates (a question asked alone), a method no chosen
    unit states, the things "which X have…" asks when the course never uses X's words (`unknown`)."""
    names = names_in(deps, question)
    # what "what X did NAME…" or "what's the X of / on…" asks of the names
    of = ASKED_OF.match(question)
    owned = noun_phrase(of.group(1)).split()[-1:] if of else []
    asked = [w for w in asked_thing(question) if w not in names][-1:] + owned
    asked = [repaired(deps.index, w) or w for w in asked]  # "how many employes…" asks for employees
    missing = (
        [*unbound_attributes(question, names, draft.text, asked), *unfollowed(question, draft.text)]
        if names
        else []
    )
    if shape == "number":
        missing += uncounted(question, draft.text, lambda word: repaired(deps.index, word) or word)
        missing += [] if figures(draft.text) else [FACT_GAP["number"]]  # "Stage 3" is no figure
    # asked alone: one question, one question word ("…, and by what year" dates the figure asked)
    alone = len(separate_questions(question)) < 2 and len(QUESTION_WORD.findall(question)) < 2
    if shape == "when" and alone and undated(draft.text, focus_words(deps, question)):
        missing.append(FACT_GAP["when"])
    missing += asked_which(question, unknown)
    return missing + unstated_method(question, said(" ".join(u.searchable for u in draft.units)))


def unsaid_attributes(deps: Deps, question: str, draft: Draft) -> list[str]:
    """What the question asks of a name it mentions ("Walmart's forecasting **accuracy**", "what
    **methodology** does Euromoney use…") that the chosen units never say (`flows/attribute.py`)."""
    names = names_in(deps, question)
    if not names:
        return []
    asked = [*owned_heads(question, names), *[w for w in asked_thing(question) if w not in names][-1:]]
    said = units_say(draft)
    lemmas_said = {lemma for w in words(draft.text) for lemma in lemmas(w)}
    vocab = load_vocabulary()
    spelt = {w: repaired(deps.index, w) or w for w in asked}  # "employes" asks for employees
    return [
        w
        for w in topical(question, asked)
        if w not in vocab.chat
        and not (
            {stem(spelt[w]), *stem_words(vocab.means(spelt[w]))} & said or lemmas(spelt[w]) & lemmas_said
        )
    ]


def unsaid_years(question: str, reply: str) -> list[str]:
    """The years `question` asks about that `reply` never gives: one for 2025 is not one for 2022."""
    said = set(content_words(reply))
    return [w for w in dict.fromkeys(content_words(question)) if YEAR.fullmatch(w) and w not in said]


def names_in(deps: Deps, question: str) -> set[str]:
    """The names a question mentions: the course's ("Uber", "Spotify"; not the learner's own posts,
    nor years), and any it writes as a name that the course never uses ("Nirvana", "Zalando"); not
    a concept the course writes in capitals in many passages ("AI", "SLA")."""
    said = (set(content_words(question)) | joined_names(question)) - own_posts(question)
    course = {w for w in said if w in deps.index.names() and not YEAR.fullmatch(w)}
    written = {w for w in written_as_names(question) if w in said and deps.index.doc_freq(w)[0] == 0}
    return course | written | (proper_names(question) & said)


MIXED_CASE = re.compile(r"\b[A-Z][a-z]+[A-Z]?[\w&]*")


def unsaid_names(deps: Deps, question: str, covers: frozenset[str], units: str, asked: str = "") -> list[str]:
    """The organisations and people the question names that the chosen units never mention: course
    names written in mixed case ("Microsoft", "McKinsey"; an acronym such as "ROI" or "CEO" may be a
    concept or a post) in the message as asked (`asked`), so a passage about something else is no
    answer to what they do; a name the course writes only with its possessive ("Netflix's") too."""
    written = {m.group().lower().removesuffix("'s") for m in MIXED_CASE.finditer(asked or question)}
    said = set(content_words(units))
    owned = {w.removesuffix("'s") for w in words(question) if w.endswith("'s") and w in deps.index.names()}
    names = course_names(deps, content_words(question)) | owned
    return [w for w in names if w in written and stem(w) not in covers and w not in said]


def decision_inputs(
    deps: Deps, question: str, evidence: Evidence, result: SearchResult, draft: Draft
) -> dict[str, float]:
    """The learned decision's signals for `question` answered with `draft` (see flows/decision.py)."""
    terms = asked_terms(question)
    repairs = sum(1 for w in terms if repaired(deps.index, w)) + len(repaired_in_phrase(deps, question))
    # judged in meaning on what it asks, without asides or why it asks ("(prepping slides)")
    asked = " ".join(asking_parts(question, key_topics(deps.course))) or question
    meaning = sorted(deps.index.semantic(searchable(deps, asked)).values(), reverse=True)
    # the query weight of what it asks: an aside's words ("asking for my director…") ask nothing
    weight = sum(deps.index.doc_freq(w)[1] for w in content_words(searchable(deps, asked)))
    # what an inverted question is about ("how does **prompt engineering** work?"): is it in the units?
    subject = {stem(w) for w in subject_words(question)}
    said = units_say(draft)
    subject_held = len(subject & said) / len(subject) if subject else 1.0
    return signals(
        evidence, evidence.reading(LIMITS), result, repairs, len(terms), meaning, weight, subject_held
    )


def asked_terms(question: str) -> list[str]:
    """The question's content words, without the chat words that only say how one asks."""
    chat = load_vocabulary().chat
    return [w for w in content_words(question) if w not in chat]


def units_say(draft: Draft) -> set[str]:
    """The stems the draft's chosen units say."""
    return draft.covers | set(stem_words(" ".join(u.searchable for u in draft.units)))


def held_names(deps: Deps, question: str, draft: Draft) -> set[str]:
    """The course names the question asks about that the chosen units say."""
    said = units_say(draft)
    return {n for n in course_names(deps, asked_terms(question)) if stem(n) in said}


def about_a_name(deps: Deps, question: str, draft: Draft) -> bool:
    """Whether the question asks about a course name the chosen units say and little else ("what is
    Michelangelo?", "what did the ACLU test show?"): the rules' to decide, since the model's signals
    (length, a bare name's low similarity) read it as off-topic. A longer question about such a name
    asks something of it ("which cloud does Uber run Michelangelo on?") that the model weighs."""
    held = held_names(deps, question, draft)
    return bool(held) and len([t for t in asked_terms(question) if t not in held]) <= NAME_ASIDE


def refuses(evidence: Evidence, answers: bool | None) -> bool:
    """Whether to decline outright: as the rules say when the learned decision has no say (`answers`
    None: no model shipped, or the rules veto); when it declines, also where the rules would answer
    in full (a partial answer naming what is not covered stays partial); never when it answers."""
    if answers is None:
        return evidence.declines()
    return not answers and (evidence.declines() or not evidence.gap())


@dataclass(frozen=True)
class Plan:
    """How one question is answered: the passages found, the units chosen and the verdict on them."""

    result: SearchResult
    draft: Draft | None = None
    weights: dict[str, float] | None = None
    names: frozenset[str] = frozenset()
    gap: tuple[str, ...] = ()  # what the reply says the lessons don't cover before what they do say
    refused: bool = True  # declined outright, with the nearest lessons
    followed: bool = False  # read with the question before it
    unknown: tuple[str, ...] = ()  # its words the course never uses
    support: float = 0.0  # the share of its (idf-weighted) words the chosen units hold

    @property
    def in_full(self) -> bool:
        """Whether the question is answered whole: not declined, nothing named as not covered."""
        return not self.refused and not self.gap


def planned(
    deps: Deps, question: str, previous: list[QATurn], shared: bool = False, follows: bool = False
) -> Plan:
    """The verdict on `question` (without how the asker wants it put): answer it with the units
    chosen, answer the part the lessons cover and name the rest, or decline. `follows`: read it
    with the previous question whatever it says (see `retrieve`)."""
    result = retrieve(deps, question, previous, shared, follows)
    if not result.hits:
        return Plan(result)
    # a later question of a message is shaped with the one it leans on ("…and when does it apply?"
    # gets the year of what the first asks about)
    shaped = f"{previous[-1]['question'].rstrip(' ?')}? {question}" if follows and previous else question
    draft, weights, names = drafted(deps, shaped, result)
    weighed = weigh(deps, question, previous, result, draft)
    evidence = weighed.reading()
    # fitted on questions asked alone: a follow-up read with the one before stays with the rules
    followed = bool(previous) and result.query != searchable(deps, question)
    if not draft.text:
        return Plan(result, followed=followed)
    learned = (
        None if evidence.vetoes() or followed or about_a_name(deps, question, draft) else shipped_model()
    )
    answers = learned.answers(decision_inputs(deps, question, weighed, result, draft)) if learned else None
    # a course name the units say keeps the rules' verdict (a decline, a gap named) when the model
    # weighs the rest: the model may only decline more
    held = bool(held_names(deps, question, draft))
    refused = refuses(evidence, answers) or (held and evidence.declines())
    gap = tuple(evidence.gap()) if (not answers or held) and not refused else ()
    unknown = tuple(evidence.found.unknown)
    return Plan(result, draft, weights, names, gap, refused, followed, unknown, evidence.found.share)


async def written(deps: Deps, asked: str, plan: Plan, previous: list[QATurn]) -> Reply:
    """The reply a plan makes: the brain's cited answer (after what it can't answer, if anything),
    or a plain decline naming the closest lessons."""
    if plan.refused or plan.draft is None:
        return not_covered(plan.result, deps)
    result = plan.result
    history = [{"question": t["question"], "answer": t.get("answer", "")} for t in previous]
    search = result.query if result.query != without_manner(asked) else None
    weights, shaped = plan.weights or {}, plan.draft.text
    reply_answer = await deps.brain.answer(
        QAContext(asked, result.hits, history, search, deps.course, weights, shaped, plan.names)
    )
    text, citations = _citations(result.hits, reply_answer.cited, reply_answer.text, deps.course)
    if plan.gap:
        text = f"{DECLINE} {' '.join(plan.gap[:3])} — that part I can't answer. What they do say: {text}"
    return Reply(text, citations=citations)


async def answer(
    deps: Deps, question: str, previous: list[QATurn] | None = None, shared: bool = False
) -> Reply:
    """The reply to one message: grounded and cited, or a plain decline naming the closest lessons.

    This is the one entry point for Q&A from any flow (the ask node, a question asked mid-quiz or
    mid-lab); `previous` holds the asker's earlier Q&A turns for follow-ups, `shared` says whether
    the conversation is a thread others ask in too (see `retrieve`). A question is
    answered only when the answer units chosen for it hold most of what it asks; when a telling part
    of it is something the course never mentions, the reply says so before what the lessons do say.
    A message asking several things that is not answered whole has each of its questions answered
    on its own (`answer_parts`).
    """
    previous = previous or []
    asked, question = question, without_manner(question)  # "… in plain english" asks what is asked
    plan = planned(deps, question, previous, shared)
    if not plan.in_full and len(parts := distinct(separate_questions(question))) >= 2:
        reply = await answer_parts(deps, asked, plan, parts[:MAX_PARTS], previous)
        if len(parts) > MAX_PARTS and reply.citations:
            reply.text += f"\n\n{LATER_PARTS.format(MAX_PARTS)}"
        return reply
    return await written(deps, asked, plan, previous)


# A message of many questions is answered a few at a time: each part is a search and, with Claude, a
# call, all while the conversation waits (a 4,000-character message of repeats made 107 calls).
MAX_PARTS = 4
LATER_PARTS = "That's your first {} questions; ask me the others in another message."


def distinct(parts: list[str]) -> list[str]:
    """The questions of a message, each once (a repeated question is answered once)."""
    seen: dict[str, str] = {}
    for part in parts:
        seen.setdefault(" ".join(words(part)), part)
    return list(seen.values())


async def answer_parts(
    deps: Deps, asked: str, whole: Plan, parts: list[str], previous: list[QATurn]
) -> Reply:
    """A message asking several things, not answered whole: each question answered as if asked on
    its own after the ones before it (so "…and how long does each take?" is read with the first),
    in the asker's order, and the ones the lessons don't cover named in one sentence.

    Only questions of their own count: a fragment after a question ("…? number of models?") says
    what that question asks about, and a line an answer before already gave is not given again. A
    question leaning on one the lessons don't cover is not covered either, nor is any when the first
    names what the course never mentions (the message is about that: "what is the population
    stability index and what threshold means drift?"); an answer must hold what its own question
    asks (`holds_asked`). Nothing answered in full: the whole message's reply (a decline, or what
    the lessons do say)."""
    turns = list(previous)
    answered: list[tuple[str, Plan]] = []
    uncovered: list[str] = []
    for i, part in enumerate(parts):
        if i and narrows(part):
            continue
        # a later question naming no subject of its own asks about the one before ("…, and what
        # share of claims ended up fully automated?")
        follows = bool(i) and not names_own_subject(deps, part)
        plan = planned(deps, part, turns, follows=follows)
        before = turns[-1]["question"] if turns else ""
        leans_on_uncovered = plan.followed and before in uncovered
        turns = [*turns, {"question": part}]
        if i == 0 and not plan.in_full and (plan.unknown or not plan.result.hits):
            break
        if plan.in_full and not leans_on_uncovered and holds_asked(deps, part, plan):
            answered.append((part, plan))
        else:
            uncovered.append(part)
    if not answered:
        return await written(deps, asked, whole, previous)
    replies = [await written(deps, part, plan, previous) for part, plan in answered]
    return joined(replies, uncovered)


def narrows(part: str) -> bool:
    """Whether a later part of a message only narrows the question before it: a fragment with no
    question word or verb of its own ("number of models?", "thresholds?", "promotion odds?"; "is it
    paid?" asks)."""
    short = len(part.split()) <= FRAGMENT_WORDS
    return short and not QUESTION_WORD.search(part) and not ASKING.match(part)


def holds_asked(deps: Deps, part: str, plan: Plan) -> bool:
    """Whether the answer to a part of a message holds what that part asks: for a "when" question,
    a year in a sentence saying what it dates ("what year did Uber launch Michelangelo?" is not
    answered by "After launch … by 2019")."""
    if plan.draft is None:
        return False
    if question_shape(part) != "when":
        return True
    return dated(plan.draft.text, {stem(w) for w in focus_words(deps, part)})


def declined(reply: Reply) -> bool:
    """Whether a Q&A reply declined (in whole or in part) rather than answered."""
    return not reply.citations or reply.text.startswith(DECLINE)


async def ask(
    state: CoachState, deps: Deps, inbound: Inbound, withhold: Callable[[Reply], bool] | None = None
) -> dict | None:
    """The ask node: answer, log the answer and offer 👍/👎 on it. In a shared thread a follow-up
    attaches only to the same asker's previous question, never to someone else's. None, with nothing
    logged, when `withhold` says the reply must wait (it would answer an open quiz question)."""
    previous = list(state.get("qa") or [])
    own = [t for t in previous if t.get("learner", inbound.learner) == inbound.learner]
    reply = await answer(deps, inbound.text, own, inbound.shared)
    if withhold is not None and withhold(reply):
        return None
    passages = [c.passage for c in reply.citations]
    turn: QATurn = {
        "learner": inbound.learner,
        "question": inbound.text,
        "passages": passages,
        "answer": reply.text if reply.citations else "(not covered)",
    }
    if reply.citations:
        store = deps.store
        insert, row = store.answer_row(
            inbound.learner, inbound.conversation, inbound.text, reply.text, passages, deps.clock()
        )
        if not deferred.hold(insert, row):  # in a turn: written with its `checkpointed` mark
            await store.off_loop(store.execute, insert, row)  # the store, off the event loop
        turn["answer_id"] = row["id"]
        reply.choices = feedback.choices(turn["answer_id"])
    return {"qa": recent(previous, turn), "replies": [reply.to_dict()], "feedback_pending": None}


def recent(previous: list[QATurn], turn: QATurn) -> list[QATurn]:
    """The Q&A turns a conversation keeps: each asker's last KEPT_TURNS, for the KEPT_ASKERS who
    asked most recently, in order; others asking in a shared thread never evict one's own turns."""
    turns = [*previous, turn]
    askers = list(dict.fromkeys(t.get("learner", "") for t in reversed(turns)))[:KEPT_ASKERS]
    kept: list[QATurn] = []
    for t in reversed(turns):
        asker = t.get("learner", "")
        if asker in askers and sum(1 for k in kept if k.get("learner", "") == asker) < KEPT_TURNS:
            kept.append(t)
    return kept[::-1]
