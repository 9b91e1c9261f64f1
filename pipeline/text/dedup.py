"""Near-duplicates: documents' kept text → groups of documents that report the same thing.

MinHash over word shingles (datasketch) proposes candidate pairs through LSH; each
candidate is confirmed by exact containment (the share of the smaller document's
shingles found in the larger), which suits syndicated copies where one version adds an
intro or a press contact. Both documents stay indexed; the group is recorded so that
retrieval can show one fact once rather than as two independent sources.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from ..settings import DedupSettings

if TYPE_CHECKING:
    from datasketch import MinHash  # datasketch ships no type hints: Any to mypy, named for the reader

_WORD = re.compile(r"\w+")
SCHEME = "affine32"  # datasketch's default; named, because stored signatures must be read back with it
_DTYPE = np.uint32


def shingles(text: str, k: int) -> set[str]:
    """Text → its set of k-word shingles (case-folded)."""
    words = _WORD.findall(text.casefold())
    if len(words) < k:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


def signature(text: str, settings: DedupSettings) -> bytes:
    """Text → its MinHash signature as raw bytes (how the index stores it)."""
    from datasketch import MinHash

    mh = MinHash(num_perm=settings.num_perm, seed=1, scheme=SCHEME)
    mh.update_batch([s.encode("utf-8") for s in shingles(text, settings.shingle_words)])
    return np.asarray(mh.hashvalues, dtype=_DTYPE).tobytes()


def _minhash(sig: bytes, settings: DedupSettings) -> MinHash:
    from datasketch import MinHash

    return MinHash(num_perm=settings.num_perm, seed=1, scheme=SCHEME, hashvalues=np.frombuffer(sig, dtype=_DTYPE))


# Two passages or sentences of one duplicate group that share this much say the same thing.
SAME_REPORT = 0.6


def containment(a: set[str], b: set[str]) -> float:
    """Two sets (shingles, terms) → |a ∩ b| / min(|a|, |b|); 0 when either is empty."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def group(
    texts: Mapping[str, str],
    signatures: Mapping[str, bytes],
    settings: DedupSettings,
) -> list[tuple[str, ...]]:
    """Doc id → kept text and signature → groups (≥ 2 ids, sorted) of near-duplicate documents."""
    from datasketch import MinHashLSH

    # LSH at a Jaccard threshold below the containment threshold: a short copy inside a
    # long original has low Jaccard but high containment, so candidates are cast wide.
    lsh = MinHashLSH(threshold=max(0.05, settings.threshold / 3), num_perm=settings.num_perm)
    for doc_id in sorted(signatures):
        lsh.insert(doc_id, _minhash(signatures[doc_id], settings))
    cache: dict[str, set[str]] = {}

    def sh(doc_id: str) -> set[str]:
        if doc_id not in cache:
            cache[doc_id] = shingles(texts[doc_id], settings.shingle_words)
        return cache[doc_id]

    parent = {d: d for d in signatures}

    def find(d: str) -> str:
        while parent[d] != d:
            parent[d] = parent[parent[d]]
            d = parent[d]
        return d

    for doc_id in sorted(signatures):
        for other in lsh.query(_minhash(signatures[doc_id], settings)):
            if other <= doc_id or find(other) == find(doc_id):
                continue
            if containment(sh(doc_id), sh(other)) >= settings.threshold:
                parent[find(other)] = find(doc_id)
    groups: dict[str, list[str]] = {}
    for d in signatures:
        groups.setdefault(find(d), []).append(d)
    return sorted(tuple(sorted(g)) for g in groups.values() if len(g) > 1)


def group_ids(groups: Iterable[tuple[str, ...]]) -> dict[str, str]:
    """Groups → doc id → group id (the group's first doc id); documents alone map to themselves."""
    return {d: g[0] for g in groups for d in g}
