"""The course's vocabulary for reading questions: synonyms and abbreviations learners use for the
course's words, and chat words that carry no topic. Data in `knowledge/vocabulary.yaml`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

import yaml

VOCABULARY_FILE = Path(__file__).parent / "vocabulary.yaml"


@dataclass(frozen=True)
class Vocabulary:
    synonyms: dict[str, str]  # a learner's word or phrase -> the course words it means
    chat: frozenset[str]

    def __post_init__(self) -> None:
        # compiled once: escaping and looking up ~hundreds of patterns per question was most of its cost
        patterns = [
            (said, re.compile(rf"(?<![\w/]){re.escape(said)}(?![\w/])"), course)
            for said, course in self.synonyms.items()
        ]
        object.__setattr__(self, "_patterns", patterns)

    @cached_property
    def learner_words(self) -> frozenset[str]:
        """The words of the learner's phrases the vocabulary reads ("forcing", "charging", "blocks")."""
        return frozenset(w for said in self.synonyms for w in re.findall(r"[^\W_]+", said))

    def expansion(self, question: str) -> str:
        """The course words the question means besides its own (empty when none)."""
        text = " " + re.sub(r"\s+", " ", question.lower().replace("’", "'")) + " "
        found = [course for said, pattern, course in self._patterns if said in text and pattern.search(text)]
        return " ".join(found)

    def phrase_meanings(self, question: str) -> dict[str, str]:
        """Each word of a learner's phrase the question holds ("trade-offs"), and what the phrase means."""
        text = " " + re.sub(r"\s+", " ", question.lower().replace("’", "'")) + " "
        found: dict[str, str] = {}
        for said, pattern, course in self._patterns:  # (each built once: see __post_init__)
            if said in text and re.search(r"\W", said) and pattern.search(text):
                for word in re.findall(r"\w+", said):
                    found[word] = f"{found.get(word, '')} {course}".strip()
        return found

    def means(self, word: str) -> str:
        """The course words one learner word means ("" when it has no synonym)."""
        return self.synonyms.get(word, "")


@cache
def load_vocabulary(path: Path = VOCABULARY_FILE) -> Vocabulary:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    synonyms = {str(k).lower(): str(v) for k, v in (raw.get("synonyms") or {}).items()}
    return Vocabulary(synonyms, frozenset(str(w).lower() for w in raw.get("chat") or []))


@cache
def everyday_words() -> frozenset[str]:
    """A general English stopword list (the `stop-words` package, ~1,300 words): words such as
    "always", "went", "someone" that say nothing about a question's topic. A question's word the
    course never uses is a sign of another topic, unless it is one of these."""
    from stop_words import get_stop_words

    return frozenset(get_stop_words("en"))


# Word classes that never name a topic: a word only ever used so is about the asking, not the subject.
# Adjectives are not among them: "remote work", "supervised learning" name a topic with one.
ACTIONS = frozenset(["VERB", "ADV", "AUX"])
ORDINAL = re.compile(r"\d+(st|nd|rd|th)")


@cache
def names_no_topic(word: str) -> bool:
    """Whether a word says nothing of a question's topic: an everyday English word ("always",
    "went"), or one English only ever uses as a verb or adverb ("died", "fought", "wrongly",
    "revisit"). A topic is named by nouns and their adjectives; a verb or adverb says how the learner
    talks, not what about. Word classes come from lemminflect's lexicon (shipped in its wheel); a
    word it does not know (a product, an abbreviation) may be a name, so it counts."""
    from lemminflect import getAllLemmas

    if word in everyday_words() or ORDINAL.fullmatch(word):  # "the 2nd biggest": which item, not what
        return True
    classes = getAllLemmas(word)
    return bool(classes) and set(classes) <= ACTIONS
