"""Every setting is in the README's Settings table, and every row of it is a setting."""

from __future__ import annotations

import re

from conftest import ROOT

from settings import Settings


def documented() -> set[str]:
    """The variables the table names; ``_MODEL`` after ``SPEECHES_OPENAI_BASE_URL`` is ``SPEECHES_OPENAI_MODEL``."""
    fields = {f"SPEECHES_{name.upper()}" for name in Settings.model_fields}
    names: set[str] = set()
    for row in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if not row.startswith("| `SPEECHES_"):
            continue
        first, *others = re.findall(r"`(SPEECHES_[A-Z0-9_]+|_[A-Z0-9_]+)`", row.split("|")[1])
        names.add(first)
        for name in others:
            if name.startswith("SPEECHES_"):
                names.add(name)
                continue
            expanded = {first[:i] + name for i, c in enumerate(first) if c == "_"} & fields
            assert expanded, f"README: {name} after {first} names no setting"
            names |= expanded
    return names


def test_every_setting_is_in_the_readme_and_every_row_is_a_setting():
    fields = {f"SPEECHES_{name.upper()}" for name in Settings.model_fields}
    assert fields - documented() == set(), "settings missing from README.md's Settings table"
    assert documented() - fields == set(), "README.md documents settings that settings.py does not have"
