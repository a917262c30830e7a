"""The grounding layer: the course text chunked, indexed in SQLite FTS5, searched with bm25.

Chunks keep their lesson number, document title and section heading so every answer can cite
where it came from. The index lives in its own SQLite file, is built on first use and rebuilt
whenever the knowledge files change (their content hash is stored beside the chunks).

`grounded` answers "do the lessons cover this at all?": a query is grounded when the course
knows most of its distinctive words (weighted by how rare they are in the course) and the best
hit matches well. Off-topic questions (the weather, cooking) fail that test, so the coach can say
plainly that the lessons do not cover them.
"""

from __future__ import annotations

import fcntl
import functools
import itertools
import math
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from knowledge.loader import KEY_TERMS, Course
from knowledge.schema import Document, Section, document_name
from knowledge.semantic import SemanticScores
from knowledge.units import is_heading

CHUNKER_VERSION = "4"
MAX_CHUNK_WORDS = 110
# Column weights for bm25(): document title, section heading, text.
WEIGHTS = (1.0, 4.0, 1.0)
# Supplementary readings rank a little below the core lessons they support.
SUPPLEMENTARY_FACTOR = 0.85
# A word found in more than this share of chunks is too common to search on.
COMMON_SHARE = 0.2
# A name in more than this share of chunks ("AI") names nothing in particular.
NAME_SHARE = 0.05
# Grounding: the less of a query the course's vocabulary knows, the stronger its best match must
# be. Tuned on knowledge/eval/retrieval.yaml (see `coach eval retrieval`).
MIN_COVERAGE = 0.35
SCORE_AT_NO_COVERAGE = 6.0
SCORE_AT_FULL_COVERAGE = 4.8
# Hybrid ranking: a chunk's bm25 (as a share of the best) plus this times its semantic similarity (as
# a share of the best). Equal weight; dev recall@3 is flat from 1 to 2 (`coach eval qa`).
SEMANTIC_WEIGHT = 1.0
# A document the question names ("in the scaling article", "lesson 1") ranks its chunks this much
# higher (a share of the best hybrid rank, 2.0): its best chunk first unless another fits far better.
NAMED_BONUS = 0.5
# Every chunk the question's words match is scored (the course has ~160): a chunk cut from a short
# candidate list would count no bm25 at all, however near it stands in meaning ("pilot success
# factors" found the inflection point 13th by bm25 and lost its match to a cut at 12).
CANDIDATES = 200

YEAR = re.compile(r"(19|20)\d\d")
TOKEN = re.compile(r"[^\W_]+(?:['’&][^\W_]+)*", re.UNICODE)
_STOPWORDS_TEXT = """
    a about above after again against all am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't
    doing don't down during each few for from further get gets getting give given go going good
    had hadn't has hasn't have haven't having he her here hers herself him himself his how i i'd
    i'll i'm i've if in into is isn't it it's its itself just know let let's like make makes me
    mean means more most much must my myself need needs no nor not now of off on once one only
    or other ought our ours ourselves out over own please same say says she should shouldn't so
    some such tell than that that's the their theirs them themselves then there there's these
    they they'd they're this those through thus to too under until up us use used using very
    want was wasn't way we we're were weren't what what's when where which while who who's whom
    why will with won't would wouldn't you you'd you're your yours yourself explain describe
    example examples according lesson lessons course module thing things really also something
    anything kind sort best better good great nice top tips ideas idea recommend recommendation
    help whether
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
WORDS_CACHE = 4096  # texts whose words are remembered (questions, chunks, units: the course is ~160 chunks)


@dataclass(frozen=True)
class Chunk:
    id: str
    source: str  # "lesson" or "supplementary"
    lesson: int | None
    title: str
    section: str
    text: str

    @property
    def passage(self) -> str:
        """The `doc-id#section-id` this chunk belongs to."""
        return self.id.split(":", 1)[0]


@dataclass(frozen=True)
class Hit:
    id: str
    source: str
    lesson: int | None
    title: str
    section: str
    text: str
    score: float  # bm25 (0 for a chunk only the semantic score found)
    similarity: float = 0.0  # semantic similarity to the query
    relevance: float = 0.0  # the hybrid rank: bm25 and similarity, each as a share of the best

    @property
    def passage(self) -> str:
        return self.id.split(":", 1)[0]

    @property
    def label(self) -> str:
        """How a citation names this hit: `Lesson 2 · Data Mesh vs. Data Lake` or a supplementary tag."""
        return f"{document_name(self.source, self.lesson, self.title)} · {self.section}"


@dataclass(frozen=True)
class SearchResult:
    query: str
    grounded: bool
    hits: list[Hit]
    similarity: float = 0.0  # the best semantic similarity of any chunk to the query

    def to_json(self) -> dict:
        return {"query": self.query, "grounded": self.grounded, "hits": [asdict(h) for h in self.hits]}


def words(text: str) -> list[str]:
    """Lower-cased word tokens, straight quotes, no punctuation."""
    return list(_words(text))


def content_words(text: str) -> list[str]:
    """The words of a query worth searching for: no stopwords, no duplicates, order kept.

    Names joined by `&` (AT&T, R&D) stay one term, searched as a phrase ("at t").
    """
    return list(_content_words(text))


# A question's text and its passages' are tokenised ~50 times per answer (each helper asks again):
# remembered, each caller gets its own list. Pure functions of the text.
@functools.lru_cache(maxsize=WORDS_CACHE)
def _words(text: str) -> tuple[str, ...]:
    return tuple(t.replace("’", "'") for t in TOKEN.findall(text.lower()))


@functools.lru_cache(maxsize=WORDS_CACHE)
def _content_words(text: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for w in _words(text):
        w = w.removesuffix("'s")
        if "&" in w:
            seen.setdefault(w.replace("&", " "), None)
        elif w not in STOPWORDS and (len(w) > 1 or w.isdigit()):
            seen.setdefault(w, None)
    return tuple(seen)


def _section_blocks(section: Section) -> list[tuple[str, str]]:
    """(heading, text) blocks of one section: paragraphs merged up to a size, cards one each."""
    blocks: list[tuple[str, str]] = []
    buffer: list[str] = []
    for para in section.paragraphs:
        # A heading paragraph ("Phase 2: Standardization") starts a chunk and stays with its text.
        too_long = len(" ".join([*buffer, para]).split()) > MAX_CHUNK_WORDS
        if buffer and not is_heading(buffer[-1]) and (too_long or is_heading(para)):
            blocks.append((section.heading, "\n\n".join(buffer)))
            buffer = []
        buffer.append(para)
    if buffer:
        blocks.append((section.heading, "\n\n".join(buffer)))
    for item in section.items:
        blocks.append((f"{section.heading} — {item.title}", f"{item.title}: {item.text}"))
    if section.stats:
        blocks.append((section.heading, "\n".join(f"{s.value} — {s.label}" for s in section.stats)))
    return blocks


def chunk_document(doc: Document) -> list[Chunk]:
    source = "supplementary" if doc.supplementary else "lesson"
    chunks: list[Chunk] = []
    for section in doc.sections:
        for n, (heading, text) in enumerate(_section_blocks(section), start=1):
            chunks.append(Chunk(f"{doc.id}#{section.id}:{n}", source, doc.number, doc.title, heading, text))
    for n, term in enumerate(doc.key_terms, start=1):
        chunks.append(
            Chunk(
                f"{doc.id}#{KEY_TERMS}:{n}",
                source,
                doc.number,
                doc.title,
                f"Key term — {term.term}",
                f"{term.term}: {term.definition}",
            )
        )
    return chunks


def chunk_course(course: Course) -> list[Chunk]:
    return [c for doc in course.documents.values() for c in chunk_document(doc)]


def is_grounded(coverage: float, top_score: float) -> bool:
    """Whether a query with this vocabulary coverage and best score is answered by the course."""
    needed = SCORE_AT_NO_COVERAGE - (SCORE_AT_NO_COVERAGE - SCORE_AT_FULL_COVERAGE) * coverage
    return coverage >= MIN_COVERAGE and top_score >= needed


TF_CACHE = 50_000  # chunk counts of words and word pairs kept; a long-running bot sees endless pairs

# The chunks holding two of the question's words side by side, as they are written there.
PHRASE_SQL = """
    SELECT c.id, -bm25(chunks_fts) FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid
    WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts) LIMIT ?
"""
PHRASE_WEIGHT = 0.25  # a share of the best phrase match, beside bm25 and similarity (each up to 1)
# What a learner quotes ("my boss always asks 'what AI should we buy?'") is searched word for word:
# each run of at least QUOTE_RUN of its words (one a word the match searches) as a phrase, chunks
# holding one ranking up to QUOTE_WEIGHT higher (a share of the best quote match).
QUOTED = re.compile(r"(?<![\w'’])['‘\"“]([^'‘’\"“”]+?)['’\"”](?!\w)")
QUOTE_RUN = 3
QUOTE_WORDS = 12  # a longer quote is searched on its first words
QUOTE_WEIGHT = 1.0


class Index:
    """The course's full-text index. Thread-safe for reads; one per process is plenty."""

    def __init__(self, path: Path | str, course: Course, chunks: list[Chunk] | None = None):
        """Open (building if needed) the index at `path`; `chunks` overrides the course's own (benchmarks)."""
        self.course = course
        self._chunks = chunks
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=10)
        self._lock = threading.Lock()
        with self._build_lock():
            self.rebuilt = self._ensure_built()
        self._n_chunks = self._conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        self._df: dict[str, int] = {}
        self._tf: dict[str, int] = {}
        self._vocab: list[str] | None = None
        self._names: frozenset[str] | None = None
        self._rows: dict[str, tuple] = {}
        self._semantic: SemanticScores | None = None

    @contextmanager
    def _build_lock(self) -> Iterator[None]:
        """One builder at a time across processes (two clocks or a server starting together)."""
        if str(self.path) == ":memory:":
            yield
            return
        with open(f"{self.path}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @property
    def fingerprint(self) -> str:
        extra = f"/custom{len(self._chunks)}" if self._chunks is not None else ""
        return f"{self.course.content_hash}/{CHUNKER_VERSION}{extra}"

    def _built_fingerprint(self) -> str | None:
        tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"index_meta", "chunks"} <= tables:
            return None
        row = self._conn.execute("SELECT value FROM index_meta WHERE key = 'fingerprint'").fetchone()
        return row[0] if row else None

    def _ensure_built(self) -> bool:
        """Build the index if it is missing or stale; True when it was (re)built. Opening a built
        index needs only `sqlite3`: sqlite-utils (which imports numpy) is loaded to build one."""
        if self._built_fingerprint() == self.fingerprint:
            return False
        import sqlite_utils

        db = sqlite_utils.Database(self._conn)
        meta = db["index_meta"]
        with self._conn:
            for table in ("chunks_fts", "chunks", "index_meta"):
                self._conn.execute(f"DROP TABLE IF EXISTS [{table}]")
            for suffix in ("_data", "_idx", "_docsize", "_config"):
                self._conn.execute(f"DROP TABLE IF EXISTS [chunks_fts{suffix}]")
        chunks = db["chunks"]
        source = self._chunks if self._chunks is not None else chunk_course(self.course)
        chunks.insert_all((asdict(c) for c in source), pk="id")
        chunks.enable_fts(["title", "section", "text"], tokenize="porter unicode61 remove_diacritics 2")
        meta.insert({"key": "fingerprint", "value": self.fingerprint}, pk="key", replace=True)
        return True

    @property
    def chunk_count(self) -> int:
        return self._n_chunks

    def _doc_freq(self, word: str) -> int:
        """How many chunks contain `word` (after stemming), cached for the index's lifetime."""
        if word not in self._df:
            row = self._conn.execute(
                "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", [f'"{word}"']
            ).fetchone()
            self._df[word] = row[0]
        return self._df[word]

    def _text_freq(self, word: str) -> int:
        """How many chunks hold `word` in their heading or text (not only in the document title)."""
        if word not in self._tf:
            if len(self._tf) >= TF_CACHE:  # every message's word pairs are asked too: keep it bounded
                self._tf.clear()
            row = self._conn.execute(
                "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", [f'{{section text}}: "{word}"']
            ).fetchone()
            self._tf[word] = row[0]
        return self._tf[word]

    def vocabulary(self) -> list[str]:
        """Every word of the course text, for spotting misspellings."""
        if self._vocab is None:
            seen: set[str] = set()
            for row in self._conn.execute("SELECT title, section, text FROM chunks"):
                seen.update(words(" ".join(row)))
            self._vocab = sorted(seen)
        return self._vocab

    def semantic(self, query: str) -> dict[str, float]:
        """Chunk id -> semantic similarity to `query` (the chunks are embedded on first use)."""
        if self._semantic is None:
            with self._lock:
                rows = self._conn.execute("SELECT id, source, lesson, title, section, text FROM chunks")
                self._rows = {r[0]: tuple(r) for r in rows}
            texts = [f"{section}. {text}" for *_, section, text in self._rows.values()]
            self._semantic = SemanticScores(list(self._rows), texts)
        return self._semantic.scores(query)

    def warm_up(self) -> None:
        """Load the semantic model and embed the chunks now (a second or two of CPU), rather than in
        the first turn that needs them (`coach serve` does this in the background once it is ready)."""
        self.semantic("warm up")

    def names(self) -> frozenset[str]:
        """The course's names (lower-cased): words it only ever writes capitalised and writes so
        mid-sentence too ("Amazon", "Gartner", "JPMorgan"), and years; not words in many chunks ("AI")."""
        if self._names is None:
            cased: dict[str, set[bool]] = {}
            inside: set[str] = set()
            for row in self._conn.execute("SELECT text FROM chunks"):
                for match in TOKEN.finditer(row[0]):
                    token, before = match.group(), row[0][: match.start()].rstrip()
                    cased.setdefault(token.lower(), set()).add(token[:1].isupper() or token.isdigit())
                    if (before and before[-1].isalnum()) or before.endswith(","):
                        inside.add(token.lower())
            self._names = frozenset(
                w
                for w, seen in cased.items()
                if seen == {True}
                and (
                    YEAR.fullmatch(w)
                    or (
                        w in inside
                        and not w.isdigit()
                        and self._doc_freq(w.replace("&", " ")) <= NAME_SHARE * self._n_chunks
                    )
                )
            )
        return self._names

    def doc_freq(self, word: str) -> tuple[int, float]:
        """How many chunks hold `word`, and its idf weight (rare words weigh more)."""
        with self._lock:
            df = self._doc_freq(word)
        return df, self._idf(df)

    def _idf(self, df: int) -> float:
        return math.log((self._n_chunks + 1) / (df + 0.5))

    def coverage(self, terms: list[str]) -> float:
        """The share of the query's information (idf-weighted) that the course's vocabulary knows."""
        if not terms:
            return 0.0
        total = known = 0.0
        for term in terms:
            df = self._doc_freq(term)
            weight = self._idf(df)
            total += weight
            if df:
                known += weight
        return known / total if total else 0.0

    def search(self, query: str, k: int = 5, named: str = "", asked: str = "") -> SearchResult:
        """The k best chunks for `query`, best first, and whether the course covers it; `named` is a
        passage prefix ("lesson-1#") of a document the question names, whose chunks rank higher;
        `asked` is the message as written, whose quotes are searched word for word."""
        terms = content_words(query)
        if not terms:
            return SearchResult(query, False, [])
        # Words in most chunks say little and make FTS5 score nearly every row: leave them out of
        # the match (they still count for coverage) unless nothing rarer is left.
        # A word's share is counted in the chunks' own text, not the document title every chunk of a
        # reading carries ("pilot" in "From Pilot to Platform"); a word the course never uses
        # matches nothing and leaves the match to the others.
        with self._lock:
            rare = [t for t in terms if 0 < self._text_freq(t) <= COMMON_SHARE * self._n_chunks]
            # ...but a common word the question writes beside another as the course does ("ML platform",
            # "shared infrastructure") is what it is about: it is searched too, for what its share gives
            pairs = [(a, b) for a, b in itertools.pairwise(terms) if not {a, b} <= set(rare)]
            phrased = {f"{a} {b}" for a, b in pairs if self._text_freq(f"{a} {b}")}
            paired = {w for p in phrased for w in p.split()}
        searched = [t for t in terms if t in rare or t in paired] if rare else terms
        match = " OR ".join(f'"{t}"' for t in searched)
        weights = ", ".join(str(w) for w in WEIGHTS)
        limit = max(k * 3, CANDIDATES)
        sql = f"""
            SELECT c.id, c.source, c.lesson, c.title, c.section, c.text,
                   -bm25(chunks_fts, {weights}) AS score
            FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid
            WHERE chunks_fts MATCH ?
            ORDER BY bm25(chunks_fts, {weights})
            LIMIT ?
        """
        with self._lock:
            rows = self._conn.execute(sql, [match, limit]).fetchall()
            phrases = [f'"{a} {b}"' for a, b in pairs if f"{a} {b}" in phrased]
            by_phrase = (
                dict(self._conn.execute(PHRASE_SQL, [" OR ".join(phrases), limit]).fetchall())
                if phrases
                else {}
            )
            # a compound the learner hyphenates ("over-engineering", "know-it-all") is a phrase too
            runs = quoted_runs(asked) + [f'"{c}"' for c in hyphenated(asked) if self._text_freq(c)]
            by_quote = (
                dict(self._conn.execute(PHRASE_SQL, [" OR ".join(runs), limit]).fetchall()) if runs else {}
            )
            coverage = self.coverage(terms)
        bm25 = {r[0]: r[6] * (SUPPLEMENTARY_FACTOR if r[1] != "lesson" else 1) for r in rows}
        similar = self.semantic(" ".join(terms))
        near = sorted(similar, key=lambda i: -similar[i])[:limit]
        near += sorted((i for i in similar if named and i.startswith(named)), key=lambda i: -similar[i])[:k]
        best_bm25 = max(bm25.values(), default=0.0) or 1.0
        best_sim = max(similar.values(), default=0.0) or 1.0
        best_phrase = max(by_phrase.values(), default=0.0) or 1.0
        best_quote = max(by_quote.values(), default=0.0) or 1.0

        def rank(chunk_id: str) -> float:
            similarity = similar.get(chunk_id, 0.0) / best_sim
            bonus = NAMED_BONUS if named and chunk_id.startswith(named) else 0.0
            bonus += PHRASE_WEIGHT * by_phrase.get(chunk_id, 0.0) / best_phrase
            bonus += QUOTE_WEIGHT * by_quote.get(chunk_id, 0.0) / best_quote
            return bm25.get(chunk_id, 0.0) / best_bm25 + SEMANTIC_WEIGHT * similarity + bonus

        near += [i for i in [*by_phrase, *by_quote] if i not in near]
        found = {r[0]: r[:6] for r in rows} | {i: self._rows[i] for i in near if i not in bm25}
        ranked = sorted(found, key=rank, reverse=True)[:k]
        # The chunk matching the question's words best is not ranked out by a second chunk of a passage
        # already found (a long paragraph's one telling sentence: "…that escape pilot purgatory").
        lexical = max(bm25, key=lambda i: bm25[i], default=None)
        passages = [i.split(":", 1)[0] for i in ranked]
        again = [n for n, p in enumerate(passages) if p in passages[:n]]
        if lexical is not None and lexical not in ranked and again:
            ranked[again[-1]] = lexical
        hits = [
            Hit(*found[i], round(bm25.get(i, 0.0), 4), round(similar.get(i, 0.0), 4), round(rank(i), 4))
            for i in ranked
        ]
        top = max((h.score for h in hits), default=0.0)
        grounded = bool(bm25) and is_grounded(coverage, top)
        return SearchResult(query, grounded, hits, round(max(similar.values(), default=0.0), 4))

    def close(self) -> None:
        self._conn.close()


def quoted_runs(text: str) -> list[str]:
    """The FTS5 phrases for what `text` quotes: every run of QUOTE_RUN or more of a quote's words
    holding a word that is not a stop word, longest first ('what AI should we buy?' → "what ai
    should we buy", "what ai should we", …)."""
    runs: list[str] = []
    for quote in QUOTED.finditer(text):
        said = re.findall(r"[^\W_]+", quote.group(1).lower())[:QUOTE_WORDS]
        shortest = max(min(QUOTE_RUN, len(said)), 2)  # a quote of two words is a phrase whole: 'building AI'
        for size in range(len(said), shortest - 1, -1):
            for start in range(len(said) - size + 1):
                run = said[start : start + size]
                if any(w not in STOPWORDS for w in run):
                    runs.append('"' + " ".join(run) + '"')
    return list(dict.fromkeys(runs))


HYPHENATED = re.compile(r"[^\W_]+(?:-[^\W_]+)+")


def hyphenated(text: str) -> list[str]:
    """The compounds a text writes with hyphens, as the index reads them ("over-engineering" →
    "over engineering", "know-it-all" → "know it all"): searched as phrases, stop words and all."""
    return list(dict.fromkeys(m.group().lower().replace("-", " ") for m in HYPHENATED.finditer(text)))


def open_index(path: Path | str, course: Course) -> Index:
    return Index(path, course)
