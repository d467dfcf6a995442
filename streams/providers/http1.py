"""A small HTTP/1.1 client for provider calls: pooled keep-alive connections, httptools' C parser.

Why not aiohttp, which this replaced: under the benchmark's load a worker spent 10-14 % of its CPU
in aiohttp's request machinery (its session, connector, timers, multidicts and stream readers),
for a request that is always the same shape here: one POST or GET with a body in memory, an answer
read whole or streamed. This module does that much and no more. ``ProviderTransport`` is its one
user, and turns what it raises into Turnout's typed errors.

- One ``ConnectionPool`` per origin (scheme, host, port): up to ``max_connections`` connections,
  the idle ones reused newest first, each for at most ``KEEPALIVE_S`` since its last answer and
  only while the server keeps it open (a server that closes an idle connection is seen at once:
  the loop delivers its EOF). A request on a reused connection that the server closed before a
  byte of the answer came back is sent once more on a new connection: the server did not take it.
- Timeouts: ``connect_timeout_s`` to open a connection (TLS included); ``read_timeout_s`` to get a
  connection from a full pool, and between any two reads of the answer.
- Bodies: ``Content-Length``, chunked, or until the server closes; gzip and deflate are decoded.
  A streamed body is read ``pause_reading``-bounded (``HIGH_WATER`` bytes buffered at most).
- A forward proxy (``Proxy``, an ``http://[user:password@]host:port`` URL): an https origin is
  reached through a ``CONNECT`` tunnel, TLS inside it end to end; a plain http origin gets its
  requests in absolute form (``POST http://host/path``) on connections to the proxy. Credentials in
  the URL go as ``Proxy-Authorization: Basic``. A proxy that refuses the tunnel is ``ProxyRefused``.
- No cookies or redirects: provider APIs need neither.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import httptools

__all__ = ["ConnectionPool", "HttpResponse", "ProtocolFailure", "Proxy", "ProxyRefused", "RemoteClosed", "origin_of"]

KEEPALIVE_S = 15.0
HIGH_WATER = 256 * 1024  # bytes of a streamed body buffered before the socket's reads pause
USER_AGENT = b"turnout"
DEFAULT_PORTS = {"http": 80, "https": 443}


class RemoteClosed(ConnectionError):
    """The server closed the connection before the answer was complete."""


class ProtocolFailure(ConnectionError):
    """The server's bytes are not HTTP/1.1 this client can read."""


class ProxyRefused(ConnectionError):
    """The proxy did not open the tunnel (its status line says why: 407, 403, 502...)."""


MAX_PROXY_HEAD = 64 * 1024  # bytes of a proxy's answer to CONNECT read before giving up on it


@dataclass(frozen=True)
class Proxy:
    """A forward proxy: where it listens and, when its URL carries them, the credentials it gets."""

    host: str
    port: int
    authorization: str | None = None  # the Proxy-Authorization header's value

    @classmethod
    def from_url(cls, url: str) -> Proxy:
        """``http://[user:password@]host[:port]`` (a URL without a scheme is taken as http://)."""
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme.lower() != "http" or not parts.hostname:
            raise ValueError(f"not an http:// proxy URL: {parts.scheme}://{parts.hostname or ''}")
        authorization = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        return cls(parts.hostname, parts.port or 80, authorization)


def origin_of(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, request target) of an absolute http(s) URL, sent as written."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    return scheme, parts.hostname, parts.port or DEFAULT_PORTS[scheme], target


def _wait(future: asyncio.Future[Any], timeout_s: float) -> asyncio.Future[Any]:
    """``future``, failed with TimeoutError if it is not done within ``timeout_s`` (one timer, no task)."""
    if future.done():
        return future
    timer = asyncio.get_running_loop().call_later(timeout_s, _expire, future)
    future.add_done_callback(lambda _: timer.cancel())
    return future


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class HttpResponse:
    """One answer: its status and headers once the head is in, then its body as it arrives."""

    def __init__(self, connection: _Connection, read_timeout_s: float) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.connection = connection
        self._read_timeout_s = read_timeout_s
        self._loop = asyncio.get_running_loop()
        self._head: asyncio.Future[None] = self._loop.create_future()
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._decoder: Any = None
        self.complete = False  # the whole body has arrived
        self.failure: BaseException | None = None
        self.got_bytes = False  # any byte of the answer came back

    # -- fed by the connection ------------------------------------------------------------------
    def _head_done(self, status: int) -> None:
        self.status = status
        coding = self.headers.get("content-encoding", "").strip().lower()
        if coding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            self._decoder = zlib.decompressobj()
        if not self._head.done():
            self._head.set_result(None)

    def _body(self, data: bytes) -> None:
        if self._decoder is not None:
            try:
                data = self._decoder.decompress(data)
            except zlib.error as exc:
                self._fail(ProtocolFailure(f"undecodable {self.headers.get('content-encoding')} body: {exc}"))
                return
        if data:
            self._chunks.append(data)
            self._buffered += len(data)
            if self._buffered > HIGH_WATER:
                self.connection.pause()
            self._wake()

    def _done(self) -> None:
        if self.failure is not None:
            return
        if self._decoder is not None:
            tail = self._decoder.flush()
            if tail:
                self._chunks.append(tail)
        self.complete = True
        self._wake()

    def _fail(self, exc: BaseException) -> None:
        if self.complete or self.failure is not None:
            return
        self.failure = exc
        if not self._head.done():
            self._head.set_exception(exc)
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- read by the caller ---------------------------------------------------------------------
    async def head(self) -> None:
        await _wait(self._head, self._read_timeout_s)

    async def _more(self) -> bool:
        """Wait for body bytes; False once the body is complete and every byte taken."""
        while not self._chunks:
            if self.complete:
                return False
            if self.failure is not None:
                raise self.failure
            self._waiter = self._loop.create_future()
            await _wait(self._waiter, self._read_timeout_s)
        return True

    def _take(self) -> bytes:
        data = b"".join(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        self._chunks.clear()
        self._buffered = 0
        self.connection.resume()
        return data

    async def read(self) -> bytes:
        parts = []
        while await self._more():
            parts.append(self._take())
        return b"".join(parts)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        while await self._more():
            yield self._take()


class _Connection(asyncio.Protocol):
    """One keep-alive connection: its socket, its parser, and the answer it is reading now."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.response: HttpResponse | None = None
        self.closed = False
        self.idle_since = time.monotonic()
        self._paused = False
        self._keep_alive = False  # the last answer let the connection stay open

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None:  # bytes nobody asked for: this connection cannot be trusted again
            self.close()
            return
        response.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            response._fail(ProtocolFailure(f"unreadable answer: {exc}"))
            self.close()

    def eof_received(self) -> bool:
        self.closed = True
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        response = self.response
        if response is not None and not response.complete:
            if response._head.done() and not self._framed():
                response._done()  # neither a length nor chunks: the body ends where the connection does
            else:
                response._fail(RemoteClosed("the server closed the connection"))

    def _framed(self) -> bool:
        headers = self.response.headers if self.response else {}
        return "content-length" in headers or "chunked" in headers.get("transfer-encoding", "").lower()

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.response is not None
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        previous = self.response.headers.get(key)
        self.response.headers[key] = text if previous is None else f"{previous}, {text}"

    def on_headers_complete(self) -> None:
        assert self.response is not None
        self.response._head_done(self.parser.get_status_code())

    def on_body(self, body: bytes) -> None:
        assert self.response is not None
        self.response._body(body)

    def on_message_complete(self) -> None:
        assert self.response is not None
        self._keep_alive = self.parser.should_keep_alive()  # only meaningful inside the callback
        self.response._done()

    # flow control of a streamed body
    def pause(self) -> None:
        if not self._paused and self.transport is not None and not self.closed:
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._paused and self.transport is not None and not self.closed:
            self._paused = False
            self.transport.resume_reading()

    def reusable(self, now: float) -> bool:
        return not self.closed and now - self.idle_since < KEEPALIVE_S

    def start(self, request: bytes, read_timeout_s: float) -> HttpResponse:
        assert self.transport is not None
        self.response = HttpResponse(self, read_timeout_s)
        self._keep_alive = False
        self.transport.write(request)
        return self.response

    def finish(self) -> bool:
        """Done with the answer: whether the connection can take another request."""
        response, self.response = self.response, None
        keep = (
            response is not None
            and response.complete
            and response.failure is None
            and not self.closed
            and not self._paused
            and self._keep_alive
        )
        if keep:
            self.idle_since = time.monotonic()
        else:
            self.close()
        return keep

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _request_head(method: str, target: str, host: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {target} HTTP/1.1"]
    names = set()
    for name, value in headers.items():
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value or ":" in name:
            raise ValueError(f"header {name!r} holds a line break or a colon")
        lines.append(f"{name}: {value}")
        names.add(name.lower())
    if "host" not in names:
        lines.append(f"host: {host}")
    if "user-agent" not in names:
        lines.append("user-agent: turnout")
    if "accept-encoding" not in names:
        lines.append("accept-encoding: gzip, deflate")
    if body or method not in ("GET", "HEAD"):
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class ConnectionPool:
    """Keep-alive connections to one origin."""

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        *,
        max_connections: int,
        connect_timeout_s: float,
        read_timeout_s: float,
        ssl_context: ssl.SSLContext | None = None,
        proxy: Proxy | None = None,
    ) -> None:
        self._scheme, self._host, self._port = scheme, host, port
        self._proxy = proxy
        self._host_header = host if port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
        if ":" in host and not host.startswith("["):  # an IPv6 literal
            self._host_header = f"[{host}]" if port == DEFAULT_PORTS[scheme] else f"[{host}]:{port}"
        self._max = max_connections
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._ssl = (ssl_context or ssl.create_default_context()) if scheme == "https" else None
        self._idle: list[_Connection] = []
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def request(self, method: str, target: str, headers: dict[str, str], body: bytes) -> HttpResponse:
        """Send the request; return once the answer's head is in (its body still to read). The
        caller must ``release`` the response's connection (``HttpResponse`` knows it)."""
        if self._proxy is not None and self._ssl is None:  # plain http through a proxy: absolute form
            target = f"{self._scheme}://{self._host_header}{target}"
            if self._proxy.authorization is not None:
                headers = {**headers, "proxy-authorization": self._proxy.authorization}
        wire = _request_head(method, target, self._host_header, headers, body) + body
        for _ in range(2):
            connection, reused = await self._acquire()
            response = connection.start(wire, self._read_timeout_s)
            try:
                await response.head()
            except RemoteClosed:
                self.release(connection)
                if reused and not response.got_bytes:
                    continue  # the server had closed it as idle: it never saw this request
                raise
            except BaseException:
                self.release(connection)
                raise
            return response
        raise RemoteClosed("the server closed the connection")  # pragma: no cover - the loop returns or raises

    def release(self, connection: _Connection) -> None:
        """Give a connection back: kept if its answer was read whole and the server keeps it open.
        A second release of the same answer does nothing."""
        if connection.response is None:
            return
        if connection.finish() and not self._closed:
            self._idle.append(connection)
        else:
            connection.close()  # a kept-alive one given back to a closed pool closes too
            self._open -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    async def _acquire(self) -> tuple[_Connection, bool]:
        deadline = time.monotonic() + self._read_timeout_s
        while True:
            now = time.monotonic()
            while self._idle:
                connection = self._idle.pop()
                if connection.reusable(now):
                    return connection, True
                connection.close()
                self._open -= 1
            if self._open < self._max:
                self._open += 1
                try:
                    return await self._connect(), False
                except BaseException:
                    self._open -= 1
                    raise
            remaining = deadline - now
            if remaining <= 0:
                raise TimeoutError()
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)  # woken by the next release; a timed-out one is skipped
            await _wait(waiter, remaining)

    async def _connect(self) -> _Connection:
        return await asyncio.wait_for(self._open_connection(), self._connect_timeout_s)

    async def _open_connection(self) -> _Connection:
        loop = asyncio.get_running_loop()
        handshake_s = self._connect_timeout_s if self._ssl else None
        if self._proxy is None:
            _, connection = await loop.create_connection(
                _Connection,
                self._host,
                self._port,
                ssl=self._ssl,
                server_hostname=self._host if self._ssl else None,
                ssl_handshake_timeout=handshake_s,
            )
        elif self._ssl is None:  # plain http: the connection is to the proxy, the requests name the origin
            _, connection = await loop.create_connection(_Connection, self._proxy.host, self._proxy.port)
        else:
            sock = await self._tunnel(loop, self._proxy)
            try:
                _, connection = await loop.create_connection(
                    _Connection, sock=sock, ssl=self._ssl, server_hostname=self._host, ssl_handshake_timeout=handshake_s
                )
            except BaseException:
                sock.close()
                raise
        return connection

    async def _tunnel(self, loop: asyncio.AbstractEventLoop, proxy: Proxy) -> socket.socket:
        """A socket to the proxy on which it has answered ``CONNECT host:port`` with a 2xx: from
        here on its bytes are the origin's (the TLS handshake comes next)."""
        infos = await loop.getaddrinfo(proxy.host, proxy.port, type=socket.SOCK_STREAM)
        if not infos:  # pragma: no cover - getaddrinfo raises rather than answering nothing
            raise OSError(f"no address for the proxy {proxy.host}")
        family, kind, protocol, _, address = infos[0]
        sock = socket.socket(family, kind, protocol)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await loop.sock_connect(sock, address)
            host = f"[{self._host}]" if ":" in self._host else self._host  # an IPv6 literal
            authority = f"{host}:{self._port}"  # CONNECT names the port, the default one too
            lines = [f"CONNECT {authority} HTTP/1.1", f"host: {authority}", "user-agent: turnout"]
            if proxy.authorization is not None:
                lines.append(f"proxy-authorization: {proxy.authorization}")
            await loop.sock_sendall(sock, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            head = b""
            while b"\r\n\r\n" not in head:
                data = await loop.sock_recv(sock, 4096)
                if not data:
                    raise RemoteClosed("the proxy closed the connection before answering CONNECT")
                head += data
                if len(head) > MAX_PROXY_HEAD:
                    raise ProtocolFailure("the proxy's answer to CONNECT has no end")
            status_line, _, rest = head.partition(b"\r\n")
            parts = status_line.decode("latin-1").split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise ProtocolFailure(f"unreadable answer to CONNECT: {status_line[:80]!r}")
            if not 200 <= int(parts[1]) < 300:
                raise ProxyRefused(f"the proxy answered CONNECT with {' '.join(parts[1:])}")
            if rest.partition(b"\r\n\r\n")[2]:  # the origin speaks only after our TLS hello
                raise ProtocolFailure("the proxy sent bytes after its answer to CONNECT")
        except BaseException:
            sock.close()
            raise
        return sock

    def close(self) -> None:
        self._closed = True
        for connection in self._idle:
            connection.close()
        self._open -= len(self._idle)
        self._idle.clear()
