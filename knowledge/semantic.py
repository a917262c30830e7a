"""A semantic score beside FTS5: how close a question is in meaning to each chunk of the course.

WordLlama's token embeddings (256 dimensions, numpy only, no torch) ship inside its PyPI wheel, so
nothing is downloaded at run time. We load the bundled files ourselves: `WordLlama.load()` looks for
the tokenizer under a folder name the wheel does not use and would then try the network. The model
loads on first use (a second or two), never at import, so `coach --help` stays fast.
"""

from __future__ import annotations

import logging
import threading
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from wordllama.inference import WordLlamaInference

DIMENSIONS = 256
WEIGHTS = ("weights", f"l2_supercat_{DIMENSIONS}.safetensors")
TOKENIZER = ("tokenizers", "l2_supercat_tokenizer_config.json")
QUERY_CACHE = 256  # queries whose scores are kept (159 floats each)
_lock = threading.Lock()


@cache
def model() -> WordLlamaInference:
    """The bundled WordLlama model (loaded once per process)."""
    from safetensors import safe_open
    from tokenizers import Tokenizer

    wordllama, WordLlamaInference = _import_wordllama()

    root = Path(wordllama.__file__).parent
    tokenizer = Tokenizer.from_file(str(root.joinpath(*TOKENIZER)))
    with safe_open(str(root.joinpath(*WEIGHTS)), framework="np", device="cpu") as f:
        embedding = f.get_tensor("embedding.weight")
    return WordLlamaInference(embedding, tokenizer)


def _import_wordllama():
    """WordLlama's modules call `logging.basicConfig(level=INFO)` when imported, which would print
    every library's INFO lines (Alembic's, for one) in commands that configure no logging: keep the
    root logger as it was."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        import wordllama
        from wordllama.inference import WordLlamaInference
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    return wordllama, WordLlamaInference


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length embeddings (float32), one row per text: cosine similarity is a dot product."""
    import numpy as np

    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    with _lock:
        return np.asarray(model().embed(texts, norm=True), dtype=np.float32)


class SemanticScores:
    """Cosine similarity of a query to each of a fixed list of texts (the index's chunks).

    The scores of the last QUERY_CACHE queries are kept: one Q&A answer asks for the same query
    twice or more in a third of the eval's questions (the search, then the decision's reading), and
    embedding it is most of a call's CPU. Each caller gets its own copy."""

    def __init__(self, ids: list[str], texts: list[str]):
        self.ids = ids
        self._texts = texts
        self._matrix: np.ndarray | None = None
        self._kept = lru_cache(maxsize=QUERY_CACHE)(self._scores)

    def scores(self, query: str) -> dict[str, float]:
        """Chunk id -> similarity in [-1, 1] (higher is closer in meaning)."""
        if not self.ids or not query.strip():
            return {}
        return dict(self._kept(query))

    def _scores(self, query: str) -> dict[str, float]:
        if self._matrix is None:
            self._matrix = embed(self._texts)
        sims = self._matrix @ embed([query])[0]
        # tolist(): the same Python floats as float() of each element, without a NumPy scalar apiece
        return dict(zip(self.ids, sims.tolist(), strict=True))
