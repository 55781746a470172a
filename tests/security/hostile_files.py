"""Crafted speech files for the extraction-limit tests and bench/extraction.py, written from raw bytes (PDF) or
with python-docx, so nothing is copied from ../shared."""

from __future__ import annotations

import random
import zlib
from pathlib import Path

TEXT_LINE = b"BT /F1 12 Tf 72 720 Td (The speech text goes on and on) Tj ET\n"


def write_pdf(path: Path, streams: list[bytes], pages: list[int], *, compress: bool = True,
              form: bytes | None = None) -> Path:
    """A PDF whose page ``i`` draws content stream ``streams[pages[i]]``; with ``form``, every page's resources
    hold a form XObject ``/X0`` with that content (which a page can draw again and again with ``/X0 Do``)."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b"",
                            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]

    def stream(data: bytes, extra: bytes = b"") -> int:
        body = zlib.compress(data, 9) if compress else data
        flate = b" /Filter /FlateDecode" if compress else b""
        objects.append(b"<< /Length %d%s%s >>\nstream\n" % (len(body), flate, extra) + body + b"\nendstream")
        return len(objects)

    xobjects = b""
    if form is not None:
        number = stream(form, b" /Type /XObject /Subtype /Form /BBox [0 0 612 792]"
                              b" /Resources << /Font << /F1 3 0 R >> >>")
        xobjects = b" /XObject << /X0 %d 0 R >>" % number
    numbers = [stream(data) for data in streams]
    kids = []
    for index in pages:
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >>%s >> "
                       b"/Contents %d 0 R >>" % (xobjects, numbers[index]))
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def shared_stream_bomb(path: Path, pages: int = 10, stream_mb: float = 5) -> Path:
    """The attack of issue 11: a ~15 KB PDF whose pages all draw one compressed 5 MB content stream."""
    return write_pdf(path, [TEXT_LINE * int(stream_mb * 1e6 / len(TEXT_LINE))], [0] * pages)


def form_bomb(path: Path) -> Path:
    """A small PDF with one page that draws a 40 KB form XObject 5,000 times: its content streams are tiny, but
    extracting its text takes minutes."""
    return write_pdf(path, [b"/X0 Do\n" * 5000], [0], form=TEXT_LINE * 600)


def text_pdf(path: Path, pages: int, lines_per_page: int = 20) -> Path:
    """An ordinary PDF: ``pages`` pages of their own text."""
    return write_pdf(path, [TEXT_LINE * lines_per_page for _ in range(pages)], list(range(pages)))


def long_docx(path: Path, characters: int) -> Path:
    """A DOCX of about ``characters`` varied CJK characters (varied: it must not look like a zip bomb)."""
    import docx

    rng = random.Random(11)
    alphabet = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    document = docx.Document()
    document.add_heading("在全市大会上的讲话", level=1)
    for _ in range(characters // 100 + 1):
        document.add_paragraph("".join(rng.choices(alphabet, k=100)))
    document.save(path)
    return path
