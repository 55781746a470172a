"""A data dir that cannot be written (issue 6): ``python app.py`` and ``python -m ingest`` stop at start with one
line naming the folder, exit status 2, no traceback.

Two ways to make it unwritable, so the test means something for root too (root ignores permission bits):
- a data dir below a regular *file* (cannot be created, for anyone);
- a read-only folder: ``chmod 555`` for a normal user; as root, ``chattr +i`` (immutable, refused to root too) where
  the file system supports it, else that case is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_helpers import ROOT

pytestmark = pytest.mark.slow

COMMANDS = {"app": [sys.executable, str(ROOT / "app.py")], "ingest": [sys.executable, "-m", "ingest", "--list"]}


def _run(kind: str, data_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEECHES_")}
    env.update(SPEECHES_DATA_DIR=str(data_dir), SPEECHES_LLM="extractive")
    return subprocess.run(COMMANDS[kind], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _assert_clear_refusal(result: subprocess.CompletedProcess, data_dir: Path) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: the data dir ") and str(data_dir) in lines[0], lines[0]
    assert "Traceback" not in result.stderr and "SPEECHES_DATA_DIR" in lines[0]


@pytest.mark.parametrize("kind", COMMANDS)
def test_data_dir_below_a_file_is_refused_at_start(tmp_path, kind):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    data_dir = blocker / "data"
    _assert_clear_refusal(_run(kind, data_dir), data_dir)


@pytest.fixture
def read_only_dir(tmp_path):
    folder = tmp_path / "read-only-data"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    if not chattr or subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("running as root without chattr +i on this file system: cannot make a folder read-only")
    try:
        yield folder
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)


@pytest.mark.parametrize("kind", COMMANDS)
def test_read_only_data_dir_is_refused_at_start(read_only_dir, kind):
    with pytest.raises(OSError):  # the premise: nobody, root included, can write there
        (read_only_dir / "probe").write_text("x")
    result = _run(kind, read_only_dir)
    _assert_clear_refusal(result, read_only_dir)
    assert list(read_only_dir.iterdir()) == []
