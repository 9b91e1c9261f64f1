"""Which folders and files a build walks and records, and the guard against removing most of an index by mistake.

Roots are recorded absolute; a file indexed before keeps the source it was indexed under; the
index's uploads folder is a root of its own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..store import IndexProblem, IndexReader, read_manifest
from .texts import TEXT_SOURCE


class RemovalRefused(IndexProblem):
    """A build would have removed most of an index's documents; nothing was changed."""


@dataclass(frozen=True)
class RootPlan:
    """Which roots a build walks and records, and what it keeps of recorded roots that are gone."""

    walk: tuple[str, ...]  # the paths given (as typed: their new files keep that form), then recorded roots
    roots: tuple[str, ...]  # recorded after this build, absolute
    recorded: tuple[str, ...]  # recorded before it, absolute
    old_paths: Mapping[str, str]  # file source of the previous index → its absolute path
    kept_missing: Mapping[str, int]  # recorded root not found → how many documents it keeps
    kept_sources: frozenset[str]  # those documents' sources
    dropped: tuple[str, ...]  # recorded roots dropped on purpose (``remove`` or ``prune``)
    not_found: tuple[str, ...]  # paths given now that do not exist


def display_path(absolute: str) -> str:
    """An absolute path → relative to the current directory when it lies below it (reads better), else as is."""
    here = os.getcwd()
    return os.path.relpath(absolute, here) if is_under(absolute, here) else absolute


def is_under(path: str, root: str) -> bool:
    root = root.rstrip(os.sep) or os.sep
    return path == root or path.startswith(root if root.endswith(os.sep) else root + os.sep)


def resolve_path(path: str, index_dir: Path) -> str:
    """A path recorded by an older index (relative to wherever its build ran) → an absolute path.

    Such builds ran next to the index almost always (``build seeds --index index``), so the
    index's parent is tried after the current directory.
    """
    if os.path.isabs(path):
        return os.path.normpath(path)
    for base in (os.getcwd(), str(index_dir.resolve().parent)):
        candidate = os.path.normpath(os.path.join(base, path))
        if os.path.lexists(candidate):
            return candidate
    return os.path.abspath(path)


def plan_roots(
    paths: Sequence[str | os.PathLike[str]],
    index_dir: Path,
    old: IndexReader | None,
    remove: Sequence[str] = (),
    prune: bool = False,
    keep_roots: bool = False,
) -> RootPlan:
    """Paths given to a build + the roots the index recorded → what to walk and record (pure but for stat).

    Paths given replace the recorded roots, except the index's uploads folder, which is a
    root of its own; no paths (or ``keep_roots``) keep the recorded roots and add the given
    ones. The cwd does not matter: recorded roots are absolute. A kept root that is not found
    keeps its documents unless ``prune``; one named in ``remove`` is dropped with its documents.
    """
    given = [os.fspath(p) for p in paths]
    given_abs = [os.path.abspath(g) for g in given]
    manifest = old.manifest if old is not None else read_manifest(index_dir)
    recorded = list(dict.fromkeys(resolve_path(r, index_dir) for r in manifest.roots))
    uploads = os.path.abspath(index_dir / UPLOADS)
    kept_roots = recorded if (keep_roots or not given) else [r for r in recorded if r == uploads]
    old_paths: dict[str, str] = {}
    if old is not None:
        known = manifest.paths
        for source in old.sources():
            if not source.startswith(TEXT_SOURCE):
                old_paths[source] = known.get(source) or resolve_path(source, index_dir)
    removed_abs = {old_paths.get(r) or os.path.abspath(r) for r in remove if not r.startswith(TEXT_SOURCE)}
    dropped = [r for r in recorded if r in removed_abs]
    walk: list[str] = []
    roots: list[str] = []
    missing: dict[str, int] = {}
    kept: set[str] = set()
    for g, a in zip(given, given_abs):
        walk.append(g)  # discovery names one that does not exist: "no such file or folder"
        if os.path.lexists(a) and a not in roots:
            roots.append(a)
    for r in kept_roots:
        if r in dropped or r in roots:
            continue
        if os.path.lexists(r):
            walk.append(r)
            roots.append(r)
        elif prune:
            dropped.append(r)
        else:
            under = [s for s, p in old_paths.items() if is_under(p, r)]
            missing[r] = len(under)
            kept.update(under)
            roots.append(r)
    return RootPlan(
        walk=tuple(walk),
        roots=tuple(roots),
        recorded=tuple(recorded),
        old_paths=old_paths,
        kept_missing=missing,
        kept_sources=frozenset(kept),
        dropped=tuple(dropped),
        not_found=tuple(g for g, a in zip(given, given_abs) if not os.path.lexists(a)),
    )


def refuse_mass_removal(
    index_dir: Path,
    old_sources: Mapping[str, tuple[str, str]],
    removed: Sequence[str],
    remove: Sequence[str],
    plan: RootPlan,
    prune: bool,
    present: set[str],
) -> None:
    """Raise RemovalRefused when files not asked to be removed make up more than half of the index's files.

    Files vanish in bulk by accident (a typo in a path, a folder named from another
    directory, a drive not mounted) far more often than on purpose; ``--prune`` says it is
    on purpose. A file whose content is still indexed (``present``: SHA-256 of the documents
    the build keeps; the folder was moved or copied) is not lost, so it does not count.
    """
    if prune:
        return
    files = [s for s in old_sources if not s.startswith(TEXT_SOURCE)]
    asked = set(remove)
    unexpected = [
        s
        for s in removed
        if not s.startswith(TEXT_SOURCE)
        and s not in asked
        and old_sources[s][0] not in present
        and not any(is_under(plan.old_paths.get(s, ""), r) for r in plan.dropped)
    ]
    if not files or 2 * len(unexpected) <= len(files):
        return
    shown = ", ".join(unexpected[:3]) + (f" and {len(unexpected) - 3} more" if len(unexpected) > 3 else "")
    where = f"; not found: {', '.join(plan.not_found)}" if plan.not_found else ""
    raise RemovalRefused(
        f"this build would remove {len(unexpected)} of the {len(files)} documents of {index_dir} "
        f"(files no longer found: {shown}){where}. Nothing was changed. If they are gone for good, "
        f"build again with --prune (python -m pipeline build --prune --index {index_dir})"
    )


UPLOADS = "uploads"
