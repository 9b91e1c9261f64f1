"""The vectors of a build: new documents chunked, each chunk and sentence named by the input of its vector,
and only inputs no earlier build embedded sent to the encoder.

By default (``embedder.vectors = "late"``) the input is a window of consecutive sentences, encoded in
one pass that yields its chunks' and sentences' vectors (``embedding.embed_segments_batched``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

import numpy as np

from ..embedding import Embedder, normalize, pool
from ..settings import Settings
from ..store import (
    IndexReader,
    NewChunk,
    NewSentence,
)
from ..text import lexical
from ..text.chunking import chunk_document, encoder_passes, segments
from ..types import Document, Span, content_id
from .distributed import encoders
from .gather import Gathered, progress_of
from .texts import TEXT_SOURCE, embed_input, text_chunks

if TYPE_CHECKING:
    from tqdm import tqdm


# Part of every late vector's key: a change to how late vectors are made (their pooling, the segments'
# whitespace) must give them new keys, or a build would reuse vectors made the old way. Bump it then.
LATE_KEYS = "late-3"


@dataclass(frozen=True)
class Prepared:
    """The new documents chunked, each chunk and sentence with the key of the input its vector comes from."""

    docs: tuple[tuple[Document, list[NewChunk], list[NewSentence]], ...]
    keys: dict[str, str]  # key → the text encoded on its own for it
    windows: dict[str, list[str]]  # pass id → its segments (late vectors)
    late_sentence: dict[str, tuple[str, int]]  # sentence key → (pass id, segment)
    late_chunk: dict[str, list[str]]  # chunk key → its sentences' keys (the first one's window pools the specials)
    pooled: bool
    late: bool


def prepare(g: Gathered, settings: Settings, embedder: Embedder, progress: bool) -> Prepared:
    """The documents to index → chunked, each chunk and sentence named by the input of its vector.

    Identical inputs get one key, so they are embedded once, and a key an earlier build embedded
    is not embedded again.
    """
    fresh, chunked = g.fresh, g.chunked
    with_context = settings.embedder.with_context
    prepared = []
    keys: dict[str, str] = {}

    def key_of(text: str) -> str:
        key = content_id(embedder.id, text, length=24)
        keys.setdefault(key, text)
        return key

    # A chunk's vector is pooled from its sentences' vectors unless its input has more than its
    # sentences (context) or the settings ask to encode chunks; a pooled vector's key says so,
    # so it is never mistaken for an encoded one.
    pooled = settings.embedder.vectors == "pooled" and not with_context
    late = (
        settings.embedder.vectors == "late" and not with_context and bool(getattr(embedder, "embeds_segments", False))
    )
    # Late vectors come from one encoder pass per window (a run of consecutive sentences): a
    # sentence's vector pools its token states there, a chunk's those of its sentences, each with
    # the (first) window's <s>/prefix/</s>. Keys name the window text and the place in it, so an
    # edit anywhere in a window gives its sentences and chunks new vectors.
    windows: dict[str, list[str]] = {}  # pass id → its segments
    late_sentence: dict[str, tuple[str, int]] = {}  # sentence key → (pass id, segment)
    late_chunk: dict[str, list[str]] = {}  # chunk key → its sentences' keys (the first one's window pools the specials)
    for doc in progress_of(fresh, "Chunking", progress, unit="doc"):
        is_text = doc.source.startswith(TEXT_SOURCE)
        chunks = (
            text_chunks(doc, settings)
            if is_text
            else list(chunked[doc.id])
            if doc.id in chunked
            else chunk_document(doc, settings.chunking)
        )
        spans = sorted({s for c in chunks for s in c.sentences}, key=lambda s: (s.start, s.end))
        if late:
            sentence_key: dict[Span, str] = {}
            runs = encoder_passes(doc.text, spans, settings.chunking.max_chars)
            for run in runs:
                segs, owners = segments(doc.text, run[0].start, run[-1].end, run)
                pass_id = content_id(embedder.id, LATE_KEYS, *segs, length=24)
                windows[pass_id] = segs
                for k, owner in enumerate(owners):
                    if owner is not None:
                        sentence_key[run[owner]] = key = content_id(pass_id, k, length=24)
                        late_sentence[key] = (pass_id, k)
            new_sentences = [NewSentence(s, sentence_key[s]) for s in spans]
            new_chunks = []
            for c in chunks:
                if c.sentences:
                    members = [sentence_key[s] for s in c.sentences]
                    key = content_id(embedder.id, LATE_KEYS + " chunk", *members, length=24)
                    late_chunk[key] = members
                else:
                    key = key_of(c.text)
                new_chunks.append(NewChunk(c, key, " ".join(lexical.terms(c.text, doc.lang))))
        else:
            new_chunks = [
                NewChunk(
                    c,
                    content_id(embedder.id, "pooled", c.text, length=24)
                    if pooled and c.sentences
                    else key_of(embed_input(c, with_context)),
                    " ".join(lexical.terms(c.text, doc.lang)),
                )
                for c in chunks
            ]
            new_sentences = [NewSentence(s, key_of(s.slice(doc.text))) for s in spans]
        prepared.append((doc, new_chunks, new_sentences))
    return Prepared(tuple(prepared), keys, windows, late_sentence, late_chunk, pooled, late)


def embed(
    prep: Prepared, old: IndexReader | None, embedder: Embedder, settings: Settings, progress: bool
) -> tuple[dict[str, np.ndarray], int, set[str]]:
    """The prepared documents → (key → vector for every chunk and sentence, texts sent to the encoder,
    keys whose vectors this build made). Vectors an earlier build made are taken from the index."""
    keys, windows, late_sentence, late_chunk, pooled = (
        prep.keys,
        prep.windows,
        prep.late_sentence,
        prep.late_chunk,
        prep.pooled,
    )
    prepared = prep.docs
    wanted = [*keys, *late_sentence, *late_chunk]
    vectors = old.vectors_by_key(wanted) if (old is not None and old.embedder_id == embedder.id) else {}
    todo = [k for k in keys if k not in vectors]
    # Windows that go through the one-pass encoder: those of a sentence without a vector, and all
    # windows of a chunk without one (a chunk's vector needs its sentences' sums, not stored vectors).
    passes = sorted(
        {late_sentence[k][0] for k in late_sentence if k not in vectors}
        | {late_sentence[p][0] for k, ps in late_chunk.items() if k not in vectors for p in ps}
    )
    encoded = len(todo) + len(passes)  # texts sent to the encoder (a window counts once)
    new_vectors = {*todo, *(k for k in late_chunk if k not in vectors)}
    if todo or passes:
        # embed_batched and embed_segments_batched, here or on a Ray cluster (settings.ray; distributed.py)
        embed_batched, embed_segments_batched = encoders(settings.ray)
        bar = char_bar(
            sum(len(keys[k]) for k in todo) + sum(sum(map(len, windows[p])) for p in passes),
            f"Embedding {encoded} texts",
            progress,
        )
        if todo:
            fresh_vecs = embed_batched(
                embedder,
                [keys[k] for k in todo],
                "passage",
                settings.embedder.batch_size,
                progress=bar.update if bar else None,
            )
            vectors.update(zip(todo, fresh_vecs))
        if passes:
            states = embed_segments_batched(
                embedder,
                [windows[p] for p in passes],
                settings.embedder.batch_size,
                progress=bar.update if bar else None,
            )
            at = {p: i for i, p in enumerate(passes)}
            specials = [states.special_sum(i) for i in range(len(passes))]  # once per window, not per sentence

            def part_sum(key: str) -> np.ndarray:
                pass_id, k = late_sentence[key]
                row: np.ndarray = states.part_sums[states.starts[at[pass_id]] + k]
                return row

            # Pooled as the model pools an input: the sentence's own tokens with its window's <s>, prefix
            # and </s> (seeds QA set: hit@1 0.929, against 0.905 for the sentence's tokens alone).
            for key, (pass_id, _k) in late_sentence.items():
                if pass_id in at:
                    vectors[key] = normalize(part_sum(key) + specials[at[pass_id]])[0]
            for key, members in late_chunk.items():
                if key not in vectors:
                    special = specials[at[late_sentence[members[0]][0]]]
                    vectors[key] = normalize(special + np.sum([part_sum(m) for m in members], axis=0))[0]
        if bar:
            bar.close()
    if pooled:
        for _doc, new_chunks, new_sentences in prepared:
            sentence_key = {s.span: s.embed_key for s in new_sentences}
            for c in new_chunks:
                parts = c.chunk.sentences
                if not parts:  # an empty text: encoded as it is, nothing to pool
                    continue
                vectors[c.embed_key] = pool(np.stack([vectors[sentence_key[s]] for s in parts]))

    return vectors, encoded, new_vectors


def chunks_embedded(prep: Prepared, new_vectors: set[str]) -> int:
    """The prepared documents and the keys this build embedded → how many chunks needed the encoder: their
    own text (encoded chunks), their windows (late) or one of their sentences (pooled chunks)."""
    sentence_keys = {(doc.id, s.span): s.embed_key for doc, _, ss in prep.docs for s in ss}
    return sum(
        1
        for doc, cs, _ in prep.docs
        for c in cs
        if (
            any(sentence_keys[(doc.id, s)] in new_vectors for s in c.chunk.sentences)
            if prep.pooled and c.chunk.sentences
            else c.embed_key in new_vectors
        )
    )


def char_bar(total: int, desc: str, enabled: bool) -> tqdm[NoReturn] | None:
    """A progress bar over ``total`` characters on stderr (None when not enabled)."""
    if not enabled:
        return None
    from tqdm import tqdm

    # Counted in characters, which is what encoder time follows; tqdm shows rate and ETA
    # (on a non-terminal it still prints its lines).
    return tqdm(total=total, desc=desc, unit="char", unit_scale=True, file=sys.stderr, dynamic_ncols=True)
