"""Input a user can correct, said once for every way it reaches them.

``BadInput`` names what was wrong by a ``key`` and its ``values``; its text (``str()``) is English for the command
line and the log, and web/errors.py says the same in the UI's language for the pages and the API. A new kind of bad
input is one entry here and one in web/errors.py's messages.
"""

from __future__ import annotations

import unicodedata

ENGLISH = {
    "empty": "the {what} is empty (nothing but blank or invisible characters)",
    "not_text": "the {what} must be text",
    "surrogates": "the {what} holds invalid characters (unpaired UTF-16 surrogates)",
    "too_long": "the {what} is too long ({length} characters; at most {limit}, {setting})",
    "no_sentence": "the {what} holds no sentence of at least {length} characters",
    "year_range": "years must lie between {low} and {high}, not {year}",
    "years_reversed": "year range is reversed: {low} > {high}",
    "same_speech": "pick two different speeches to compare (both are {speech!r})",
    "history": "history item {index} {problem}",
    "history_turns": "the history has {count} messages; at most {limit} are accepted (SPEECHES_MAX_HISTORY_TURNS): "
                     "send the most recent ones",
    "history_chars": "the history holds over {limit} characters (SPEECHES_MAX_HISTORY_CHARS): send the most recent "
                     "messages that fit",
}


class BadInput(ValueError):
    def __init__(self, key: str, **values) -> None:
        self.key, self.values = key, values
        super().__init__(ENGLISH[key].format(**values))


# Characters that show nothing although Unicode calls them letters or symbols (fillers, the braille blank).
_BLANK_LOOKALIKES = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def checked_text(value: object, what: str, limit: int, setting: str = "SPEECHES_MAX_QUESTION_CHARS") -> str:
    """A question, topic or draft, stripped; BadInput when it is not text, shows nothing (blank, zero-width and
    other invisible characters only), holds unpaired surrogates, or is over ``limit`` characters (``setting``)."""
    if not isinstance(value, str):
        raise BadInput("not_text", what=what)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput("surrogates", what=what) from None
    value = value.strip()
    if not any(unicodedata.category(c)[0] in "LNPS" and c not in _BLANK_LOOKALIKES for c in value):
        raise BadInput("empty", what=what)
    if len(value) > limit:
        raise BadInput("too_long", what=what, length=len(value), limit=limit, setting=setting)
    return value
