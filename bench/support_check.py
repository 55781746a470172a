"""The citation check against a labelled set of supported and unsupported answer sentences.

    python bench/support_check.py [--set bench/sets/support_labelled.jsonl] [--show]

Each line of the set is one answer sentence with its citation markers, the passages those markers cite, and a label:
{"id", "sentence", "cites": {"1": {"speech": ID, "anchor": WORDS}, "A1": …}, "supported": bool, "source", "why"}.
A cited passage is the passage (the ingest pipeline's reading and 300/80 chunking of ../shared's speeches) that holds
``anchor``; the set stores no speech text beyond those anchors. Every passage of a line is the answer's context (so a
sentence without markers is checked against all of them, and A/B labels make it a comparison).

Both checks run on every sentence: the one until now (``answer.citations.unsupported_sentences``: bigram overlap and
digits) and the stricter one (``answer.verify.unsupported``). A flagged sentence is a "positive"; precision is the
share of flagged sentences that are unsupported, recall the share of unsupported sentences flagged. The last line is
one JSON object with both checks' figures (docs/answers.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared"
SET = ROOT / "bench" / "sets" / "support_labelled.jsonl"
JSONL = (SHARED / "corpora" / "national-work-reports.jsonl", SHARED / "corpora" / "party-congress-reports.jsonl")


@cache
def speech(speech_id: str):
    """The ingest pipeline's ``Speech`` for an id of ../shared: a seed, a provincial report or a JSONL document."""
    from ingest.metadata import load_speech

    for path in (SHARED / "speeches" / "seed" / f"{speech_id}.txt",
                 SHARED / "corpora" / "provincial-2025" / f"{speech_id}.txt"):
        if path.is_file():
            return load_speech(path)
    for corpus in JSONL:
        for line in corpus.open(encoding="utf-8"):
            doc = json.loads(line)
            if doc["id"] == speech_id:
                folder = Path(tempfile.mkdtemp(prefix="support-check-"))
                (folder / "doc.txt").write_text(doc["text"], encoding="utf-8")
                sidecar = {"id": speech_id, "title": doc["title"], **({"year": doc["year"]} if doc.get("year") else {})}
                (folder / "doc.meta.json").write_text(json.dumps(sidecar, ensure_ascii=False), encoding="utf-8")
                return load_speech(folder / "doc.txt")
    raise ValueError(f"no speech {speech_id!r} in {SHARED}")


def cited_passage(label: str, speech_id: str, anchor: str):
    """The citation ``label`` for the passage of ``speech_id`` that holds ``anchor`` (the first one)."""
    from answer.types import Citation
    from ingest.chunking import split_passages

    s = speech(speech_id)
    for p in split_passages(s.id, s.text):
        if anchor in p.text:
            return Citation(label, s.id, s.title, s.date, p.start, p.end, p.text, p.section)
    raise ValueError(f"no passage of {speech_id!r} holds {anchor!r}")


def context_of(row: dict) -> dict:
    return {label: cited_passage(label, c["speech"], c["anchor"]) for label, c in row["cites"].items()}


def notes_of(context: dict) -> dict[str, str]:
    from answer.verify import speech_notes

    return speech_notes([speech(c.speech_id) for c in context.values()])


def figures(flags: list[bool], labels: list[bool]) -> dict:
    """Precision and recall of flagging unsupported sentences (label False = unsupported)."""
    true_pos = sum(f and not s for f, s in zip(flags, labels))
    flagged, unsupported = sum(flags), sum(not s for s in labels)
    return {"flagged": flagged, "caught": true_pos,
            "precision": round(true_pos / flagged, 3) if flagged else None,
            "recall": round(true_pos / unsupported, 3) if unsupported else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", type=Path, default=SET)
    parser.add_argument("--show", action="store_true", help="print each sentence the checks disagree with the label on")
    args = parser.parse_args()

    from answer.citations import unsupported_sentences
    from answer.verify import unsupported

    rows = [json.loads(line) for line in args.set.read_text(encoding="utf-8").splitlines() if line.strip()]
    labels, today, strict, by_source = [], [], [], {}
    for row in rows:
        context = context_of(row)
        old = bool(unsupported_sentences(row["sentence"], context))
        found = unsupported(row["sentence"], context, notes_of(context))
        new = bool(found)
        labels.append(row["supported"])
        today.append(old)
        strict.append(new)
        by_source.setdefault(row.get("source", ""), []).append((row["supported"], old, new))
        if args.show and (new == row["supported"] or old == row["supported"]):
            print(f"{row['id']} label={'supported' if row['supported'] else 'UNSUPPORTED'} today={old} "
                  f"strict={new} {row['sentence']} | {found[0].reason if found else ''}")
    result = {
        "sentences": len(rows), "unsupported": sum(not s for s in labels),
        "today": figures(today, labels), "strict": figures(strict, labels),
        "by_source": {source: {"sentences": len(items), "today": figures([o for _, o, _ in items],
                                                                          [s for s, _, _ in items]),
                               "strict": figures([n for _, _, n in items], [s for s, _, _ in items])}
                      for source, items in sorted(by_source.items())},
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
