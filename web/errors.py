"""What a user sees when something goes wrong: one friendly line and an HTTP status, never a traceback."""

from __future__ import annotations

import logging

from answer.llm.errors import LLMUnavailable
from ingest.store import StoreError, StoreUnavailable, UnknownSpeechError

log = logging.getLogger(__name__)


def friendly_error(error: BaseException, language: str = "zh") -> tuple[int, str]:
    """(HTTP status, message for the user). Unexpected errors are logged with their traceback, not shown."""
    if isinstance(error, LLMUnavailable):
        return 503, f"回答服务暂时不可用：{error}"
    if isinstance(error, UnknownSpeechError):
        return 404, f"资料库中没有这篇讲话（{error.args[0]}），它可能已被删除。请刷新页面后重选。"
    if isinstance(error, StoreUnavailable):
        log.warning("the library cannot be used: %s", error)
        if error.server:
            return 503, (f"资料库暂时无法使用：连不上 Chroma 服务器 {error.where}（{error.reason}）。"
                         "请检查它是否在运行；它恢复后无需重启本应用，重试即可。")
        return 503, f"资料库暂时无法使用：Chroma 数据库（{error.where}）出错（{error.reason}）。请稍后重试。"
    if isinstance(error, StoreError):
        return 503, f"资料库暂时无法使用：{error}"
    if isinstance(error, ValueError):
        return 400, f"输入有误：{error}"
    log.error("unexpected error while answering", exc_info=error)
    return 500, "出了点问题，这次没能完成。请稍后再试；详细原因已记在服务日志里。"
