"""The provider HTTP client (``streams.providers.http1``) against real servers on loopback sockets,
on asyncio's loop and on uvloop (the worker's): keep-alive, framing, timeouts, TLS, failures.

The servers are small asyncio servers written here, so each test controls the bytes exactly."""

from __future__ import annotations

import asyncio
import gzip
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from schemas.config import ProviderConfig
from schemas.errors import ProviderConnectionError, ProviderStreamBroken, ProviderTimeout
from streams.providers import http1
from streams.providers.base import HttpRequestSpec
from streams.providers.http1 import ConnectionPool, RemoteClosed
from streams.providers.transport import ProviderTransport, TransportShelf


class Server:
    """An HTTP/1.1 server on a free port whose answers the test writes byte for byte."""

    def __init__(self, answer: Callable[[Server, int, bytes, asyncio.StreamWriter], Awaitable[bool]]) -> None:
        self.answer = answer  # (server, connection number, request bytes, writer) -> keep the connection?
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self.requests: list[bytes] = []
        self._server: asyncio.Server | None = None

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=ssl_context)
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.lower().split(b"\r\n")
                length = next((int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length")), 0)
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                if not await self.answer(self, number, request, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open_now -= 1
            writer.close()

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\ncontent-type: application/json\r\n%s\r\n%s" % (
        len(body),
        extra,
        body,
    )


async def plain(server: Server, number: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(ok(b'{"n": %d}' % len(server.requests)))
    await writer.drain()
    return True


def pool_for(port: int, **settings: Any) -> ConnectionPool:
    return ConnectionPool(
        "http",
        "127.0.0.1",
        port,
        max_connections=settings.get("max_connections", 10),
        connect_timeout_s=2.0,
        read_timeout_s=settings.get("read_timeout_s", 2.0),
    )


async def fetch(pool: ConnectionPool, body: bytes = b"{}") -> tuple[int, dict[str, str], bytes]:
    response = await pool.request("POST", "/v1/chat/completions", {"content-type": "application/json"}, body)
    try:
        return response.status, response.headers, await response.read()
    finally:
        pool.release(response.connection)


def test_sequential_requests_share_one_kept_alive_connection(run: Any) -> None:
    async def main() -> None:
        server = Server(plain)
        pool = pool_for(await server.start())
        answers = [await fetch(pool, b'{"q": %d}' % i) for i in range(5)]
        assert [a[2] for a in answers] == [b'{"n": %d}' % i for i in range(1, 6)]
        assert answers[0][0] == 200 and answers[0][1]["content-type"] == "application/json"
        assert server.connections == 1
        first = server.requests[0].decode()
        assert first.startswith("POST /v1/chat/completions HTTP/1.1\r\n")
        assert f"host: 127.0.0.1:{server._server.sockets[0].getsockname()[1]}\r\n" in first  # type: ignore[union-attr]
        assert "content-length: 8\r\n" in first and first.endswith('\r\n\r\n{"q": 0}')
        pool.close()
        await server.stop()

    run(main())


def test_a_second_release_of_the_same_answer_changes_nothing(run: Any) -> None:
    async def main() -> None:
        server = Server(plain)
        pool = pool_for(await server.start(), max_connections=1)
        response = await pool.request("GET", "/", {}, b"")
        await response.read()
        pool.release(response.connection)
        pool.release(response.connection)
        assert pool._open == 1 and len(pool._idle) == 1
        assert (await fetch(pool))[0] == 200 and server.connections == 1
        pool.close()
        await server.stop()

    run(main())


def test_concurrent_requests_open_no_more_than_max_connections(run: Any) -> None:
    async def slow(server: Server, number: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.05)
        return await plain(server, number, request, writer)

    async def main() -> None:
        server = Server(slow)
        pool = pool_for(await server.start(), max_connections=2)
        answers = await asyncio.gather(*(fetch(pool) for _ in range(6)))
        assert [a[0] for a in answers] == [200] * 6
        assert server.connections == 2 and server.most_open == 2
        pool.close()
        await server.stop()

    run(main())


def test_a_full_pool_that_frees_no_connection_in_time_is_a_timeout(run: Any) -> None:
    async def hang(server: Server, number: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(5)
        return False

    async def main() -> None:
        server = Server(hang)
        pool = pool_for(await server.start(), max_connections=1, read_timeout_s=0.3)
        first = asyncio.ensure_future(fetch(pool))
        with pytest.raises(TimeoutError):
            await fetch(pool)  # waits for the one connection, then gives up
        with pytest.raises(TimeoutError):
            await first  # and the answer that never came is a timeout too
        assert pool._open == 0  # both given back (closed: their answers were not read)
        await server.stop()

    run(main())


def test_a_connection_the_server_closed_while_idle_is_not_reused(run: Any) -> None:
    async def once(server: Server, number: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(b"{}"))  # keep-alive by HTTP/1.1's default, then closed as idle
        await writer.drain()
        return False

    async def main() -> None:
        server = Server(once)
        pool = pool_for(await server.start())
        assert (await fetch(pool))[0] == 200
        deadline = asyncio.get_running_loop().time() + 5
        while not all(c.closed for c in pool._idle):  # the server's close reaches the client
            assert asyncio.get_running_loop().time() < deadline, "the server's close never arrived"
            await asyncio.sleep(0)
        assert (await fetch(pool))[0] == 200
        assert server.connections == 2 and len(server.requests) == 2
        pool.close()
        await server.stop()

    run(main())


def test_a_request_on_a_connection_closed_as_it_was_sent_goes_again_on_a_new_one(run: Any) -> None:
    """The race a keep-alive client cannot avoid: the server closes an idle connection just as the
    next request goes out on it. It never answered, so the request goes once more."""

    async def drop_second(server: Server, number: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        if number == 1 and len(server.requests) == 2:
            return False  # closes without a byte of answer
        return await plain(server, number, request, writer)

    async def main() -> None:
        server = Server(drop_second)
        pool = pool_for(await server.start())
        assert (await fetch(pool))[0] == 200
        assert await fetch(pool) == (200, {"content-length": "8", "content-type": "application/json"}, b'{"n": 3}')
        assert server.connections == 2 and len(server.requests) == 3
        pool.close()
        await server.stop()

    run(main())


def test_a_new_connection_closed_without_an_answer_is_an_error_not_a_retry(run: Any) -> None:
    async def drop(server: Server, number: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        return False

    async def main() -> None:
        server = Server(drop)
        pool = pool_for(await server.start())
        with pytest.raises(RemoteClosed):
            await fetch(pool)
        assert len(server.requests) == 1 and pool._open == 0
        await server.stop()

    run(main())


def test_a_chunked_answer_streams_piece_by_piece_and_the_connection_is_kept(run: Any) -> None:
    gate = asyncio.Event()

    async def chunked(server: Server, number: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/event-stream\r\n\r\n")
        writer.write(b"7\r\ndata: 1\r\n")
        await writer.drain()
        await gate.wait()  # the client has the first piece before the second is sent
        writer.write(b"7\r\ndata: 2\r\n0\r\n\r\n")
        await writer.drain()
        return True

    async def main() -> None:
        server = Server(chunked)
        pool = pool_for(await server.start())
        response = await pool.request("POST", "/stream", {}, b"{}")
        assert response.status == 200 and response.headers["transfer-encoding"] == "chunked"
        pieces = []
        async for piece in response.iter_chunks():
            pieces.append(piece)
            gate.set()
        pool.release(response.connection)
        assert pieces == [b"data: 1", b"data: 2"]
        gate.clear()
        asyncio.get_running_loop().call_later(0.01, gate.set)
        assert (await fetch(pool))[2] == b"data: 1data: 2"
        assert server.connections == 1
        pool.close()
        await server.stop()

    run(main())


def test_a_body_without_length_ends_where_the_connection_does(run: Any) -> None:
    async def until_close(server: Server, number: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it")
        await writer.drain()
        return False

    async def main() -> None:
        server = Server(until_close)
        pool = pool_for(await server.start())
        assert (await fetch(pool))[2] == b"all of it"
        assert (await fetch(pool))[2] == b"all of it"
        assert server.connections == 2 and pool._open == 0
        await server.stop()

    run(main())


def test_a_body_cut_short_is_remote_closed_and_a_broken_stream_for_the_transport(run: Any) -> None:
    async def short(server: Server, number: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this")
        await writer.drain()
        return False

    async def main() -> None:
        server = Server(short)
        port = await server.start()
        with pytest.raises(RemoteClosed):
            await fetch(pool_for(port))
        transport = transport_for(port)
        with pytest.raises(ProviderConnectionError):
            await transport.send("p", spec(port))
        async with transport.stream("p", spec(port)) as (head, body):
            assert head.status == 200
            with pytest.raises(ProviderStreamBroken):
                async for _ in body:
                    pass
        await transport.aclose()
        await server.stop()

    run(main())


def test_a_gzip_body_is_decoded(run: Any) -> None:
    text = b'{"choices": []}' * 200
    packed = gzip.compress(text)

    async def zipped(server: Server, number: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(packed, b"content-encoding: gzip\r\n"))
        await writer.drain()
        return True

    async def main() -> None:
        server = Server(zipped)
        pool = pool_for(await server.start())
        assert (await fetch(pool))[2] == text
        assert b"accept-encoding: gzip, deflate\r\n" in server.requests[0]
        pool.close()
        await server.stop()

    run(main())


def test_a_stalled_answer_is_a_timeout_between_reads(run: Any) -> None:
    async def stall(server: Server, number: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf")
        await writer.drain()
        await asyncio.sleep(3)
        return False

    async def main() -> None:
        server = Server(stall)
        port = await server.start()
        transport = transport_for(port, timeout_s=0.3)
        with pytest.raises(ProviderTimeout):
            await transport.send("p", spec(port))
        await transport.aclose()
        await server.stop()

    run(main())


def test_a_large_streamed_body_read_slowly_arrives_whole(run: Any) -> None:
    """More than the high-water mark buffered: reading pauses, then resumes as the caller takes it."""
    blob = bytes(range(256)) * (4 * http1.HIGH_WATER // 256)

    async def big(server: Server, number: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(blob))
        await writer.drain()
        return True

    async def main() -> None:
        server = Server(big)
        pool = pool_for(await server.start())
        response = await pool.request("GET", "/big", {}, b"")
        got = bytearray()
        paused = False
        async for piece in response.iter_chunks():
            got += piece
            await asyncio.sleep(0.005)
            paused = paused or response.connection._paused  # reading stopped while the caller slept
        pool.release(response.connection)
        assert bytes(got) == blob and paused
        assert b"content-length" not in server.requests[0]  # a GET without a body says nothing of one
        assert (await fetch(pool))[2] == blob and server.connections == 1
        pool.close()
        await server.stop()

    run(main())


def test_an_answer_abandoned_midway_closes_its_connection(run: Any) -> None:
    async def endless(server: Server, number: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for _ in range(100):
            writer.write(b"3\r\nabc\r\n")
            await writer.drain()
            await asyncio.sleep(0.01)
        return False

    async def main() -> None:
        server = Server(endless)
        port = await server.start()
        transport = transport_for(port)
        async with transport.stream("p", spec(port)) as (_, body):
            async for _ in body:
                break  # the caller stops reading (a deadline, a client gone)
        assert [p._open for p in transport._pools.values()] == [0]
        await transport.aclose()
        await server.stop()

    run(main())


def test_connection_refused_and_bad_headers_are_connection_errors(run: Any) -> None:
    async def main() -> None:
        server = Server(plain)
        port = await server.start()
        await server.stop()
        server._server.close()  # type: ignore[union-attr]
        await server._server.wait_closed()  # type: ignore[union-attr]
        transport = transport_for(port)
        with pytest.raises(ProviderConnectionError, match="ConnectionRefusedError"):
            await transport.send("p", spec(port))
        live = Server(plain)
        live_port = await live.start()
        bad = HttpRequestSpec("POST", f"http://127.0.0.1:{live_port}/x", {"authorization": "Bearer a\r\nx: y"}, b"")
        with pytest.raises(ProviderConnectionError, match="line break"):
            await transport_for(live_port).send("p", bad)
        assert live.requests == []  # nothing went on the wire
        await live.stop()

    run(main())


def tls_certificate(tmp: Path) -> tuple[Path, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1 (made by the openssl command-line tool) and a server
    context serving it: (the certificate's PEM file, for a client's ``ca_file``; the context)."""
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    serving.load_cert_chain(cert, key)
    return cert, serving


def test_https_with_a_trusted_certificate_works_and_an_untrusted_one_is_refused(run: Any, tmp_path: Path) -> None:
    cert, serving = tls_certificate(tmp_path)

    async def main() -> None:
        server = Server(plain)
        port = await server.start(serving)
        url = f"https://127.0.0.1:{port}/v1/chat/completions"
        transport = ProviderTransport({"p": ProviderConfig(base_url=url, ca_file=str(cert))})  # a private CA
        for _ in range(2):
            reply = await transport.send("p", HttpRequestSpec("POST", url, {}, b"{}"))
            assert reply.status == 200
        assert server.connections == 1
        assert b"host: 127.0.0.1:%d\r\n" % port in server.requests[0]
        await transport.aclose()
        untrusting = ProviderTransport({"p": ProviderConfig(base_url=url)})  # the system's CAs only
        with pytest.raises(ProviderConnectionError, match="SSLCertVerificationError"):
            await untrusting.send("p", HttpRequestSpec("POST", url, {}, b"{}"))
        missing = ProviderTransport({"p": ProviderConfig(base_url=url, ca_file=str(tmp_path / "none.pem"))})
        with pytest.raises(ProviderConnectionError, match="ca_file cannot be read"):
            await missing.send("p", HttpRequestSpec("POST", url, {}, b"{}"))
        await server.stop()

    run(main())


def transport_for(port: int, timeout_s: float = 2.0) -> ProviderTransport:
    return ProviderTransport({"p": ProviderConfig(base_url=f"http://127.0.0.1:{port}", timeout_s=timeout_s)})


def spec(port: int) -> HttpRequestSpec:
    return HttpRequestSpec("POST", f"http://127.0.0.1:{port}/v1/chat/completions", {}, b"{}")


def test_a_changed_providers_section_gets_a_new_transport_and_the_old_one_closes_its_connections(run: Any) -> None:
    async def held(server: Server, number: int, request: bytes, writer: asyncio.StreamWriter) -> bool:
        if b"hold" in request:
            await release.wait()
        writer.write(ok(b"{}"))
        await writer.drain()
        return True

    release: asyncio.Event

    async def until(condition: Callable[[], bool]) -> None:
        deadline = asyncio.get_running_loop().time() + 5
        while not condition():
            assert asyncio.get_running_loop().time() < deadline, "the server still sees the connection"
            await asyncio.sleep(0.01)

    async def main() -> None:
        nonlocal release
        release = asyncio.Event()
        server = Server(held)
        port = await server.start()
        shelf = TransportShelf()
        providers = {"p": ProviderConfig(base_url=f"http://127.0.0.1:{port}")}
        first = shelf.for_providers(providers)
        assert shelf.for_providers(dict(providers)) is first  # the same section: the same pools
        busy_spec = HttpRequestSpec("POST", f"http://127.0.0.1:{port}/v1/chat/completions", {}, b'{"hold": 1}')
        busy = asyncio.create_task(first.send("p", busy_spec))  # held by the server: in flight
        await until(lambda: len(server.requests) == 1)
        assert (await first.send("p", spec(port))).status == 200  # a second connection, idle after it
        assert server.open_now == 2

        changed = {"p": ProviderConfig(base_url=f"http://127.0.0.1:{port}", timeout_s=7.0)}
        second = shelf.for_providers(changed)
        assert second is not first
        await until(lambda: server.open_now == 1)  # the idle connection is closed at once
        release.set()
        assert (await busy).status == 200  # the call in flight is answered, then its connection closes
        await until(lambda: server.open_now == 0)

        assert (await second.send("p", spec(port))).status == 200
        assert server.open_now == 1
        shelf.close()
        await until(lambda: server.open_now == 0)
        await server.stop()

    run(main())
