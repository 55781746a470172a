"""Deadlines for slow clients, which uvicorn (0.54, h11) does not have.

uvicorn closes a connection that stays idle *between* requests (``timeout_keep_alive``), but waits forever for a
request's headers and for its body: a client that sends one header line, or one body byte, every few seconds
holds a connection (and, for a body, a request task) as long as it likes. ``timed_protocol`` is uvicorn's h11
protocol with two deadlines, checked against h11's view of the client:

- the request line and headers must be complete within ``header_timeout`` seconds of the connection opening (or
  of the previous response ending, on a kept-alive connection);
- the body, once the headers are in, must be complete within ``body_timeout`` seconds, whatever its pace.

Past a deadline the connection is closed (the app sees ``http.disconnect``). Nothing runs while a response is
being sent: long answers and Gradio's event streams are not affected. What stays for the reverse proxy (docs/
deploy.md): how many connections one address may open, and clients that read responses slowly.
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("uvicorn.error")


class TimedH11Protocol(H11Protocol):
    header_timeout = 10.0
    body_timeout = 120.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._phase: str | None = None
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def _watch(self) -> None:
        """Arm the deadline of what the client owes us now: headers (IDLE), a body (SEND_BODY), or nothing."""
        state = self.conn.their_state
        phase = "headers" if state is h11.IDLE else "body" if state is h11.SEND_BODY else None
        if phase == self._phase:
            return
        self._cancel()
        self._phase = phase
        if phase is not None and not self.transport.is_closing():
            timeout = self.header_timeout if phase == "headers" else self.body_timeout
            self._deadline = self.loop.call_later(timeout, self._expire, phase, timeout)

    def _cancel(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self, phase: str, timeout: float) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        log.warning("closed the connection of %s: its request %s did not arrive within %g s", client, phase, timeout)
        self.transport.close()


def timed_protocol(header_timeout: float, body_timeout: float) -> type[H11Protocol]:
    """The protocol class to give uvicorn (``http=``), with these deadlines in seconds."""
    return type("TimedH11Protocol", (TimedH11Protocol,),
                {"header_timeout": header_timeout, "body_timeout": body_timeout})
