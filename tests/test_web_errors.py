"""One friendly line and a status per kind of failure: the store's StoreUnavailable is a 503 naming the library,
decided by its type (no traceback is inspected)."""

from __future__ import annotations

import logging

import httpx
import pytest

from answer.errors import BadInput
from answer.llm.errors import LLMUnavailable
from ingest.store import StoreError, StoreUnavailable, UnknownSpeechError
from web.errors import friendly_error, upload_line


def test_each_kind_of_failure_has_its_status_and_line_without_internals(caplog):
    """One line for the user, in the UI's language, without URLs, settings or the library's internals; the
    technical reason in the log (issue 12, item 8)."""
    server = StoreUnavailable("http://127.0.0.1:8123", "ConnectError", server=True)
    with caplog.at_level(logging.WARNING):
        assert friendly_error(server) == (503, "资料库暂时无法使用，请稍后再试。")
    assert "http://127.0.0.1:8123" in caplog.text and "ConnectError" in caplog.text
    on_disk = StoreUnavailable("/data/chroma", "InternalError", server=False)
    assert friendly_error(on_disk)[1] == "资料库暂时无法使用，请稍后再试。"
    assert friendly_error(StoreError("mismatched backend"))[0] == 503
    assert friendly_error(UnknownSpeechError("x")) == (
        404, "资料库中没有这篇讲话（x），它可能已被删除。请刷新页面后重选。")
    down = LLMUnavailable("The LLM server at http://10.0.0.5:8080/v1 is not reachable; set SPEECHES_LLM=extractive")
    assert friendly_error(down) == (503, "回答服务暂时不可用，请稍后再试。")
    assert friendly_error(down, "en") == (
        503, "The answering service is unavailable right now; please try again later.")
    assert friendly_error(BadInput("empty", what="question")) == (400, "请输入问题。")
    assert friendly_error(BadInput("empty", what="question"), "en") == (400, "Please enter a question.")
    too_long = BadInput("too_long", what="topic", length=2100, limit=2000, setting="SPEECHES_MAX_QUESTION_CHARS")
    assert friendly_error(too_long) == (
        400, "主题太长了（2100 字），最多 2000 字。")
    assert friendly_error(ValueError("k must be at least 1, got 0")) == (400, "输入有误，请检查后重试。")


@pytest.mark.parametrize("reason, line", [
    ("binary or undecodable content, not text (unknown encoding or control bytes)",
     "读不出文字：这不是文本文件，或者编码无法识别。"),
    ("file is empty", "文件是空的，没有文字。"),
    ("file contains only whitespace, no text", "文件是空的，没有文字。"),
    ("PDF has no extractable text (a scanned image? it needs OCR first)",
     "PDF 里没有可提取的文字（可能是扫描件），需要先做文字识别。"),
    ("corrupt or unreadable PDF (PdfStreamError: Stream has ended unexpectedly)", "文件已损坏或格式不对，打不开。"),
    ("not a valid DOCX (corrupt or not a zip archive: File is not a zip file)", "文件已损坏或格式不对，打不开。"),
    ("suspicious DOCX: 2,000,000,000 bytes uncompressed, over 50,000,000 (zip bomb?)",
     "文件内容异常（解压后过大），已拒绝。"),
    ("PDF is encrypted with a password", "PDF 有密码保护，请先去掉密码。"),
    ("something nobody foresaw at /srv/x", "文件读不出来，请换一份再试。"),
])
def test_an_upload_failure_is_said_plainly(reason, line):
    assert upload_line("failed", reason=reason, file="x.pdf") == line


def test_a_connection_error_that_did_not_come_through_the_store_is_not_called_a_library_outage():
    error = httpx.ConnectError("refused", request=httpx.Request("GET", "http://127.0.0.1:9/x"))
    status, message = friendly_error(error)
    assert status == 500 and "Chroma" not in message and "refused" not in message
