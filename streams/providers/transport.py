"""The one module that talks to providers: pooled keep-alive connections per provider, with timeouts.

The HTTP client is ``streams.providers.http1`` (httptools' C parser under a small connection pool).
It replaced aiohttp, which replaced httpx: under the benchmark's load a worker spent 29 % of its CPU
in httpx's request machinery, then 10-14 % in aiohttp's (``bench/README.md``, "What was tried").
Network failures become typed errors here, so nothing above it sees a socket or parser exception.

Timeouts, per provider: ``connect_timeout_s`` to open a connection, ``timeout_s`` to get one from
the pool and between any two reads of the answer (a stream that trickles slower than that is cut).
The request's own deadline is the invoker's. URLs are sent as the adapters built them (already
encoded; Bedrock's signature covers the path), and response headers are lowercased.

Proxies, per provider: ``proxy_url`` when set; otherwise, with ``trust_env`` (the default), the
environment's ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` for the origin's scheme, unless
``NO_PROXY`` names its host, as curl, httpx and the providers' SDKs read them; a loopback origin
(``localhost``, ``127.0.0.0/8``, ``::1``) never takes the environment's proxy.
"""

from __future__ import annotations

import ipaddress
import ssl
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import orjson

from schemas.config import ProviderConfig
from schemas.errors import ProviderConnectionError, ProviderStreamBroken, ProviderTimeout, TurnoutError
from streams.providers.base import HttpRequestSpec
from streams.providers.http1 import ConnectionPool, HttpResponse, ProtocolFailure, Proxy, RemoteClosed, origin_of

__all__ = ["HttpReply", "ProviderTransport", "TransportShelf"]


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes


def _network_error(exc: BaseException, streaming: bool) -> TurnoutError:
    if isinstance(exc, TimeoutError):
        return ProviderTimeout("The provider did not answer in time.")
    if streaming and isinstance(exc, RemoteClosed | ProtocolFailure | ConnectionError):
        return ProviderStreamBroken("The provider's stream broke off.")
    return ProviderConnectionError(f"Could not reach the provider ({type(exc).__name__}: {exc}).")


_FAILURES = (OSError, TimeoutError)  # ConnectionError, RemoteClosed and ProtocolFailure are OSErrors


LOOPBACK = "localhost,127.0.0.0/8,::1"  # never through the environment's proxy (``localhost`` covers *.localhost)


def _bypassed(host: str, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` (comma-separated) names ``host``: ``*``, the host itself, a domain it is
    under (``example.com`` and ``.example.com`` both cover ``api.example.com``), or a network an IP
    address is in (``10.0.0.0/8``). A ``:port`` on an entry is ignored."""
    host = host.lower().strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if entry.startswith("[") and "]" in entry:
            entry = entry[1 : entry.index("]")]
        elif entry.count(":") == 1:
            entry = entry.partition(":")[0]
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        domain = entry.lstrip(".")
        if host == domain or host.endswith("." + domain):
            return True
    return False


class ProviderTransport:
    """Connection pools, one per provider name and origin, opened on first use (in the running loop)."""

    def __init__(self, providers: dict[str, ProviderConfig]) -> None:
        self._providers = dict(providers)
        self._pools: dict[tuple[str, str, str, int], ConnectionPool] = {}
        self._ssl: dict[str, ssl.SSLContext] = {}
        self._closed = False

    def _ssl_context(self, provider: str) -> ssl.SSLContext:
        """The system's trusted CAs, or only the provider's ``ca_file`` (read when first needed)."""
        context = self._ssl.get(provider)
        if context is None:
            ca_file = self._providers[provider].ca_file
            try:
                context = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ProviderConnectionError(f"The provider's ca_file cannot be read ({exc}).") from None
            self._ssl[provider] = context
        return context

    def _proxy(self, provider: str, scheme: str, host: str) -> Proxy | None:
        """The provider's ``proxy_url``, else the environment's proxy for ``scheme`` unless ``host`` is
        a loopback one (a model served on this machine; Go's HTTP client does the same) or ``NO_PROXY``
        names it (with ``trust_env``), else none."""
        settings = self._providers[provider]
        url = settings.proxy_url
        if url is None and settings.trust_env:
            found = urllib.request.getproxies_environment()  # lowercased names; HTTP_PROXY skipped under CGI
            url = found.get(scheme) or found.get("all")
            if url and _bypassed(host, f"{LOOPBACK},{found.get('no', '')}"):
                url = None
        if not url:
            return None
        try:
            return Proxy.from_url(url)
        except ValueError as exc:
            raise ProviderConnectionError(f"Could not reach the provider: the proxy is unusable ({exc}).") from None

    async def _open(self, provider: str, spec: HttpRequestSpec) -> tuple[ConnectionPool, HttpResponse]:
        """The answer's head, from a pooled connection."""
        try:
            scheme, host, port, target = origin_of(spec.url)
        except ValueError as exc:
            raise ProviderConnectionError(f"Could not reach the provider ({exc}).") from None
        key = (provider, scheme, host, port)
        pool = self._pools.get(key)
        if pool is None:
            settings = self._providers[provider]
            pool = self._pools[key] = ConnectionPool(
                scheme,
                host,
                port,
                max_connections=settings.max_connections,
                connect_timeout_s=settings.connect_timeout_s,
                read_timeout_s=settings.timeout_s,
                ssl_context=self._ssl_context(provider) if scheme == "https" else None,
                proxy=self._proxy(provider, scheme, host),
            )
            if self._closed:
                pool.close()  # a late call (a retry begun before the close) keeps no connection
        try:
            return pool, await pool.request(spec.method, target, spec.headers, spec.body)
        except _FAILURES as exc:  # before ValueError: a certificate that fails verification is both
            raise _network_error(exc, streaming=False) from None
        except ValueError as exc:  # a header that cannot go on the wire (a line break in a key, say)
            raise ProviderConnectionError(f"The request could not be sent ({exc}).") from None

    async def send(self, provider: str, spec: HttpRequestSpec) -> HttpReply:
        pool, response = await self._open(provider, spec)
        try:
            body = await response.read()
        except _FAILURES as exc:
            raise _network_error(exc, streaming=False) from None
        finally:
            pool.release(response.connection)
        return HttpReply(response.status, response.headers, body)

    @asynccontextmanager
    async def stream(
        self, provider: str, spec: HttpRequestSpec
    ) -> AsyncIterator[tuple[HttpReply, AsyncIterator[bytes]]]:
        """The response head (body empty, or the whole error body) and an iterator of its bytes."""
        pool, response = await self._open(provider, spec)
        try:
            if response.status >= 400:
                try:
                    body = await response.read()
                except _FAILURES as exc:
                    raise _network_error(exc, streaming=False) from None
                yield HttpReply(response.status, response.headers, body), _empty()
            else:
                yield HttpReply(response.status, response.headers, b""), self._bytes(response)
        finally:
            pool.release(response.connection)  # reused only if its answer was read to the end

    @staticmethod
    async def _bytes(response: HttpResponse) -> AsyncIterator[bytes]:
        try:
            async for piece in response.iter_chunks():
                yield piece
        except _FAILURES as exc:
            raise _network_error(exc, streaming=True) from None

    def close(self) -> None:
        """Close every pool: idle connections now, those in use once their answers end. A call
        begun before the close still completes, on a connection that is closed after it."""
        self._closed = True
        for pool in self._pools.values():
            pool.close()

    async def aclose(self) -> None:
        self.close()


class TransportShelf:
    """The transport of the providers section in force. A reloaded config with the same section
    keeps its pools; one with another section (an address, a timeout, a pool size changed) gets a
    new transport, and the one before is closed, so every reload does not leave its connections."""

    def __init__(self) -> None:
        self._key: bytes | None = None
        self._transport: ProviderTransport | None = None

    def for_providers(self, providers: dict[str, ProviderConfig]) -> ProviderTransport:
        key = orjson.dumps({name: p.model_dump(mode="json") for name, p in sorted(providers.items())})
        if self._transport is None or key != self._key:
            if self._transport is not None:
                self._transport.close()
            self._key, self._transport = key, ProviderTransport(providers)
        return self._transport

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator
