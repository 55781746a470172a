"""Read one speech file (.txt, .md, .docx, .pdf, .html/.htm) into its normalised text.

Every failure a user can cause (a bad, empty, binary or hostile file) raises ``SpeechFileError`` naming the file;
library exceptions never escape. Decisions:

- Text encodings are tried in a fixed order so the result never depends on guessing: a BOM (UTF-8/16/32), strict
  UTF-8, BOM-less UTF-16 when NUL bytes sit in every other position, strict GB18030 (a superset of GBK/GB2312),
  and only then charset-normalizer's best guess. Text that decodes to many control or replacement characters is
  rejected as binary.
- A .txt or .md is data: its text is kept verbatim (markup included), only normalised. An .html file is markup:
  only its visible text is kept, block elements become line breaks.
- PDF lines are always re-joined (PDFs wrap lines mid-sentence); a .txt only when it looks hard-wrapped.
- A .docx is a zip: its directory is checked (entry count, total uncompressed size, compression ratio) before
  python-docx inflates anything, so a zip bomb is refused cheaply.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ingest.normalise import looks_hard_wrapped, normalise_text

SUPPORTED_EXTENSIONS = frozenset({".txt", ".md", ".docx", ".pdf", ".html", ".htm"})
MAX_BYTES = 50_000_000
MAX_ZIP_ENTRIES = 2_000
MAX_ZIP_RATIO = 200  # uncompressed / compressed, for a single large entry
BINARY_SHARE = 0.05  # control + replacement characters in decoded text
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
HTML_HIDDEN = ("script", "style", "head", "noscript", "template", "svg", "iframe", "object")
HTML_BLOCKS = (
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption", "figure", "footer",
    "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
    "section", "table", "tr", "td", "th", "ul", "caption",
)  # fmt: skip
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


def read_text(path: Path, *, max_bytes: int = MAX_BYTES) -> str:
    """The normalised text of one speech file."""
    return read_speech_text(path, max_bytes=max_bytes).text


def read_speech_text(path: Path, *, max_bytes: int = MAX_BYTES) -> SpeechText:
    """The normalised text of one speech file, with its marked-up heading if the format has one."""
    path = Path(path)
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
    if size > max_bytes:
        raise SpeechFileError(path, f"file is too large ({size:,} bytes; the limit is {max_bytes:,})")
    if suffix == ".pdf":
        result = _read_pdf(path)
    elif suffix == ".docx":
        result = _read_docx(path, max_bytes)
    elif suffix in (".html", ".htm"):
        result = _read_html(path, _decode(path, _read_bytes(path)))
    else:
        result = _read_plain(path, _decode(path, _read_bytes(path)), markdown=suffix == ".md")
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


def _read_html(path: Path, markup: str) -> SpeechText:
    from bs4 import BeautifulSoup, Comment, NavigableString

    try:
        soup = BeautifulSoup(markup, "html.parser")
        title_tag, h1 = soup.find("title"), soup.find("h1")
        heading = (h1 or title_tag).get_text(" ", strip=True) if (h1 or title_tag) else None
        for tag in soup.find_all(HTML_HIDDEN):
            tag.decompose()
        for node in soup.find_all(string=True):
            if isinstance(node, Comment) or type(node) is not NavigableString:
                node.extract()
            elif node.find_parent("pre") is None:
                node.replace_with(re.sub(r"\s+", " ", str(node)))
        for br in soup.find_all("br"):
            br.replace_with("\n")
        for block in soup.find_all(HTML_BLOCKS):
            block.insert_before("\n")
            block.insert_after("\n")
        text = soup.get_text()
    except Exception as error:  # html.parser is lenient; anything raised here is a malformed document
        raise SpeechFileError(path, f"malformed HTML ({error})") from error
    text = normalise_text(text, join_broken_lines=False)
    if not text:
        raise SpeechFileError(path, "HTML has no visible text")
    return SpeechText(text, heading or None)


def _read_pdf(path: Path) -> SpeechText:
    from pypdf import PdfReader

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise SpeechFileError(path, "PDF is encrypted with a password")
        pages = [(page.extract_text() or "").strip("\n") for page in reader.pages]
    except SpeechFileError:
        raise
    except Exception as error:
        raise SpeechFileError(path, f"corrupt or unreadable PDF ({type(error).__name__}: {error})") from error
    text = normalise_text("\n".join(pages), join_broken_lines=True)
    if not text:
        raise SpeechFileError(path, "PDF has no extractable text (a scanned image? it needs OCR first)")
    return SpeechText(text)


def _read_docx(path: Path, max_bytes: int) -> SpeechText:
    _check_docx_archive(path, max_bytes)
    import docx
    from docx.table import Table

    try:
        document = docx.Document(str(path))
        lines: list[str] = []
        heading = None
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                lines.extend(p.text for row in block.rows for cell in row.cells for p in cell.paragraphs)
                continue
            lines.append(block.text)
            style = block.style.name if block.style is not None else ""
            if heading is None and block.text.strip() and (style.startswith("Heading") or style == "Title"):
                heading = block.text.strip()
    except Exception as error:
        raise SpeechFileError(path, f"corrupt or unreadable DOCX ({type(error).__name__}: {error})") from error
    return SpeechText(normalise_text("\n".join(lines), join_broken_lines=False), heading)


def _check_docx_archive(path: Path, max_bytes: int) -> None:
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
    if "word/document.xml" not in {entry.filename for entry in entries}:
        raise SpeechFileError(path, "not a valid DOCX (no word/document.xml in the archive)")
