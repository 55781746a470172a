"""Retrieval for a question that names its speech: resolve the reference, then search that speech.

``retrieve(retriever, question, k=..., filters=...)`` is ``Retriever.retrieve`` plus ``retriever/speech_refs.py``:
- a strong reference to one speech (or a few: "十三届全国人大四次会议" is the report and the resolution on it) filters
  the search to it: the question is searched as asked, within those speeches;
- a reference to several speeches ("2021年和2022年…分别…", "两篇讲话…分别…") is searched within each apart, and the
  passages are interleaved (A1, B1, A2, B2…) so that each speech is in the top k; ``per_speech`` holds each one's;
- a weak reference (a place, a kind or a bare year alone) changes nothing;
- no reference: the plain search.
Why these choices (filter vs boost, the question as asked vs without the naming words), with figures:
docs/retrieval.md, "Questions that name their speech".
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ingest.store import StoredSpeech
from retriever.search import Filters, Mode, RetrievedPassage, Retrieval, Retriever
from retriever.speech_refs import Resolution, SpeechDirectory

_DIRECTORIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_DIRECTORIES_LOCK = threading.Lock()


@dataclass(frozen=True)
class NamedRetrieval(Retrieval):
    resolution: Resolution | None = None  # what the question named (None: nothing), used or not
    named: tuple[str, ...] = ()  # the speeches the search was restricted to (or boosted): the question named them
    per_speech: Mapping[str, list[RetrievedPassage]] = field(default_factory=dict)  # several named: each one's


def directory(retriever: Retriever) -> tuple[SpeechDirectory, list[StoredSpeech]]:
    """The library's speech directory, rebuilt only when its listing changes (the store hands out the same records
    while the library's generation is unchanged)."""
    listing = retriever.store.list_speeches()
    key = (len(listing), id(listing[0]) if listing else 0, id(listing[-1]) if listing else 0)
    with _DIRECTORIES_LOCK:
        cached = _DIRECTORIES.get(retriever)
        if cached is None or cached[0] != key:  # the listing is kept so that its ids stay unique
            cached = (key, listing, SpeechDirectory(listing, cached[2] if cached else None))
            _DIRECTORIES[retriever] = cached
    return cached[2], cached[1]


@dataclass(frozen=True)
class Policy:
    """What a resolved reference does to the search: ``filter`` (only the named speeches), ``boost`` (their best
    passages interleaved with the unrestricted search's) or ``off``; for strong and weak references apart. ``query``:
    what is searched within the named speeches (``_query``). The default is what measured best."""

    strong: str = "filter"
    weak: str = "off"
    query: str = "rest+asked"


DEFAULT_POLICY = Policy()


def retrieve(retriever: Retriever, question: str, *, k: int = 5, mode: Mode = "hybrid",
             filters: Filters | None = None, policy: Policy = DEFAULT_POLICY) -> NamedRetrieval:
    filters = filters or Filters()
    speeches, listing = directory(retriever)
    allowed = None if filters.is_empty() else filters.allowed({s.id: s for s in listing})
    resolution = speeches.resolve(question, allowed) if question.strip() else None
    action = "off" if resolution is None or not resolution.groups else (
        policy.strong if resolution.strong else policy.weak)
    if action == "off":
        plain = retriever.retrieve(question, k=k, mode=mode, filters=filters)
        return NamedRetrieval(**vars(plain), resolution=resolution)
    each = [_search_named(retriever, question, resolution, group, k, mode, policy.query)
            for group in resolution.groups]
    if action == "boost":
        each.append(retriever.retrieve(question, k=k, mode=mode, filters=filters))
    named = tuple(resolution.speech_ids)
    if len(each) == 1:
        return NamedRetrieval(**vars(each[0]), resolution=resolution, named=named)
    best = max(each, key=lambda r: r.relevance)
    passages = interleave([r.passages for r in each], k)
    per_speech: dict[str, list[RetrievedPassage]] = {}
    for found in each[: len(resolution.groups)]:
        for p in found.passages:
            per_speech.setdefault(p.speech_id, []).append(p)
    return NamedRetrieval(
        question=question, passages=passages, relevance=best.relevance, relevant=any(r.relevant for r in each),
        mode=mode, resolution=resolution, named=named, per_speech=per_speech if len(resolution.groups) > 1 else {},
    )


def _search_named(retriever: Retriever, question: str, resolution: Resolution, group: Sequence[str], k: int,
                  mode: Mode, how: str) -> Retrieval:
    """The search within the named speeches ``group``. ``how``: ``asked`` searches the question as asked; ``rest``
    its rest without the naming words (they match the speech's opening lines, which state the session, and push
    the passage that answers down); ``rest+asked`` ranks by the rest and takes the relevance signal of whichever of
    the two says more (the rest alone is short, and the calibrated signal reads short questions as uncovered)."""
    rest = resolution.rest.strip()
    restrict = Filters(speech_ids=list(group))
    if how == "asked" or not rest:
        return retriever.retrieve(question, k=k, mode=mode, filters=restrict)
    ranked = retriever.retrieve(rest, k=k, mode=mode, filters=restrict)
    if how == "rest":
        return ranked
    asked = retriever.retrieve(question, k=k, mode=mode, filters=restrict)
    judged = max((ranked, asked), key=lambda r: r.relevance)
    return replace(ranked, question=question, relevance=judged.relevance, relevant=judged.relevant)


def interleave(lists: Sequence[Sequence[RetrievedPassage]], k: int) -> list[RetrievedPassage]:
    """The first of each list, then the second of each…, without repeating a passage, at most ``k``."""
    out: list[RetrievedPassage] = []
    seen: set[str] = set()
    for rank in range(max((len(x) for x in lists), default=0)):
        for passages in lists:
            if rank < len(passages) and passages[rank].passage_id not in seen:
                seen.add(passages[rank].passage_id)
                out.append(passages[rank])
    return out[:k]
