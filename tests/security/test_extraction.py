"""Issue 11, finding 4: extraction bombs. A PDF, DOCX or HTML file is refused, with a reason naming the limit, when
it would cost more pages, characters or time than the limits allow; the other files of the same ingest run still go
in; through a real ``python app.py`` a bomb upload is refused and a normal upload right after it succeeds.
How fast: bench/extraction.py (tests assert outcomes, not times)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import httpx
import pytest
from conftest import HOSTILE, SEED, FakeEmbeddings

from ingest.pipeline import Ingestor
from ingest.readers import ReadLimits, SpeechFileError, read_speech_text
from ingest.store import open_store
from security.hostile_files import TEXT_LINE, form_bomb, long_docx, shared_stream_bomb, text_pdf, write_pdf
from settings import Settings



def refusal(path: Path, limits: ReadLimits | None = None) -> str:
    with pytest.raises(SpeechFileError) as caught:
        read_speech_text(path, limits=limits)
    assert caught.value.path == path
    return caught.value.reason


def test_pdf_whose_pages_share_one_huge_content_stream_is_refused_before_extraction(tmp_path):
    reason = refusal(shared_stream_bomb(tmp_path / "bomb.pdf"))
    assert "decompression bomb" in reason and "MB of content" in reason, reason


def test_a_page_that_draws_one_form_thousands_of_times_is_stopped_by_the_time_limit(tmp_path):
    bomb = form_bomb(tmp_path / "form.pdf")
    reason = refusal(bomb)
    assert "took more than 2.2 s of processor time" in reason and "SPEECHES_EXTRACT_TIMEOUT" in reason, reason
    assert " 1 s" in refusal(bomb, ReadLimits(timeout=1)), "the setting caps the time"


def test_pdf_over_the_page_limit_is_refused(tmp_path):
    reason = refusal(text_pdf(tmp_path / "long.pdf", pages=30), ReadLimits(max_pages=20))
    assert reason == "PDF has 30 pages; the limit is 20 (SPEECHES_MAX_PDF_PAGES)"


def test_pdf_docx_and_html_over_the_character_limit_are_refused(tmp_path):
    limits = ReadLimits(max_chars=20_000)
    pdf = write_pdf(tmp_path / "many.pdf", [TEXT_LINE * 200] * 10, list(range(10)))
    assert "PDF text is too long: over 20,000 characters (SPEECHES_MAX_SPEECH_CHARS)" == refusal(pdf, limits)
    assert "DOCX text is too long" in refusal(long_docx(tmp_path / "many.docx", 30_000), limits)
    html = tmp_path / "many.html"
    html.write_text("<html><body>" + "<p>同志们，今天召开全市经济工作会议。</p>" * 2000 + "</body></html>",
                    encoding="utf-8")
    assert "HTML text is too long" in refusal(html, limits)
    text = tmp_path / "many.txt"
    text.write_text("同志们：" * 6000, encoding="utf-8")
    assert "text is too long" in refusal(text, limits)


def test_files_within_the_limits_read_as_before(tmp_path):
    assert read_speech_text(text_pdf(tmp_path / "ok.pdf", pages=30), limits=ReadLimits(max_pages=30)).text
    docx_text = read_speech_text(long_docx(tmp_path / "ok.docx", 30_000), limits=ReadLimits(max_chars=40_000))
    assert docx_text.heading == "在全市大会上的讲话" and len(docx_text.text) > 30_000
    original = read_speech_text(SEED / "000_ed498335adf7a40a.txt").text
    assert read_speech_text(HOSTILE / "real_speech_000.pdf").text == original


def test_docx_table_cells_are_read_once_however_they_are_merged(tmp_path):
    import docx

    document = docx.Document()
    table = document.add_table(rows=3, cols=4)
    table.cell(0, 0).merge(table.cell(0, 3)).text = "横跨四列"
    table.cell(1, 0).merge(table.cell(2, 0)).text = "纵跨两行"
    table.cell(1, 1).text = "单元格"
    document.save(tmp_path / "merged.docx")
    text = read_speech_text(tmp_path / "merged.docx").text
    assert text.count("横跨四列") == 1 and text.count("纵跨两行") == 1 and "单元格" in text


def test_a_bomb_fails_alone_and_the_other_files_of_the_run_go_in(tmp_path):
    folder = tmp_path / "speeches"
    folder.mkdir()
    shared_stream_bomb(folder / "bomb.pdf")
    form_bomb(folder / "slow.pdf")
    (folder / "speech.txt").write_text((SEED / "000_ed498335adf7a40a.txt").read_text(encoding="utf-8"),
                                       encoding="utf-8")
    (folder / "report.pdf").write_bytes((HOSTILE / "real_speech_000.pdf").read_bytes())
    settings = Settings(data_dir=tmp_path / "data", embedding="fake", _env_file=None)
    report = Ingestor(open_store(settings, FakeEmbeddings()), settings, progress=False).run([folder])
    assert sorted(report.added) == ["report", "speech"]
    failed = dict((Path(path).name, reason) for path, reason in report.failed)
    assert set(failed) == {"bomb.pdf", "slow.pdf"}
    assert "decompression bomb" in failed["bomb.pdf"] and "processor time" in failed["slow.pdf"]


# -- through a real app: the Gradio upload (file route + upload event), as the Library tab sends it ---------------


def upload(url: str, path: Path) -> list[list[str]]:
    """Upload one file with gradio_client (POST /gradio_api/upload, then the upload event); the results table."""
    from gradio_client import Client, handle_file

    results, _ = Client(url + "/", verbose=False).predict([handle_file(str(path))], api_name="/upload")
    return results["data"]


@pytest.mark.slow
def test_a_bomb_upload_is_refused_and_the_next_upload_succeeds(open_app, tmp_path):
    url = open_app.url
    before = {s["id"] for s in httpx.get(f"{url}/api/speeches", timeout=30).json()}
    rows = upload(url, shared_stream_bomb(tmp_path / "十页炸弹.pdf"))
    assert rows[0][:2] == ["十页炸弹.pdf", "失败"] and rows[0][2] == "文件内容异常（解压后过大），已拒绝。", rows
    rows = upload(url, form_bomb(tmp_path / "慢页.pdf"))
    assert rows[0][:2] == ["慢页.pdf", "失败"] and rows[0][2] == "这个文件读取太久，超出了处理时间上限，已停止。", rows

    speech = tmp_path / "2023-report.pdf"
    speech.write_bytes((HOSTILE / "real_speech_000.pdf").read_bytes())
    rows = upload(url, speech)
    assert rows[0][:2] == ["2023-report.pdf", "成功"], rows
    listed = {s["id"]: s for s in httpx.get(f"{url}/api/speeches", timeout=30).json()}
    assert set(listed) == before | {"2023-report"}
    assert listed["2023-report"]["characters"] < 10_000  # the speech, not a bomb's 1.6 M characters
    text = httpx.get(f"{url}/api/speeches/2023-report", timeout=30).json()["text"]
    assert text == read_speech_text(SEED / "000_ed498335adf7a40a.txt").text


def test_the_archive_check_still_refuses_a_zip_bomb_docx_first(tmp_path):
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"<w:p/>" * 2_000_000)
    assert "zip bomb" in refusal(path)
