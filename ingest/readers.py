"""Read one speech file (.txt, .md, .docx, .pdf, .html/.htm) into its normalised text.

Every failure a user can cause (a bad, empty, binary or hostile file) raises ``SpeechFileError`` naming the file;
library exceptions never escape. Decisions:

- Text encodings are tried in a fixed order so the result never depends on guessing: a BOM (UTF-8/16/32), strict
  UTF-8, BOM-less UTF-16 when NUL bytes sit in every other position, strict GB18030 (a superset of GBK/GB2312),
  and only then charset-normalizer's best guess. Text that decodes to many control or replacement characters is
  rejected as binary.
- A .txt or .md is data: its text is kept verbatim (markup included), only normalised. An .html file is markup:
  only its visible text is kept, block elements become line breaks. It is read in one pass with the standard
  library's ``HTMLParser`` (BeautifulSoup's tree edits made it quadratic: a 1.9 MB page took 129 s).
- PDF lines are always re-joined (PDFs wrap lines mid-sentence); a .txt only when it looks hard-wrapped.
- A .docx is a zip: its directory is checked (entry count, total uncompressed size, compression ratio) before
  python-docx inflates anything, so a zip bomb is refused cheaply.
- What one file may cost is bounded (``ReadLimits``, from the SPEECHES_MAX_* settings): bytes, characters yielded,
  PDF pages, and time. PDF, DOCX and HTML are parsed by libraries whose cost a crafted file can blow up (a 15 KB
  PDF whose pages share one 5 MB content stream took minutes), so they are read in a child process
  (``ingest.extract``) that is killed when its time is up. A PDF whose content streams expand far beyond its size
  is refused before any text is extracted; see docs/limits.md for the figures.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from ingest.normalise import looks_hard_wrapped, normalise_text

SUPPORTED_EXTENSIONS = frozenset({".txt", ".md", ".docx", ".pdf", ".html", ".htm"})
ISOLATED = frozenset({".pdf", ".docx", ".html", ".htm"})  # read in a child process (ingest.extract)
MAX_BYTES = 50_000_000
MAX_ZIP_ENTRIES = 2_000
MAX_ZIP_RATIO = 200  # uncompressed / compressed, for a single large entry
# A PDF's content streams (its drawing instructions: text, lines) may expand to CONTENT_RATIO x the file size, or
# CONTENT_FLOOR, whichever is more. Text-only PDFs measure 1.7x (real_speech_000.pdf); the 15 KB bomb, 3400x.
CONTENT_RATIO = 50
CONTENT_FLOOR = 4_000_000
# Time one file may take before it is refused: BASE_SECONDS plus its size's share, at most SPEECHES_EXTRACT_TIMEOUT.
# A real PDF page takes ~0.02 s and 1 MB of DOCX or HTML markup ~1 s (bench/extraction.py): 5-10x headroom; opening
# a small file (python, imports, the first page) ~0.3-0.5 s.
BASE_SECONDS = 2.0
PAGE_SECONDS = 0.25
MARKUP_MB_SECONDS = 5.0
BINARY_SHARE = 0.05  # control + replacement characters in decoded text
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
HTML_HIDDEN = frozenset({"script", "style", "head", "noscript", "template", "svg", "iframe", "object"})
HTML_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption", "figure", "footer",
    "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
    "section", "table", "tr", "td", "th", "ul", "caption",
})  # fmt: skip
MARKDOWN_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")


class SpeechFileError(ValueError):
    """A speech file that cannot be read; ``str()`` is ``"<file name>: <reason>"``."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path.name}: {reason}")


@dataclass(frozen=True)
class SpeechText:
    """The normalised text of a file and the heading its format marks as such (markdown #, <h1>, docx Heading)."""

    text: str
    heading: str | None = None


@dataclass(frozen=True)
class ReadLimits:
    """What reading one file may cost; ``from_settings`` takes the SPEECHES_MAX_* / EXTRACT_TIMEOUT settings."""

    max_bytes: int = MAX_BYTES
    max_chars: int = 1_000_000
    max_pages: int = 1000
    timeout: float = 60.0

    @classmethod
    def from_settings(cls, settings) -> ReadLimits:
        return cls(max_chars=settings.max_speech_chars, max_pages=settings.max_pdf_pages,
                   timeout=settings.extract_timeout)

    def seconds_for(self, *, pages: int = 0, markup_bytes: int = 0) -> float:
        """How long a file of this size may take to read."""
        share = PAGE_SECONDS * pages + MARKUP_MB_SECONDS * markup_bytes / 1e6
        return min(self.timeout, BASE_SECONDS + share)

    def check_chars(self, path: Path, count: int, what: str = "text") -> None:
        if count > self.max_chars:
            raise SpeechFileError(path, f"{what} is too long: over {self.max_chars:,} characters "
                                        "(SPEECHES_MAX_SPEECH_CHARS)")


Allow = Callable[[float], None]  # "this file may take this many seconds in all" (the child process's timer)


def read_text(path: Path, *, max_bytes: int | None = None, limits: ReadLimits | None = None) -> str:
    """The normalised text of one speech file."""
    return read_speech_text(path, max_bytes=max_bytes, limits=limits).text


def read_speech_text(path: Path, *, max_bytes: int | None = None, limits: ReadLimits | None = None) -> SpeechText:
    """The normalised text of one speech file, with its marked-up heading if the format has one. PDF, DOCX and HTML
    are read in a child process bounded in time (``ingest.extract``)."""
    path = Path(path)
    limits = limits or ReadLimits()
    if max_bytes is not None:
        limits = ReadLimits(max_bytes, limits.max_chars, limits.max_pages, limits.timeout)
    suffix = _check_file(path, limits)
    if suffix in ISOLATED:
        from ingest.extract import read_in_child

        return read_in_child(path, limits)
    text = _decode(path, _read_bytes(path))
    limits.check_chars(path, len(text))
    return _nonempty(path, _read_plain(path, text, markdown=suffix == ".md"))


def read_isolated(path: Path, limits: ReadLimits, allow: Allow) -> SpeechText:
    """What the child process runs for a PDF, DOCX or HTML file; ``allow`` (re)sets its time limit once the size
    of the work is known."""
    path = Path(path)
    suffix = _check_file(path, limits)
    if suffix == ".pdf":
        result = _read_pdf(path, limits, allow)
    elif suffix == ".docx":
        result = _read_docx(path, limits, allow)
    else:
        allow(limits.seconds_for(markup_bytes=path.stat().st_size))
        result = _read_html(path, _decode(path, _read_bytes(path)), limits)
    return _nonempty(path, result)


def _check_file(path: Path, limits: ReadLimits) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
        raise SpeechFileError(path, f"unsupported file type '{suffix or path.name}' (supported: {supported})")
    try:
        size = path.stat().st_size
    except OSError as error:
        raise SpeechFileError(path, f"cannot read file ({error.strerror or error})") from error
    if size == 0:
        raise SpeechFileError(path, "file is empty")
    if size > limits.max_bytes:
        raise SpeechFileError(path, f"file is too large ({size:,} bytes; the limit is {limits.max_bytes:,})")
    return suffix


def _nonempty(path: Path, result: SpeechText) -> SpeechText:
    if not result.text:
        raise SpeechFileError(path, "file contains only whitespace, no text")
    return result


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise SpeechFileError(path, f"cannot read file ({error.strerror or error})") from error


def _decode(path: Path, data: bytes) -> str:
    """Decode text bytes deterministically (see the module docstring)."""
    text = _decode_known(data)
    if text is None:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        text = str(best) if best is not None else None
    if text is None or _looks_binary(text):
        raise SpeechFileError(path, "binary or undecodable content, not text (unknown encoding or control bytes)")
    return text


def _decode_known(data: bytes) -> str | None:
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return _strict(data[len(bom) :], encoding)
    if b"\x00" not in data:
        return _strict(data, "utf-8") or _strict(data, "gb18030")
    sample = data[:4000]
    if sample[1::2].count(0) > 0.3 * len(sample) / 2:
        return _strict(data, "utf-16-le")
    if sample[0::2].count(0) > 0.3 * len(sample) / 2:
        return _strict(data, "utf-16-be")
    return None


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _looks_binary(text: str) -> bool:
    bad = sum(1 for c in text if c == "\ufffd" or (unicodedata.category(c) == "Cc" and c not in "\n\r\t\f\v"))
    return bad > BINARY_SHARE * len(text)


def _read_plain(path: Path, text: str, *, markdown: bool) -> SpeechText:
    heading = None
    if markdown:
        lines = text.splitlines()
        for index, line in enumerate(lines):
            match = MARKDOWN_HEADING.match(line)
            if match:
                lines[index] = match.group(2)
                heading = heading or (match.group(2).strip() if len(match.group(1)) == 1 else None)
        text = "\n".join(lines)
    joined = normalise_text(text, join_broken_lines=looks_hard_wrapped(text))
    return SpeechText(joined, heading or None)


class _VisibleText(HTMLParser):
    """The visible text of an HTML document in one pass: hidden elements skipped, block elements on their own
    lines, whitespace collapsed outside <pre>; the first <h1> (else <title>) is the heading."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.hidden = 0  # open hidden elements
        self.pre = 0
        self.capturing: str | None = None  # "h1" or "title" while inside the first of them
        self.captured: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in HTML_HIDDEN:
            self.hidden += 1
        elif tag == "pre":
            self.pre += 1
        if tag in ("h1", "title") and tag not in self.captured and self.capturing is None:
            self.capturing, self.captured[tag] = tag, []
        if tag == "br":
            self._add("\n")
        elif tag in HTML_BLOCKS:
            self._add("\n")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag == "br" or tag in HTML_BLOCKS:
            self._add("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in HTML_HIDDEN:
            self.hidden = max(self.hidden - 1, 0)
        elif tag == "pre":
            self.pre = max(self.pre - 1, 0)
        if tag == self.capturing:
            self.capturing = None
        if tag in HTML_BLOCKS:
            self._add("\n")

    def handle_data(self, data: str) -> None:
        if self.capturing is not None:
            self.captured[self.capturing].append(data)
        self._add(data if self.pre else re.sub(r"\s+", " ", data))

    def _add(self, text: str) -> None:
        if not self.hidden:
            self.pieces.append(text)

    def heading(self) -> str | None:
        pieces = self.captured.get("h1") or self.captured.get("title") or []
        return " ".join(p.strip() for p in pieces if p.strip()) or None


def _read_html(path: Path, markup: str, limits: ReadLimits) -> SpeechText:
    parser = _VisibleText()
    try:
        parser.feed(markup)
        parser.close()
    except Exception as error:  # html.parser is lenient; anything raised here is a malformed document
        raise SpeechFileError(path, f"malformed HTML ({error})") from error
    text = "".join(parser.pieces)
    limits.check_chars(path, len(text), "HTML text")
    text = normalise_text(text, join_broken_lines=False)
    if not text:
        raise SpeechFileError(path, "HTML has no visible text")
    return SpeechText(text, parser.heading())


def _read_pdf(path: Path, limits: ReadLimits, allow: Allow) -> SpeechText:
    from pypdf import PdfReader

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise SpeechFileError(path, "PDF is encrypted with a password")
        count = len(reader.pages)
        if count > limits.max_pages:
            raise SpeechFileError(path, f"PDF has {count:,} pages; the limit is {limits.max_pages:,} "
                                        "(SPEECHES_MAX_PDF_PAGES)")
        allow(limits.seconds_for(pages=count))
        _check_pdf_content(path, reader)
        pages, chars = [], 0
        for page in reader.pages:
            pages.append((page.extract_text() or "").strip("\n"))
            chars += len(pages[-1])
            limits.check_chars(path, chars, "PDF text")
    except SpeechFileError:
        raise
    except Exception as error:
        raise SpeechFileError(path, f"corrupt or unreadable PDF ({type(error).__name__}: {error})") from error
    text = normalise_text("\n".join(pages), join_broken_lines=True)
    if not text:
        raise SpeechFileError(path, "PDF has no extractable text (a scanned image? it needs OCR first)")
    return SpeechText(text)


def _check_pdf_content(path: Path, reader) -> None:
    """Refuse a PDF whose pages' content streams expand far beyond the file (a decompression bomb: pages sharing
    one stream count it once per page, as text extraction reads it once per page). Each stream is decoded once."""
    from pypdf.generic import ArrayObject, IndirectObject, StreamObject

    budget = max(CONTENT_FLOOR, CONTENT_RATIO * path.stat().st_size)
    sizes: dict[object, int] = {}
    total = 0
    for page in reader.pages:
        contents = page.get("/Contents")
        items = contents.get_object() if contents is not None else None
        refs = list(items) if isinstance(items, ArrayObject) else [contents] if contents is not None else []
        for ref in refs:
            key = (ref.idnum, ref.generation) if isinstance(ref, IndirectObject) else id(ref)
            if key not in sizes:
                stream = ref.get_object()
                sizes[key] = len(stream.get_data()) if isinstance(stream, StreamObject) else 0
            total += sizes[key]
            if total > budget:
                raise SpeechFileError(
                    path, f"PDF pages expand to over {budget / 1e6:.0f} MB of content from a "
                          f"{path.stat().st_size / 1e3:,.0f} KB file (a decompression bomb?)")


def _read_docx(path: Path, limits: ReadLimits, allow: Allow) -> SpeechText:
    markup = _check_docx_archive(path, limits.max_bytes)
    allow(limits.seconds_for(markup_bytes=markup))
    import docx
    from docx.table import Table, _Cell

    try:
        document = docx.Document(str(path))
        style_names = {style.style_id: style.name or "" for style in document.styles}  # Paragraph.style: ~1 ms
        lines: list[str] = []
        heading, chars = None, 0
        for block in document.iter_inner_content():
            if isinstance(block, Table):  # each cell once: python-docx repeats merged cells, once per grid column
                texts = [p.text for tr in block._tbl.tr_lst for tc in tr.tc_lst if tc.vMerge != "continue"
                         for p in _Cell(tc, block).paragraphs]
            else:
                texts = [block.text]
                style = style_names.get(block._p.style, "")
                if heading is None and texts[0].strip() and (style.startswith("Heading") or style == "Title"):
                    heading = texts[0].strip()
            lines.extend(texts)
            chars += sum(map(len, texts))
            limits.check_chars(path, chars, "DOCX text")
    except SpeechFileError:
        raise
    except Exception as error:
        raise SpeechFileError(path, f"corrupt or unreadable DOCX ({type(error).__name__}: {error})") from error
    return SpeechText(normalise_text("\n".join(lines), join_broken_lines=False), heading)


def _check_docx_archive(path: Path, max_bytes: int) -> int:
    """Check the zip directory before anything is inflated; returns the uncompressed size of the document."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise SpeechFileError(path, f"not a valid DOCX (corrupt or not a zip archive: {error})") from error
    if len(entries) > MAX_ZIP_ENTRIES:
        raise SpeechFileError(path, f"suspicious DOCX: {len(entries)} entries in the archive (zip bomb?)")
    total = sum(entry.file_size for entry in entries)
    if total > max_bytes:
        raise SpeechFileError(path, f"suspicious DOCX: {total:,} bytes uncompressed, over {max_bytes:,} (zip bomb?)")
    for entry in entries:
        if entry.file_size > 1_000_000 and entry.file_size > MAX_ZIP_RATIO * max(entry.compress_size, 1):
            raise SpeechFileError(path, f"suspicious DOCX: '{entry.filename}' is compressed too well (zip bomb?)")
    document = next((entry for entry in entries if entry.filename == "word/document.xml"), None)
    if document is None:
        raise SpeechFileError(path, "not a valid DOCX (no word/document.xml in the archive)")
    return document.file_size
