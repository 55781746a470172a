"""What a user sees when something goes wrong: one friendly line and an HTTP status, never a traceback."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from answer.llm.errors import LLMUnavailable
from ingest.store import StoreError, UnknownSpeechError

log = logging.getLogger(__name__)


def friendly_error(error: BaseException) -> tuple[int, str]:
    """(HTTP status, message for the user). Unexpected errors are logged with their traceback, not shown."""
    if isinstance(error, LLMUnavailable):
        return 503, f"回答服务暂时不可用：{error}"
    if isinstance(error, UnknownSpeechError):
        return 404, f"资料库中没有这篇讲话（{error.args[0]}），它可能已被删除。请刷新页面后重选。"
    if isinstance(error, StoreError):
        return 503, f"资料库暂时无法使用：{error}"
    server = chroma_unreachable(error)
    if server is not None:
        log.warning("the Chroma server %s cannot be reached: %s", server, error)
        return 503, (f"资料库暂时无法使用：连不上 Chroma 服务器 {server}（{type(error).__name__}）。"
                     "请检查它是否在运行；它恢复后无需重启本应用，重试即可。")
    if isinstance(error, ValueError):
        return 400, f"输入有误：{error}"
    log.error("unexpected error while answering", exc_info=error)
    return 500, "出了点问题，这次没能完成。请稍后再试；详细原因已记在服务日志里。"


def chroma_unreachable(error: BaseException) -> str | None:
    """The Chroma server's address ("http://host:port") when ``error`` is a failed connection made by the chromadb
    HTTP client (server stopped, restarting, unreachable); else None. The client reconnects by itself on the next
    request, so this is a passing error: 503, not 500."""
    import httpx

    if not isinstance(error, (httpx.TransportError, ConnectionError)):
        return None
    frames = traceback.extract_tb(error.__traceback__)
    if not any("chromadb" in Path(f.filename).parts for f in frames):
        return None
    try:
        url = error.request.url  # httpx errors carry the request
        return f"{url.scheme}://{url.host}:{url.port}" if url.port else f"{url.scheme}://{url.host}"
    except (AttributeError, RuntimeError):
        return "(SPEECHES_CHROMA_URL)"
