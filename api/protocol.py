"""uvicorn's httptools protocol with the limits uvicorn itself lacks.

uvicorn closes idle keep-alive connections, but a connection that sends nothing, or its
headers one byte at a time, or fewer body bytes than it declared, stays open for ever,
and it accepts headers of any size (each byte held in memory). This protocol adds:

* a deadline for a request's headers, from the connection's start or the end of the
  previous response (``header_timeout_s``): the connection is closed when it passes;
* a cap on the size of the headers (``max_header_bytes``): 431, then close;
* a deadline for the body once the headers are in (``body_timeout_s``): 408, then close.

The number of open connections is capped by uvicorn's own ``limit_concurrency``
(``TAGGER_MAX_CONNECTIONS``). The limits come from ``api.settings.Settings``, read once
per process, so every worker process of ``tagger serve --workers N`` applies them.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.settings import Settings

_END_OF_HEADERS = b"\r\n\r\n"


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float
    body_timeout_s: float
    max_header_bytes: int


@functools.cache
def limits() -> ConnectionLimits:
    s = Settings()
    return ConnectionLimits(s.header_timeout_s, s.body_timeout_s, s.max_header_bytes)


def _response(status: bytes, message: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: " + str(len(message)).encode() + b"\r\n\r\n" + message
    )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """Deadlines are checked by one repeating check per connection (every
    ``CHECK_EVERY_S``) against the time the current phase began, rather than a timer
    per request: a request then costs two attribute writes, not two timers."""

    CHECK_EVERY_S = 0.5

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits()
        self._in_headers = True  # reading a request's headers (as opposed to a body or nothing)
        self._in_body = False
        self._phase_began = 0.0
        self._header_bytes = 0
        self._tail = b""  # last bytes seen, for a terminator split across reads
        self._body_allowance = 0.0  # seconds this body may take (more for a larger declared body)
        self._answered_early = False  # answered before its body was in (413, 415, 503): drain, then next
        self._stuck_since: float | None = None  # when an unread answer started to sit in the write buffer
        self._check: asyncio.TimerHandle | None = None

    def _watch(self) -> None:
        self._check = None
        now = self.loop.time()
        # A client that does not read its answer holds the buffered answer: cut it off.
        if self.transport.get_write_buffer_size() > 0:
            self._stuck_since = self._stuck_since or now
            if now - self._stuck_since > self.limits.body_timeout_s:
                self.transport.abort()
                return
        else:
            self._stuck_since = None
            if self.transport.is_closing():
                return
        waited = now - self._phase_began
        if self._in_headers and waited > self.limits.header_timeout_s and not self.transport.is_closing():
            self.transport.close()
            return
        if self._in_body and waited > self._body_allowance and not self.transport.is_closing():
            self._body_too_slow()
            return
        self._check = self.loop.call_later(self.CHECK_EVERY_S, self._watch)

    def _body_too_slow(self) -> None:
        if self.cycle is not None and not self.cycle.response_started:
            limit = self.limits.body_timeout_s
            message = b'{"detail": "request body not received within body_timeout_s=%g"}' % limit
            self.transport.write(_response(b"408 Request Timeout", message))
            self.cycle.response_complete = True
        self.transport.close()

    # -- connection events ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._phase_began = self.loop.time()
        self._check = self.loop.call_later(self.CHECK_EVERY_S, self._watch)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._check is not None:
            self._check.cancel()
            self._check = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_headers:
            seen = self._tail + data if self._tail else data
            end = seen.find(_END_OF_HEADERS)
            header_part = len(data) if end < 0 else max(0, end + len(_END_OF_HEADERS) - len(self._tail))
            self._header_bytes += header_part
            if self._header_bytes > self.limits.max_header_bytes:
                message = b'{"detail": "request headers exceed max_header_bytes=%d"}' % self.limits.max_header_bytes
                self.transport.write(_response(b"431 Request Header Fields Too Large", message))
                self.transport.close()
                return
            self._tail = seen[-3:] if end < 0 else b""
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._in_body = True
        self._header_bytes = 0
        self._phase_began = self.loop.time()
        declared = next((v for k, v in self.headers if k == b"content-length"), b"0")
        size = int(declared) if declared.isdigit() else 0
        # A total deadline, stretched for large bodies at a modest 100 KB/s.
        self._body_allowance = self.limits.body_timeout_s + size / 100_000
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False  # the whole request is in: what remains is the service's own time
        if self._answered_early:  # the body of an answered request is drained: the next may come
            self._answered_early = False
            self._start_reading_headers()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        if self.pipeline:
            pass  # the next request's headers are already in; its own callbacks set its phase
        elif self._in_body:
            self._answered_early = True  # its body is still arriving, under the body deadline
        else:
            self._start_reading_headers()
        super().on_response_complete()

    def _start_reading_headers(self) -> None:
        self._in_headers = True
        self._tail = b""
        self._phase_began = self.loop.time()
