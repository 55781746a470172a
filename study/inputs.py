"""The one check of a text a user gives the study tools (a draft to check, a topic): ValueError naming what was
wrong, which the CLI shows as one line (exit 2) and the web app as a 400."""

from __future__ import annotations


def checked_text(value: object, what: str, limit: int, setting: str) -> str:
    """``value`` stripped; ValueError when it is not text, holds unpaired surrogates, has nothing a reader could see
    (no letter or digit), or is over ``limit`` characters (``setting``)."""
    if not isinstance(value, str):
        raise ValueError(f"the {what} must be text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"the {what} holds invalid characters (unpaired UTF-16 surrogates)") from None
    value = value.strip()
    if not any(c.isalnum() for c in value):
        raise ValueError(f"the {what} is empty (no letters or digits)")
    if len(value) > limit:
        raise ValueError(f"the {what} is too long ({len(value)} characters; at most {limit}, {setting})")
    return value
