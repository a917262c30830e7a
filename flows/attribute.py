"""The attribute a question asks of a name it mentions: "Walmart's demand forecasting **accuracy**",
"the **authors** of the MIT Sloan study". A passage about Walmart answers what Walmart did, not its
forecasting accuracy: a good tutor answers only when the text says the very thing asked of the name.
"""

from __future__ import annotations

import re

from knowledge.retrieval import content_words, words

# What ends the noun phrase a name owns: a preposition, a verb a question asks with, or punctuation.
_ENDS = (
    r"of|in|for|with|to|on|at|by|from|after|before|and|or|vs|versus|is|are|was|were|do|does|did|has|have|"
    r"had|can|could|should|would|will|work|works|called|mean|means|look|like|compare|compared"
)
# "Walmart's demand forecasting accuracy", "Intuit's quarterly strategic themes"; a name starts where a
# word does (not inside "a-a-a-…", which made the search quadratic)
POSSESSIVE = re.compile(
    rf"(?<![\w&-])([\w&-]+)['’]s\s+((?:[\w-]+\s+){{0,3}}?[\w-]+)(?=\s+(?:{_ENDS})\b|\s*[?,.!;:()]|\s*$)",
    re.IGNORECASE,
)
# "the authors of the 2021 MIT Sloan study"
OF_NAME = re.compile(
    r"\bthe\s+((?:[\w-]+\s+){0,2}?[\w-]+)\s+of\s+(?:the\s+)?(?:\d{4}\s+)?([\w&-]+)", re.IGNORECASE
)


def owned_heads(question: str, names: set[str]) -> list[str]:
    """The head word of each noun phrase the question asks of one of `names` (lower-case words): the
    last word of "NAME's …" or of "the … of NAME" (none when that word says nothing: "the real
    **lesson** of the ACLU story"), names left out."""
    found: list[str] = []
    owned = [(m.group(1), m.group(2)) for m in POSSESSIVE.finditer(question)]
    owned += [(m.group(2), m.group(1)) for m in OF_NAME.finditer(question)]
    for name, phrase in owned:
        head = words(phrase)[-1]
        if name.lower() in names and head not in names and content_words(head):
            found.append(head)
    return list(dict.fromkeys(found))
