"""Sentence meaning as vectors, so "nobody owns the model after go-live" can sit near "a named owner
who is accountable" without sharing a word. WordLlama's static token embeddings ship inside the PyPI
package (256 dimensions, 16 MB, numpy only at run time); nothing is downloaded. Loaded once."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

DIMENSIONS = 256


@lru_cache(maxsize=1)
def _model():
    import wordllama
    from wordllama import WordLlama

    # The package ships weights and tokenizer; it looks for the tokenizer in a folder it doesn't ship
    # (`tokenizer/`), then in `<cache_dir>/tokenizers/` — so the package's own folder is the cache,
    # and downloading is switched off.
    shipped = Path(wordllama.__file__).parent
    return WordLlama.load(dim=DIMENSIONS, cache_dir=shipped, disable_download=True)


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length vectors, one row per text (cosine similarity is then a dot product)."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    vectors = np.asarray(_model().embed(texts, norm=True), dtype=np.float32)
    return vectors
