"""Provider calls through a forward proxy: a CONNECT tunnel for https, absolute-form requests for
http, credentials from the proxy URL, and the environment's HTTP(S)_PROXY / NO_PROXY.

The proxy is a small asyncio server written here (it relays a tunnel byte for byte, and answers
plain http requests itself), on asyncio's loop and on uvloop, as the client's other tests run."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from schemas.config import ProviderConfig
from schemas.errors import ProviderConnectionError
from streams.providers.base import HttpRequestSpec
from streams.providers.http1 import Proxy
from streams.providers.transport import LOOPBACK, ProviderTransport, _bypassed
from tests.unit.streams.providers.test_http1 import Server, ok, plain, tls_certificate

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variable of the machine's in the environment (either case); the test sets its own."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


class ForwardProxy:
    """CONNECT: open the tunnel and relay both ways. Anything else: answer it here, as a proxy
    answering from its cache would, so the test sees exactly what the client sent."""

    def __init__(self, credentials: str | None = None) -> None:
        self.credentials = credentials  # "user:password" the proxy demands, or None
        self.heads: list[bytes] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()

    def _authorized(self, head: bytes) -> bool:
        if self.credentials is None:
            return True
        wanted = b"proxy-authorization: basic " + base64.b64encode(self.credentials.encode())
        return any(line.lower() == wanted.lower() for line in head.split(b"\r\n"))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                if not self._authorized(head):
                    writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
                    await writer.drain()
                    return
                method, target, _ = head.split(b"\r\n", 1)[0].split(b" ", 2)
                if method == b"CONNECT":
                    host, _, port = target.rpartition(b":")
                    up_reader, up_writer = await asyncio.open_connection(host.decode(), int(port))
                    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    await asyncio.gather(_relay(reader, up_writer), _relay(up_reader, writer))
                    return
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.lower().split(b"\r\n")
                        if line.startswith(b"content-length")
                    ),
                    0,
                )
                await reader.readexactly(length)
                writer.write(ok(b'{"via": "proxy"}'))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def https_behind(
    proxy: ForwardProxy, tmp_path: Path, userinfo: str = ""
) -> AsyncIterator[tuple[Server, str, ProviderTransport]]:
    """An https origin (a private CA) and a transport to it through ``proxy``: (origin, url, transport)."""
    cert, serving = tls_certificate(tmp_path)
    origin = Server(plain)
    port, proxy_port = await origin.start(serving), await proxy.start()
    url = f"https://127.0.0.1:{port}/v1/chat/completions"
    settings = ProviderConfig(base_url=url, ca_file=str(cert), proxy_url=f"http://{userinfo}127.0.0.1:{proxy_port}")
    transport = ProviderTransport({"p": settings})
    try:
        yield origin, url, transport
    finally:
        await transport.aclose()
        await origin.stop()
        await proxy.stop()


def test_https_goes_through_one_kept_alive_connect_tunnel_with_the_proxys_credentials(run: Any, tmp_path: Path) -> None:
    async def main() -> None:
        proxy = ForwardProxy(credentials="svc:p@ss")
        async with https_behind(proxy, tmp_path, userinfo="svc:p%40ss@") as (origin, url, transport):
            for _ in range(2):
                reply = await transport.send("p", HttpRequestSpec("POST", url, {}, b"{}"))
                assert reply.status == 200
            # one tunnel for both requests, to the origin's authority; TLS inside it, end to end
            port = urlsplit(url).port
            assert len(proxy.heads) == 1 and proxy.heads[0].startswith(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\n" % port)
            assert origin.connections == 1 and len(origin.requests) == 2
            assert origin.requests[0].startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
            assert b"proxy-authorization" not in origin.requests[0].lower()  # the credentials stay with the proxy

    run(main())


def test_a_proxy_that_refuses_the_tunnel_is_a_connection_error_naming_its_answer(run: Any, tmp_path: Path) -> None:
    async def main() -> None:
        async with https_behind(ForwardProxy(credentials="svc:secret"), tmp_path) as (origin, url, transport):
            with pytest.raises(ProviderConnectionError, match="ProxyRefused: the proxy answered CONNECT with 407"):
                await transport.send("p", HttpRequestSpec("POST", url, {}, b"{}"))
            assert origin.connections == 0

    run(main())


def test_plain_http_goes_to_the_proxy_in_absolute_form(run: Any) -> None:
    async def main() -> None:
        proxy = ForwardProxy(credentials="svc:secret")
        proxy_port = await proxy.start()
        url = "http://models.internal:8000/v1/chat/completions?x=1"
        settings = ProviderConfig(base_url=url, proxy_url=f"http://svc:secret@127.0.0.1:{proxy_port}")
        transport = ProviderTransport({"p": settings})
        for _ in range(2):
            reply = await transport.send("p", HttpRequestSpec("POST", url, {}, b"{}"))
            assert reply.status == 200 and reply.body == b'{"via": "proxy"}'
        head = proxy.heads[0]
        assert head.startswith(b"POST http://models.internal:8000/v1/chat/completions?x=1 HTTP/1.1\r\n")
        assert b"\r\nhost: models.internal:8000\r\n" in head
        assert len(proxy.heads) == 2  # both on the one kept-alive connection to the proxy
        await transport.aclose()
        await proxy.stop()

    run(main())


def test_the_environments_proxy_applies_unless_no_proxy_names_the_host_or_trust_env_is_off(
    run: Any, no_proxy_env: pytest.MonkeyPatch
) -> None:

    async def main() -> None:
        origin, proxy = Server(plain), ForwardProxy()
        port, proxy_port = await origin.start(), await proxy.start()
        remote = "http://models.invalid:8000/v1/chat/completions"  # never resolves: reachable only by the proxy
        local = f"http://127.0.0.1:{port}/v1/chat/completions"

        async def call(url: str, **settings: Any) -> bytes:
            transport = ProviderTransport({"p": ProviderConfig(base_url=url, connect_timeout_s=2, **settings)})
            try:
                return (await transport.send("p", HttpRequestSpec("POST", url, {}, b"{}"))).body
            finally:
                await transport.aclose()

        no_proxy_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy_port}")
        assert await call(remote) == b'{"via": "proxy"}'
        assert proxy.heads[-1].startswith(b"POST http://models.invalid:8000/v1/chat/completions HTTP/1.1")
        with pytest.raises(ProviderConnectionError, match="Could not reach"):
            await call(remote, trust_env=False)  # straight to a name that does not resolve
        assert await call(local) == b'{"n": 1}'  # a loopback origin never takes the environment's proxy
        assert await call(local, proxy_url=f"http://127.0.0.1:{proxy_port}") == b'{"via": "proxy"}'  # an explicit one
        no_proxy_env.setenv("NO_PROXY", "localhost, .invalid")
        with pytest.raises(ProviderConnectionError, match="Could not reach"):
            await call(remote)
        assert len(proxy.heads) == 2 and len(origin.requests) == 1
        await origin.stop()
        await proxy.stop()

    run(main())


def test_no_proxy_entries() -> None:
    assert _bypassed("api.openai.com", "*")
    assert _bypassed("api.openai.com", "example.com, openai.com")
    assert _bypassed("api.openai.com", ".openai.com")
    assert _bypassed("openai.com", ".openai.com")
    assert not _bypassed("notopenai.com", "openai.com")
    assert _bypassed("vllm.internal", "vllm.internal:8000")
    assert _bypassed("10.1.2.3", "10.0.0.0/8")
    assert not _bypassed("11.1.2.3", "10.0.0.0/8")
    assert _bypassed("::1", "[::1]")
    assert _bypassed("[::1]", "::1")
    assert not _bypassed("api.openai.com", "")
    assert all(_bypassed(host, LOOPBACK) for host in ("localhost", "127.0.0.2", "[::1]", "ui.localhost"))
    assert not _bypassed("10.0.0.1", LOOPBACK) and not _bypassed("localhost.example.com", LOOPBACK)


def test_proxy_urls() -> None:
    proxy = Proxy.from_url("http://svc:p%40ss@proxy.corp:3128")
    assert (proxy.host, proxy.port) == ("proxy.corp", 3128)
    assert proxy.authorization == "Basic " + base64.b64encode(b"svc:p@ss").decode()
    assert Proxy.from_url("proxy.corp") == Proxy("proxy.corp", 80)  # as curl reads a bare HTTP_PROXY
    with pytest.raises(ValueError, match="not an http:// proxy URL"):
        Proxy.from_url("socks5://proxy.corp:1080")
    for bad in ("socks5://proxy.corp:1080", "https://proxy.corp", "http://proxy.corp:port", "http://"):
        with pytest.raises(ValidationError, match="proxy_url"):
            ProviderConfig(base_url="https://api.openai.com/v1", proxy_url=bad)


def test_an_unusable_proxy_from_the_environment_is_a_clear_connection_error(
    run: Any, no_proxy_env: pytest.MonkeyPatch
) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")

    async def main() -> None:
        url = "https://api.openai.com/v1/chat/completions"
        transport = ProviderTransport({"p": ProviderConfig(base_url=url)})
        with pytest.raises(ProviderConnectionError, match="the proxy is unusable"):
            await transport.send("p", HttpRequestSpec("POST", url, {}, b"{}"))
        await transport.aclose()

    run(main())
