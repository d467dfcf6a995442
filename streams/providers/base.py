"""What every provider adapter is: a pure translator between Turnout's unified (OpenAI-shaped)
request and response and one provider's wire format. Only ``streams.providers.transport`` talks
to the network.

An adapter:
- ``build_request``: unified ``ChatRequest`` -> ``HttpRequestSpec`` (URL, headers, body; signed
  where the provider wants a signature), for a plain or a streamed call (``request.stream``);
- ``parse_response``: the provider's JSON body -> ``ChatResponse``;
- ``stream_parser``: a fresh ``StreamParser`` that turns the provider's stream bytes (SSE, or AWS
  event-stream frames) into ``StreamDelta``s in OpenAI's terms;
- ``parse_error``: status, headers and body -> a typed ``TurnoutError`` (from the status and the
  provider's structured error body; any message matching lives in a per-provider table);
- ``build_embeddings_request`` / ``parse_embeddings_response`` where ``"embeddings"`` is in its
  ``capabilities``.

What an adapter does not support is named in ``capabilities``; the conformance suite
(``tests/contract/test_provider_conformance.py``) checks every fixture of every capability it claims.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from schemas.errors import TurnoutError
from schemas.events import ChatRequest, ChatResponse, EmbeddingsRequest, EmbeddingsResponse, Usage

__all__ = [
    "CAPABILITIES",
    "HttpRequestSpec",
    "ProviderAdapter",
    "ProviderEndpoint",
    "StreamDelta",
    "StreamParser",
    "ToolCallDelta",
]

CAPABILITIES = frozenset({"chat", "stream", "tools", "json_mode", "embeddings"})


@dataclass(frozen=True, slots=True)
class ProviderEndpoint:
    """Where and as whom a provider is called; secrets resolved from the environment at start."""

    base_url: str
    api_key: str | None = None
    region: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    api_version: str | None = None


@dataclass(frozen=True, slots=True)
class HttpRequestSpec:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call, in OpenAI's ``delta.tool_calls`` terms."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class StreamDelta:
    """What one provider stream event adds to the reply."""

    content: str = ""
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    response_id: str | None = None


class StreamParser(Protocol):
    def feed(self, data: bytes) -> list[StreamDelta]:
        """Deltas completed by ``data``; raises a ``ProviderError`` on an error event or bad bytes."""
        ...

    def close(self) -> None:
        """Raise ``ProviderStreamBroken`` unless the stream ended with its final event."""
        ...


class ProviderAdapter(Protocol):
    kind: str
    capabilities: frozenset[str]
    max_embedding_inputs: int  # inputs one embeddings call takes; the invoker splits larger requests

    def build_request(
        self, request: ChatRequest, upstream_model: str, endpoint: ProviderEndpoint
    ) -> HttpRequestSpec: ...

    def parse_response(self, body: bytes, upstream_model: str) -> ChatResponse: ...

    def parse_error(self, status: int, headers: dict[str, str], body: bytes) -> TurnoutError: ...

    def stream_parser(self) -> StreamParser: ...

    def build_embeddings_request(
        self, request: EmbeddingsRequest, upstream_model: str, endpoint: ProviderEndpoint
    ) -> HttpRequestSpec: ...

    def parse_embeddings_response(self, body: bytes, upstream_model: str) -> EmbeddingsResponse: ...
