"""``python app.py``'s arguments, read before anything is opened (the commands themselves: tests/answer/
test_cli_answers.py, with real processes)."""

from __future__ import annotations

import argparse

import pytest

import app


@pytest.mark.parametrize(("text", "years"), [
    ("2020-2023", (2020, 2023)), ("2021", (2021, 2021)), ("2020-", (2020, None)), ("-2023", (None, 2023)),
    (" 2020 - 2023 ", (2020, 2023)), ("", None), (None, None),
])
def test_the_years_forms(text, years):
    assert app.parse_years(text) == years


@pytest.mark.parametrize("text", ["20x", "2020-20-21", "二〇二〇", "2020..2023"])
def test_other_years_are_a_usage_error_naming_the_forms(text, capsys):
    with pytest.raises(argparse.ArgumentTypeError, match="2020-2023, 2021, 2020- or -2023"):
        app.parse_years(text)
    with pytest.raises(SystemExit) as exited:
        app.main(["ask", "经济增长目标？", "--years", text])
    assert exited.value.code == 2 and "2020-2023, 2021, 2020- or -2023" in capsys.readouterr().err
