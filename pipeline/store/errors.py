"""What can be wrong with an index, and the command that repairs it.

Every error is an ``IndexProblem`` whose message is one line a user can act on; a damaged
file is an ``IndexCorrupt`` naming the file and the command that rebuilds the index, worked
out from the manifest (or from what a damaged manifest still says).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class IndexProblem(RuntimeError):
    """The index cannot be used as it is; the message says what to run."""


# The name it had before (kept for code that catches it): not to be confused with the builtin IndexError.
IndexError_ = IndexProblem


class IndexMissing(IndexProblem):
    """No index was built in the directory yet."""


class EmbedderMismatch(IndexProblem):
    """A question embedded by another model than the one that built the index."""


class IndexBusy(IndexProblem):
    """Another build holds the index's lock."""


class IndexCorrupt(IndexProblem):
    """A file of the index is missing, truncated or edited: one line naming it and the command
    that rebuilds the index.

    ``what`` starts with the file's path in the generation (``vectors.npy is truncated …``);
    ``manifest`` is the generation's manifest when it could be read (None: read it again here,
    or salvage the roots from a damaged one). ``show_at`` names the index as the user gave it.
    """

    def __init__(
        self,
        gen_dir: Path,
        what: str,
        manifest: Mapping[str, Any] | None = None,
        index_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.gen_dir, self.what = Path(gen_dir), " ".join(what.split())  # one line, whatever an error said
        self.index_dir = Path(index_dir) if index_dir is not None else self.gen_dir.parent
        self._manifest = manifest
        super().__init__(self._message())

    def show_at(self, index_dir: str | os.PathLike[str]) -> IndexCorrupt:
        """The same error, naming the index directory as given (``index``, not its absolute path)."""
        self.index_dir = Path(index_dir)
        self.args = (self._message(),)
        return self

    def _message(self) -> str:
        return (
            f"the index at {self.index_dir} is damaged ({self.gen_dir.name}/{self.what}); "
            f"rebuild it with: {repair_command(self.index_dir, self.gen_dir, self._manifest)}"
        )


def repair_command(
    index_dir: str | os.PathLike[str], gen_dir: Path | None = None, manifest: Mapping[str, Any] | None = None
) -> str:
    """An index directory (and its damaged generation, and manifest if readable) → the command that rebuilds it.

    A readable manifest records the roots, and ``build --index DIR`` without paths rebuilds
    from them. From a damaged manifest the roots (and embedder) are read back if their part of
    the text survived; otherwise the sources have to be named again.
    """
    index = shlex.quote(os.fspath(index_dir))
    readable = manifest is not None
    if manifest is None and gen_dir is not None:
        manifest, readable = manifest_or_salvage(gen_dir)
    manifest = manifest or {}
    roots = manifest.get("roots") or []
    if readable and roots:
        return f"python -m pipeline build --index {index}"
    if roots:
        spec = manifest.get("embedder", {}).get("spec")
        embedder = f" --embedder {shlex.quote(spec)}" if spec else ""
        return f"python -m pipeline build {' '.join(shlex.quote(str(r)) for r in roots)} --index {index}{embedder}"
    why = (
        "its manifest, which lists them, is damaged"
        if not readable
        else "it records none: it holds only texts added through the API"
    )
    return (
        f"python -m pipeline build FOLDER_OR_FILE ... --index {index}, naming the folders and files "
        f"it was built from ({why}), and --embedder SPEC if it was not built with the default embedder"
    )


def manifest_or_salvage(gen_dir: Path) -> tuple[dict[str, Any], bool]:
    """A generation → (its manifest, True), or what a damaged one still says — its ``roots`` and
    ``embedder.spec``, found in the raw text — and False."""
    try:
        raw = (gen_dir / "manifest.json").read_bytes()
    except OSError:
        return {}, False
    try:
        manifest = json.loads(raw.decode("utf-8"))
        if isinstance(manifest, dict):
            return manifest, True
    except ValueError:
        pass
    salvaged: dict[str, Any] = {}
    text = raw.decode("utf-8", "replace")
    # Below, a key not found leaves re.search None: .group raises AttributeError, suppressed as intended.
    with contextlib.suppress(ValueError, AttributeError):
        roots = json.loads(re.search(r'"roots":\s*(\[[^\]]*\])', text).group(1))  # type: ignore[union-attr]
        if isinstance(roots, list) and all(isinstance(r, str) and "\ufffd" not in r for r in roots):
            salvaged["roots"] = roots
    with contextlib.suppress(ValueError, AttributeError):
        # "spec" is a key of the embedder entry only (a path holding it would show as \"spec\"). Not found:
        # AttributeError, as above.
        spec = json.loads(re.search(r'"spec":\s*("(?:[^"\\]|\\.)*")', text).group(1))  # type: ignore[union-attr]
        if isinstance(spec, str) and spec and "\ufffd" not in spec:
            salvaged["embedder"] = {"spec": spec}
    return salvaged, False
