"""Turn one speech file into a ``Speech``: its text (``ingest.readers``) plus id, title, date and sidecar metadata.

- The id is the file name without extension, made safe and unique against the ids already taken.
- The title is the heading the format marks (markdown ``#``, ``<h1>``/``<title>``, a docx Heading), else the first
  line of the text.
- The date is parsed from the title first (any year in it counts: "在2023年…会议上的讲话"; a more specific date
  of the same year in the text refines it), else from the first 500 characters of the text, where the most
  specific date wins and a bare year counts only on a short line: "回首即将过去的2022年" in a paragraph is a year
  the speech talks about, not the one it was given in.
- The occasion is read from the title and the opening lines (``ingest/occasion.py``): the session ("市第十六届人民代表
  大会第二次会议", also kept as ``extra["session"]``) or else the meeting of "在…上的讲话" becomes ``occasion``; the
  place ("北京市", "全国") and the kind (政府工作报告, 闭幕会讲话, 党代会报告, 决议, 讲话…) go to ``extra["place"]`` and
  ``extra["kind"]``; a speaker named in a short opening line ("国务院总理李克强") becomes ``speaker``. Questions that
  name a speech by these are resolved against them (``retriever/speech_refs.py``).
- A sidecar ``NAME.meta.json`` / ``NAME.meta.yaml`` / ``NAME.meta.yml`` beside the file overrides any of these and
  may set speaker, occasion and other string fields (kept in ``Speech.extra``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from ingest.occasion import read_occasion
from ingest.readers import SUPPORTED_EXTENSIONS, ReadLimits, SpeechFileError, read_speech_text
from ingest.speechtext import CN_COUNTING, YEAR_NUMERALS, cn_number
from ingest.speech import Speech

SIDECAR_SUFFIXES = (".meta.json", ".meta.yaml", ".meta.yml")
TITLE_MAX = 100
DATE_SEARCH_CHARS = 500
SHORT_LINE = 50  # a line this short in a speech's opening is a title, date line or salutation, not a paragraph
YEAR_RANGE = range(1949, 2101)
CN_YEAR = f"[{YEAR_NUMERALS}]{{4}}"
CN_SMALL = f"[{CN_COUNTING}]{{1,3}}"
CHINESE_DATE = re.compile(
    rf"(\d{{4}}|{CN_YEAR})\s*年(?:\s*(\d{{1,2}}|{CN_SMALL})\s*月(?:\s*(\d{{1,2}}|{CN_SMALL})\s*[日号])?)?"
)
NUMERIC_DATE = re.compile(r"(?<!\d)(\d{4})[-./](\d{1,2})(?:[-./](\d{1,2}))?(?!\d)")
UNSAFE_ID_CHARS = re.compile(r"[^\w\-]")


def is_speech_file(path: Path) -> bool:
    """Whether the folder walker should ingest ``path``: a supported extension, not a sidecar, not a lock file."""
    name = path.name.lower()
    if name.startswith((".", "~$")) or name.endswith(SIDECAR_SUFFIXES):
        return False
    return path.suffix.lower() in SUPPORTED_EXTENSIONS


def load_speech(path: Path, taken_ids: set[str] | None = None, limits: ReadLimits | None = None,
                source: Path | None = None) -> Speech:
    """Read ``path`` into a ``Speech`` (within ``limits``); the id chosen is added to ``taken_ids``. With
    ``source``, the speech is named and sourced as if read from there (an upload read before it takes its place)."""
    path = Path(path)
    source = Path(source) if source is not None else path
    sidecar = sidecar_path(path)
    fields = read_sidecar(sidecar) if sidecar else {}
    speech_text = read_speech_text(path, limits=limits)
    text = speech_text.text
    title = (fields.pop("title", None) or speech_text.heading or text.split("\n", 1)[0].strip())[:TITLE_MAX]
    date, year = _date_from(fields, sidecar) if sidecar else (None, None)
    if year is None:
        date, year = _speech_date(title, text) or (None, None)
    speech_id = unique_speech_id(fields.pop("id", None) or source.stem, taken_ids if taken_ids is not None else set())
    found = read_occasion(title, text)
    read = {"place": found.place, "kind": found.kind, "session": found.session.text() if found.session else None}
    extra = {**{name: value for name, value in read.items() if value}, **fields}  # the sidecar's fields win
    return Speech(
        id=speech_id,
        title=title,
        text=text,
        source=str(source),
        date=date,
        year=year,
        speaker=extra.pop("speaker", None) or found.speaker,
        occasion=extra.pop("occasion", None) or found.text,
        extra=extra,
    )


def sidecar_path(path: Path) -> Path | None:
    """The metadata sidecar beside a speech file: ``NAME.meta.json``, ``NAME.meta.yaml`` or ``NAME.meta.yml``."""
    candidates = (path.with_name(path.stem + suffix) for suffix in SIDECAR_SUFFIXES)
    return next((candidate for candidate in candidates if candidate.is_file()), None)


def unique_speech_id(name: str, taken_ids: set[str]) -> str:
    """``name`` made safe (letters, CJK, digits, ``-``, ``_``), with ``-2``, ``-3``... if taken; it is then taken."""
    base = UNSAFE_ID_CHARS.sub("_", name.strip()) or "speech"
    speech_id, number = base, 1
    while speech_id in taken_ids:
        number += 1
        speech_id = f"{base}-{number}"
    taken_ids.add(speech_id)
    return speech_id


def parse_speech_date(text: str, *, most_specific: bool = False) -> tuple[str, int] | None:
    """The first date in ``text`` as (ISO date, year): "2023-01-12", "2023-01" or "2023"; None if there is none.

    With ``most_specific`` a full date anywhere beats a year-month, which beats a bare year; ties go to the first.
    """
    found: list[tuple[int, int, tuple[str, int]]] = []
    for pattern in (CHINESE_DATE, NUMERIC_DATE):
        for match in pattern.finditer(text):
            parsed = _date_parts(*match.groups())
            if parsed is not None:
                found.append((-parsed[0].count("-") if most_specific else 0, match.start(), parsed))
    return min(found)[2] if found else None


def read_sidecar(sidecar: Path) -> dict[str, str]:
    """The fields of a metadata sidecar, as strings; raises ``SpeechFileError`` naming it if it is malformed."""
    return _sidecar_fields(sidecar, _parse_sidecar(sidecar))


def _parse_sidecar(sidecar: Path) -> Any:
    try:
        content = sidecar.read_text(encoding="utf-8-sig")
        if sidecar.suffix == ".json":
            return json.loads(content)
        import yaml

        return yaml.safe_load(content)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise SpeechFileError(sidecar, f"malformed metadata sidecar ({error})") from error
    except Exception as error:  # yaml.YAMLError and friends
        raise SpeechFileError(sidecar, f"malformed metadata sidecar ({type(error).__name__}: {error})") from error


def _sidecar_fields(sidecar: Path, data: Any) -> dict[str, str]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SpeechFileError(sidecar, "malformed metadata sidecar (expected an object of field: value)")
    fields: dict[str, str] = {}
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()[:10]
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise SpeechFileError(sidecar, f"malformed metadata sidecar (field '{key}' must be text)")
        if value.strip():
            fields[str(key)] = value.strip()
    return fields


def _date_from(fields: dict[str, str], sidecar: Path) -> tuple[str | None, int | None]:
    """A sidecar's date (which sets the year too) or bare year; (None, None) if it has neither."""
    value = fields.pop("date", None) or fields.pop("year", None)
    if value is None:
        return None, None
    fields.pop("year", None)
    parsed = parse_speech_date(value + "年" if value.isdigit() else value)  # a bare "2023" is a year here
    if parsed is None:
        raise SpeechFileError(sidecar, f"malformed metadata sidecar (date '{value}' is not a date like 2023-01-12)")
    return parsed


def _speech_date(title: str, text: str) -> tuple[str, int] | None:
    """The title's date, made more specific by the text's opening when that agrees on the year."""
    in_title, in_text = parse_speech_date(title), _date_in_opening(text)
    if in_title is None:
        return in_text
    if in_text is not None and in_text[1] == in_title[1] and in_text[0].startswith(in_title[0]):
        return in_text
    return in_title


def _date_in_opening(text: str) -> tuple[str, int] | None:
    """The most specific date in the opening of a text; a bare year only from a short (title-like) line."""
    opening = text[:DATE_SEARCH_CHARS]
    found = parse_speech_date(opening, most_specific=True)
    if found is None or "-" in found[0]:
        return found
    return parse_speech_date("\n".join(line for line in opening.split("\n") if len(line) <= SHORT_LINE))


def _date_parts(year: str, month: str | None, day: str | None) -> tuple[str, int] | None:
    number = cn_number(year)
    if number not in YEAR_RANGE:
        return None
    month_number, day_number = cn_number(month), cn_number(day)
    if month_number is None or not 1 <= month_number <= 12:
        return f"{number:04d}", number
    if day_number is not None:
        try:
            return dt.date(number, month_number, day_number).isoformat(), number
        except ValueError:
            pass
    return f"{number:04d}-{month_number:02d}", number

