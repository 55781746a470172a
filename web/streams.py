"""Streamed responses that stop their work when the client goes away.

Starlette runs a plain iterator body in worker threads and, when the client disconnects, stops reading it, but never
closes it: the generator is closed only when the garbage collector gets to it, seconds or minutes later, and until
then an answer stream holds the local model (issue 12). ``closing_stream`` steps the iterator in a worker thread
too, and closes it as soon as the response ends for any reason. A step already running when the client goes away is
waited for (anyio does not abandon the thread); answer streams never run a step for long (answer/events.py: a
``Pulse`` at least every second), so the close follows within about a second.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

import anyio

from answer.events import close

T = TypeVar("T")
_END = object()


def _step(items: Iterator):
    return next(items, _END)


async def closing_stream(items: Iterator[T | None], encode: Callable[[T], str]) -> AsyncIterator[str]:
    """The items of ``items`` encoded, ``None`` items (heartbeats) left out; ``items`` closed when this ends."""
    try:
        while True:
            item = await anyio.to_thread.run_sync(_step, items)
            if item is _END:
                return
            if item is not None:
                yield encode(item)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(close, items)
