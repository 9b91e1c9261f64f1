"""ONNX Runtime backend: a local sentence-transformers model folder → its vectors, in float32 or int8.

The model is exported once (and quantised to int8 per channel) into a cache folder
(``BELEGT_ONNX_CACHE``, default ``~/.cache/belegt/onnx``). Needs the ``onnx`` extra.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .base import Kind, ModelUnavailable, embed_batched, normalize

if TYPE_CHECKING:
    from onnxruntime import InferenceSession
    from transformers import PreTrainedTokenizerBase


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
        self._session: InferenceSession | None = None  # both loaded on first use
        self._tokenizer: PreTrainedTokenizerBase | None = None
        self._config = self._read_config()

    def _read_config(self) -> dict[str, Any]:
        import json

        def read(name: str) -> Any:  # a JSON file's content (modules.json holds a list), {} when absent
            f = os.path.join(self.path, name)
            return json.loads(open(f, encoding="utf-8").read()) if os.path.isfile(f) else {}

        modules = read("modules.json") or [{"type": "sentence_transformers.models.Transformer", "path": ""}]
        pooling: dict[str, Any] = next(
            (read(os.path.join(m["path"], "config.json")) for m in modules if m["type"].endswith("Pooling")), {}
        )
        mode = "cls" if pooling.get("pooling_mode_cls_token") else "mean"
        if any(
            pooling.get(k)
            for k in (
                "pooling_mode_max_tokens",
                "pooling_mode_mean_sqrt_len_tokens",
                "pooling_mode_weightedmean_tokens",
                "pooling_mode_lasttoken",
            )
        ):
            raise ModelUnavailable(
                f"{self.path}: only mean or CLS pooling runs on the ONNX backend; use st:{self.path}"
            )
        prompts = read("config_sentence_transformers.json").get("prompts", {}) or {}
        query, passage = prompts.get("query", ""), prompts.get("document", prompts.get("passage", ""))
        if not query and "e5" in os.path.basename(self.path.rstrip("/")).lower():
            query, passage = "query: ", "passage: "
        return {
            "pooling": mode,
            "dim": pooling.get("word_embedding_dimension"),
            "query": query,
            "passage": passage,
            "max_len": read("sentence_bert_config.json").get("max_seq_length", 512),
        }

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

            # torch is not followed by mypy (pyproject: follow_imports = "skip"), so Module is Any here.
            class Hidden(torch.nn.Module):  # type: ignore[misc]
                def __init__(self) -> None:
                    super().__init__()
                    self.hf = hf

                def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
                    return self.hf(**dict(zip(names, inputs))).last_hidden_state

            tmp = fp32 + ".part"
            with torch.no_grad():
                torch.onnx.export(
                    Hidden(),
                    tuple(sample[n] for n in names),
                    tmp,
                    input_names=names,
                    output_names=["hidden"],
                    opset_version=17,
                    dynamo=False,
                    dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]},
                )
            os.replace(tmp, fp32)
        if self.int8 and not os.path.isfile(target):
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # Per-channel weights: per-tensor int8 moved some MiniLM vectors to cosine 0.81 of torch's.
            tmp = target + ".part"
            quantize_dynamic(fp32, tmp, weight_type=QuantType.QInt8, per_channel=True)
            os.replace(tmp, target)

    def _load(self) -> tuple[PreTrainedTokenizerBase, InferenceSession]:
        """Tokeniser and ONNX session, loaded (and exported first if need be) once."""
        if self._session is None or self._tokenizer is None:  # a session means a tokeniser too (loaded before it)
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
        return self._tokenizer, self._session

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
        tokenizer, session = self._load()  # loaded by embed: this only hands them over
        enc = tokenizer(
            [prefix + t for t in texts],
            padding=True,
            truncation=True,
            max_length=self._config["max_len"],
            return_tensors="np",
        )
        hidden = session.run(None, {n: enc[n].astype(np.int64) for n in self._inputs})[0]
        if self._config["pooling"] == "cls":
            return normalize(hidden[:, 0])
        mask = enc["attention_mask"][..., None].astype(np.float32)
        return normalize((hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9))


class _Batch:
    """One padded ONNX batch, behind the embedder verb so ``embed_batched`` can sort and split."""

    def __init__(self, owner: OnnxEmbedder, prefix: str) -> None:
        self.owner, self.prefix, self.dim = owner, prefix, owner.dim
        self.id, self.spec = owner.id, owner.spec  # what the Embedder protocol asks for; embed_batched reads neither

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        return self.owner._run(list(texts), self.prefix)
