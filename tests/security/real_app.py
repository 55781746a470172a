"""The ``app`` fixture of the limit and error tests: one real ``python app.py`` per test module (extractive answers,
the real embedder, the sample speeches), on a free loopback port; it gives ``(url, data dir)``. A module that uses
it imports it: ``from real_app import app``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reliability"))
from reliability_helpers import start_app, stop  # noqa: E402


@pytest.fixture(scope="module")
def app(tmp_path_factory, request):
    folder = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    process, url = start_app(folder / "data", folder / "app.log")
    yield url, folder / "data"
    stop(process)
