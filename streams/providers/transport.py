"""The one module that talks to providers: pooled httpx clients, one per provider, with timeouts.

Network failures become typed errors here, so nothing above it sees an httpx exception.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from schemas.config import ProviderConfig
from schemas.errors import ProviderConnectionError, ProviderStreamBroken, ProviderTimeout, TurnoutError
from streams.providers.base import HttpRequestSpec

__all__ = ["HttpReply", "ProviderTransport"]


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes


def _network_error(exc: httpx.HTTPError, streaming: bool) -> TurnoutError:
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(f"The provider did not answer in time ({type(exc).__name__}).")
    if streaming and isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return ProviderStreamBroken("The provider's stream broke off.")
    return ProviderConnectionError(f"Could not reach the provider ({type(exc).__name__}).")


class ProviderTransport:
    """Pooled HTTP clients, one per provider name."""

    def __init__(self, providers: dict[str, ProviderConfig]) -> None:
        self._clients = {
            name: httpx.AsyncClient(
                timeout=httpx.Timeout(p.timeout_s, connect=p.connect_timeout_s),
                limits=httpx.Limits(max_connections=p.max_connections, max_keepalive_connections=p.max_connections),
            )
            for name, p in providers.items()
        }

    async def send(self, provider: str, spec: HttpRequestSpec) -> HttpReply:
        client = self._clients[provider]
        try:
            resp = await client.request(spec.method, spec.url, headers=spec.headers, content=spec.body)
        except httpx.HTTPError as exc:
            raise _network_error(exc, streaming=False) from None
        return HttpReply(resp.status_code, dict(resp.headers), resp.content)

    @asynccontextmanager
    async def stream(
        self, provider: str, spec: HttpRequestSpec
    ) -> AsyncIterator[tuple[HttpReply, AsyncIterator[bytes]]]:
        """The response head (body empty, or the whole error body) and an iterator of its bytes."""
        client = self._clients[provider]
        request = client.build_request(spec.method, spec.url, headers=spec.headers, content=spec.body)
        try:
            resp = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _network_error(exc, streaming=False) from None
        try:
            if resp.status_code >= 400:
                body = await resp.aread()
                yield HttpReply(resp.status_code, dict(resp.headers), body), _empty()
            else:
                yield HttpReply(resp.status_code, dict(resp.headers), b""), self._bytes(resp)
        finally:
            await resp.aclose()

    @staticmethod
    async def _bytes(resp: httpx.Response) -> AsyncIterator[bytes]:
        try:
            async for piece in resp.aiter_raw():
                yield piece
        except httpx.HTTPError as exc:
            raise _network_error(exc, streaming=True) from None

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator
