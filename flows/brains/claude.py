"""The Claude coach, through the official `anthropic` SDK.

Requests are laid out for prompt caching: tools, then the system prompt (persona, lab scenario,
rubric and the course passages behind it) carry `cache_control`, and that prefix is byte-identical
for every turn of every learner in the same lab. Everything about one learner comes after it, in the
user message. The prefix carries the same knowledge the offline coach is fitted on — each point's
strong example answers and misconceptions with their corrections. The assessment comes back through
a forced tool call with a closed JSON schema (kind, credits with levels, misconception ids), so the
graph reads structured evidence, never prose; the lab flow's policy then corrects, chooses the focus
and keeps the score exactly as for the offline coach. A turn over the turn budget falls back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from anthropic import AsyncAnthropic, DefaultAioHttpClient
from anthropic.types import Message

from bot import metrics
from flows.assessment import LEVELS, MAX_POINTS_PER_TURN, Assessment, Credit, Wrong
from flows.brains.base import Answer, BrainError, LabContext, LabTurn, QAContext
from knowledge.loader import Course
from knowledge.retrieval import content_words
from knowledge.schema import Lab, document_name
from knowledge.text import sentences
from prompts import load, render

log = logging.getLogger("coach.claude")
CACHE = {"type": "ephemeral"}
LAB_TOOL = "assess_turn"
MAX_MESSAGE_CHARS = 2500
CITATION = re.compile(r"\[(\d+)\]")
HISTORY_TURNS = 8
LAB_TURN_BUDGET_S = 20.0  # a learner waiting longer than this gets the offline coach instead


def lab_tool(lab: Lab) -> dict[str, Any]:
    """The assessment as a strict schema: closed objects, enums for every id and level, at most two
    credits; the graph validates the input again before it counts anything."""
    ids = [p.id for p in lab.rubric]
    wrong_ids = [m.id for p in lab.rubric for m in p.misconceptions]
    return {
        "name": LAB_TOOL,
        "description": "Record what the learner's message shows about the rubric, and the coach's reply.",
        "input_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "kind": {
                    "type": "string",
                    "enum": ["answer", "question", "idk", "term_list"],
                    "description": "answer; a question about the course; I don't know / just tell me; "
                    "a bare list of terms.",
                },
                "credits": {
                    "type": "array",
                    "maxItems": MAX_POINTS_PER_TURN,
                    "description": "Sound claims about rubric points in this message, at most two.",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "point": {"type": "string", "enum": ids},
                            "level": {"type": "string", "enum": list(LEVELS)},
                            "evidence": {"type": "string", "description": "A verbatim quote of the learner."},
                        },
                        "required": ["point", "level", "evidence"],
                    },
                },
                "misconceptions": {
                    "type": "array",
                    "maxItems": 1,
                    "description": "The rubric misconception this message shows, if any.",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "id": {"type": "string", "enum": wrong_ids},
                            "evidence": {"type": "string", "description": "A verbatim quote of the learner."},
                        },
                        "required": ["id", "evidence"],
                    },
                },
                "focus": {"type": ["string", "null"], "enum": [*ids, None]},
                "message": {
                    "type": "string",
                    "description": "The coach's follow-up question to the learner.",
                },
            },
            "required": ["kind", "credits", "misconceptions", "focus", "message"],
        },
        "cache_control": CACHE,
    }


def _rubric_text(lab: Lab) -> str:
    """Every point with its weight, strong example answers and misconceptions (with corrections)."""
    blocks = []
    for p in lab.rubric:
        lines = [f"### `{p.id}` — {p.area} (weight {p.weight:g})", p.description, "Strong answers:"]
        lines += [f"- {e}" for e in p.examples]
        lines.append("Misconceptions:")
        lines += [f"- `{m.id}`: {m.claim} Correction: {m.correction}" for m in p.misconceptions]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def lab_system(course: Course, lab: Lab) -> str:
    """The stable, cacheable part of every lab request (the same for every learner)."""
    excerpts = []
    refs = [p.passage for p in lab.rubric] + [m.passage for p in lab.rubric for m in p.misconceptions]
    for ref in dict.fromkeys(refs):
        _doc, section = course.passage(ref)
        body = "\n".join([*section.paragraphs, *(f"{i.title}: {i.text}" for i in section.items)])
        stats = "; ".join(f"{s.value} {s.label}" for s in section.stats)
        note = f"\nEditorial note: {section.editorial_note}" if section.editorial_note else ""
        excerpts.append(f"### {course.cite(ref)}\n{body}" + (f"\nFigures: {stats}" if stats else "") + note)
    lab_text = render(
        "lab",
        number=str(lab.number),
        title=lab.title,
        coach_name=lab.coach_name,
        scenario=lab.scenario,
        task=lab.task,
        rubric=_rubric_text(lab),
        excerpts="\n\n".join(excerpts),
    )
    return f"{load('persona')}\n\n{lab_text}"


def qa_system(course: Course | None) -> str:
    """The stable, cacheable part of every Q&A request: persona, how to answer, and the course at a
    glance (outline, key terms, the lists each section gives). It is the same for every question and
    longer than the minimum cacheable prefix, so every question after the first reads it from cache."""
    parts = [load("persona"), load("qa")]
    if course is not None:
        parts.append("## The course at a glance (orientation only: cite the numbered passages)")
        for doc in [*course.lessons, *course.readings]:
            name = document_name(doc.kind, doc.number, doc.title)
            parts.append(f"### {name}: {doc.title}" if doc.kind == "lesson" else f"### {name}")
            if doc.opening_question:
                parts.append(f"{doc.subtitle or ''} Opening question: {doc.opening_question}".strip())
            parts.append("Sections: " + "; ".join(s.heading for s in doc.sections))
            for section in doc.sections:
                if doc.kind == "lesson" and section.paragraphs:
                    parts.append(f"“{section.heading}” opens: {sentences(section.paragraphs[0])[0]}")
                if section.items:
                    items = "; ".join(f"{i.title} — {i.text}" for i in section.items)
                    parts.append(f"List in “{section.heading}”: {items}")
                if section.editorial_note:
                    parts.append(f"Editorial note on “{section.heading}”: {section.editorial_note}")
            parts += [f"Key term — {k.term}: {k.definition}" for k in doc.key_terms]
    return "\n\n".join(parts)


def _json(value: Any) -> bytes:
    """JSON as the SDK sends it (UTF-8, no spaces)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class RequestHead:
    """A Messages request's fields that are the same on every call of one kind (model, limits, tools,
    the cached system prompt: ~20 KB), JSON-encoded once; each call encodes only its messages. The SDK
    would encode the whole request again on every call (~0.2-0.3 ms of CPU, measured)."""

    def __init__(self, **fields: Any):
        self.head = _json(fields)[:-1] + b',"messages":'

    def body(self, messages: list[dict[str, Any]]) -> bytes:
        return self.head + _json(messages) + b"}"


def estimated_tokens(text: str) -> int:
    """A rough token count (about four characters a token in English prose)."""
    return len(text) // 4


class CacheStats:
    """Prompt-cache use across this process's Claude calls, logged after each call."""

    def __init__(self) -> None:
        self.calls = self.input_tokens = self.cache_read = self.cache_write = 0

    def record(self, usage: Any) -> None:
        if usage is None:
            return
        self.calls += 1
        self.input_tokens += getattr(usage, "input_tokens", 0) or 0
        self.cache_read += getattr(usage, "cache_read_input_tokens", 0) or 0
        self.cache_write += getattr(usage, "cache_creation_input_tokens", 0) or 0
        metrics.claude_usage(
            getattr(usage, "cache_read_input_tokens", 0) or 0,
            getattr(usage, "cache_creation_input_tokens", 0) or 0,
            getattr(usage, "input_tokens", 0) or 0,
        )
        log.info(
            "claude usage: cache_read_input_tokens=%d cache_creation_input_tokens=%d input_tokens=%d "
            "prompt-cache hit rate %.0f%% over %d calls",
            getattr(usage, "cache_read_input_tokens", 0) or 0,
            getattr(usage, "cache_creation_input_tokens", 0) or 0,
            getattr(usage, "input_tokens", 0) or 0,
            100 * self.hit_rate,
            self.calls,
        )

    @property
    def hit_rate(self) -> float:
        """The share of prompt tokens read from the cache."""
        total = self.input_tokens + self.cache_read + self.cache_write
        return self.cache_read / total if total else 0.0


def _lab_user_message(ctx: LabContext) -> str:
    shown = ", ".join(f"{pid} ({level})" for pid, level in ctx.levels.items()) or "none yet"
    open_points = ", ".join(p.id for p in ctx.open_points()) or "none"
    history = "\n".join(f"{t['role'].title()}: {t['text']}" for t in ctx.history[-HISTORY_TURNS:])
    return (
        f"Conversation so far:\n{history or '(none)'}\n\n"
        f"Shown so far: {shown}\nNot yet applied, most important first: {open_points}\n"
        f"Point you asked about last: {ctx.focus or 'none'}\nMove: {ctx.move}\n\n"
        f"<learner_message>\n{ctx.text}\n</learner_message>"
    )


def _supported(evidence: str, text: str) -> bool:
    """Evidence counts only if most of its words are the learner's own."""
    quoted = set(content_words(evidence))
    if not quoted:
        return False
    said = set(content_words(text))
    return len(quoted & said) >= max(1, len(quoted) // 2)


def parse_lab_turn(raw: Any, ctx: LabContext) -> LabTurn:
    """Validate the tool input; anything malformed raises BrainError so the turn falls back."""
    if not isinstance(raw, dict):
        raise BrainError("tool input is not an object")
    message, credits, wrong = raw.get("message"), raw.get("credits"), raw.get("misconceptions", [])
    kind = raw.get("kind", "answer")
    if not isinstance(message, str) or not message.strip() or not isinstance(credits, list):
        raise BrainError("tool input lacks a message or a credits list")
    if kind not in ("answer", "question", "idk", "term_list") or not isinstance(wrong, list):
        raise BrainError("tool input has an unknown kind or a malformed misconceptions list")
    found: list[Credit] = []
    for item in credits if ctx.move == "answer" and kind == "answer" else []:
        if not isinstance(item, dict) or not isinstance(item.get("evidence"), str):
            raise BrainError("malformed credit")
        point, level = item.get("point"), item.get("level")
        if ctx.lab.point(point) and level in LEVELS and _supported(item["evidence"], ctx.text):
            found.append(Credit(point, level, item["evidence"].strip()[:160]))
    mistakes: list[Wrong] = []
    for item in wrong if ctx.move == "answer" else []:
        if not isinstance(item, dict) or not isinstance(item.get("evidence"), str):
            raise BrainError("malformed misconception")
        hit = ctx.lab.misconception(item.get("id", ""))
        if hit and _supported(item["evidence"], ctx.text):
            mistakes.append(Wrong(hit[0].id, hit[1].id, item["evidence"].strip()[:160]))
    wrong_points = {w.point for w in mistakes}
    found = [c for c in found if c.point not in wrong_points][:MAX_POINTS_PER_TURN]
    focus = raw.get("focus")
    focus = focus if isinstance(focus, str) and ctx.lab.point(focus) else None
    assessment = Assessment(kind, found, mistakes[:1])  # type: ignore[arg-type]
    return LabTurn(assessment, message.strip()[:MAX_MESSAGE_CHARS], focus)


class ClaudeBrain:
    """Coaching by Claude. Raises BrainError (or the SDK's errors) when a turn cannot be had."""

    name = "claude"
    remote = True

    def __init__(
        self,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 2,
        max_tokens: int = 800,
        turn_budget_s: float = LAB_TURN_BUDGET_S,
    ):
        # aiohttp as the transport: with hundreds of calls in flight, httpx's pool bookkeeping costs more
        # CPU per request than the rest of a coaching turn (measured by `coach bench`).
        self.client = AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=max_retries,
            http_client=DefaultAioHttpClient(timeout=timeout_s),
        )
        self.model = model
        self.max_tokens = max_tokens
        self.turn_budget_s = turn_budget_s
        self._heads: dict[tuple[str, str], RequestHead] = {}  # ("qa", "") or ("lab", its id)
        self.cache = CacheStats()

    async def aclose(self) -> None:
        await self.client.close()

    async def _create(self, head: RequestHead, content: str) -> Message:
        """`messages.create` with the request's stable part already encoded: the same JSON body,
        sent through the SDK's client (its retries, timeouts, errors and parsing)."""
        body = head.body([{"role": "user", "content": content}])
        return await self.client.post("/v1/messages", cast_to=Message, content=body)

    def _lab_head(self, ctx: LabContext) -> RequestHead:
        key = ("lab", ctx.lab.id)
        if key not in self._heads:
            self._heads[key] = RequestHead(
                model=self.model,
                max_tokens=self.max_tokens,
                tools=[lab_tool(ctx.lab)],
                tool_choice={"type": "tool", "name": LAB_TOOL},
                system=[{"type": "text", "text": lab_system(ctx.course, ctx.lab), "cache_control": CACHE}],
            )
        return self._heads[key]

    async def lab_turn(self, ctx: LabContext) -> LabTurn:
        """One assessed turn, or BrainError when it would take longer than the turn budget."""
        try:
            return await asyncio.wait_for(self._lab_turn(ctx), timeout=self.turn_budget_s)
        except TimeoutError as exc:
            raise BrainError(f"lab turn took longer than {self.turn_budget_s:g} s") from exc

    async def _lab_turn(self, ctx: LabContext) -> LabTurn:
        response = await self._create(self._lab_head(ctx), _lab_user_message(ctx))
        self.cache.record(getattr(response, "usage", None))
        block = next((b for b in response.content if b.type == "tool_use" and b.name == LAB_TOOL), None)
        if block is None:
            raise BrainError("no assess_turn tool call in the response")
        return parse_lab_turn(block.input, ctx)

    def _qa_head(self, course: Course | None) -> RequestHead:
        key = ("qa", "")
        if key not in self._heads:
            self._heads[key] = RequestHead(
                model=self.model,
                max_tokens=self.max_tokens,
                system=[{"type": "text", "text": qa_system(course), "cache_control": CACHE}],
            )
        return self._heads[key]

    async def answer(self, ctx: QAContext) -> Answer:
        passages = "\n\n".join(f"[{n}] {h.label}\n{h.text}" for n, h in enumerate(ctx.hits, start=1))
        earlier = "\n".join(f"Q: {t['question']}\nA: {t['answer']}" for t in ctx.history[-3:])
        content = ""
        if ctx.shaped:
            content += f"Answer units for this question, with their passage numbers:\n{ctx.shaped}\n\n"
        content += f"Course passages:\n{passages}\n\n"
        if earlier:
            content += f"Earlier in this thread:\n{earlier}\n\n"
        content += f"<question>\n{ctx.question}\n</question>"
        response = await self._create(self._qa_head(ctx.course), content)
        self.cache.record(getattr(response, "usage", None))
        text = "".join(b.text for b in response.content if b.type == "text").strip()
        if not text:
            raise BrainError("empty answer")
        cited = sorted({int(n) for n in CITATION.findall(text) if 1 <= int(n) <= len(ctx.hits)})
        return Answer(text[:MAX_MESSAGE_CHARS], cited)
