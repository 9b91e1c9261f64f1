"""Sources: paths (files and folders) → decoded ``SourceText`` values, or a reason to skip.

Nothing here raises on a bad file: every file either becomes a ``SourceText`` or a
``SkippedFile`` whose reason a user can act on. UTF-8 is tried first; other encodings
are detected (charset-normalizer) and recorded, so the summary can say so.
"""
# Size: over 400 lines on purpose. It is one file's whole way to text — discovery, size and type checks,
# decoding, HTML text, dispatch to the PDF/Office/OCR readers (which live apart) — so every reason a file
# is skipped is written in one place.

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

from ..settings import SourceSettings
from ..types import SkippedFile, SourceText

if TYPE_CHECKING:
    from .layout import Laid

HTML_EXTENSIONS = (".html", ".htm")
# Files read by a layout reader (text with pages, paragraphs or slides and word boxes), by format.
LAID_OUT = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".odt": "odt",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".tif": "image",
    ".tiff": "image",
}
_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Discovery:
    """What walking the given paths found: indexable files (in a stable order) and skips."""

    files: tuple[str, ...]
    skipped: tuple[SkippedFile, ...]


def discover(
    paths: Iterable[str | os.PathLike[str]], settings: SourceSettings, ignore: Iterable[str | os.PathLike[str]] = ()
) -> Discovery:
    """Paths as given → the files to index (sorted, each once) and the ones skipped, with why.

    Paths keep the form the user gave (``seeds/000.txt`` stays relative), because that is
    what citations show as ``source``. Only regular files are taken: a FIFO, a device or a
    socket (also behind a link named ``*.txt``) would block or never end when read. A file
    whose name is not valid UTF-8 is skipped with its name escaped (no citation could name
    it). Folders in ``ignore`` (an index's own generations) and generation folders of any
    belegt index are not walked, so an index inside an indexed folder never indexes itself.
    """
    files: list[str] = []
    skipped: list[SkippedFile] = []
    seen: set[str] = set()
    ignored = {os.path.realpath(os.fspath(p)) for p in ignore}

    def consider(path: str, explicit: bool) -> None:
        real = os.path.realpath(path)
        if real in seen:
            return
        if not path.lower().endswith(tuple(settings.extensions)):
            # Said for files found in folders too: a file left out without a word looks indexed.
            kind = os.path.splitext(path)[1] or "no extension"
            skipped.append(
                SkippedFile(
                    printable(path), f"unsupported type ({kind}); indexable types are {', '.join(settings.extensions)}"
                )
            )
            return
        if not valid_name(path):
            skipped.append(SkippedFile(printable(path), "file name is not valid UTF-8; rename the file to index it"))
            return
        kind = _special_kind(path)
        if kind:
            skipped.append(SkippedFile(printable(path), f"not a regular file ({kind}); only files are read"))
            return
        seen.add(real)
        files.append(path)

    for given in paths:
        path = os.fspath(given)
        if os.path.isdir(path):
            for found in _walk(path, skipped, ignored):
                consider(found, explicit=False)
        elif os.path.lexists(path) and not os.path.exists(path):
            skipped.append(SkippedFile(path, _broken_link_reason(path)))
        elif os.path.isfile(path):
            consider(path, explicit=True)
        elif os.path.exists(path):
            skipped.append(
                SkippedFile(printable(path), f"not a regular file ({_special_kind(path) or 'special file'})")
            )
        else:
            skipped.append(SkippedFile(printable(path), "no such file or folder"))
    return Discovery(tuple(files), tuple(skipped))


def valid_name(path: str) -> bool:
    """A path from the file system → whether it is valid text (undecodable bytes come as surrogates)."""
    return not any(0xD800 <= ord(ch) <= 0xDFFF for ch in path)


def printable(path: str) -> str:
    """A path → the same path with undecodable bytes shown as ``\\xff`` (safe to print and store)."""
    if valid_name(path):
        return path
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _special_kind(path: str) -> str:
    """A path → '' for a regular file (links followed), else what it is: 'FIFO', 'device', 'socket'."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return ""  # unreadable or gone: reading it says why
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def is_index_generation(folder: str) -> bool:
    """A folder → whether it is a generation of a belegt index (its texts/ must never be indexed again)."""
    return os.path.basename(folder).startswith("gen-") and os.path.isfile(os.path.join(folder, "manifest.json"))


def _walk(root: str, skipped: list[SkippedFile], ignored: Collection[str] = ()) -> Iterator[str]:
    """A folder → its files, depth first in name order; hidden entries are left out.

    Symbolic links to folders are not followed, which rules out link loops. Folders in
    ``ignored`` (real paths) and index generations are left out without a word: they are
    the index's own files, not the user's.
    """

    def on_error(err: OSError) -> None:
        skipped.append(SkippedFile(printable(str(err.filename)), f"cannot read folder: {err.strerror}"))

    if os.path.realpath(root) in ignored:
        return
    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        visible = []
        for d in sorted(dirnames):
            full = os.path.join(dirpath, d)
            if d.startswith(".") or os.path.realpath(full) in ignored or is_index_generation(full):
                continue
            visible.append(d)
        for name in visible:
            if os.path.islink(os.path.join(dirpath, name)):  # os.walk does not follow it; say so
                skipped.append(
                    SkippedFile(
                        printable(os.path.join(dirpath, name)),
                        "symbolic link to a folder, not followed (give its target to index it)",
                    )
                )
        dirnames[:] = visible
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = os.path.join(dirpath, name)
            if os.path.islink(path) and not os.path.exists(path):
                skipped.append(SkippedFile(printable(path), _broken_link_reason(path)))
                continue
            yield path


def _broken_link_reason(path: str) -> str:
    """A symbolic link that leads nowhere → why: a loop of links, or a missing target."""
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symbolic link loop"
    return "broken symbolic link (its target is missing)"


def open_regular(path: str) -> int:
    """A path → an open, read-only descriptor of a regular file, or OSError.

    Opened without blocking and checked after opening, so a FIFO or device swapped in
    after discovery cannot hang the build (a FIFO without a writer would block ``open``).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a FIFO, device or socket); only files are read")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def file_sha256(path: str, limit: int | None = None) -> str:
    """A file's bytes → their SHA-256 hex digest (streamed, so big files cost no memory).

    ``limit``: at most this many bytes are read (a file that grows without end, like a link
    to ``/dev/zero`` swapped in late, stops there instead of hashing forever).
    """
    h = hashlib.sha256()
    with os.fdopen(open_regular(path), "rb") as f:
        remaining = limit if limit is not None else -1
        while remaining != 0:
            block = f.read(1 << 20 if remaining < 0 else min(1 << 20, remaining))
            if not block:
                break
            h.update(block)
            if remaining > 0:
                remaining -= len(block)
    return h.hexdigest()


def load(path: str, settings: SourceSettings) -> SourceText | SkippedFile:
    """One file → its decoded text (HTML: extracted main text) or a reason it was skipped."""
    limit = int(settings.max_file_mb * 1024 * 1024)
    try:
        with os.fdopen(open_regular(path), "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > limit:
                return SkippedFile(
                    path,
                    f"too large ({size / 1048576:.1f} MB > {settings.max_file_mb:g} MB; raise sources.max_file_mb to index it)",
                )
            data = f.read(limit + 1)  # bounded even if the file grows while it is read
        if len(data) > limit:
            return SkippedFile(
                path, f"too large (over {settings.max_file_mb:g} MB; raise sources.max_file_mb to index it)"
            )
    except OSError as err:
        return SkippedFile(path, f"cannot read: {err.strerror or err}")

    if not data:
        return SkippedFile(path, "empty file")
    fmt = LAID_OUT.get(os.path.splitext(path)[1].lower())
    if fmt is not None:
        return _laid_out(path, data, fmt, settings)
    decoded = decode(data)
    if isinstance(decoded, str):
        return SkippedFile(path, decoded)
    text, encoding = decoded
    if not text.strip():
        return SkippedFile(path, "only whitespace")
    sha = hashlib.sha256(data).hexdigest()

    if path.lower().endswith(HTML_EXTENSIONS):
        return _from_html(path, text, sha, encoding)
    fmt = "markdown" if path.lower().endswith(".md") else "text"
    return SourceText(source=path, text=text, sha256=sha, encoding=encoding, format=fmt)


def decode(data: bytes) -> tuple[str, str] | str:
    """Bytes → (text, encoding name), or a skip reason for binary or undecodable data."""
    if b"\x00" in data[:_SNIFF_BYTES]:
        # UTF-16/32 text has NULs too; charset-normalizer recognises those by their BOM.
        if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return "binary file (contains NUL bytes); text, Markdown, HTML, PDF, Office files and images are indexed by their extension"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    mostly = _mostly_utf8(data)
    if mostly is not None:
        return mostly
    from charset_normalizer import from_bytes

    # charset-normalizer proposes; short German texts often fit several code pages, so the
    # Western ones (the usual non-UTF-8 case) compete and the most plausible text wins.
    # cp1252 comes first: on a tie (an ASCII text with a stray 0x85 reads as well in
    # mac_iceland) the code page of German and English Windows text wins.
    candidates: list[tuple[str, str]] = []
    for enc in ("cp1252", "latin_1"):
        try:
            candidates.append((data.decode(enc), enc))
        except UnicodeDecodeError:
            pass
    best = from_bytes(data).best()
    if best is not None:
        candidates.append((str(best), best.encoding))
    if not candidates:
        return "undecodable: not UTF-8 and no text encoding fits; convert it to UTF-8"
    text, encoding = max(candidates, key=lambda c: _plausibility(c[0]))  # max keeps the first of equals
    if encoding in _WESTERN and encoding != "cp1252":
        # The Latin code pages agree on German letters; call it what German text usually is.
        try:
            as_1252 = data.decode("cp1252")
            if _plausibility(as_1252) >= _plausibility(text):
                text, encoding = as_1252, "cp1252"
        except UnicodeDecodeError:
            pass
    if _plausibility(text) < _READABLE:
        return "undecodable: not UTF-8, and no text encoding makes it readable; convert it to UTF-8"
    if _looks_binary(text):
        return "binary file (mostly control characters); text, Markdown, HTML, PDF, Office files and images are indexed by their extension"
    return text, encoding


def _mostly_utf8(data: bytes) -> tuple[str, str] | None:
    """Bytes that are not valid UTF-8 → (text, 'utf-8, N bad bytes replaced') when they are UTF-8
    with a few stray bytes, else None (a legacy code page is more likely).

    A UTF-8 file with three stray bytes is still UTF-8: decoding it whole in a guessed code
    page turns every "ü" into "ĂĽ". It counts as UTF-8 when its valid multi-byte characters
    outnumber its invalid sequences; a cp1252 file almost never holds a valid UTF-8 sequence
    (an "ü" would have to be followed by a byte from 0x80–0xBF).
    """
    text = data.decode("utf-8", errors="replace")
    # Each invalid sequence became one U+FFFD; those that were in the file already are not errors.
    bad = text.count("\ufffd") - data.count("\ufffd".encode("utf-8"))
    # Non-ASCII characters counted in C (a Python loop over a 50 MB file takes seconds).
    valid_multibyte = len(text) - len(text.encode("ascii", "ignore")) - text.count("\ufffd")
    if bad and valid_multibyte > bad:
        return text, f"utf-8, {bad} invalid byte{'s' if bad != 1 else ''} replaced"
    return None


_WESTERN = {"cp1250", "cp1252", "latin_1", "iso8859_15", "iso8859_2", "cp850", "mac_roman"}
_READABLE = 0.85  # share of letters, digits, spaces and punctuation below which decoded bytes are not text


def _plausibility(text: str) -> float:
    """Decoded text → share of characters that ordinary prose is made of (letters, digits, space, punctuation)."""
    import unicodedata

    sample = text[:_SNIFF_BYTES]
    if not sample:
        return 0.0
    ok = sum(
        1
        for ch in sample
        if unicodedata.category(ch) == "Nd" or unicodedata.category(ch)[0] in "LZP" or ch in "\n\r\t€"
    )
    return ok / len(sample)


def _looks_binary(text: str) -> bool:
    sample = text[:_SNIFF_BYTES]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f")
    return controls > len(sample) * 0.05


def _from_html(path: str, html: str, sha: str, encoding: str) -> SourceText | SkippedFile:
    """HTML → main text through trafilatura (boilerplate, menus and scripts are left out)."""
    import trafilatura

    try:
        text = trafilatura.extract(html, output_format="txt", include_comments=False, favor_recall=True)
        meta = trafilatura.extract_metadata(html)
    except Exception as err:  # trafilatura/lxml raise many types on broken markup
        return SkippedFile(path, f"HTML could not be parsed ({type(err).__name__}: {err})")
    if not text or not text.strip():
        # trafilatura (lxml) gives up on pathological markup, e.g. thousands of nested tags;
        # the standard library's streaming parser has no depth limit.
        text = _plain_html_text(html)
    if not text or not text.strip():
        return SkippedFile(path, "HTML without main text (nothing left after removing markup and navigation)")
    return SourceText(
        source=path,
        text=text,
        sha256=sha,
        encoding=encoding,
        format="html",
        title_hint=(meta.title if meta else None) or None,
        date_hint=(meta.date if meta else None) or None,
    )


class _TextCollector(HTMLParser):
    """HTML → its visible text, one line per block element (scripts and styles left out)."""

    SKIP = {"script", "style", "noscript", "template", "head"}
    BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def _plain_html_text(html: str) -> str:
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    lines = (" ".join(line.split()) for line in "".join(collector.parts).splitlines())
    return "\n".join(line for line in lines if line)


def read_source_span(source: str, start: int, end: int) -> str:
    """The file at ``source`` read as UTF-8 (line endings untouched) → its text at [start:end] ('' if unreadable).

    Right only for plain UTF-8 files: for HTML, PDF or Latin-1 sources offsets point into the
    text the index stores (``IndexReader.document_by_source``).
    """
    raw = _utf8_text(source)
    return raw[start:end] if raw is not None else ""


def verify_source_span(source: str, start: int, end: int, text: str) -> bool:
    """Does the file at ``source``, read as UTF-8 with newlines untouched, hold ``text`` at [start:end]?"""
    raw = _utf8_text(source)
    return raw is not None and raw[start:end] == text


def _utf8_text(source: str) -> str | None:
    """A file → its text as UTF-8 with line endings untouched, or None when it cannot be read so."""
    try:
        return Path(source).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _laid_out(path: str, data: bytes, fmt: str, settings: SourceSettings) -> SourceText | SkippedFile:
    """A PDF, Office file or image → its text with regions and boxes, or why it could not be read."""
    from . import ocr, office, pdf

    sha = hashlib.sha256(data).hexdigest()
    name = {
        "pdf": "PDF",
        "docx": "Word (DOCX)",
        "pptx": "PowerPoint (PPTX)",
        "odt": "OpenDocument (ODT)",
        "image": "image",
    }[fmt]
    title = date = None
    try:
        if fmt == "pdf":
            read = pdf.read_pdf(data, settings.ocr_languages)
            laid, title, date = read.laid, read.title, read.date
            if not laid.text.strip() and read.unread_pages:
                return SkippedFile(
                    path,
                    f"scanned PDF without a text layer: reading it needs OCR, and "
                    f"{ocr.missing(settings.ocr_languages)}; install it: {ocr.INSTALL}",
                )
            how = f"PDF, {read.pages} page{'s' if read.pages != 1 else ''}"
            if read.ocr_pages:
                how += f", {read.ocr_pages} read by OCR ({settings.ocr_languages})"
            if read.unread_pages:
                how += (
                    f", scanned page{'s' if len(read.unread_pages) > 1 else ''} "
                    f"{', '.join(map(str, read.unread_pages))} not read ({ocr.missing(settings.ocr_languages)}: "
                    f"{ocr.INSTALL})"
                )
        elif fmt == "image":
            if not ocr.available(settings.ocr_languages):
                return SkippedFile(
                    path,
                    f"image: reading it needs OCR, and {ocr.missing(settings.ocr_languages)}; "
                    f"install it: {ocr.INSTALL}",
                )
            laid = _image_text(data, settings.ocr_languages)
            how = f"image, read by OCR ({settings.ocr_languages})"
        else:
            reader = {"docx": office.read_docx, "pptx": office.read_pptx, "odt": office.read_odt}[fmt]
            read_office = reader(data)
            laid, title, date = read_office.laid, read_office.title, read_office.date
            how = name
    except ocr.ImageTooLarge as err:
        return SkippedFile(path, str(err))
    except Exception as err:  # noqa: BLE001 — a damaged file may make any parser raise anything
        # PDFium's error text is its last error, which may be left over from another file: not trusted.
        if fmt == "pdf" and b"/Encrypt" in data:
            return SkippedFile(
                path,
                "password-protected PDF: remove the password (for example qpdf --decrypt "
                "--password=… in.pdf out.pdf) to index it",
            )
        what = (
            "PDFium cannot open it"
            if type(err).__name__ == "PdfiumError"
            else f"{type(err).__name__}: {str(err)[:160]}"
        )
        return SkippedFile(
            path,
            f"could not be read as {name} ({what}); is it damaged or password-protected? "
            "Save it again or export it to PDF",
        )
    if not laid.text.strip():
        return SkippedFile(path, f"no text found in this {name}")
    return SourceText(
        source=path,
        text=laid.text,
        sha256=sha,
        encoding=how,
        format=fmt,
        title_hint=title,
        date_hint=date,
        regions=laid.regions,
        boxes=laid.boxes,
        furniture=laid.furniture,
    )


def _image_text(data: bytes, languages: str) -> Laid:
    """An image file (every frame of a TIFF a page) → its laid-out OCR text."""
    from PIL import ImageSequence

    from . import ocr
    from .layout import TextBuilder

    builder = TextBuilder()
    with ocr.opened_image(data) as image:
        dpi = float((image.info.get("dpi") or (300, 300))[0]) or 300.0
        dpi = dpi if dpi >= 70 else 300.0  # "72 dpi" in a photo's header is a default, not a scan's density
        for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
            builder.begin("page", number)
            for paragraph in ocr.read_image(frame.copy(), number, dpi, None, languages):
                builder.lines(paragraph)
    return builder.build()
