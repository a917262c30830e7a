"""An answer unit as chat text: lists as bullets, items and terms titled, paragraphs as chosen,
each with its citation marker.
"""

from __future__ import annotations

from flows.choice import Choice
from flows.sentence_choice import topic_of
from knowledge.text import sentences, stem_set, stem_words

MAX_CHARS = 1300  # a chat reply: past this, list items keep their first sentence only


LEAD_CHARS = 220


def render(
    choice: Choice, room: int = MAX_CHARS, query: frozenset[str] = frozenset(), named: bool = False
) -> str:
    """One unit as chat text with its citation marker; lists as bullets, never ending on a colon.
    Items of a list of headed blocks ("Phase 1: …") add the lines of their block that hold what the
    question asks beyond the list itself ("…with costs" → each phase's cost line). `named`: the
    question asks what the thing is called ("is this a known pattern?"), so a paragraph that does not
    say its section's name is told under it ("*Pilot Purgatory: How Organizations Get Stuck* — …")."""
    unit, mark = choice.unit, f"[{choice.hit}]"
    if unit.kind == "list":
        lead = unit.text.strip()
        if len(lead) > LEAD_CHARS:
            # A long lead-in keeps the sentence that announces the list, and any sentence of it that
            # holds what the question asks beyond the list ("is governance a compliance checkbox?").
            listed = stem_set(f"{unit.title} " + " ".join(f"{t} {x}" for t, x in unit.items))
            *before, last = sentences(lead)
            telling = sorted(before, key=lambda s: -len((query - listed) & stem_set(s)))[:1]
            lead = " ".join([*(s for s in before if s in telling and (query - listed) & stem_set(s)), last])
        if (lead == unit.title and not lead.endswith(".")) or not lead:
            lead = f"*{unit.title}*"
        lead = lead.rstrip(".:").rstrip() + ":"
        full = [_bullet(t, x) for t, x in unit.items]
        extra = query - set(stem_words(f"{unit.heading} {unit.title} {unit.text}"))
        if unit.details and extra:
            for i, detail in enumerate(unit.details):
                asked = [ln.strip().lstrip("• ") for ln in detail.split("\n") if extra & set(stem_words(ln))]
                full[i] += "".join(f" — {ln}" for ln in asked[:2] if ln not in full[i])
        if len("\n".join(full)) > room:
            full = [_bullet(t, sentences(x)[0] if x else "") for t, x in unit.items]
        text = f"{lead} {mark}\n" + "\n".join(full)
        if unit.note:
            text += f"\n_Note: {unit.note}_"
        return text
    # a paragraph of a headed block says whose it is: "Mistake 1: Over-Engineering — What happens: …"
    part_of = f"*{unit.within}* — " if unit.within and unit.within != unit.title else ""
    if unit.kind in ("item", "term"):
        return f"{part_of}*{unit.title}*: {unit.text.strip()} {mark}"
    said = choice.text or unit.text
    topic = topic_of(unit.heading)
    if named and not part_of and topic and not stem_set(topic) <= stem_set(said):
        part_of = f"*{topic}* — "
    return f"{part_of}{said} {mark}"


def _bullet(title: str, text: str) -> str:
    return f"• *{title}* — {text}" if text else f"• {title}"
