"""The fixed sentences the assistant writes itself (without an LLM), in each prompt language."""

from __future__ import annotations

PHRASES = {
    "zh": {
        "not_found": "讲话中没有涉及这个问题。",
        "nearest": "最接近的段落：",
        "empty_library": "资料库中还没有讲话。请先添加讲话（python -m ingest 文件或文件夹）。",
        "no_speeches_match": "没有符合筛选条件的讲话。",
        "extractive_intro": "以下是讲话原文中与问题最相关的内容：",
        "extractive_intro_named": "以下是{titles}原文中与问题最相关的内容：",
        "side_not_found": "《{title}》未涉及这一主题。",
        "neither_found": "两篇讲话都未涉及“{topic}”这一主题。",
        "refusals": ("材料中没有提到", "没有提到这个问题", "未涉及"),
        "speaker_user": "用户",
        "speaker_assistant": "助手",
        "none": "（无）",
        "nth_speech": "第{n}篇：《{title}》",
        "side_question": "《{title}》关于“{topic}”讲了什么？",
        "side_heading": "《{title}》",
    },
    "en": {
        "not_found": "The speeches do not address this question.",
        "nearest": "The nearest passages:",
        "empty_library": "The library holds no speeches yet. Add some first (python -m ingest FILE-OR-FOLDER).",
        "no_speeches_match": "No speech matches the filters.",
        "extractive_intro": "The passages of the speeches that best match the question:",
        "extractive_intro_named": "The passages of {titles} that best match the question:",
        "side_not_found": "\"{title}\" does not address this topic.",
        "neither_found": "Neither speech addresses \"{topic}\".",
        "refusals": ("does not mention", "do not mention", "does not address"),
        "speaker_user": "User",
        "speaker_assistant": "Assistant",
        "none": "(none)",
        "nth_speech": "{n}: \"{title}\"",
        "side_question": "What does \"{title}\" say about {topic}?",
        "side_heading": "\"{title}\"",
    },
}


def phrase(language: str, key: str, **values) -> str:
    text = PHRASES[language][key]
    return text.format(**values) if values else text
