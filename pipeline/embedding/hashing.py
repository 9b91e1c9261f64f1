"""A model-free stand-in: texts → hashed bag-of-words vectors. For tests and scale benchmarks only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .base import Kind, normalize


class HashingEmbedder:
    """A deterministic stand-in: hashed bag of words, no model. For tests and scale benchmarks only.

    Its vectors carry lexical overlap, not meaning; never use it for real retrieval.
    """

    def __init__(self, dim: int = 64) -> None:
        self._dim = dim
        self.id = f"hashing/{dim}"
        self.spec = f"hashing:{dim}"
        self.calls: list[int] = []  # batch sizes, so tests can see what was embedded

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        import zlib

        self.calls.append(len(texts))
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.casefold().split():
                h = zlib.crc32(word.encode("utf-8"))
                out[i, h % self._dim] += 1.0 if (h >> 16) & 1 else -1.0
        return normalize(out) if len(texts) else out
