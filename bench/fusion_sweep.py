"""Fusion sweep: every retrieval mode and fusion setting on one ingested ncppolicies-dev, in one process.

    python bench/fusion_sweep.py   (prints one JSON line per setting; figures in docs/retrieval.md)
"""
import sys, tempfile, json
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from settings import Settings, quiet_network_clients
quiet_network_clients()
from retriever.corpus import ingest_corpus, read_jsonl
from retriever.search import Retriever
from retriever.eval import evaluate
s = Settings(_env_file=None)
qs = read_jsonl(Path(str(Path(__file__).resolve().parents[2] / "shared") + "/eval/ncppolicies-dev/queries.jsonl"), ("question",))
neg = [{"question": q["question"], "gold_doc_ids": []} for q in read_jsonl(Path(str(Path(__file__).resolve().parents[2] / "shared") + "/eval/cmrc2018-trial/queries.jsonl"), ("question",))[:300]]
with tempfile.TemporaryDirectory() as tmp:
    store = ingest_corpus(Path(str(Path(__file__).resolve().parents[2] / "shared") + "/eval/ncppolicies-dev/corpus.jsonl"), s, Path(tmp), progress=False)
    local = s.model_copy(update={"data_dir": Path(tmp)/"data"})
    configs = [("keyword", {}), ("dense", {}), ("hybrid", dict(fusion="convex", dense_weight=0.3, keyword_weight=0.7)),
               ("hybrid", dict(fusion="convex", dense_weight=0.5, keyword_weight=0.5)), ("hybrid", dict(fusion="convex", dense_weight=0.4, keyword_weight=0.6)),
               ("hybrid", dict(fusion="convex", dense_weight=0.2, keyword_weight=0.8)), ("hybrid", dict(fusion="rrf", dense_weight=1, keyword_weight=1)),
               ("hybrid", dict(fusion="rrf", dense_weight=0.4, keyword_weight=0.6))]
    for mode, upd in configs:
        r = Retriever(store, local.model_copy(update=upd))
        f = evaluate(r, qs + (neg if mode == "hybrid" and upd.get("dense_weight") == 0.3 else []), k=5, mode=mode)
        print(json.dumps({"mode": mode, **upd, **{k: f[k] for k in ("recall@1","recall@5","recall@10","mrr@10","answer_hit@5","relevant_rate_on_gold","not_addressed_rate_without_gold","p50_ms","p95_ms")}}), flush=True)
