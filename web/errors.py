"""What a user is told when something goes wrong, in one place: one line in the UI's language (SPEECHES_LANGUAGE),
without URLs, settings, file paths or the library's internals, and an HTTP status. The technical reason goes to the
log (the app's stderr) for whoever runs the app.

- ``friendly_error(error, language)``: any exception raised while serving a page, an event or the API.
- ``upload_line(outcome, language, ...)``: the line of the library tab's upload table for one file, whether it was
  stored, was a duplicate, or failed; an ingest failure's reason (English, technical: ingest/readers.py) is
  recognised by its kind and said plainly.
"""

from __future__ import annotations

import logging

from answer.errors import BadInput
from answer.llm.errors import LLMUnavailable
from ingest.store import StoreError, UnknownSpeechError

log = logging.getLogger(__name__)

MESSAGES = {
    "zh": {
        "llm": "回答服务暂时不可用，请稍后再试。",
        "unknown_speech": "资料库中没有这篇讲话（{speech}），它可能已被删除。请刷新页面后重选。",
        "library": "资料库暂时无法使用，请稍后再试。",
        "unexpected": "出了点问题，这次没能完成。请稍后再试。",
        "bad_input": "输入有误，请检查后重试。",
        "empty": "请输入{what}。",
        "too_long": "{what}太长了（{length} 字），最多 {limit} 字。",
        "years_reversed": "年份范围颠倒了：起始年份 {low} 晚于截止年份 {high}。",
        "year_range": "年份应在 {low} 到 {high} 之间，{year} 不行。",
        "not_text": "{what}应该是文字。",
        "surrogates": "{what}里有无效的字符，请重新输入。",
        "same_speech": "请选择两篇不同的讲话来比较。",
        "history": "对话记录有误（第 {number} 条），请开始新对话。",
        "history_turns": "对话太长了（{count} 条），最多带上最近的 {limit} 条。",
        "history_chars": "对话太长了（超过 {limit} 字），请开始新对话。",
        "request": "请求有误：{problems}。",
        "question": "问题",
        "topic": "主题",
        "text to check": "待核对的文字",
        "no_sentence": "{what}里没有可核对的句子（至少 {length} 字）。",
        # a field of an API request, and what is wrong with it
        "field_missing": "缺少 {field}",
        "field_json": "请求体不是有效的 JSON",
        "field_type": "{field} 的类型不对",
        "field_value": "{field} 的取值不对",
        "field_export": "请求体不是可导出的结果（API 返回的回答、比较、引文核对或主题）",
        "field_unknown": "不认识的字段 {field}",
        "field_min": "{field} 应不小于 {limit}",
        "field_max": "{field} 应不大于 {limit}",
        "field_long": "{field} 太长了（最多 {limit}）",
        "field_chars": "{field} 里有无效的字符",
        "body_utf8": "请求有误：请求体不是有效的 UTF-8 文本（可能被截断了）。",
        "body_nested": "请求有误：请求体的 JSON 嵌套太深。",
        "body_unparsable": "请求有误：请求体无法解析。",
        # the upload table
        "added": "已添加：{speech}",
        "updated": "已更新：{speech}",
        "unchanged": "内容未变：{speech}",
        "duplicate": "与已有的讲话 {speech} 内容相同，没有重复添加。",
        "unsupported": "不支持这种文件类型（{suffix}）；支持：{supported}。",
        "too_big": "文件太大（{size:.1f} MB），上限 {limit:g} MB。",
        "unsafe_name": "文件名不能用，请改名后再上传。",
        "not_received": "不是通过上传收到的文件，已拒绝。",
        "not_saved": "文件没能保存，请稍后再试。",
        "file_empty": "文件是空的，没有文字。",
        "file_not_text": "读不出文字：这不是文本文件，或者编码无法识别。",
        "file_scanned": "PDF 里没有可提取的文字（可能是扫描件），需要先做文字识别。",
        "file_encrypted": "PDF 有密码保护，请先去掉密码。",
        "file_damaged": "文件已损坏或格式不对，打不开。",
        "file_suspicious": "文件内容异常（解压后过大），已拒绝。",
        "file_too_large": "文件里的内容太多，超出了处理上限。",
        "file_too_slow": "这个文件读取太久，超出了处理时间上限，已停止。",
        "file_unreadable": "文件读不出来，请换一份再试。",
    },
    "en": {
        "llm": "The answering service is unavailable right now; please try again later.",
        "unknown_speech": "The library has no speech {speech}; it may have been deleted. "
                          "Reload the page and choose again.",
        "library": "The library cannot be used right now; please try again later.",
        "unexpected": "Something went wrong and this could not be done. Please try again later.",
        "bad_input": "The input is not valid; please check it and try again.",
        "empty": "Please enter a {what}.",
        "too_long": "The {what} is too long ({length} characters); at most {limit}.",
        "years_reversed": "The years are reversed: {low} is after {high}.",
        "year_range": "Years must lie between {low} and {high}, not {year}.",
        "not_text": "The {what} must be text.",
        "surrogates": "The {what} holds invalid characters; please type it again.",
        "same_speech": "Please choose two different speeches to compare.",
        "history": "The conversation (item {number}) is not valid; please start a new one.",
        "history_turns": "The conversation is too long ({count} messages); send at most the last {limit}.",
        "history_chars": "The conversation is too long (over {limit} characters); please start a new one.",
        "request": "Bad request: {problems}.",
        "question": "question",
        "topic": "topic",
        "text to check": "text to check",
        "no_sentence": "The {what} holds no sentence of at least {length} characters to check.",
        "field_missing": "{field} is missing",
        "field_json": "the body is not valid JSON",
        "field_type": "{field} has the wrong type",
        "field_value": "{field} has a value that is not allowed",
        "field_export": "the body is not an answer, a comparison, a quote check or a topic view as the API "
                        "returns them",
        "field_unknown": "unknown field {field}",
        "field_min": "{field} must be at least {limit}",
        "field_max": "{field} must be at most {limit}",
        "field_long": "{field} is too long (at most {limit})",
        "field_chars": "{field} holds invalid characters",
        "body_utf8": "Bad request: the body is not valid UTF-8 text (cut off?).",
        "body_nested": "Bad request: the body's JSON is nested too deeply.",
        "body_unparsable": "Bad request: the body cannot be parsed.",
        "added": "Added: {speech}",
        "updated": "Updated: {speech}",
        "unchanged": "Unchanged: {speech}",
        "duplicate": "The same text as the stored speech {speech}: not added again.",
        "unsupported": "This file type ({suffix}) is not supported; supported: {supported}.",
        "too_big": "The file is too large ({size:.1f} MB); the limit is {limit:g} MB.",
        "unsafe_name": "The file name cannot be used; rename the file and upload it again.",
        "not_received": "This is not a file received by the upload; refused.",
        "not_saved": "The file could not be saved; please try again later.",
        "file_empty": "The file is empty: it holds no text.",
        "file_not_text": "No text could be read: this is not a text file, or its encoding is unknown.",
        "file_scanned": "The PDF holds no text that can be extracted (a scan?); it needs OCR first.",
        "file_encrypted": "The PDF is password-protected; remove the password first.",
        "file_damaged": "The file is damaged or not what its name says; it cannot be opened.",
        "file_suspicious": "The file's content is suspicious (far too large unpacked); refused.",
        "file_too_large": "The file holds more than can be processed.",
        "file_too_slow": "Reading this file took too long; it was stopped.",
        "file_unreadable": "The file cannot be read; please try another copy.",
    },
}

# An ingest failure's reason (ingest/readers.py, ingest/pipeline.py: English) -> its kind, by what the reason says.
_FILE_PROBLEMS = (
    (("file is empty", "only whitespace", "no visible text"), "file_empty"),
    (("no extractable text",), "file_scanned"),
    (("encrypted",), "file_encrypted"),
    (("binary or undecodable", "not text"), "file_not_text"),
    (("suspicious", "bomb"), "file_suspicious"),
    (("processor time", "reading it took"), "file_too_slow"),
    (("too large", "too long", "too many", "the limit is", "over the limit"), "file_too_large"),
    (("corrupt", "not a valid", "malformed"), "file_damaged"),
)


def phrase(language: str, key: str, **values) -> str:
    table = MESSAGES.get(language, MESSAGES["zh"])
    return table[key].format(**values)


def friendly_error(error: BaseException, language: str = "zh") -> tuple[int, str]:
    """(HTTP status, one line for the user); the technical reason is logged (unexpected errors with their
    traceback)."""
    from fastapi.exceptions import RequestValidationError

    if isinstance(error, BadInput):
        return 400, _bad_input(error, language)
    if isinstance(error, UnknownSpeechError):
        return 404, phrase(language, "unknown_speech", speech=error.args[0])
    if isinstance(error, LLMUnavailable):
        log.warning("the LLM cannot be used: %s", error)
        return 503, phrase(language, "llm")
    if isinstance(error, StoreError):  # StoreUnavailable included: the server's URL or the folder is in the log
        log.warning("the library cannot be used: %s", error)
        return 503, phrase(language, "library")
    if isinstance(error, RequestValidationError):
        return 400, phrase(language, "request", problems=_request_problems(error, language))
    if isinstance(error, ValueError):
        log.warning("bad input: %s", error)
        return 400, phrase(language, "bad_input")
    log.error("unexpected error while answering", exc_info=error)
    return 500, phrase(language, "unexpected")


def _bad_input(error: BadInput, language: str) -> str:
    values = dict(error.values)
    if "what" in values:
        if values["what"] in ("question", "topic", "text to check"):
            values["what"] = phrase(language, values["what"])
    if error.key == "history":
        values["number"] = int(values.get("index", 0)) + 1
    return phrase(language, error.key, **values)


def _request_problems(error, language: str) -> str:
    """What is wrong with an API request, field by field (a field is the API's own name for it)."""
    problems = []
    for item in error.errors()[:3]:
        where = ".".join(str(p) for p in item.get("loc", ())[1:]) or "body"
        kind = str(item.get("type", ""))
        if kind == "json_invalid":
            problems.append(phrase(language, "field_json"))
        elif kind == "missing":
            problems.append(phrase(language, "field_missing", field=where))
        elif kind == "result_kind":  # web/study_api.py's export: none of the results it can write
            problems.append(phrase(language, "field_export"))
        elif kind == "extra_forbidden":
            problems.append(phrase(language, "field_unknown", field=where))
        elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than", "too_long"):
            ctx = item.get("ctx") or {}
            limit = next((ctx[k] for k in ("ge", "gt", "le", "lt", "max_length") if k in ctx), "?")
            key = "field_long" if kind == "too_long" else "field_min" if kind.startswith("greater") else "field_max"
            problems.append(phrase(language, key, field=where, limit=limit))
        elif "surrogate" in str(item.get("msg", "")):
            problems.append(phrase(language, "field_chars", field=where))
        elif kind.endswith(("_type", "_parsing")):
            problems.append(phrase(language, "field_type", field=where))
        else:
            problems.append(phrase(language, "field_value", field=where))
    log.info("bad API request: %s", error.errors()[:3])
    return "；".join(problems) if language == "zh" else "; ".join(problems)


def http_refusal(error, language: str = "zh") -> tuple[int, str]:
    """(status, line) for a refusal of FastAPI's own (a body it cannot parse, say): its cause said plainly."""
    cause = error.__cause__
    if isinstance(cause, RecursionError):
        return error.status_code, phrase(language, "body_nested")
    if isinstance(cause, UnicodeDecodeError):
        return error.status_code, phrase(language, "body_utf8")
    if error.status_code == 400:
        log.info("unparsable request body: %s", error.detail)
        return 400, phrase(language, "body_unparsable")
    return error.status_code, str(error.detail)


def upload_line(outcome: str, language: str = "zh", *, reason: str = "", **values) -> str:
    """The upload table's line for one file: ``outcome`` added, updated, unchanged or duplicate (``speech``), a
    refusal before ingest (unsupported, too_big, unsafe_name, not_saved, with their values), or failed (``reason``:
    ingest's technical reason, logged and said plainly)."""
    if outcome != "failed":
        return phrase(language, outcome, **values)
    log.info("upload %s failed: %s", values.get("file", "?"), reason)
    lowered = reason.lower()
    for needles, kind in _FILE_PROBLEMS:
        if any(needle in lowered for needle in needles):
            return phrase(language, kind)
    return phrase(language, "file_unreadable")
