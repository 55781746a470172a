"""One friendly line and a status per kind of failure: the store's StoreUnavailable is a 503 naming the library,
decided by its type (no traceback is inspected)."""

from __future__ import annotations

import httpx

from answer.llm.errors import LLMUnavailable
from ingest.store import StoreError, StoreUnavailable, UnknownSpeechError
from web.errors import friendly_error


def test_each_kind_of_failure_has_its_status_and_line():
    server = StoreUnavailable("http://127.0.0.1:8123", "ConnectError", server=True)
    status, message = friendly_error(server)
    assert status == 503 and "连不上 Chroma 服务器 http://127.0.0.1:8123（ConnectError）" in message
    status, message = friendly_error(StoreUnavailable("/data/chroma", "InternalError", server=False))
    assert status == 503 and "/data/chroma" in message and "InternalError" in message
    assert friendly_error(StoreError("mismatched backend"))[0] == 503
    assert friendly_error(UnknownSpeechError("x"))[0] == 404
    assert friendly_error(LLMUnavailable("down"))[0] == 503
    assert friendly_error(ValueError("the question is empty")) == (400, "输入有误：the question is empty")


def test_a_connection_error_that_did_not_come_through_the_store_is_not_called_a_library_outage():
    error = httpx.ConnectError("refused", request=httpx.Request("GET", "http://127.0.0.1:9/x"))
    status, message = friendly_error(error)
    assert status == 500 and "Chroma" not in message and "refused" not in message
