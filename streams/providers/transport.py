"""The one module that talks to providers: a pooled aiohttp session per provider, with timeouts.

aiohttp rather than httpx on this path: under the benchmark's load the worker spent 29 % of its CPU
inside httpx's request machinery (``bench/README.md``, "What was tried"); aiohttp parses HTTP in C.
Network failures become typed errors here, so nothing above it sees an aiohttp exception.

Timeouts, per provider: ``connect_timeout_s`` to open a connection, ``timeout_s`` to get one from
the pool and between any two reads of the answer (a stream that trickles slower than that is cut).
The request's own deadline is the invoker's. URLs are sent as the adapters built them (already
encoded; Bedrock's signature covers the path), and response headers are lowercased.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from yarl import URL

from schemas.config import ProviderConfig
from schemas.errors import ProviderConnectionError, ProviderStreamBroken, ProviderTimeout, TurnoutError
from streams.providers.base import HttpRequestSpec

__all__ = ["HttpReply", "ProviderTransport"]

READ_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes


def _network_error(exc: BaseException, streaming: bool) -> TurnoutError:
    if isinstance(exc, asyncio.TimeoutError):  # aiohttp's ServerTimeoutError and ConnectionTimeoutError are ones
        return ProviderTimeout(f"The provider did not answer in time ({type(exc).__name__}).")
    if streaming and isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError | ConnectionError):
        return ProviderStreamBroken("The provider's stream broke off.")
    return ProviderConnectionError(f"Could not reach the provider ({type(exc).__name__}).")


_FAILURES = (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError)


def _headers(resp: aiohttp.ClientResponse) -> dict[str, str]:
    return {name.lower(): value for name, value in resp.headers.items()}


class ProviderTransport:
    """Pooled HTTP sessions, one per provider name, opened on first use (in the running loop)."""

    def __init__(self, providers: dict[str, ProviderConfig]) -> None:
        self._providers = dict(providers)
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    def _session(self, provider: str) -> aiohttp.ClientSession:
        session = self._sessions.get(provider)
        if session is None or session.closed:
            settings = self._providers[provider]
            connector = aiohttp.TCPConnector(
                limit=settings.max_connections, limit_per_host=settings.max_connections, ttl_dns_cache=300
            )
            timeout = aiohttp.ClientTimeout(
                total=None,
                connect=settings.timeout_s,  # waiting for a pooled connection, and opening it
                sock_connect=settings.connect_timeout_s,
                sock_read=settings.timeout_s,
            )
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=timeout,
                skip_auto_headers=("content-type",),  # the adapter's, or none (never octet-stream)
                raise_for_status=False,
            )
            self._sessions[provider] = session
        return session

    async def send(self, provider: str, spec: HttpRequestSpec) -> HttpReply:
        session = self._session(provider)
        try:
            async with session.request(
                spec.method, URL(spec.url, encoded=True), headers=spec.headers, data=spec.body
            ) as resp:
                body = await resp.read()
                return HttpReply(resp.status, _headers(resp), body)
        except _FAILURES as exc:
            raise _network_error(exc, streaming=False) from None

    @asynccontextmanager
    async def stream(
        self, provider: str, spec: HttpRequestSpec
    ) -> AsyncIterator[tuple[HttpReply, AsyncIterator[bytes]]]:
        """The response head (body empty, or the whole error body) and an iterator of its bytes."""
        session = self._session(provider)
        try:
            resp = await session.request(spec.method, URL(spec.url, encoded=True), headers=spec.headers, data=spec.body)
        except _FAILURES as exc:
            raise _network_error(exc, streaming=False) from None
        try:
            if resp.status >= 400:
                try:
                    body = await resp.read()
                except _FAILURES as exc:
                    raise _network_error(exc, streaming=False) from None
                yield HttpReply(resp.status, _headers(resp), body), _empty()
            else:
                yield HttpReply(resp.status, _headers(resp), b""), self._bytes(resp)
        finally:
            resp.release()

    @staticmethod
    async def _bytes(resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        try:
            async for piece in resp.content.iter_any():
                yield piece
        except _FAILURES as exc:
            raise _network_error(exc, streaming=True) from None

    async def aclose(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator
