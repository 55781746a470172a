"""The study tools' speed (study/): the quote check and a topic across the library, ours vs the raw library calls on
the same input, measured in one run.

    python bench/study_tools.py [--speeches 1000,10000] [--runs 5] [--keep-source DIR]

1. The sample library (samples/, what app.py adds to an empty library): a draft of about 2,000 characters (quotes
   of the samples: verbatim, altered, shortened with "……", and the writer's own) checked ``--runs`` times. The
   issue asks for under 1 s.
2. ncppolicies-dev goes once into a temporary library through the real pipeline (its vectors from the embedding cache
   under SPEECHES_DATA_DIR), and a second library is filled to each size in speeches with bench/retrieve.py's
   ``Filler`` (a random subset below the corpus's 599 documents, whole replicas above: the same texts under other
   ids). At each size:
   - verify: a draft of about 2,000 characters quoting the library's own sentences (one in three altered, one in
     five shortened with "……", two of the writer's own) checked ``--runs`` times; raw: the calls the check makes to
     the library for the same quotes: the keyword search of each quote (``KeywordIndex.search``), the Chroma read of
     its candidate passages (``passages_by_id``) and of its candidate speeches' texts (``speech_text``);
   - topic: each of ``TOPICS`` followed (``follow_topic``); raw: BM25 over every passage holding the topic's tokens
     (``KeywordIndex.search`` with k = all passages), the speech list, and the Chroma read of the passages quoted.
   The ratio is ours / raw (medians). The keyword index is built before the timing (its first build is
   bench/retrieve.py's subject).
A table per part; the last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))  # after ROOT: bench/ingest.py must not hide the ingest package

from settings import Settings, quiet_network_clients  # noqa: E402

quiet_network_clients()

from ingest.embeddings import cached_embeddings  # noqa: E402
from ingest.pipeline import Ingestor  # noqa: E402
from ingest.store import open_store  # noqa: E402
from retrieve import Filler, log  # noqa: E402
from retriever.corpus import ingest_corpus  # noqa: E402
from retriever.search import Retriever  # noqa: E402
from study.align import Key  # noqa: E402
from study.quotes import CANDIDATES, SPEECHES_PER_QUOTE, check_quotes, draft_units  # noqa: E402
from study.topic import follow_topic  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval" / "ncppolicies-dev"
TOPICS = ("营商环境", "乡村振兴", "科技创新", "生态环境", "社会保障", "就业", "税收优惠", "数字经济")
DRAFT_CHARS = 2000
OWN = ("“这是起草人自己写的一句话，资料库里不会有”", "“各部门要结合实际抓好贯彻落实，确保各项任务落地见效并按时报送”")
_SENTENCE = re.compile(r"[^。！？；\n]{15,80}[。！？；]")


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return (time.perf_counter() - start) * 1000, result


def p50(samples: list[float]) -> float:
    return round(statistics.median(samples), 1)


def make_draft(texts: list[str], seed: int = 0) -> tuple[str, dict[str, int]]:
    """About DRAFT_CHARS characters of quotations of ``texts``' sentences: verbatim, altered (a character changed:
    a digit moved on by one, or a word's character), shortened with "……", and the writer's own."""
    rng = random.Random(seed)
    sentences = [s.strip() for text in texts for s in _SENTENCE.findall(text)]
    rng.shuffle(sentences)
    parts, kinds = [], {"verbatim": 0, "altered": 0, "elided": 0, "own": 0}
    for n, sentence in enumerate(sentences):
        if sum(map(len, parts)) >= DRAFT_CHARS - 120:
            break
        body = sentence.rstrip("。！？；")
        if n % 3 == 1:
            digits = [i for i, c in enumerate(body) if c.isdigit()]
            at = digits[0] if digits else len(body) // 2
            body = body[:at] + (str((int(body[at]) + 1) % 10) if digits else "某") + body[at + 1:]
            kinds["altered"] += 1
        elif n % 5 == 2 and "，" in body[5:-5]:
            cut = body.index("，", 5)
            body = body[:cut] + "……" + body[cut + (len(body) - cut) // 2:]
            kinds["elided"] += 1
        else:
            kinds["verbatim"] += 1
        parts.append(f"文件指出：“{body}”。")
    parts[len(parts) // 2:len(parts) // 2] = [f"同时强调{own}。" for own in OWN]
    kinds["own"] = len(OWN)
    return "".join(parts), kinds


def raw_verify(retriever, draft: str) -> None:
    """The library calls the check makes for ``draft``'s quotes, without the alignment."""
    store, keyword = retriever.store, retriever.synced_keyword()
    store.list_speeches()
    key = Key.of(draft)
    texts: set[str] = set()
    for unit in draft_units(key):
        hits = keyword.search(draft[unit.start:unit.end], CANDIDATES)
        found = store.passages_by_id([pid for pid, _ in hits])
        for speech_id in list(dict.fromkeys(p.speech_id for p in found.values()))[:SPEECHES_PER_QUOTE]:
            if speech_id not in texts:
                texts.add(speech_id)
                store.speech_text(speech_id)


def raw_topic(retriever, topic: str, quoted: list[str]) -> None:
    keyword = retriever.synced_keyword()
    keyword.search(topic, len(keyword))
    retriever.store.list_speeches()
    retriever.store.passages_by_id(quoted)


def measure_verify(retriever, draft: str, runs: int) -> dict:
    ours, raw, checked = [], [], None
    for _ in range(runs):
        ms, checked = timed(lambda: check_quotes(retriever, draft))
        ours.append(ms)
        raw.append(timed(lambda: raw_verify(retriever, draft))[0])
    return {"draft_chars": len(draft), "quotes": len(checked.sentences), "counts": checked.counts(),
            "verify_p50_ms": p50(ours), "verify_max_ms": round(max(ours), 1), "raw_p50_ms": p50(raw),
            "ratio": round(p50(ours) / max(p50(raw), 0.1), 2)}


def measure_topics(retriever, runs: int) -> dict:
    from study.topic import QUOTES_PER_SPEECH

    records = {s.id: s for s in retriever.store.list_speeches()}
    ours, raw, addressing = [], [], {}
    for topic in TOPICS:
        for _ in range(runs):
            ms, view = timed(lambda topic=topic: follow_topic(retriever, topic))
            ours.append(ms)
            # as many passages as the view read: the best 2 x QUOTES_PER_SPEECH of each speech listed
            ids = [pid for s in view.speeches for pid in records[s.speech_id].passage_ids()[:2 * QUOTES_PER_SPEECH]]
            raw.append(timed(lambda topic=topic, ids=ids: raw_topic(retriever, topic, ids))[0])
        addressing[topic] = view.addressing
    return {"topics": len(TOPICS), "addressing": addressing, "topic_p50_ms": p50(ours),
            "topic_max_ms": round(max(ours), 1), "raw_p50_ms": p50(raw),
            "ratio": round(p50(ours) / max(p50(raw), 0.1), 2)}


def sample_library(settings: Settings, embeddings, workdir: Path, runs: int) -> dict:
    library = settings.model_copy(update={"data_dir": workdir / "samples", "chroma_url": None})
    store = open_store(library, embeddings)
    Ingestor(store, library, progress=False).run([ROOT / "samples"])
    retriever = Retriever(store, library)
    retriever.synced_keyword()
    texts = [store.speech_text(s.id) for s in store.list_speeches()]
    draft, kinds = make_draft(texts)
    return {"speeches": len(texts), "kinds": kinds, **measure_verify(retriever, draft, runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speeches", default="1000,10000", help="library sizes in speeches, comma-separated")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each measurement")
    parser.add_argument("--keep-source", type=Path, metavar="DIR",
                        help="ingest the corpus into DIR and keep it; a later run with the same DIR reuses it")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.speeches.split(",") if s.strip()})
    settings = Settings()
    if not settings.data_dir.is_absolute():
        settings = settings.model_copy(update={"data_dir": (Path.cwd() / settings.data_dir).resolve()})
    embeddings = cached_embeddings(settings)
    summary: dict = {"bench": "study", "runs": args.runs}
    with tempfile.TemporaryDirectory(prefix="bench-study-") as tmp:
        log("the sample library: a 2,000-character draft")
        samples = sample_library(settings, embeddings, Path(tmp), args.runs)
        print(f"sample library ({samples['speeches']} speeches): a {samples['draft_chars']}-character draft, "
              f"{samples['quotes']} quotes {samples['counts']}: check p50 {samples['verify_p50_ms']} ms "
              f"(max {samples['verify_max_ms']}), raw calls {samples['raw_p50_ms']} ms, ratio {samples['ratio']}")
        summary["sample_library"] = samples

        kept = args.keep_source
        if kept is not None and (kept / "data" / "chroma").is_dir():
            source = open_store(settings.model_copy(update={"data_dir": kept / "data", "chroma_url": None}),
                                embeddings)
        else:
            log(f"ingesting {EVAL / 'corpus.jsonl'} (embedding cache {settings.data_dir / 'cache'})")
            source = ingest_corpus(EVAL / "corpus.jsonl", settings, kept or Path(tmp) / "source", progress=False)
        library = settings.model_copy(update={"data_dir": Path(tmp) / "library", "chroma_url": None})
        target = open_store(library, source._embeddings)
        filler = Filler(source, target)
        per_speech = filler.per_replica / len(filler.speeches)
        texts = [speech.text for _, speech, _, _ in filler.speeches]
        draft, kinds = make_draft(texts, seed=1)
        rows = []
        print("\n| speeches | passages | verify p50 (raw) | ratio | topic p50 (raw) | ratio | quotes found |")
        print("|---|---|---|---|---|---|---|")
        for size in sizes:
            log(f"filling to {size:,} speeches")
            filler.fill(round(size * per_speech))
            retriever = Retriever(target, library)
            build_ms, _ = timed(retriever.synced_keyword)
            verify, topics = measure_verify(retriever, draft, args.runs), measure_topics(retriever, args.runs)
            row = {"speeches": filler.speech_count, "passages": filler.passages, "index_build_ms": round(build_ms),
                   "kinds": kinds, "verify": verify, "topic": topics}
            rows.append(row)
            print(f"| {filler.speech_count:,} | {filler.passages:,} | {verify['verify_p50_ms']} ms "
                  f"({verify['raw_p50_ms']} ms) | {verify['ratio']} | {topics['topic_p50_ms']} ms "
                  f"({topics['raw_p50_ms']} ms) | {topics['ratio']} | {verify['counts']} |", flush=True)
        summary["libraries"] = rows
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
