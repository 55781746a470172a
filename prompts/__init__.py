"""The prompt templates, kept as text files beside this module: ``NAME.LANG.txt`` (answer; zh, en).

A file opens with ``#`` comment lines, one of which is ``# variables: a, b`` naming the variables it takes; then a
``[system]`` section and a ``[user]`` section. Placeholders are ``{name}``. The system section holds the fixed rules
and never a variable, so it is the same for every question and the local runtime can reuse its prompt cache.
Loading checks that the placeholders are exactly the declared variables.
"""

from __future__ import annotations

import re
import string
from functools import cache
from pathlib import Path

from langchain_core.prompts import ChatPromptTemplate

HERE = Path(__file__).resolve().parent
NAMES = ("answer",)
LANGUAGES = ("zh", "en")
_SECTION = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)


class PromptFileError(ValueError):
    pass


def declared_variables(text: str) -> list[str]:
    for line in text.splitlines():
        if line.startswith("# variables:"):
            return [v.strip() for v in line.removeprefix("# variables:").split(",") if v.strip()]
    raise PromptFileError("no '# variables:' line")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@cache
def load(name: str, language: str = "zh") -> ChatPromptTemplate:
    if name not in NAMES or language not in LANGUAGES:
        raise ValueError(f"no prompt {name!r} in language {language!r}; names: {NAMES}, languages: {LANGUAGES}")
    path = HERE / f"{name}.{language}.txt"
    text = path.read_text(encoding="utf-8")
    try:
        variables = declared_variables(text)
        parts = _SECTION.split(text)
        if len(parts) != 5 or parts[1] != "system" or parts[3] != "user":
            raise PromptFileError("expected a [system] section, then a [user] section")
        system, user = parts[2].strip(), parts[4].strip()
        if placeholders(system):
            raise PromptFileError(f"the system section must be fixed text, found {sorted(placeholders(system))}")
        if placeholders(user) != set(variables):
            raise PromptFileError(f"placeholders {sorted(placeholders(user))} != declared variables {variables}")
    except PromptFileError as error:
        raise PromptFileError(f"{path.name}: {error}") from None
    return ChatPromptTemplate.from_messages([("system", system), ("human", user)])
