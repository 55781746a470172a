"""The retriever for LangChain users: ``Retriever.as_langchain(k=..., mode=..., filters=...)`` is a ``BaseRetriever``
whose ``invoke(question)`` returns ``Document``s, best first, so the library plugs into any LangChain chain.

Each document's ``page_content`` is the passage (``speech_text[start:end]``), its ``id`` the passage id, and its
``metadata`` what a citation needs: ``speech_id, title, date, start, end, order, section, score, dense_score,
keyword_score, also_in``, plus the retrieval's ``relevance`` and ``relevant`` (the gate the answering chain uses to
say "the speeches do not address this").
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from retriever.search import Filters, Mode


class SpeechRetriever(BaseRetriever):
    retriever: Any  # a retriever.search.Retriever (Any: pydantic need not know the class)
    k: int = 5
    mode: Mode = "hybrid"
    filters: Filters | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        found = self.retriever.retrieve(query, k=self.k, mode=self.mode, filters=self.filters)
        return [
            Document(
                id=p.passage_id,
                page_content=p.text,
                metadata={
                    "speech_id": p.speech_id, "title": p.title, "date": p.date, "start": p.start, "end": p.end,
                    "order": p.order, "section": p.section, "score": p.score, "dense_score": p.dense_score,
                    "keyword_score": p.keyword_score, "also_in": list(p.also_in),
                    "relevance": found.relevance, "relevant": found.relevant,
                },
            )
            for p in found.passages
        ]

