"""Answer units: the course text cut where its authors cut it, so an answer can give a whole list,
one item of it, a key term or a paragraph — never half a list or a heading without its content.

A lesson section with titled items (the readiness dimensions, the governance layers) is one `list`
unit (its lead-in sentence and every item) and one `item` unit per item; stat callouts are a `list` of
figures; a key term is a `term`; every paragraph is a `text`. The readings write lists inside their
paragraphs (`Header:` then `• a` lines, `1. …` lines, or short heading paragraphs such as
`Mistake 1: Over-Engineering` followed by their text): those become `list` units too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.loader import KEY_TERMS, Course
from knowledge.schema import Document, Section

BULLET = re.compile(r"^\s*(?:[•\-–]\s*|\d+[.)]\s+|[├└│─\s]+)")
BOX = re.compile(r"[\u2500-\u257f]+")  # box-drawing characters
HEADING_WORDS = 9
FRAGMENT_WORDS = HEADING_WORDS  # a line short enough to head text is short enough to be a list item
NAME_WORDS = 2  # a paragraph this short names what follows ("intuit.") and answers nothing itself
ITEM_WORDS = 12  # a bullet this long says something of its own: an answer unit too


@dataclass(frozen=True)
class Unit:
    passage: str  # "lesson-2#governance-architecture"
    label: str  # how a citation names it
    kind: str  # "list", "item", "term" or "text"
    title: str  # the item's title, the term, or the section heading
    text: str  # the body: the item's text, the definition, the paragraph, or a list's lead-in
    items: tuple[tuple[str, str], ...] = ()  # a list's (title, text) items, in order
    note: str = ""  # an editorial note the answer must carry with the list
    details: tuple[str, ...] = ()  # a list of headed blocks: each block's full text, item by item
    within: str = ""  # the heading of the block a paragraph belongs to ("Mistake 1: Over-Engineering")

    @property
    def heading(self) -> str:
        """The section heading (the part of the label after the document)."""
        return self.label.split(" · ", 1)[-1] if self.kind != "term" else ""

    @property
    def searchable(self) -> str:
        """All the words of the unit, for matching a question against it."""
        return " ".join([self.within, self.title, self.text, *(f"{t} {x}" for t, x in self.items)]).strip()


def is_heading(paragraph: str) -> bool:
    """A short line that names what follows ("Phase 2: Standardization (Months 4-8)", "Approval Process")."""
    line = paragraph.strip()
    if "\n" in line or len(line.split()) > HEADING_WORDS or line.endswith((".", "?", "!", "”", '"')):
        return False
    head, colon, _ = line.partition(":")
    return not colon or any(ch.isdigit() for ch in head)


def _boxes(paragraph: str) -> tuple[str, list[str]] | None:
    """A diagram of boxes drawn with box-drawing characters, as (lead, items): one item per box, its
    lines joined ("Data Access Layer: Query company data"), never the drawing itself."""
    if "┌" not in paragraph:
        return None
    lead, items, box = "", [], None
    for line in paragraph.split("\n"):
        said = BOX.sub(" ", line).strip()
        if "┌" in line:
            box = []
        elif "└" in line and box is not None:
            if box:
                items.append(f"{box[0]}: {' '.join(box[1:]).strip('()')}" if len(box) > 1 else box[0])
            box = None
        elif said and box is not None:
            box.append(said)
        elif said and not items:
            lead = said
    return (lead, items) if len(items) >= 2 else None


def _bullets(paragraph: str) -> tuple[str, list[str]] | None:
    """A paragraph written as `Lead:` followed by bullet or numbered lines, as (lead, items)."""
    boxes = _boxes(paragraph)
    if boxes:
        return boxes
    lines = [ln.strip() for ln in paragraph.split("\n") if ln.strip()]
    marked = [ln for ln in lines[1:] if BULLET.match(ln)]
    if len(lines) < 3 or len(marked) < 2:
        return None
    lead = lines[0] if not BULLET.match(lines[0]) else ""
    body = lines[1:] if lead else lines
    items = [BULLET.sub("", ln).strip() for ln in body]
    return lead, [i for i in items if i]


# A bullet opening with a short title sentence: "1. Invest in Platforms Before Scaling Teams. The shared…"
TITLED = re.compile(r"^((?:\d+[.)]\s*)?[^.!?:]{3,80}[^.!?:\s])\.\s+(\S.*)$", re.DOTALL)


def _item_pair(item: str) -> tuple[str, str]:
    """A bullet as (title, text): "Decision Rights: Authority to…", a short title sentence and its
    text, or the whole line as its title."""
    if ":" in item[:60]:
        return _split_title(item)
    titled = TITLED.match(item.strip())
    if titled and len(titled.group(1).split()) <= HEADING_WORDS:
        return titled.group(1).strip(), titled.group(2).strip()
    return item, ""


def _split_title(text: str) -> tuple[str, str]:
    """`Mistake 1: Over-Engineering` → ("Mistake 1", "Over-Engineering"); no colon → (text, "")."""
    title, sep, rest = text.partition(":")
    if sep and len(title.split()) <= 6:
        return title.strip(), rest.strip()
    return text.strip(), ""


def _section_units(doc: Document, section: Section, label: str) -> list[Unit]:
    ref = f"{doc.id}#{section.id}"
    units: list[Unit] = []
    paragraphs = list(section.paragraphs)
    if section.items:
        lead = paragraphs[-1] if paragraphs and paragraphs[-1].rstrip().endswith(":") else section.heading
        items = tuple((i.title, i.text) for i in section.items)
        units.append(Unit(ref, label, "list", section.heading, lead, items, section.editorial_note or ""))
        units += [Unit(ref, label, "item", t, x) for t, x in items]
    if section.stats:
        stats = tuple((s.value, s.label) for s in section.stats)
        units.append(Unit(ref, label, "list", section.heading, section.heading, stats))
        units += [Unit(ref, label, "item", v, lab) for v, lab in stats]
    # Headed blocks: a heading paragraph and the paragraphs after it, up to the next heading.
    blocks: list[tuple[str, list[str]]] = []
    for para in paragraphs:
        if is_heading(para) and not (section.items and para is paragraphs[-1]):
            blocks.append((para.strip(), []))
        elif blocks:
            blocks[-1][1].append(para)
    # A short line with nothing under it heads nothing: it is an item of a list written one item per
    # paragraph ("Effective Patterns: a" then "b", "c"), and the lines after it are not its block.
    headed = len(blocks) >= 2 and all(body for _, body in blocks)
    if headed:
        items = tuple((title, _first_line(body)) for title, body in blocks)
        details = tuple("\n".join(body) for _, body in blocks)
        units.append(Unit(ref, label, "list", section.heading, section.heading, items, details=details))
        for title, body in blocks:
            units.append(Unit(ref, label, "item", title, "\n".join(body)))
    groups: list[tuple[str, str]] = []
    steps: list[Unit] = []  # labelled bullet lists, steps of the section only beside `Title: text` steps
    bulleted: list[Unit] = []  # bullet items that say something of their own; an FAQ's answers
    plain = ""  # the paragraph before, when it is plain text
    named = ""  # the heading paragraph over the list, if any ("1. Shared Infrastructure")
    block = ""  # the heading of the block the paragraph is in, when the section is headed blocks
    for para in paragraphs:
        listed = _bullets(para)
        if listed:
            lead, items = listed
            pairs = tuple(_item_pair(i) for i in items)
            units.append(Unit(ref, label, "list", lead.rstrip(":") or section.heading, lead, pairs))
            # an item titled by its first sentence that says something of its own ("3. Evolve Decision
            # Rights as Context Changes. … Review and adjust decision frameworks quarterly.") is one
            # unit too, as a section's items are
            bulleted += [
                Unit(ref, label, "item", t, x)
                for (t, x), i in zip(pairs, items, strict=True)
                if x and ":" not in i[:60] and len(i.split()) >= ITEM_WORDS
            ]
            title, body = _split_title(lead)
            if body and len(title.split()) <= 4:
                # "The New Model: Continuous Strategy" then its bullets is one of the section's
                # `Title: text` steps too (The Challenge, The New Model, Action, Result).
                said = "; ".join(i.rstrip(".") for i in items)
                units.append(Unit(ref, label, "item", title, f"{body} — {said}."))
            elif not body and _label(title):
                # "Practices That Scale:" then its bullets, between "Problem" and "Proof Point": one
                # of the section's labelled steps, kept when the section has such steps (below).
                steps.append(Unit(ref, label, "item", title, "; ".join(i.rstrip(".") for i in items) + "."))
                units.append(steps[-1])
            if named:  # a group keeps its label: "1. Shared Infrastructure — What teams would use…"
                groups.append((named, f"{lead} {'; '.join(items)}".strip()))
            elif lead:
                groups.append((lead.rstrip(":"), "; ".join(items)))
        elif len(para.split()) <= NAME_WORDS and not is_heading(para) and ":" not in para:
            block = para.strip().rstrip(".")  # "intuit." over its Action and Result: names, says nothing
        elif not is_heading(para):
            title, body = _split_title(para)
            first, _, rest = para.strip().partition("\n")
            if first.rstrip().endswith("?") and rest.strip():
                # an FAQ's question over its answer: the answer, titled by the question it answers
                bulleted.append(Unit(ref, label, "item", first.strip(), " ".join(rest.split())))
            if not body and rest and _label(first):  # "Solution\nEstablish Clear Decision Rights…"
                title, body = first.strip(), " ".join(rest.split())
            if body and len(title.split()) <= 4 and not para.rstrip().endswith(":"):
                units.append(Unit(ref, label, "item", title, body, within=block))
            # A paragraph leaning on the one before ("This model preserves…" after "The solution is
            # not to choose…") is one unit with it: neither says the whole thing alone.
            text = para
            if LEANS.match(para) and plain:
                text = f"{plain} {para}"
                units = [u for u in units if not (u.kind == "text" and u.passage == ref and u.text == plain)]
            units.append(Unit(ref, label, "text", section.heading, text, within=block))
        plain = para if (not listed and not is_heading(para) and ":" not in para[:40]) else ""
        named = para.strip() if is_heading(para) else ""
        if headed and is_heading(para):
            block = para.strip()
    # Several headed lists in one section (adoption, quality and business metrics): the groups. Lists
    # inside headed blocks (each phase's "Components:") are already given by the blocks' list, and
    # groups that all carry the same label ("Components", "Components") name nothing.
    if len(groups) >= 2 and not headed and len({label for label, _ in groups}) == len(groups):
        units.append(Unit(ref, label, "list", section.heading, section.heading, tuple(groups)))
    units += _fragment_lists(ref, label, paragraphs)
    units += _prose_list(ref, label, section.heading, [p for p in paragraphs if not _bullets(p)])
    # A run of `Title: text` paragraphs (the deck's "Decision Rights: …") is also a list.
    pairs = [u for u in units if u.kind == "item" and u.passage == ref and not section.items]
    if len([u for u in pairs if u not in steps]) < 2 or blocks:
        units = [u for u in units if u not in steps]
        pairs = [u for u in pairs if u not in steps]
    if len(pairs) >= 2 and not blocks:
        units.append(
            Unit(
                ref, label, "list", section.heading, section.heading, tuple((u.title, u.text) for u in pairs)
            )
        )
    return units + bulleted


def _label(line: str) -> bool:
    """A line that only labels the text under it ("Solution", "Proof Point"): a few words, no stop."""
    line = line.strip()
    return 0 < len(line.split()) <= 4 and not line.endswith((".", ":", "?", "!")) and ":" not in line


def _fragment(paragraph: str) -> bool:
    """A short line with no full stop: a list item written as its own paragraph."""
    line = " ".join(paragraph.split())
    return 0 < len(line.split()) <= FRAGMENT_WORDS and not line.endswith((".", "?", "!", ":", "”", '"'))


def _fragment_lists(ref: str, label: str, paragraphs: list[str]) -> list[Unit]:
    """`Key Components: Curated Model Library` followed by fragment paragraphs ("Federated Data
    Catalog", …): a list headed by the label, its first item after the colon."""
    units: list[Unit] = []
    for i, para in enumerate(paragraphs):
        head, colon, first = para.partition(":")
        if not colon or not _fragment(first) or len(head.split()) > 4:
            continue
        items = [first.strip()]
        for after in paragraphs[i + 1 :]:
            if not _fragment(after) or ":" in after:
                break
            items.append(" ".join(after.split()))
        if len(items) >= 3:
            units.append(Unit(ref, label, "list", head.strip(), head.strip(), tuple((t, "") for t in items)))
    return units


# A sentence that opens one item of a list written in prose ("One prevalent failure pattern is…",
# "Another critical pitfall is…", "A third common failure is…"; "First, conduct…", "Finally, commit…").
ENUMERATES = re.compile(
    r"^(?:One|Another|Also|Furthermore|Additionally|Finally|Lastly|First|Second|Third|Fourth|Fifth"
    r"|A (?:second|third|fourth|fifth|final|further)"
    r"|A (?:significant|critical|key|common|major|notable) (?:trend|pitfall|failure|area|pattern|challenge|"
    r"reason|factor|step|mistake|shift))\b"
)
QUOTED = re.compile(r"['‘\"“]([A-Z][^'’\"”]{3,60}?)[,.]?['’\"”]")
LEANS = re.compile(r"(This|These|That|Those|It|They|Such) ")  # a paragraph opening on what came before


def _prose_list(ref: str, label: str, heading: str, paragraphs: list[str]) -> list[Unit]:
    """A list the text writes across sentences or paragraphs (the three pitfalls, the 2026 trends, a
    framework's "First… Second… Third…" steps): one `list` unit of the sentences that open an item,
    each titled by the name it puts in quotes ('Pilot Purgatory Trap'), when there are three or more."""
    from knowledge.text import sentences

    said: list[str] = []
    starts = set()  # the sentences that open a paragraph
    for para in paragraphs:
        starts.add(len(said))
        for sentence in sentences(para):
            # "…consider these concrete actions: First, conduct…": the lead-in, then the first item
            lead, colon, rest = sentence.partition(": ")
            said += [f"{lead}:", rest] if colon and ENUMERATES.match(rest) else [sentence]
    opening = [i for i, s in enumerate(said) if ENUMERATES.match(s)]
    if len(opening) < 3:
        return []
    first = opening[0]
    # the sentence announcing the items, in the paragraph of the first one; else the heading
    lead = said[first - 1] if first and first not in starts and len(said[first - 1]) < 200 else heading
    items, named_items = [], []
    for n, i in enumerate(opening):
        named = QUOTED.search(said[i])
        items.append((named.group(1), said[i]) if named else (said[i], ""))
        if named:  # a named item is also one unit: its sentences up to the next item or paragraph
            end = min([j for j in [*opening[n + 1 :], *starts] if j > i] or [len(said)])
            named_items.append(Unit(ref, label, "item", named.group(1), " ".join(said[i:end])))
    # titled by its own lead-in when it has one: the section's heading may name something else
    return [Unit(ref, label, "list", lead.rstrip(":"), lead, tuple(items)), *named_items]


def _first_line(body: list[str]) -> str:
    """What a headed block says first; a lead-in ending on a colon comes with the items it announces."""
    for para in body:
        line = para.strip().split("\n")[0]
        if line.endswith(":") and (listed := _bullets(para)):
            return f"{line} {'; '.join(listed[1])}"
        if line:
            return line
    return ""


def document_units(doc: Document) -> list[Unit]:
    where = doc.name()
    units: list[Unit] = []
    for section in doc.sections:
        units += _section_units(doc, section, f"{where} · {section.heading}")
    for term in doc.key_terms:
        ref = f"{doc.id}#{KEY_TERMS}"
        units.append(Unit(ref, f"{where} · Key term — {term.term}", "term", term.term, term.definition))
    return units


_BUILT: dict[str, dict[str, list[Unit]]] = {}  # course content hash -> passage -> units


def passage_units(course: Course, passage: str) -> list[Unit]:
    """Every answer unit of one passage (`doc#section`), in reading order."""
    found = _BUILT.get(course.content_hash)
    if found is None:
        found = {}
        for doc in course.documents.values():
            for unit in document_units(doc):
                found.setdefault(unit.passage, []).append(unit)
        _BUILT[course.content_hash] = found
    return found.get(passage, [])
