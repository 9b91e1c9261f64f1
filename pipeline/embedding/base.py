"""What every embedding backend shares: the ``Embedder`` protocol, and texts → unit float32 vectors.

``normalize`` (rows → unit rows), ``pool`` (a text's part vectors → one vector), ``embed_batched``
(many texts → one array, batched by length) and ``embed_segments_batched`` (texts cut into segments →
their ``SegmentStates``, one encoder pass per text). No model lives here; the backends do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from ..text.layout import searchable

Kind = Literal["query", "passage"]


class Embedder(Protocol):
    """What the pipeline needs of an embedding model."""

    id: str
    spec: str  # what make_embedder takes to make this embedder again (saved in the manifest)

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray: ...


class ModelUnavailable(RuntimeError):
    """The model cannot be loaded here; the message says what to install or pass instead."""


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows → float32 rows of unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.where(norms == 0, 1, norms), dtype=np.float32)


def pool(vectors: np.ndarray) -> np.ndarray:
    """Unit vectors of a text's parts (its sentences, as rows) → one unit vector for the whole text.

    The normalised mean. On the seeds QA set a plain mean ranked better than a mean weighted by
    sentence length (hit@1 0.905 vs 0.881); both rank below encoding the chunk itself (0.929).
    """
    if len(vectors) == 0:
        raise ValueError("pool needs at least one part")
    pooled: np.ndarray = normalize(np.asarray(vectors, dtype=np.float32).mean(axis=0))[0]
    return pooled


def embed_batched(
    embedder: Embedder,
    texts: Sequence[str],
    kind: Kind,
    batch_size: int,
    progress: Callable[[int], object] | None = None,  # its result is ignored (tqdm.update returns one)
) -> np.ndarray:
    """Many texts → one (n, dim) array, encoded in batches of similar length.

    Sorting by length keeps padding (and so wasted compute) low; rows come back in input order.
    ``progress`` is called after each batch with the characters it encoded: encoder time grows
    with length, and batches run short to long, so a count of texts would promise too early an end.
    """
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for pos in range(0, len(order), batch_size):
        idx = order[pos : pos + batch_size]
        batch = [searchable(texts[i]) for i in idx]  # a word broken at a PDF line end is read whole
        out[idx] = embedder.embed(batch, kind)
        if progress:
            progress(sum(map(len, batch)))
    return out


@dataclass(frozen=True)
class SegmentStates:
    """One encoder pass over texts cut into segments: sums of final token states, and token counts.

    Sums compose: a text's vector is ``normalize(text_sums[i])``, a segment's ``normalize(part_sums[j])``,
    and a run of consecutive segments read in its text's context is the sum of theirs (plus, to pool
    as the model pools a whole input, the text's ``special_sum``: its <s>, prefix and </s>).
    """

    text_sums: np.ndarray  # (n, dim)
    text_tokens: np.ndarray  # (n,)
    part_sums: np.ndarray  # (parts, dim), all texts' segments in order
    part_tokens: np.ndarray  # (parts,)
    starts: tuple[int, ...]  # text i's segments are part rows starts[i]:starts[i + 1]

    def special_sum(self, i: int) -> np.ndarray:
        special: np.ndarray = self.text_sums[i] - self.part_sums[self.starts[i] : self.starts[i + 1]].sum(axis=0)
        return special


def embed_segments_batched(
    embedder: Embedder,
    texts: Sequence[Sequence[str]],
    batch_size: int,
    progress: Callable[[int], object] | None = None,  # its result is ignored (tqdm.update returns one)
) -> SegmentStates:
    """Texts as segment lists → their token-state sums (``embed_segments``), in input order.

    The one-pass counterpart of ``embed_batched``: the same batching by length and the same
    progress in characters.
    """
    starts = tuple(int(x) for x in np.cumsum([0, *(len(t) for t in texts)]))
    text_sums = np.zeros((len(texts), embedder.dim), np.float32)
    text_tokens = np.zeros(len(texts), np.int32)
    part_sums = np.zeros((starts[-1], embedder.dim), np.float32)
    part_tokens = np.zeros(starts[-1], np.int32)
    size = [sum(map(len, t)) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: size[i])
    for pos in range(0, len(order), batch_size):
        idx = order[pos : pos + batch_size]
        # Not in the Embedder protocol: callers pass only an embedder whose ``embeds_segments`` is true.
        got: SegmentStates = embedder.embed_segments(  # type: ignore[attr-defined]
            [[searchable(part) for part in texts[i]] for i in idx], "passage"
        )
        text_sums[idx], text_tokens[idx] = got.text_sums, got.text_tokens
        for k, i in enumerate(idx):
            part_sums[starts[i] : starts[i + 1]] = got.part_sums[got.starts[k] : got.starts[k + 1]]
            part_tokens[starts[i] : starts[i + 1]] = got.part_tokens[got.starts[k] : got.starts[k + 1]]
        if progress:
            progress(sum(size[i] for i in idx))
    return SegmentStates(text_sums, text_tokens, part_sums, part_tokens, starts)
