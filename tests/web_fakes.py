"""A fake Assistant for the web app's unit tests: the interface of answer.service.Assistant, canned answers, an
in-memory library. It checks no input: what the app refuses is tested against the real Assistant (tests/test_web_api.py
``real_client``, tests/test_web_ui_real.py); the browser tests (tests/browser/) run the real one too."""

from __future__ import annotations

from pathlib import Path

from answer.events import Delta, Done, collect
from answer.segments import parse
from answer.types import Answer, Citation, Comparison, SpeechSide
from ingest.pipeline import IngestReport
from ingest.store import StoredSpeech, UnknownSpeechError

CITY = "2025-city-work-meeting"
COUNTY = "2024-county-congress"
TEXTS = {
    CITY: "在全市经济工作会议上的讲话\n同志们：\n今年全市经济增长的预期目标是5%左右。<script>alert('x')</script>\n"
          "要持续优化营商环境，让企业办事更便捷。",
    COUNTY: "在县人民代表大会闭幕会上的讲话\n各位代表：\n今年全县地区生产总值增长6%左右。\n要办好十件民生实事。",
}
TITLES = {CITY: "在全市经济工作会议上的讲话", COUNTY: "在县人民代表大会闭幕会上的讲话"}
DATES = {CITY: "2025-02-10", COUNTY: "2024-01-18"}


def stored(speech_id: str, text: str, title: str, date: str | None, source: str = "") -> StoredSpeech:
    return StoredSpeech(
        id=speech_id, title=title, date=date, year=int(date[:4]) if date else None, speaker=None, occasion=None,
        source=source or f"/speeches/{speech_id}.txt", passages=2, characters=len(text), version="v1",
        file_sha256="0" * 64, ingested_at="2026-11-23T00:00:00+00:00", extra={}, chunking="300/80",
    )


def citation(label: str, speech_id: str, sentence: str) -> Citation:
    text = TEXTS[speech_id]
    start = text.index(sentence)
    return Citation(label, speech_id, TITLES[speech_id], DATES[speech_id], start, start + len(sentence), sentence,
                    None, 0.9)


class FakeStore:
    def __init__(self) -> None:
        self.texts = dict(TEXTS)
        self.records = {sid: stored(sid, text, TITLES[sid], DATES[sid]) for sid, text in TEXTS.items()}

    def list_speeches(self) -> list[StoredSpeech]:
        return sorted(self.records.values(), key=lambda s: (s.date or "", s.id))

    def get_speech(self, speech_id: str) -> StoredSpeech:
        if speech_id not in self.records:
            raise UnknownSpeechError(speech_id)
        return self.records[speech_id]

    def speech_text(self, speech_id: str) -> str:
        self.get_speech(speech_id)
        return self.texts[speech_id]


class FakeAssistant:
    def __init__(self) -> None:
        self.store = FakeStore()
        self.calls: list[tuple] = []
        self.error: Exception | None = None  # raised by the next ask/compare, after its first delta

    def answer(self, question: str) -> Answer:
        first = citation("1", CITY, "今年全市经济增长的预期目标是5%左右。")
        second = citation("2", COUNTY, "今年全县地区生产总值增长6%左右。")
        text = "今年全市经济增长的预期目标是5%左右。[1]"
        return Answer(question, question, text, True, [first], [first, second], [], [], "fake", 0.8,
                      segments=parse(text, {"1", "2"}))

    def ask_stream(self, question, history=None, speech_ids=None, years=None):
        self.calls.append(("ask", question, history, speech_ids, years))
        yield Delta("今年全市经济增长的预期目标是")
        if self.error:
            raise self.error
        yield Delta("5%左右。[1]")
        yield Done(self.answer(question))

    def ask(self, question, history=None, speech_ids=None, years=None) -> Answer:
        return collect(self.ask_stream(question, history, speech_ids, years)).result

    def comparison(self, speech_a: str, speech_b: str, topic: str) -> Comparison:
        a = SpeechSide("A", speech_a, TITLES[speech_a], DATES[speech_a], True,
                       [citation("A1", speech_a, TEXTS[speech_a].splitlines()[2])])
        b = SpeechSide("B", speech_b, TITLES[speech_b], DATES[speech_b], True,
                       [citation("B1", speech_b, TEXTS[speech_b].splitlines()[2])])
        text = "各自的论述：A 定了目标[A1]；B 也定了目标[B1]。"
        return Comparison(topic, a, b, text, True, [a.passages[0], b.passages[0]], [], [], "fake",
                          segments=parse(text, {"A1", "B1"}))

    def compare_stream(self, speech_a, speech_b, topic):
        self.calls.append(("compare", speech_a, speech_b, topic))
        yield Delta("各自的论述：")
        if self.error:
            raise self.error
        result = self.comparison(speech_a, speech_b, topic)
        yield Delta(result.answer[len("各自的论述："):])
        yield Done(result)

    def compare(self, speech_a, speech_b, topic) -> Comparison:
        return collect(self.compare_stream(speech_a, speech_b, topic)).result

    def ingest_staged(self, staged: Path, final: Path, on_stored) -> IngestReport:
        """As ingest/pipeline.py would: a file read as ``final``; ``on_stored`` once its speech is stored."""
        report = IngestReport()
        text = Path(staged).read_bytes().decode("utf-8", errors="replace").strip()
        speech_id = Path(final).stem
        if not text:
            report.failed.append((str(final), "file is empty"))
        elif any(t == text for sid, t in self.store.texts.items() if sid != speech_id):
            report.duplicates.append((str(final), next(sid for sid, t in self.store.texts.items() if t == text)))
        else:
            updated = speech_id in self.store.records
            self.store.texts[speech_id] = text
            self.store.records[speech_id] = stored(speech_id, text, text.splitlines()[0], None, str(final))
            (report.updated if updated else report.added).append(speech_id)
        on_stored(report)
        return report

    def delete(self, speech_id: str, then=lambda: None) -> None:
        self.store.get_speech(speech_id)
        del self.store.records[speech_id]
        then()
