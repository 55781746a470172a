"""One library, several processes (issue 12, item 1): ``python -m ingest`` beside a running ``python app.py``.

On disk the running app is the library's one writer: the CLI hands its work to the app (ingest/writer.py), and the
app answers from the new library at once: a question filtered to the new speech, a comparison with it, and a
question that only its meaning matches (dense search: no word in common). On a Chroma server the CLI writes
directly and the app sees the change by the library's generation. The app here requires an access token: the
CLI's hand-off does not need it, and the token does not open the local write route.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, SAMPLES, SHARED
from reliability_helpers import NEW_SPEECH, start_app, stop

pytestmark = pytest.mark.slow

TOKEN = "live-library-token-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NEW_ID = "2026-amber-bay"
BY_MEANING = "海底通道何时动工"  # not one character bigram in common with the speech: only dense search finds it
SAMPLE_ID = "2025-city-work-meeting"
PROVINCIAL = SHARED / "corpora" / "provincial-2025"


def run_cli(data_dir: Path, *args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SPEECHES_")}
    environ.update(SPEECHES_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", **env)
    return subprocess.run([sys.executable, "-m", "ingest", "--quiet", *args], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=timeout)


def ask(url: str, question: str, headers=None, **body) -> dict:
    response = httpx.post(f"{url}/api/ask", json={"question": question, **body}, headers=headers, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def said(log: Path, text: str) -> bool:
    return log.exists() and text in log.read_text(errors="replace")


def answers_from_the_new_speech(url: str, headers=None, compare: bool = True) -> None:
    """The three things a stale app got wrong: filtered, compared, found by meaning."""
    filtered = ask(url, "琥珀湾跨海隧道工程什么时候开工？", headers, speech_ids=[NEW_ID])
    assert filtered["found"] and filtered["context"][0]["speech_id"] == NEW_ID, filtered
    assert "月底前要全面开工" in filtered["answer"]
    if compare:
        compared = httpx.post(f"{url}/api/compare", json={"speech_a": NEW_ID, "speech_b": SAMPLE_ID,
                                                          "topic": "隧道工程"}, headers=headers, timeout=120)
        assert compared.status_code == 200, compared.text
        assert compared.json()["speeches"]["A"]["found"], compared.json()
    by_meaning = ask(url, BY_MEANING, headers)
    assert by_meaning["context"] and by_meaning["context"][0]["speech_id"] == NEW_ID, by_meaning["context"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """``python app.py`` on an on-disk library (the samples), with an access token."""
    home = tmp_path_factory.mktemp("live-app")
    data_dir = home / "data"
    process, url = start_app(data_dir, home / "app.log", SPEECHES_ACCESS_TOKEN=TOKEN)
    yield process, url, data_dir, home
    stop(process)


def test_ingest_prune_and_reindex_beside_the_running_app_are_done_by_it(app, tmp_path):
    process, url, data_dir, home = app
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / f"{NEW_ID}.txt").write_text(NEW_SPEECH, encoding="utf-8")

    added = run_cli(data_dir, str(folder))
    assert added.returncode == 0, added.stderr
    assert "added 1, updated 0, unchanged 0, failed 0" in added.stdout
    assert f"the app (pid {process.pid}" in added.stderr and "does this run" in added.stderr
    answers_from_the_new_speech(url, AUTH)  # at once: no wait, no restart

    (folder / f"{NEW_ID}.txt").write_text(NEW_SPEECH.replace("6月底前", "5月底前"), encoding="utf-8")
    updated = run_cli(data_dir, str(folder))
    assert "added 0, updated 1" in updated.stdout, updated.stdout + updated.stderr
    assert "5月底前" in ask(url, "琥珀湾跨海隧道工程什么时候开工？", AUTH, speech_ids=[NEW_ID])["answer"]

    reindexed = run_cli(data_dir, "--reindex")
    assert reindexed.returncode == 0 and "reindexed 4" in reindexed.stdout, reindexed.stdout + reindexed.stderr
    answers_from_the_new_speech(url, AUTH)

    (folder / f"{NEW_ID}.txt").unlink()
    pruned = run_cli(data_dir, str(folder), "--prune")
    assert pruned.returncode == 0 and "pruned 1" in pruned.stdout, pruned.stdout + pruned.stderr
    listed = {s["id"] for s in httpx.get(f"{url}/api/speeches", headers=AUTH, timeout=30).json()}
    assert NEW_ID not in listed and SAMPLE_ID in listed

    missing = run_cli(data_dir, str(tmp_path / "nothing-here.txt"))
    assert missing.returncode == 1 and "FAILED" in missing.stdout  # the same exit status as a run of its own
    other = run_cli(data_dir, str(folder), SPEECHES_CHUNK_SIZE="200")
    assert other.returncode == 2 and "SPEECHES_CHUNK_SIZE=300" in other.stderr  # never written with other settings
    assert process.poll() is None


def test_no_wait_returns_once_keyword_ready_and_the_app_embeds_behind(app, tmp_path):
    """Keywords first (issue 16): ``--no-wait`` returns after the keyword step, the speech answers a filtered
    question at once, its state shows in the API and ``--list``, and the app embeds its vectors behind."""
    process, url, data_dir, _ = app
    folder = tmp_path / "report"
    folder.mkdir()
    shutil.copy(PROVINCIAL / "吉林省.txt", folder / "jilin.txt")
    added = run_cli(data_dir, "--no-wait", str(folder))
    assert added.returncode == 0 and "added 1" in added.stdout, added.stdout + added.stderr
    assert "1 speech is answerable by keywords and waits for vectors" in added.stdout

    def state() -> dict:
        listed = httpx.get(f"{url}/api/speeches", headers=AUTH, timeout=30).json()
        return next(s for s in listed if s["id"] == "jilin")

    first = state()
    assert first["state"] in ("keyword", "vectors") and first["vectors"] < first["passages"], first
    answered = ask(url, "红旗汽车产销量增长了多少？", AUTH, speech_ids=["jilin"])
    assert answered["found"] and answered["citations"][0]["speech_id"] == "jilin", answered
    listing = subprocess.run([sys.executable, "-m", "ingest", "--list"], cwd=ROOT, capture_output=True, text=True,
                             env={**os.environ, "SPEECHES_DATA_DIR": str(data_dir)}, timeout=120)
    row = next(line for line in listing.stdout.splitlines() if line.startswith("jilin "))
    assert " keyword " in row or " vectors " in row, listing.stdout
    assert "waiting for vectors" in listing.stdout

    deadline = time.monotonic() + 300
    while (now := state())["state"] != "complete":
        assert time.monotonic() < deadline, f"the app did not finish the vectors: {now}"
        assert now["vectors"] >= first["vectors"]
        time.sleep(1)
    again = ask(url, "红旗汽车产销量增长了多少？", AUTH, speech_ids=["jilin"])
    assert again["found"] and again["citations"][0]["start"] == answered["citations"][0]["start"]
    assert process.poll() is None


def test_an_app_killed_in_the_vector_step_resumes_it_when_it_starts_again(tmp_path):
    data_dir = tmp_path / "data"
    log = tmp_path / "app.log"
    process, url = start_app(data_dir, log)
    try:
        shutil.copy(PROVINCIAL / "吉林省.txt", tmp_path / "jilin.txt")
        assert run_cli(data_dir, "--no-wait", str(tmp_path / "jilin.txt")).returncode == 0
        deadline = time.monotonic() + 300
        while True:
            listed = {s["id"]: s for s in httpx.get(f"{url}/api/speeches", timeout=30).json()}
            if listed["jilin"]["vectors"] > 0:
                break
            assert time.monotonic() < deadline, listed["jilin"]
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
    finally:
        stop(process)
    listing = run_cli(data_dir, "--list")
    row = next(line for line in listing.stdout.splitlines() if line.startswith("jilin "))
    assert " vectors " in row, listing.stdout  # half-embedded: n of m

    process, url = start_app(data_dir, log)
    try:
        answered = ask(url, "红旗汽车产销量增长了多少？", speech_ids=["jilin"])  # by keywords meanwhile
        assert answered["found"] and answered["citations"][0]["speech_id"] == "jilin"
        deadline = time.monotonic() + 300
        while (jilin := next(s for s in httpx.get(f"{url}/api/speeches", timeout=30).json()
                             if s["id"] == "jilin"))["state"] != "complete":
            assert time.monotonic() < deadline, f"the restarted app did not finish the vectors: {jilin}"
            time.sleep(1)
    finally:
        stop(process)


def test_the_local_write_route_needs_the_secret_and_a_local_connection(app):
    import json

    process, url, data_dir, _ = app
    record = json.loads((data_dir / "writer.json").read_text())
    assert record["pid"] == process.pid and record["url"] == url
    assert (data_dir / "writer.json").stat().st_mode & 0o077 == 0  # this user's only
    route = f"{url}/_local/write"
    body = {"request": {"paths": [], "prune": True}, "settings": {}}
    secret = {"X-Speeches-Local-Secret": record["secret"]}
    for headers in ({}, AUTH, {"X-Speeches-Local-Secret": "guess"}, {**AUTH, "X-Speeches-Local-Secret": "guess"},
                    {**secret, "X-Forwarded-For": "10.1.2.3"}, {**secret, "Forwarded": "for=10.1.2.3"}):
        refused = httpx.post(route, json=body, headers=headers, timeout=30)
        assert refused.status_code == 403, (headers, refused.text)
    assert httpx.get(route, headers=secret, timeout=30).status_code == 405
    # through the app's own routes, the token alone opens nothing of it either
    assert httpx.post(f"{url}/api/_local/write", json=body, headers=AUTH, timeout=30).status_code in (404, 405)


def test_an_app_and_two_ingest_runs_take_turns_on_one_library(tmp_path):
    """While a writer holds the library (here the test, as an ingest run would), a second ``python -m ingest``
    and a starting app wait, saying so; once it lets go, both finish: whichever comes first writes, and the
    other waits for it or (the CLI) hands its work to the app."""
    import threading

    from ingest.writer import INGEST, claim_library
    from settings import Settings

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (tmp_path / f"{NEW_ID}.txt").write_text(NEW_SPEECH, encoding="utf-8")
    holder = claim_library(Settings(data_dir=data_dir, _env_file=None), INGEST, say=print)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SPEECHES_")}
    environ.update(SPEECHES_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    cli = subprocess.Popen([sys.executable, "-m", "ingest", "--quiet", str(tmp_path / f"{NEW_ID}.txt")], cwd=ROOT,
                           env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    app_log = tmp_path / "app.log"
    started: dict = {}
    starter = threading.Thread(target=lambda: started.update(app=start_app(data_dir, app_log)))
    try:
        starter.start()
        deadline = time.monotonic() + 120
        while not said(app_log, f"waiting for another python -m ingest (pid {os.getpid()})"):
            assert time.monotonic() < deadline and starter.is_alive(), "the app did not say that it waits"
            time.sleep(0.2)
        assert cli.poll() is None, cli.communicate()  # waiting too
        assert not (data_dir / "chroma").exists()  # nobody wrote meanwhile
        holder.release()
        out, err = cli.communicate(timeout=600)
        assert cli.returncode == 0, err
        assert f"waiting for another python -m ingest (pid {os.getpid()})" in err
        assert "added 1" in out
        starter.join(timeout=600)
        process, url = started["app"]
        try:
            listed = {s["id"] for s in httpx.get(f"{url}/api/speeches", timeout=30).json()}
            assert NEW_ID in listed, listed
            answers_from_the_new_speech(url, compare=False)
        finally:
            stop(process)
    finally:
        holder.release()
        if cli.poll() is None:
            cli.send_signal(signal.SIGKILL)
            cli.wait()


def test_on_a_chroma_server_the_cli_writes_and_the_app_answers_from_it_at_once(tmp_path, session_chroma):
    session_chroma.clear()
    env = {"SPEECHES_CHROMA_URL": session_chroma.url}
    (tmp_path / "app").mkdir()
    process, url = start_app(tmp_path / "app" / "data", tmp_path / "app.log", **env)
    try:
        ask(url, BY_MEANING)  # the app has its listing, keyword index and vectors in memory before the change
        ask(url, "生态环境保护要坚持什么？", speech_ids=[SAMPLE_ID])
        (tmp_path / f"{NEW_ID}.txt").write_text(NEW_SPEECH, encoding="utf-8")
        cli_data = tmp_path / "cli" / "data"  # another machine, as far as the files go: only the server is shared
        added = run_cli(cli_data, str(tmp_path / f"{NEW_ID}.txt"), **env)
        assert added.returncode == 0 and "added 1" in added.stdout, added.stdout + added.stderr
        assert "holds the library" not in added.stderr  # no hand-off: the server serialises the writes
        answers_from_the_new_speech(url)
        deleted = run_cli(cli_data, "--prune", **env)  # its file is still there: nothing pruned
        assert "pruned" not in deleted.stdout
        removed = run_cli(cli_data, "--remove-samples", **env)
        assert removed.returncode == 0 and "samples removed 3" in removed.stdout, removed.stdout + removed.stderr
        listed = {s["id"] for s in httpx.get(f"{url}/api/speeches", timeout=30).json()}
        assert listed == {NEW_ID}
        gone = httpx.post(f"{url}/api/ask", json={"question": "经济", "speech_ids": [SAMPLE_ID]}, timeout=60)
        assert gone.status_code == 404, gone.text  # a speech another process deleted: a clear 404, no 500
    finally:
        stop(process)
    assert SAMPLES.exists()
