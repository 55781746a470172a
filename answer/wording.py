"""The fixed sentences the assistant writes itself (without an LLM), in each prompt language."""

from __future__ import annotations

PHRASES = {
    "zh": {
        "not_found": "讲话中没有涉及这个问题。",
        "nearest": "最接近的段落：",
        "empty_library": "资料库中还没有讲话。请先添加讲话（python -m ingest 文件或文件夹）。",
        "no_speeches_match": "没有符合筛选条件的讲话。",
        "evidence_intro": "以下是讲话原文中与问题最相关的内容：",
        "evidence_intro_named": "以下是{titles}原文中与问题最相关的内容：",
        "evidence_differ": "不同讲话对这个问题的说法不同，分别列出：",
        "evidence_per_speech": "以下是各篇讲话原文中与问题最相关的内容：",
        "synthesis_heading": "归纳（每句都已与所引原文核对）：",
        "side_summary": "{key}：",
        "shared_heading": "共同点（两篇讲话的原文都支持）：",
        "shared_none": "共同点：两篇讲话的相关原文中没有找到相同的说法。",
        "different_heading": "不同点（只见于一篇讲话的相关原文）：",
        "llm_unavailable": "模型暂时不可用，以下只列出讲话原文（未经模型归纳）。",
        "llm_timeout": "模型未能及时作答，以下只列出讲话原文（未经模型归纳）。",
        "side_question_named": "《{title}》中，{question}",
        "side_not_found": "《{title}》未涉及这一主题。",
        "neither_found": "两篇讲话都未涉及“{topic}”这一主题。",
        "refusals": ("材料中没有提到", "没有提到这个问题", "未涉及"),
        "side_question": "《{title}》关于“{topic}”讲了什么？",
    },
    "en": {
        "not_found": "The speeches do not address this question.",
        "nearest": "The nearest passages:",
        "empty_library": "The library holds no speeches yet. Add some first (python -m ingest FILE-OR-FOLDER).",
        "no_speeches_match": "No speech matches the filters.",
        "evidence_intro": "The passages of the speeches that best match the question:",
        "evidence_intro_named": "The passages of {titles} that best match the question:",
        "evidence_differ": "The speeches answer this differently; each in turn:",
        "evidence_per_speech": "The passages of each speech that best match the question:",
        "synthesis_heading": "In short (each sentence checked against the passages it cites):",
        "side_summary": "{key}:",
        "shared_heading": "Shared (both speeches' passages support it):",
        "shared_none": "Shared: the passages of the two speeches say nothing in the same words.",
        "different_heading": "Different (in one speech's passages only):",
        "llm_unavailable": "The model is unavailable just now: the speeches' own words only, not summarised.",
        "llm_timeout": "The model did not answer in time: the speeches' own words only, not summarised.",
        "side_question_named": "In \"{title}\": {question}",
        "side_not_found": "\"{title}\" does not address this topic.",
        "neither_found": "Neither speech addresses \"{topic}\".",
        "refusals": ("does not mention", "do not mention", "does not address"),
        "side_question": "What does \"{title}\" say about {topic}?",
    },
}


def phrase(language: str, name: str, /, **values) -> str:
    text = PHRASES[language][name]
    return text.format(**values) if values else text
