"""belegt: documents → cited answers. The public facade lives here."""

from .facade import Index, NoMatchingDocuments, QuestionError, open_index
from .indexing import BuildReport, TextInput, add_documents, add_texts, build, remove_documents
from .settings import Settings, load_settings
from .store import EmbedderMismatch, IndexBusy, IndexError_, IndexMissing, IndexProblem
from .types import Answer, Chunk, Citation, Document, Hit, SkippedFile

# IndexError_ is IndexProblem's old name, kept so that code catching it still does.
__all__ = [
    "Answer",
    "BuildReport",
    "Chunk",
    "Citation",
    "Document",
    "EmbedderMismatch",
    "Hit",
    "Index",
    "IndexBusy",
    "IndexError_",
    "IndexMissing",
    "IndexProblem",
    "NoMatchingDocuments",
    "QuestionError",
    "Settings",
    "SkippedFile",
    "TextInput",
    "add_documents",
    "add_texts",
    "build",
    "load_settings",
    "open_index",
    "remove_documents",
]
