"""What every provider adapter is: a pure translator between Turnout's unified (OpenAI-shaped)
request and response and one provider's wire format. Only ``streams.providers.transport`` talks
to the network."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from schemas.errors import TurnoutError
from schemas.events import ChatRequest, ChatResponse, Usage

__all__ = ["HttpRequestSpec", "ProviderAdapter", "StreamDelta", "StreamParser", "ToolCallDelta"]


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
        """Deltas completed by ``data``; raises a ``ProviderError`` on an error event."""

    def close(self) -> None:
        """Raise ``ProviderStreamBroken`` unless the stream ended properly."""


class ProviderAdapter(Protocol):
    kind: str

    def build_request(
        self, request: ChatRequest, upstream_model: str, base_url: str, api_key: str | None
    ) -> HttpRequestSpec: ...

    def parse_response(self, body: bytes, upstream_model: str) -> ChatResponse: ...

    def parse_error(self, status: int, headers: dict[str, str], body: bytes) -> TurnoutError: ...

    def stream_parser(self) -> StreamParser: ...
