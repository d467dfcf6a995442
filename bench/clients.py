"""The load generator's HTTP clients: a minimal HTTP/1.1 client on asyncio streams, and httpx.

Both send a prepared request and return an :class:`Outcome`: status, total time, and for streams the
time to the first *content* chunk (the first SSE event whose ``choices[0].delta.content`` is not
empty; the role-only first chunk of OpenAI's format does not count). A stream is complete when it
ends with ``data: [DONE]``; one that ends otherwise (an in-stream error event) is an error. The
reply's ``x-request-id`` header, when there is one, comes with the outcome (the fault scenario looks
each request up in Turnout's ClickHouse by it).

``RawClient`` keeps one pool of keep-alive connections per host and prebuilds each request's bytes,
so a request costs a write, a header parse and a body read. ``HttpxClient`` is the reference; the
harness measures both against the simulator and reports the client's CPU per request.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import orjson

__all__ = [
    "Client",
    "HttpxClient",
    "Outcome",
    "PreparedRequest",
    "RawClient",
    "StreamWatcher",
    "make_client",
]


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """One target's request: where it goes, what it sends, and whether the reply streams."""

    name: str
    url: str
    headers: dict[str, str]
    body: bytes
    stream: bool
    host: str = field(init=False)
    port: int = field(init=False)
    path: str = field(init=False)
    wire: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"only http:// URLs are supported: {self.url!r}")
        host, port = parts.hostname, parts.port or 80
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Content-Type: application/json",
            f"Content-Length: {len(self.body)}",
            *(f"{k}: {v}" for k, v in self.headers.items()),
        ]
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "port", port)
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "wire", ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body)


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status: int
    latency_s: float
    ttft_s: float | None = None
    error: str | None = None
    request_id: str | None = None
    """The reply's ``x-request-id`` header (Turnout sends one with every reply, errors included)."""


class StreamWatcher:
    """Reads an SSE body as it arrives: notes when the first content chunk came and whether it ended."""

    __slots__ = ("_buffer", "done", "errored", "first_content_at")

    def __init__(self) -> None:
        self._buffer = b""
        self.first_content_at: float | None = None
        self.done = False
        self.errored = False

    def feed(self, data: bytes) -> None:
        self._buffer += data
        if b"\n\n" not in self._buffer and b"\r\n\r\n" not in self._buffer:
            return
        text = self._buffer.replace(b"\r\n", b"\n")
        *events, self._buffer = text.split(b"\n\n")
        for event in events:
            self._event(event)

    def _event(self, event: bytes) -> None:
        for line in event.split(b"\n"):
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
                self.done = True
            elif payload.startswith(b'{"error"'):
                self.errored = True
            elif self.first_content_at is None and b'"content"' in payload and _has_content(payload):
                self.first_content_at = time.perf_counter()


def _has_content(payload: bytes) -> bool:
    try:
        chunk = orjson.loads(payload)
        return bool(chunk["choices"][0]["delta"].get("content"))
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
        return False


class Client(Protocol):
    name: str

    async def send(self, request: PreparedRequest) -> Outcome: ...

    async def close(self) -> None: ...


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


class _StaleConnection(Exception):
    """A pooled connection the server had closed before the request: retried on a new one."""


class RawClient:
    """HTTP/1.1 over asyncio streams with keep-alive pools; handles Content-Length and chunked bodies."""

    name = "raw"

    def __init__(self, timeout_s: float = 60.0) -> None:
        self.timeout_s = timeout_s
        self._idle: dict[tuple[str, int], list[_Connection]] = defaultdict(list)

    async def send(self, request: PreparedRequest) -> Outcome:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                try:
                    return await self._attempt(request, started, reuse=True)
                except _StaleConnection:
                    started = time.perf_counter()
                    return await self._attempt(request, started, reuse=False)
        except TimeoutError:
            return Outcome(False, 0, time.perf_counter() - started, error="timeout")
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            return Outcome(False, 0, time.perf_counter() - started, error=type(exc).__name__)

    async def _attempt(self, request: PreparedRequest, started: float, reuse: bool) -> Outcome:
        key = (request.host, request.port)
        pool = self._idle[key]
        reused = reuse and bool(pool)
        if reused:
            conn = pool.pop()
        else:
            reader, writer = await asyncio.open_connection(request.host, request.port)
            conn = _Connection(reader, writer)
        try:
            conn.writer.write(request.wire)
            try:
                head = await conn.reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
                if reused and (not isinstance(exc, asyncio.IncompleteReadError) or not exc.partial):
                    raise _StaleConnection from exc
                raise
            status, length, chunked, keep_alive, request_id = _parse_head(head)
            watcher = StreamWatcher() if request.stream else None
            body = await _read_body(conn.reader, length, chunked, keep_alive, watcher)
        except BaseException:
            conn.close()
            raise
        finished = time.perf_counter()
        if keep_alive:
            pool.append(conn)
        else:
            conn.close()
        return _outcome(status, body, watcher, started, finished, request_id)

    async def close(self) -> None:
        for pool in self._idle.values():
            for conn in pool:
                conn.close()
        self._idle.clear()


def _parse_head(head: bytes) -> tuple[int, int | None, bool, bool, str | None]:
    """``(status, content length, chunked, keep-alive, x-request-id)`` of a response head."""
    lines = head.split(b"\r\n")
    status_line = lines[0].split(b" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
        raise ValueError(f"not an HTTP/1.x response: {lines[0][:80]!r}")
    status = int(status_line[1])
    keep_alive = status_line[0] == b"HTTP/1.1"
    length: int | None = None
    chunked = False
    request_id: str | None = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep_alive = value.strip().lower() != b"close"
        elif name == b"x-request-id":
            request_id = value.strip().decode("latin-1")
    return status, length, chunked, keep_alive, request_id


async def _read_body(
    reader: asyncio.StreamReader, length: int | None, chunked: bool, keep_alive: bool, watcher: StreamWatcher | None
) -> bytes:
    if chunked:
        parts: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0], 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                break
            piece = data[:-2]
            if watcher is not None:
                watcher.feed(piece)
            else:
                parts.append(piece)
        return b"".join(parts)
    if length is not None:
        data = await reader.readexactly(length)
    elif keep_alive:
        data = b""  # no body (204, 304)
    else:
        data = await reader.read()
    if watcher is not None:
        watcher.feed(data)
    return data


def _outcome(
    status: int,
    body: bytes,
    watcher: StreamWatcher | None,
    started: float,
    finished: float,
    request_id: str | None = None,
) -> Outcome:
    latency = finished - started
    if status != 200:
        return Outcome(False, status, latency, error=f"http_{status}", request_id=request_id)
    if watcher is None:
        if b'"choices"' not in body:
            return Outcome(False, status, latency, error="bad_body", request_id=request_id)
        return Outcome(True, status, latency, request_id=request_id)
    ttft = None if watcher.first_content_at is None else watcher.first_content_at - started
    if watcher.errored or not watcher.done:
        error = "stream_error" if watcher.errored else "stream_cut"
        return Outcome(False, status, latency, ttft, error=error, request_id=request_id)
    if ttft is None:
        return Outcome(False, status, latency, error="no_content", request_id=request_id)
    return Outcome(True, status, latency, ttft, request_id=request_id)


class HttpxClient:
    """The same requests through ``httpx.AsyncClient`` (one pooled client, keep-alive)."""

    name = "httpx"

    def __init__(self, timeout_s: float = 60.0, max_connections: int = 1000) -> None:
        import httpx

        self._httpx = httpx
        self._client = httpx.AsyncClient(
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    async def send(self, request: PreparedRequest) -> Outcome:
        headers = {"content-type": "application/json", **request.headers}
        started = time.perf_counter()
        try:
            if not request.stream:
                response = await self._client.post(request.url, content=request.body, headers=headers)
                request_id = response.headers.get("x-request-id")
                return _outcome(response.status_code, response.content, None, started, time.perf_counter(), request_id)
            watcher = StreamWatcher()
            async with self._client.stream("POST", request.url, content=request.body, headers=headers) as response:
                async for data in response.aiter_raw():
                    watcher.feed(data)
            request_id = response.headers.get("x-request-id")
            return _outcome(response.status_code, b"", watcher, started, time.perf_counter(), request_id)
        except self._httpx.TimeoutException:
            return Outcome(False, 0, time.perf_counter() - started, error="timeout")
        except self._httpx.HTTPError as exc:
            return Outcome(False, 0, time.perf_counter() - started, error=type(exc).__name__)

    async def close(self) -> None:
        await self._client.aclose()


def make_client(name: str, timeout_s: float, max_connections: int) -> Client:
    if name == "raw":
        return RawClient(timeout_s)
    if name == "httpx":
        return HttpxClient(timeout_s, max_connections)
    raise ValueError(f"unknown client {name!r} (raw or httpx)")
