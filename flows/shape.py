"""Answers shaped by the question: what is asked (a definition, a number, a list, a comparison, a
recommendation) decides which answer unit of the retrieved passages is given, and the unit is given
whole — every item of a list, both sides of a comparison, the figure with the sentence that says
whose it is. Both brains use it: the offline brain answers with the units, Claude reads them.
What the question asks is read in flows/question.py, its words weighed in flows/weights.py, a
paragraph's answering sentences picked in flows/sentence_choice.py, and the chosen units
(flows/choice.py) written out in flows/render.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from flows.choice import Choice
from flows.question import (
    EACH,
    FACTS,
    HOW_TO,
    SECOND_PART,
    SHAPES,
    asked_counts,
    asked_shape,
    asked_stems,
    asks_several,
    comparison_sides,
    counts_told,
    place,
    separate_questions,
)
from flows.render import MAX_CHARS, render
from flows.sentence_choice import (
    DEFINING,
    FORM,
    WHOLE_PARAGRAPH,
    YEAR,
    best_sentences,
    cut_sentences,
    is_defining,
    is_fact,
    lists_inline,
    tells_shape,
    topic_of,
)
from flows.verdict import denial, without, yes_no_parts
from flows.weights import Weights, _weigh, own_weights
from knowledge.loader import Course
from knowledge.retrieval import Hit, content_words, words
from knowledge.text import sentences, stem, stem_set, stem_words, tokens
from knowledge.units import Unit, passage_units
from knowledge.vocabulary import load_vocabulary

RANK_WEIGHT = 4.0  # the search's own ranking of passages, as a bonus of up to this much
HEADING_WEIGHT = 0.75  # question words in the section heading count this much extra
TELLING_IDF = 1.5  # a word in more chunks than this idf allows ("ai") names no list in particular
LIST_FIT = {"list": 3, "comparison": 2, "recommendation": 2}  # other shapes: a whole list costs 2
WHOLE_LIST = 0.4  # a list holding every side of a comparison answers it when it scores this share of the best
UNNAMED = 3.0  # a unit naming none of the course names the question names: this much less at least
ELSEWHERE = 0.6  # ...and at most this share of its score; so does one outside a document it names
EXPLAINS = 0.4  # the lesson's text on a defined term is added when it scores this share of the definition
NAMED_SHARE = 0.6  # what the text says of a company the question names joins a definition at this share
SECOND_SHARE = 0.25  # a second unit must add this share of the question's weight
SECOND_SCORE = 0.6  # ...and score this share of the first at least
MAX_UNITS = 3  # a comparison may need one unit per side
OTHER_FACT = 1.5  # a paragraph holding another kind of fact the message asks for scores this much more


@dataclass(frozen=True)
class _UnitFacts:
    """What `candidates` reads of a unit that no question changes, worked out once per unit (the
    same units come back for question after question): stem sets, word sets, and regex findings."""

    stems: frozenset[str]  # its section topic's and all its own words, stemmed
    topic: frozenset[str]  # its section topic's words, stemmed
    title: frozenset[str]  # its title's words, stemmed
    words: frozenset[str]  # its heading's and own words, as the course's names are matched
    digit: bool  # its title or text holds a digit
    figures: bool = False  # a list: at least half its items are figures ("38%", "$2M")
    details: frozenset[str] = frozenset()  # a list of headed blocks: the blocks' words, stemmed
    names: frozenset[str] = frozenset()  # a list: its heading, title, lead-in and items, stemmed
    items: tuple[frozenset[str], ...] = ()  # a list: each item's title and text, stemmed


@lru_cache(maxsize=4096)
def _unit_facts(unit: Unit) -> _UnitFacts:
    topic = topic_of(unit.heading)
    facts = _UnitFacts(
        stems=stem_set(f"{topic} {unit.searchable}"),
        topic=stem_set(topic),
        title=stem_set(unit.title),
        words=frozenset(words(f"{unit.heading} {unit.searchable}")),
        digit=bool(re.search(r"\d", unit.title + unit.text)),
    )
    if unit.kind != "list":
        return facts
    digits = sum(1 for t, _ in unit.items if re.match(r"[$€£<>]?\d", t))
    names = f"{unit.heading} {unit.title} {unit.text} " + " ".join(t for t, _ in unit.items)
    return replace(
        facts,
        figures=digits >= len(unit.items) / 2,
        details=stem_set(" ".join(unit.details)),
        names=stem_set(names),
        items=tuple(stem_set(f"{t} {x}") for t, x in unit.items),
    )


def candidates(
    question: str,
    hits: list[Hit],
    course: Course,
    query: set[str],
    weights: Weights,
    asked_names: frozenset[str] = frozenset(),
) -> list[Choice]:
    """Every unit of the retrieved passages, scored for this question's words and shape.

    A unit scores for the question words it holds (weighted), its own title and its section's
    heading, how well its passage ranked in the search, and how well its kind fits the shape asked.
    When the question names something of the course (Michelangelo, Intuit), a unit that names none
    of it is about something else: it scores less.
    """
    shape = asked_shape(question)
    q = question.lower()
    query = asked_stems(question, query)
    weights = own_weights(question, weights)
    where = place(question, course)
    # one fact asked, not several ("AT&T's program - name, cost, partner, and results?", "how much
    # did they spend, what was it called, and did it help?"): the sentence holding it, not its paragraph
    several_asked = len(separate_questions(question)) >= 2 or question.count(",") >= 2
    one_fact = shape in FACTS and not SECOND_PART.search(q) and not several_asked
    also_asked = [kind for kind in FACTS if kind != shape and SHAPES[kind].search(q)]
    how_to = bool(HOW_TO.search(q))
    # Several things asked for, which one item cannot answer: a list, a count ("the 3 stats"), or a
    # figure for each of a list's items ("the phases and what each costs").
    several = (
        shape == "list"
        or any(n >= 2 for n in asked_counts(question))
        or (shape == "number" and bool(SHAPES["list"].search(q) and EACH.search(q)))
    )
    best: dict[str, tuple[int, float]] = {}
    for n, hit in enumerate(hits, start=1):
        if hit.passage not in best:
            best[hit.passage] = (n, hit.relevance or hit.score)
    top = max((score for _, score in best.values()), default=1.0) or 1.0
    found: list[Choice] = []
    for passage, (n, passage_score) in best.items():
        rank_bonus = RANK_WEIGHT * max(passage_score, 0.0) / top
        for unit in passage_units(course, passage):
            facts = _unit_facts(unit)
            covers = query & facts.stems
            if not covers:
                continue
            heading = HEADING_WEIGHT * _weigh(query & facts.topic, weights)
            title = 1.5 * _weigh(query & facts.title, weights) if unit.kind != "text" else 0
            whole = bool(facts.title) and facts.title <= query
            score = _weigh(covers, weights) + heading + title + rank_bonus
            text = ""
            if unit.kind == "list":
                if shape == "list":  # "the phases … with costs": the blocks' own lines count too
                    score += _weigh((query & facts.details) - covers, weights)
                strong = {q for q in query if weights.get(q, 1.0) >= TELLING_IDF}
                items_hit = sum(1 for item in facts.items if strong & item)
                telling = strong & facts.names
                about_it = bool(telling) or items_hit >= 2  # asked about this list, not just one item
                score += LIST_FIT.get("list" if several else shape, -2) if about_it else -2
                if len(unit.items) in counts_told(question):  # "the 3 stats", "four reasons"
                    score += 2
                if shape == "number" and facts.figures:
                    score += 3
                elif facts.figures:
                    score -= 3
            elif unit.kind == "term":
                score += (
                    3 if whole and shape in ("definition", "general", "comparison") else (1 if whole else -1)
                )
                if shape in ("who", "when") or how_to:  # a definition names no one, no year,
                    score -= 3  # and is no way to do something ("how do we get out of pilot purgatory?")
            elif unit.kind == "item":
                score += 2 if whole else (-2 if several else 0)
                if shape == "definition" and FORM.match(unit.title):
                    score -= 2  # a "Key Takeaway" says what follows from a thing, not what it is
                if not tells_shape(shape, unit.text):
                    score -= 2
                if shape == "number" and facts.digit:
                    score += 1
            else:
                text, covers = best_sentences(unit.text, query, shape, weights, one_fact)
                if (
                    not text
                    and shape == "definition"
                    and query & facts.topic
                    and len(unit.text) <= WHOLE_PARAGRAPH
                ):
                    # under a heading naming what is defined ("The Resolution: A Dual Operating
                    # System"), a short paragraph says what it is without repeating its name
                    text, covers = unit.text, set()
                if not text:
                    continue
                covers |= query & facts.topic
                number = 1.5 if shape == "number" and re.search(r"\d", text) else 0
                if several and any(lists_inline(s, query) for s in cut_sentences(text)):
                    # "…built around five key dimensions: a, b, c…" is a list, scored as one (its
                    # section heading as its title)
                    number += LIST_FIT["list"] + 1.5 * _weigh(query & facts.topic, weights)
                if shape == "definition" and any(is_defining(s, query) for s in cut_sentences(text)):
                    number += DEFINING
                if shape == "definition" and FORM.match(unit.text):
                    number -= 2  # ...and so does a paragraph it labels ("Key Takeaway: Preserve…")
                if shape in ("who", "when") and tells_shape(shape, text):
                    number += 2
                # the other facts a message asks ("what %…, who surveyed it and what year?"): the
                # paragraph holding the figure, its source and its year answers all of it
                number += OTHER_FACT * sum(1 for kind in also_asked if is_fact(kind, text))
                score = _weigh(covers, weights) + heading + rank_bonus + number
            if asked_names and not asked_names & facts.words:
                score = min(score - UNNAMED, score * ELSEWHERE)
            if where and not unit.passage.startswith(where):
                score = min(score - UNNAMED, score * ELSEWHERE)
            found.append(Choice(unit, n, score, frozenset(covers), text))
    return sorted(found, key=lambda c: -c.score)


@dataclass(frozen=True)
class Draft:
    text: str
    cited: list[int]  # hit numbers
    covers: frozenset[str]  # query stems the chosen units hold
    units: list[Unit]


def _names(choice: Choice) -> set[str]:
    """The words of a chosen unit and its heading, as the course's names are matched."""
    return set(words(f"{choice.unit.heading} {choice.text or choice.unit.searchable}"))


def _mentions(choice: Choice, name: str) -> bool:
    """Whether a chosen unit names a course name, possessive too ("Google's 20% time")."""
    said = _names(choice)
    return name in said or f"{name}'s" in said or f"{name}’s" in said


def _says(choice: Choice) -> set[str]:
    """The stems a chosen unit's own words hold (not its section heading)."""
    return set(stem_words(choice.text or choice.unit.searchable))


def _within(choice: Choice, chosen: list[Choice]) -> bool:
    """Whether a unit is already given: the same unit, an item of a list already given whole, a part
    of the blocks of one (a phase's "Components:" or "Team:" line in the list of phases), or the list
    of an item already given (the item answered; its list would say it again)."""
    return any(
        choice.unit == c.unit
        or (c.unit.kind == "list" and choice.unit.kind == "item" and choice.unit.passage == c.unit.passage)
        or (c.unit.details and choice.unit.passage == c.unit.passage and _in_blocks(choice, c.unit.details))
        or (
            c.unit.kind == "item"
            and choice.unit.kind == "list"
            and (c.unit.title, c.unit.text) in choice.unit.items
            and choice.unit.passage == c.unit.passage
        )
        for c in chosen
    )


def _in_blocks(choice: Choice, details: tuple[str, ...]) -> bool:
    """Whether what a unit says is all inside the blocks of a list of headed blocks."""
    blocks = "\n".join(details)
    if choice.unit.kind == "list":
        return all(t in blocks for t, _ in choice.unit.items)
    return all(s in blocks for s in sentences(choice.text or choice.unit.text))


# A sentence of an option saying which situation it suits ("Best for early-stage AI capability
# building", "Most common model in AI-mature large organizations"): what a situation is matched on.
SUITS = re.compile(
    r"\b(best|ideal|ideally|suited|suitable|recommended|appropriate|right|works best|makes sense)"
    r" (for|when|if|in)\b|\bmost common (model|choice|structure|approach|pattern)\b",
    re.IGNORECASE,
)


def _fit(chosen: list[Choice], query: set[str], weights: Weights | None = None) -> str:
    """For a situation ("we're just starting"), the list item whose sentence on the situation it suits
    ("Best for…") matches it best, named first: the recommendation, before the options it is chosen
    from. Only what the question says of the situation counts, not the options it names ("IT or the
    business units?") in words that tell one situation from another (not "AI", on every page); an
    item saying nothing of when it suits is never recommended."""
    asked, query = query, _telling(query, weights)
    for choice in chosen:
        if choice.unit.kind != "list" or len(choice.unit.items) < 2:
            continue
        # the situation's telling words decide; on a tie, every word of the question the sentence
        # holds ("a mature COE" → "…mature organizations with established COE…"); still tied, no pick
        best: tuple[tuple[int, int], str, str] = ((0, 0), "", "")
        tied = False
        shared = set.intersection(*(set(stem_words(x)) for _, x in choice.unit.items))
        named = set(stem_words(" ".join(t for t, _ in choice.unit.items)))
        for title, text in choice.unit.items:
            for sentence in sentences(text):
                if not SUITS.search(sentence):
                    continue
                said = set(stem_words(sentence)) - shared
                hits = (len((query & said) - named), len(asked & said))
                if hits > best[0]:
                    why = " ".join(x for x in sentences(text) if x != sentence)  # its pros and cons
                    best, tied = (hits, title, f"{sentence} {why}".strip()), False
                elif hits == best[0] and title != best[1]:
                    tied = True
        if best[0][0] and not tied:
            return f"For that situation the lessons point to *{best[1]}*: {best[2]} [{choice.hit}]"
    return ""


PICKED = re.compile(r"point to \*(.+?)\*:")


def _alternatives(listed: Choice, picked: str) -> str:
    """The options not picked, in a line: each with the sentence saying when it suits ("Best for…"),
    else its first sentence."""

    def when(text: str) -> str:
        said = sentences(text)
        return next((x for x in said if SUITS.search(x)), said[0] if said else "").rstrip(".")

    others = [f"*{t}* — {when(x)}" for t, x in listed.unit.items if t != picked]
    return f"The alternatives: {'; '.join(others)}. [{listed.hit}]"


def _telling(query: set[str], weights: Weights | None) -> set[str]:
    """The words of a question that tell one situation from another (not "AI", on every page)."""
    return {s for s in query if (weights or {}).get(s, TELLING_IDF) >= TELLING_IDF}


def _addressing(listed: Choice, ranked: list[Choice], query: set[str], weights: Weights) -> Choice | None:
    """In a list whose items say nothing of the situation they suit (the governance layers), the item
    whose own text holds most of the problem the question tells; None for a list of options."""
    items = listed.unit.items
    if len(items) < 2 or any(SUITS.search(x) for _, x in items):
        return None
    query = _telling(query, weights)
    shared = set.intersection(*(set(stem_words(x)) for _, x in items))
    hits = {t: len((query & set(stem_words(x))) - shared - set(stem_words(t))) for t, x in items}
    title = max(hits, key=lambda t: hits[t])
    if not hits[title]:
        return None
    same = listed.unit.passage
    return next(
        (c for c in ranked if c.unit.kind == "item" and c.unit.passage == same and c.unit.title == title),
        None,
    )


def _in_the_lesson(first: Choice, ranked: list[Choice]) -> list[Choice]:
    """What the course's text says of the thing `first` only names or defines: a glossary definition
    alone is a flashcard, and a list under a bare heading ("The Scaling Inflection Point") does not
    say what the heading means. The best unit of the body text that holds the thing's own words and
    is not a whole list, when it scores near the first."""
    named = stem_set(first.unit.title)
    for other in ranked[1:]:
        if other.score < first.score * EXPLAINS:
            break
        if (
            other.unit.kind != "list"
            and other.unit.kind != "term"
            and not _within(other, [first])
            and named <= stem_set(f"{other.unit.heading} {other.text or other.unit.searchable}")
        ):
            return [other]
    return []


def _beyond_definition(
    question: str, first: Choice, ranked: list[Choice], more: bool = True
) -> Choice | None:
    """A unit holding every word of the question the definition `first` holds, and (`more`) more of
    it ("the downsides of a centralized COE": the structure's pros and cons): what is asked of the
    thing defined, which the definition ranked above only by being its glossary entry. None when
    none scores near it. The definition's words are the learner's own: what they only mean ("COE" →
    center, excellence) the glossary entry holds by definition."""
    own = first.covers & stem_set(question)
    for other in ranked[1:]:
        if other.score < first.score * EXPLAINS:
            break
        beyond = other.covers - first.covers
        fits = other.unit.kind != "term" and own <= other.covers and (beyond or not more)
        if fits and not _within(other, [first]):
            return other
    return None


def _top_passage(first: Choice, ranked: list[Choice], covered: set[str], where: str = "") -> Choice | None:
    """The best unit of the search's best passage, when the unit chosen is from another passage and
    this one scores near it and holds something asked that the chosen one does not: the search and
    the shaper disagree, and the reply gives both ("can't we just turn our pilot into the platform?"
    is not only about "Turn Individual Lessons into Institutional Knowledge"); not when the answer is
    in the document the question names (`where`) and the best passage is not."""
    if first.hit == 1:
        return None
    top = next((c for c in ranked if c.hit == 1), None)
    if top is None or not top.unit.passage.startswith(where):
        return None
    if top.score < first.score * SECOND_SCORE or not top.covers - covered:
        return None
    return None if _within(top, [first]) else top


def _whole_list(choice: Choice, ranked: list[Choice]) -> Choice:
    """A sentence that announces a list ("…typically address four layers:") comes with the list, and
    so does a label's line that holds only the first of its items ("Effective Patterns: Transparent
    capacity dashboards…", the rest following one per paragraph): it is the list's opening, not an
    answer of its own."""
    same = [c for c in ranked if c.unit.kind == "list" and c.unit.passage == choice.unit.passage]
    if choice.unit.kind == "text" and choice.text.rstrip().endswith(":"):
        lists = same
    else:
        lists = [c for c in same if _opens(choice, c)]
    if not lists:
        return choice
    return Choice(lists[0].unit, choice.hit, choice.score, choice.covers | lists[0].covers)


def _opens(choice: Choice, listed: Choice) -> bool:
    """Whether an item or a paragraph is a list's label with only its first item ("Key Components:
    Curated Model Library"), the list of the same passage and title holding more."""
    unit, items = choice.unit, listed.unit.items
    if unit.kind == "list" or len(items) < 2 or not items[0][0]:
        return False
    label = listed.unit.title.rstrip(":").strip()
    said = (choice.text or unit.text).strip()
    if unit.kind == "text" and said.startswith(f"{label}:"):
        said = said[len(label) + 1 :].strip()
    elif unit.title.rstrip(":").strip() != label:
        return False
    first = f"{items[0][0]} — {items[0][1]}" if items[0][1] else items[0][0]
    return said in (items[0][0], first)


def _siblings_tied(ranked: list[Choice]) -> list[Choice]:
    """When the best units are parts of one list that score the same (the adoption, quality and
    business metrics for "which metrics?"), the question tells none of them from the others: the list
    holding them all answers it, so it goes first, with their score."""
    tied = [c for c in ranked if c.score == ranked[0].score]
    # (a block's own parts, "intuit." over its Action and Result, are told apart by the block)
    if len(tied) < 2 or any(c.unit.within or c.unit.kind not in ("list", "item") for c in tied):
        return ranked
    parents = [c for c in ranked if c.unit.kind == "list" and all(_part_of(t, c) for t in tied)]
    if not parents:
        return ranked
    parent = parents[0]
    lifted = replace(
        parent, score=ranked[0].score, covers=parent.covers | frozenset().union(*(t.covers for t in tied))
    )
    return [lifted, *(c for c in ranked if c is not parent)]


def _part_of(part: Choice, listed: Choice) -> bool:
    """Whether a unit is an item or a group of a list unit of the same passage."""
    return (
        part.unit is not listed.unit
        and part.unit.passage == listed.unit.passage
        and any(part.unit.title == t or part.unit.title.rstrip(":") == t for t, _ in listed.unit.items)
    )


def _choose(
    question: str,
    hits: list[Hit],
    course: Course,
    query: set[str],
    weights: Weights | None = None,
    names: frozenset[str] = frozenset(),
) -> tuple[list[Choice], str]:
    """The units answering one asking part, best first, and the recommendation told before them
    ("" when none): the best unit, and a second one when it adds something the question asks that
    the first does not hold (the other side, the other part)."""
    ranked = candidates(question, hits, course, query, weights or {}, names)
    if not ranked:
        return [], ""
    query = asked_stems(question, query)
    weights = weights or {}  # in full here: a second unit adds what the question means, said either way
    total = _weigh(query, weights)
    ranked = [_whole_list(c, ranked) for c in ranked]
    ranked = _siblings_tied(ranked)
    first = _in_named_document(question, ranked, course)
    chosen = [first]
    covered = set(first.covers)
    shape = asked_shape(question)
    q = question.lower()
    if shape == "comparison" or (
        shape == "recommendation"
        and (re.search(r"\bor\b(?! not\b)|\bvs\.?\b|\bversus\b", question) or SHAPES["comparison"].search(q))
    ):
        # a side is told by a word the passages hold ("mesh"), not an aside's ("…turned into a mess")
        held = set().union(*(tokens(c.text or c.unit.searchable) for c in ranked))
        sides = [side & held for side in comparison_sides(question)]
        sides = [side for side in sides if side] if sum(1 for side in sides if side) >= 2 else []
        tellings, owns = [], []
        for i, side in enumerate(sides):
            own = side - set().union(*(other for j, other in enumerate(sides) if j != i)) or side
            tellings.append(max(own, key=lambda stem: (weights.get(stem, 1.0), stem)))  # ties: by spelling
            owns.append(own)
        # One list that holds every side (the structures with their pros and cons) answers best.
        whole = [c for c in ranked if c.unit.kind == "list" and c.score >= first.score * WHOLE_LIST]
        whole = [c for c in whole if len(sides) >= 2 and all(own & _says(c) for own in owns)]
        if whole and whole[0] is not first:
            first = whole[0]
            chosen, covered = [first], set(first.covers)
        for telling in tellings:
            if any(telling in _says(c) for c in chosen):
                continue
            # The other side is best found where the first one is (the same list, the same section).
            saying = [c for c in ranked if telling in _says(c) and not _within(c, chosen)]
            other = next((c for c in saying if c.unit.passage == first.unit.passage), None)
            other = other or next(iter(saying), None)
            if other is not None and len(chosen) < MAX_UNITS:
                chosen.append(other)
                covered |= other.covers
    if HOW_TO.search(q) and first.unit.kind == "term" and len(chosen) == 1:
        # "what do we do about model drift?": a definition is no way to do anything; what the lessons
        # say of the thing it defines is (the definition follows it)
        chosen += _in_the_lesson(first, ranked)
        covered |= chosen[-1].covers
    named = place(question, course)
    where = named if named and first.unit.passage.startswith(named) else ""
    for other in ranked[1:]:
        if len(chosen) >= 2:
            break
        new = other.covers - covered
        if _within(other, chosen) or not new or not other.unit.passage.startswith(where):
            continue  # (nor, when the answer is in the document named, a unit from another one)
        if _weigh(set(new), weights) < SECOND_SHARE * total:
            continue
        if other.score < first.score * SECOND_SCORE:
            continue
        chosen.append(other)
        covered |= other.covers
    single = len(separate_questions(question)) < 2  # (each part of several is answered on its own below)
    if (
        len(chosen) == 1
        and shape not in FACTS
        and single
        and (top := _top_passage(first, ranked, covered, where))
    ):
        chosen.append(top)
        covered |= top.covers
    # "what is X and how common is it?": a later part asking about the thing defined is answered by
    # what the lessons say of it, whatever words it is asked in
    further = not single
    more = _beyond_definition(question, first, ranked, not further) if first.unit.kind == "term" else None
    if more is not None and len(chosen) == 1:
        chosen = [first, more] if shape == "definition" else [more, first]
        covered |= more.covers
    if shape == "definition" and first.unit.kind == "list" and first.unit.text == first.unit.title:
        chosen[:0] = [c for c in _in_the_lesson(first, ranked) if not _within(c, chosen)]
    if (
        shape == "recommendation"
        and not any(c.unit.kind == "list" for c in chosen)
        and len(chosen) < MAX_UNITS
    ):
        # A situation is answered by the options it is chosen from: the best list, when close enough.
        lists = [c for c in ranked if c.unit.kind == "list" and c.score >= first.score * 0.5]
        if lists and not _within(lists[0], chosen) and _fit(lists[:1], query, weights):
            chosen.append(lists[0])
            covered |= lists[0].covers
        elif lists and (item := _addressing(lists[0], ranked, query, weights)) and not _within(item, chosen):
            # Items that say nothing of when they suit are no options to choose from: the one that
            # addresses the problem told ("models keep degrading" → Model Governance) is the answer.
            chosen.append(item)
            covered |= item.covers
    unsaid = names - _names(first)
    if unsaid and first.unit.kind == "term" and len(chosen) < MAX_UNITS:
        # A definition names no company: a question naming one ("AT&T's reskilling", "JPMorgan's COE")
        # gets what the text says of it too, when that scores near the definition.
        naming = [c for c in ranked if unsaid & _names(c) and c.score >= first.score * NAMED_SHARE]
        if naming and not _within(naming[0], chosen):
            # The definition stays only if it holds something asked that the named text does not.
            if len(chosen) == 1 and first.covers <= naming[0].covers:
                chosen, covered = [], set()
            chosen.append(naming[0])
            covered |= naming[0].covers
    for name in sorted(names) if len(names) >= 2 else []:
        # "Spotify and Google both…": each thing the question names is answered, not only the first
        if len(chosen) >= MAX_UNITS or any(_mentions(c, name) for c in chosen):
            continue
        naming = [c for c in ranked if _mentions(c, name) and c.score >= first.score * NAMED_SHARE]
        if naming and not _within(naming[0], chosen):
            chosen.append(replace(naming[0], aside=True))
            covered |= naming[0].covers
    if names:  # what the question names is told first: JPMorgan's COE before the COE's definition
        # (after the named document's unit, when it was chosen over the best: it is what was asked)
        named_first = first is not ranked[0]
        chosen.sort(key=lambda c: (not (named_first and c is first), -len(names & _names(c))))
    if HOW_TO.search(q) and len(chosen) > 1 and chosen[0].unit.kind == "term":
        chosen = [*chosen[1:], chosen[0]]  # the way first, then what the thing it is a way out of is
    chosen = _with_results(chosen, course)
    # options offered with a situation ("300-person insurer, just starting: COE, federated or
    # hub-and-spoke?") ask for the pick as much as "which should we…?" does
    fit = _fit(chosen, query, weights) if shape in ("recommendation", "comparison") else ""
    return chosen, fit


def _step(unit: Unit, label: str) -> bool:
    """Whether a unit is a proof point's step of that label ("Action: Implemented…", "Result: …")."""
    if unit.kind == "item":
        return unit.title.split("\n")[-1].strip() == label
    return unit.kind == "text" and unit.text.startswith(f"{label}:")


def _with_results(chosen: list[Choice], course: Course) -> list[Choice]:
    """A proof point's action is told with its result ("Action: … Einstein evolves its offerings…" then
    "Result: High adoption… through choice, not mandate"): what a case did is half its story. The
    result is told, not weighed: it adds nothing to what the answer is judged to hold."""
    given = list(chosen)
    for choice in chosen:
        if not _step(choice.unit, "Action"):
            continue
        units = passage_units(course, choice.unit.passage)
        after = units[units.index(choice.unit) + 1 :] if choice.unit in units else []
        result = next((u for u in after if _step(u, "Result") and u.kind == choice.unit.kind), None)
        if result is not None and all(result != c.unit and result.text not in c.text for c in given):
            given.insert(
                given.index(choice) + 1, Choice(result, choice.hit, choice.score, frozenset(), aside=True)
            )
    return given


def compose(
    question: str,
    hits: list[Hit],
    course: Course,
    query: set[str],
    weights: Weights | None = None,
    names: frozenset[str] = frozenset(),
) -> Draft:
    """The reply text and the hit numbers it cites. A message asking several things ("what are the
    tiers, and how big is the first?") has each asking part shaped on its own and given its units,
    in the order asked; a part that adds nothing to the parts before it adds nothing to the reply."""
    weights = weights or {}
    if (quoted := _quoted_definition(question)) != question:
        question, query = quoted, query & stem_set(f"{quoted} {load_vocabulary().expansion(quoted)}")
    given, fit = _choose(question, hits, course, query, weights, names)
    parts = separate_questions(question)
    for part in parts if len(parts) >= 2 else []:
        said = stem_set(f"{part} {load_vocabulary().expansion(part)}")
        own = asked_stems(part, {s for s in query if s in said})
        held = query & set().union(*(_says(c) for c in given)) if given else set()
        wants_list = asks_several(part)
        defining = asked_shape(part) == "definition"
        if (
            _weigh(own - held, weights) < SECOND_SHARE * _weigh(own, weights)
            and (not wants_list or any(c.unit.kind == "list" for c in given))
            and (not defining or any(_is_definition(c, own) for c in given))
        ):
            continue  # the units chosen for the whole message answer this part already
        mentioned = frozenset(n for n in names if n in words(part))
        chosen, _ = _choose(part, hits, course, own, weights, mentioned)
        for choice in chosen[:1]:
            defines = defining and _is_definition(choice, own)
            if not (choice.covers - held) and not (wants_list and choice.unit.kind == "list") and not defines:
                continue
            # A later part asks about what the first does unless it names a topic of its own: its
            # answer is found where the message's is, or under a heading naming what it adds.
            named = (choice.covers - held) & (key_topics(course) | {stem(n) for n in mentioned})
            if not named and not defines and all(choice.unit.passage != c.unit.passage for c in given):
                continue
            same = next((i for i, c in enumerate(given) if c.unit == choice.unit), None)
            inside = [i for i, c in enumerate(given) if _holds(choice, c)]
            if same is not None and choice.text and given[same].text != choice.text:
                given[same] = _joined(given[same], choice)  # more sentences of the same paragraph
            elif inside:  # the whole list, where one of its items was given
                given[inside[0]] = choice
                given = [c for i, c in enumerate(given) if i not in inside[1:]]
            elif not _within(choice, given) and len(given) < MAX_UNITS + 1:
                given.append(choice)
    for part in parts[1:] if len(parts) >= 2 else []:
        if (dated := _dated(part, parts[0], given, hits, course, query, weights)) is not None:
            given.append(dated)
    asked = asked_stems(question, query)
    texts, room = ([fit] if fit else []), MAX_CHARS
    cited = {c.hit for c in given}
    said = ""  # the lesson's verdict on a yes/no question, told first ("No. AI governance is not…")
    for part in yes_no_parts(parts if len(parts) >= 2 else [question])[:1] if given else []:
        if (denied := denial(part, query, hits, course, weights)) is not None:
            said = denied[0]
            texts.insert(0, f"No. {said} [{denied[1]}]")
            cited.add(denied[1])
    if note := found_elsewhere(question, given, course):
        texts.insert(0, note)
    picked = PICKED.search(fit)
    named = bool(NAME_ASKED.search(question))
    for choice in given:
        part = render(choice, room, frozenset(asked), named)
        if picked and choice.unit.kind == "list" and picked[1] in (t for t, _ in choice.unit.items):
            part = _alternatives(choice, picked[1])
        part = without(part, said) if said and said in part else part
        room -= len(part)
        if part != f"[{choice.hit}]":
            texts.append(part)
    text = "\n".join(texts).strip()
    if text.endswith(":"):
        text = text[:-1] + "."
    weighed = [c for c in given if not c.aside]
    covered = frozenset().union(*(c.covers for c in weighed)) if weighed else frozenset()
    return Draft(text, sorted(cited), covered, [c.unit for c in weighed])


# A question asking what something is called: "is there a name for this?", "is this a known pattern?"
NAME_ASKED = re.compile(
    r"\b(?:a name for|known pattern|(?:is|was) (?:this|that|it) called|what(?:'s| is) (?:this|that|it) called"
    r"|a term for)\b",
    re.IGNORECASE,
)


# A later part asking when of what the first names ("…and when does it apply?", "when did that start?")
WHEN_BACK = re.compile(
    r"^(?:and |but |also |plus )?when (?:did|was|were|does|do|will)\b.*\b(?:it|its|they|them|that|this)\b",
    re.I,
)


def _dated(
    part: str,
    first: str,
    given: list[Choice],
    hits: list[Hit],
    course: Course,
    query: set[str],
    weights: Weights,
) -> Choice | None:
    """The sentence with a year for what the first part asks about, when a later part asks when of
    it and the units given tell no year ("what is the EU AI Act and when does it apply?" → "The EU AI
    Act (2024) directly responds…"): the part is not dropped silently."""
    if not WHEN_BACK.match(part) or any(YEAR.search(c.text or c.unit.text) for c in given):
        return None
    subject = [w for w in content_words(first) if w not in load_vocabulary().chat]
    own = query & stem_set(" ".join(subject))
    telling = {s for s in own if weights.get(s, 1.0) >= TELLING_IDF}
    if not telling:
        return None
    chosen, _ = _choose(f"when was {' '.join(subject)}", hits, course, own, weights)
    found = next(iter(chosen), None)
    if found is None or not telling <= found.covers or _within(found, given):
        return None
    return found if YEAR.search(found.text or found.unit.text) else None


QUOTED_PHRASE = re.compile(r"(?<!\w)['‘\"“]([a-z][^'’\"”]{2,40}?)['’\"”](?!\w)", re.I)
POINTED = re.compile(
    r"\bwhat(?:'s| is| does) (?:that|this|it)(?: \w+)? mean\b|\bwhat(?:'s| is) (?:that|this|it)\b"
    r"|\bmeant? by ['‘\"“]",  # "what does the course mean by 'pilot purgatory'?"
    re.I,
)


def _quoted_definition(question: str) -> str:
    """ "my VP keeps saying we're stuck in 'pilot purgatory'... what does that actually mean?" asks
    what the phrase quoted is: the words around it tell why it is asked, not what about."""
    quoted = QUOTED_PHRASE.findall(question)
    if len(quoted) != 1 or not POINTED.search(question):
        return question
    return f"what is {quoted[0]}?"


def _in_named_document(question: str, ranked: list[Choice], course: Course) -> Choice:
    """The best unit, or the best of the document the question names ("the scaling article's own
    framework") when one of its units scores near it: what the learner asked for is where they said."""
    where = place(question, course)
    inside = next((c for c in ranked if where and c.unit.passage.startswith(where)), None)
    return inside if inside and inside.score >= ranked[0].score * EXPLAINS else ranked[0]


def found_elsewhere(question: str, given: list[Choice], course: Course) -> str:
    """When the question names a document ("in lesson 1") and none of the units given is from it, a
    line saying so and where the answer is, so a learner is not left to think it came from there."""
    where = place(question, course)
    if not where or not given or any(c.unit.passage.startswith(where) for c in given):
        return ""
    sources = list(dict.fromkeys(c.unit.passage.split("#", 1)[0] for c in given))
    named, found = (course.documents[d].name(spoken=True) for d in (where[:-1], sources[0]))
    return f"I don't find that in {named}; {found} has it."


_KEY_TOPICS: dict[str, frozenset[str]] = {}


def key_topics(course: Course) -> frozenset[str]:
    """The stems that name a topic of the course: its key terms' own words ("mesh", "drift", "coe"),
    not the words several key terms share ("model", "data", "ai")."""
    if course.content_hash not in _KEY_TOPICS:
        terms = [set(stem_words(k.term)) for doc in course.documents.values() for k in doc.key_terms]
        seen = [s for term in terms for s in term]
        _KEY_TOPICS[course.content_hash] = frozenset(s for s in seen if seen.count(s) == 1)
    return _KEY_TOPICS[course.content_hash]


def _is_definition(choice: Choice, query: set[str]) -> bool:
    """Whether a chosen unit says what something asked about is: a key term, or a sentence defining it."""
    if choice.unit.kind == "term":
        return bool(query & stem_set(choice.unit.title))
    return any(is_defining(s, query) for s in sentences(choice.text or choice.unit.text))


def _holds(listed: Choice, choice: Choice) -> bool:
    """Whether a list unit holds a unit already chosen (one of its items)."""
    return (
        listed.unit.kind == "list"
        and choice.unit.kind == "item"
        and choice.unit.passage == listed.unit.passage
        and (choice.unit.title, choice.unit.text) in listed.unit.items
    )


def _joined(first: Choice, second: Choice) -> Choice:
    """One paragraph's sentences chosen for two parts, in reading order."""
    said = sentences(first.unit.text)
    keep = set(sentences(first.text)) | set(sentences(second.text))
    text = " ".join(s for s in said if s in keep)
    return Choice(first.unit, first.hit, first.score, first.covers | second.covers, text)
