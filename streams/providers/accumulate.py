"""Folds stream deltas into the whole reply, as a non-streamed call would have returned it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from schemas.events import ChatResponse, ToolCall, Usage
from streams.providers.base import StreamDelta

__all__ = ["StreamAccumulator"]


@dataclass
class StreamAccumulator:
    content: list[str] = field(default_factory=list)
    tool_calls: dict[int, dict[str, str]] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: Usage | None = None
    response_id: str = ""

    def add(self, delta: StreamDelta) -> None:
        self.content.append(delta.content)
        for tc in delta.tool_calls:
            call = self.tool_calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
            call["id"] = tc.id or call["id"]
            call["name"] = tc.name or call["name"]
            call["arguments"] += tc.arguments
        self.finish_reason = delta.finish_reason or self.finish_reason
        self.usage = delta.usage or self.usage
        self.response_id = delta.response_id or self.response_id

    def response(self, upstream_model: str, created: int | None = None) -> ChatResponse:
        calls = [ToolCall(c["id"], c["name"], c["arguments"]) for _, c in sorted(self.tool_calls.items())]
        text = "".join(self.content)
        return ChatResponse(
            id=self.response_id,
            content=text if text or not calls else None,
            tool_calls=calls,
            finish_reason=self.finish_reason or "stop",
            usage=self.usage or Usage(),
            upstream_model=upstream_model,
            created=int(time.time()) if created is None else created,
        )
