"""Indexing: paths → an up-to-date index directory, touching only what changed.

sources → cleaning → chunking → dedup → embedding → store, for new or changed files;
unchanged files (same bytes, same index settings, same embedder) are carried over with
their vectors; files that are gone are dropped. Chunks whose exact embedding input was
embedded before reuse that vector, and identical inputs are embedded once.

Modules, in the order a build runs them: ``plan`` (which roots and files), ``gather`` (what is
kept, read anew, gone), ``vectors`` (chunks and their vectors, only new inputs embedded),
``build`` (one build, committed as one generation), ``report`` (what it did); ``texts`` (texts
given directly) and ``changes`` (adding files, documents and texts to an index that exists,
removing documents) beside them.
"""

from .build import build
from .changes import add_documents, add_files, add_texts, remove_documents, safe_name
from .plan import UPLOADS, RemovalRefused, RootPlan, display_path, plan_roots
from .report import BuildReport
from .texts import TEXT_SOURCE, TextInput, embed_input, text_chunks, text_document

__all__ = [
    "TEXT_SOURCE",
    "UPLOADS",
    "BuildReport",
    "RemovalRefused",
    "RootPlan",
    "TextInput",
    "add_documents",
    "add_files",
    "add_texts",
    "build",
    "display_path",
    "embed_input",
    "plan_roots",
    "remove_documents",
    "safe_name",
    "text_chunks",
    "text_document",
]
