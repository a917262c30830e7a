"""How the asker wants an answer put ("in plain English", "in a nutshell", "like I'm 5"): a manner of
explaining, not what is asked. Dropped before the question is searched, weighed and shaped, so
"what is MLOps in simple terms" is read as "what is MLOps".
"""

from __future__ import annotations

import re

_PLAIN = r"plain|simple|simpler|simplest|basic|easy|everyday|normal|human|non-?technical|lay(?:m[ae]n'?s?)?"
_NEWCOMER = (
    r"beginners?|newbies?|novices?|dummies|lay ?(?:m[ae]n|person|people)|non-?techies?|"
    r"(?:a |an )?(?:5|five)[- ]?year[- ]?olds?"
)

MANNER = re.compile(
    rf"\b(?:in|using|with) (?:{_PLAIN}) (?:english|language|terms|words|speak)\b"
    r"|\bin (?:plain )?english\b"
    r"|\b(?:simply|plainly|briefly) put\b|\bput (?:simply|plainly|briefly)\b|\bbriefly\b"
    r"|\bin (?:a|one|1) (?:line|word)\b|\bin (?:a|one|two|a few|1|2)(?: or (?:two|three|2|3))? sentences?\b"
    r"|\bin (?:short|brief)\b(?! \w)|\bin a nutshell\b"
    r"|\btl;? ?dr\b|\beli5\b"
    r"|\b(?:without|no) (?:the )?jargon\b"
    # "explain mlops like i'm new", "…like i'm 5", "as if we were a board"
    r"|\b(?:like|as if) (?:i'm|i am|im|we're|we are) (?:new|5|five|a \w+|an \w+)\b"
    rf"|\bfor (?:a |an )?(?:complete |total |absolute )?(?:{_NEWCOMER})\b",
    re.IGNORECASE,
)
_LOOSE = re.compile(r"\s+([,.?!:;])")  # a space left before punctuation
_LEADING = re.compile(r"^[\s,.:;!-]+")
_REPEATED = re.compile(r"([,.:;!?])(?:\s*[,:;])+")


# "ELI5 the dual operating system", "tldr: data mesh": the manner used as the verb asks to explain
OPENING = re.compile(
    r"^\s*(?:eli5|tl;? ?dr)\b[\s:,-]*(?=\w)(?!(?:what|whats|how|why|who|which|when|is|are|does|do)\b)",
    re.IGNORECASE,
)


def without_manner(question: str) -> str:
    """The question without the phrases that say how to put the answer (one that opens it as its
    verb reads as "explain"); the question itself when it is nothing else ("eli5?")."""
    bare = MANNER.sub(" ", OPENING.sub("explain ", question.replace("’", "'")))
    if bare == question.replace("’", "'"):
        return question
    bare = _REPEATED.sub(r"\1", _LOOSE.sub(r"\1", " ".join(bare.split())))
    bare = _LEADING.sub("", bare).strip()
    bare = re.sub(r"[,:;]\s*([?.!]?)$", r"\1", bare)
    return bare if re.search(r"\w", bare) else question
