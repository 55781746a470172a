"""The evaluation harness: its figures from known rankings, and the command on a small corpus with the real model."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest
from conftest import ROOT

from retriever.eval import evaluate


class RankedRetriever:
    """Answers each question with a fixed list of (speech id, also_in) passages."""

    def __init__(self, rankings: dict[str, list[tuple[str, tuple[str, ...]]]], relevant: bool = True):
        self.rankings, self.relevant = rankings, relevant

    def retrieve(self, question, *, k, mode):
        passages = [SimpleNamespace(speech_id=s, also_in=also, text=f"{s} 的段落，答案甲") for s, also in
                    self.rankings[question]]
        return SimpleNamespace(passages=passages[:k], relevant=self.relevant)


def test_figures_from_known_rankings():
    retriever = RankedRetriever({
        "q1": [("a", ()), ("b", ())],  # gold first
        "q2": [("x", ()), ("y", ()), ("b", ())],  # gold third
        "q3": [("x", ("c",)), ("y", ())],  # gold only as an identical copy of the first passage
        "q4": [("x", ())] * 10 + [("d", ())],  # gold eleventh: a miss
        "blank": [],
        "neg": [("x", ())],
    })
    queries = [
        {"question": "q1", "gold_doc_ids": ["a"], "answers": ["答案甲"]},
        {"question": "q2", "gold_doc_ids": ["b"], "answers": ["不在其中"]},
        {"question": "q3", "gold_doc_ids": ["c"]},
        {"question": "q4", "gold_doc_ids": ["d"]},
        {"question": "  ", "gold_doc_ids": ["a"]},
        {"question": "neg", "gold_doc_ids": []},
    ]
    got = evaluate(retriever, queries, k=5, mode="hybrid")
    assert got["queries"] == 5 and got["skipped_blank"] == 1 and got["with_gold"] == 4
    assert got["recall@1"] == 0.5 and got["recall@5"] == 0.75 and got["recall@10"] == 0.75
    assert got["mrr@10"] == round((1 + 1 / 3 + 1) / 4, 4)
    assert got["strict_recall@1"] == 0.25 and got["strict_mrr@10"] == round((1 + 1 / 3) / 4, 4)
    assert got["answer_hit@5"] == 0.5
    assert got["not_addressed_rate_without_gold"] == 0.0 and got["relevant_rate_on_gold"] == 1.0
    assert got["p95_ms"] >= got["p50_ms"] >= 0


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _run(*args, env_dir):
    return subprocess.run(
        [sys.executable, "-m", "retriever.eval", *map(str, args), "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "SPEECHES_DATA_DIR": str(env_dir)},
    )


@pytest.mark.slow
def test_the_command_on_a_small_corpus_with_the_real_model(tmp_path):
    corpus, queries = tmp_path / "corpus.jsonl", tmp_path / "queries.jsonl"
    _write_jsonl(corpus, [
        {"id": "farm", "title": "春耕通知", "text": "今年粮食播种面积稳定在十七亿亩以上，大豆油料扩种要落到田块。"},
        {"id": "city", "title": "城市工作会议讲话",
         "text": "实施城市更新行动，改造老旧小区两千个，新建地下管网三百公里。"},
        {"id": "sea", "title": "海洋经济报告",
         "text": "建设现代海洋牧场，远洋渔业产量增长百分之五，港口吞吐量创新高。"},
    ])
    _write_jsonl(queries, [
        {"id": "1", "question": "粮食播种面积稳定在多少？", "gold_doc_ids": ["farm"], "answers": ["十七亿亩"]},
        {"id": "2", "question": "要改造多少个老旧小区？", "gold_doc_ids": ["city"], "answers": ["两千个"]},
        {"id": "3", "question": "远洋渔业产量增长多少？", "gold_doc_ids": ["sea"], "answers": ["百分之五"]},
    ])
    for mode in ("keyword", "dense", "hybrid"):
        done = _run("--corpus", corpus, "--queries", queries, "--mode", mode, env_dir=tmp_path / "data")
        assert done.returncode == 0, done.stderr
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        assert figures["mode"] == mode and figures["queries"] == 3 and figures["passages"] == 3
        assert figures["recall@1"] == 1.0 and figures["mrr@10"] == 1.0 and figures["answer_hit@5"] == 1.0
        assert {"recall@5", "recall@10", "p50_ms", "p95_ms"} <= set(figures)


def test_a_malformed_query_file_is_a_clear_error(tmp_path):
    corpus, queries = tmp_path / "corpus.jsonl", tmp_path / "queries.jsonl"
    _write_jsonl(corpus, [{"id": "a", "title": "t", "text": "正文。"}])
    queries.write_text('{"id": "1", "question": "问题"}\n{not json\n', encoding="utf-8")
    done = _run("--corpus", corpus, "--queries", queries, env_dir=tmp_path / "data")
    assert done.returncode == 2
    assert f"{queries}:2: not valid JSON" in done.stderr and "Traceback" not in done.stderr
