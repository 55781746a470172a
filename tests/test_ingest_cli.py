"""python -m ingest as a user runs it: real embedding model, real on-disk Chroma, in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import BLOCK_NETWORK, HOSTILE, ROOT, SAMPLES

pytestmark = pytest.mark.slow

OFFLINE_INGEST = BLOCK_NETWORK + """
import sys
sys.argv = ["ingest"] + sys.argv[1:]
from ingest.__main__ import main
sys.exit(main())
"""


def run_ingest(tmp_path, *args, offline=False, **env):
    environ = {**os.environ, "SPEECHES_DATA_DIR": str(tmp_path / "data"), **env}
    command = [sys.executable, "-c", OFFLINE_INGEST] if offline else [sys.executable, "-m", "ingest"]
    return subprocess.run([*command, *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=600)


def test_ingest_list_and_rerun_with_the_network_blocked(tmp_path):
    first = run_ingest(tmp_path, "--quiet", str(SAMPLES), offline=True)
    assert first.returncode == 0, first.stderr
    assert "added 3, updated 0, unchanged 0, failed 0" in first.stdout
    listed = run_ingest(tmp_path, "--list", "--json", offline=True)
    speeches = {s["id"]: s for s in json.loads(listed.stdout)}
    assert set(speeches) == {"2023-ecology-forum", "2024-county-congress-closing", "2025-city-work-meeting"}
    assert speeches["2023-ecology-forum"]["title"] == "在生态环境保护大会上的讲话（示例）"
    assert speeches["2025-city-work-meeting"]["date"] == "2025-02-10"
    assert all(s["passages"] > 0 and s["characters"] > 300 for s in speeches.values())
    again = run_ingest(tmp_path, "--quiet", str(SAMPLES), offline=True)
    assert "added 0, updated 0, unchanged 3, failed 0" in again.stdout


def test_some_files_failing_exits_1_and_names_each_file(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(SAMPLES / "2025-city-work-meeting.txt", folder)
    shutil.copy(HOSTILE / "empty.txt", folder)
    shutil.copy(HOSTILE / "corrupt.pdf", folder)
    done = run_ingest(tmp_path, "--quiet", str(folder))
    assert done.returncode == 1
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 2
    assert any("empty.txt" in line for line in failed) and any("corrupt.pdf" in line for line in failed)
    assert "added 1" in done.stdout


@pytest.mark.parametrize("args", [[], ["--json"], ["--list", "x.txt"], ["--list", "--no-wait"]])
def test_usage_errors_exit_2(tmp_path, args):
    done = run_ingest(tmp_path, *args)
    assert done.returncode == 2 and "usage" in done.stderr


def test_another_backend_on_an_existing_library_exits_2_with_the_fix(tmp_path):
    assert run_ingest(tmp_path, "--quiet", str(SAMPLES / "2023-ecology-forum.md")).returncode == 0
    done = run_ingest(tmp_path, "--list", SPEECHES_EMBEDDING="st:/nonexistent")
    assert done.returncode == 2 and "model folder" in done.stderr
    from conftest import minilm_folder

    done = run_ingest(tmp_path, "--list", SPEECHES_EMBEDDING=f"st:{minilm_folder()}")
    assert done.returncode == 2 and "python -m ingest --reindex" in done.stderr and "Traceback" not in done.stderr
    rebuilt = run_ingest(tmp_path, "--reindex", "--quiet", SPEECHES_EMBEDDING=f"st:{minilm_folder()}")
    assert rebuilt.returncode == 0 and "reindexed 1" in rebuilt.stdout, rebuilt.stderr

