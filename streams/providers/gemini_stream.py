"""The Gemini API's ``streamGenerateContent?alt=sse`` stream -> deltas in OpenAI's terms.

Written from the Gemini API reference (ai.google.dev/api/generate-content#method:-models.streamgeneratecontent)
and the REST streaming quickstart: with ``alt=sse`` every ``data:`` event is a whole
``GenerateContentResponse`` fragment (events end in ``\\r\\n\\r\\n``). Text parts are deltas;
a ``functionCall`` part arrives whole, so it becomes one ``ToolCallDelta`` carrying the id, the
name and all of the arguments; ``usageMetadata`` rides on the fragments (the last one is
complete). There is no ``[DONE]``: the stream is complete once a fragment carried a
``finishReason``, and ``close()`` raises ``ProviderStreamBroken`` before that. An ``{"error": ...}``
event is classified like an HTTP error with the same code; a prompt refused by the safety filters
(``promptFeedback.blockReason``, no candidates) raises ``ProviderContentPolicy``.
"""

from __future__ import annotations

from typing import Any

import orjson

from schemas.errors import ProviderStreamBroken
from streams.providers.base import StreamDelta, ToolCallDelta
from streams.providers.gemini_reply import (
    blocked_prompt_error,
    candidate_parts,
    classify_gemini_error,
    finish_reason,
    usage_from_gemini,
)

__all__ = ["GeminiStreamParser"]


class GeminiStreamParser:
    """Turns the bytes of a Gemini SSE stream into deltas; robust to bytes split anywhere."""

    def __init__(self) -> None:
        self._buffer = b""
        self._calls = 0
        self._done = False

    def feed(self, data: bytes) -> list[StreamDelta]:
        self._buffer += data
        deltas: list[StreamDelta] = []
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            line = line.strip()  # events end in CRLF
            if not line.startswith(b"data:"):
                continue  # blank separators, comments, event names
            deltas.append(self._parse_event(line[5:].strip()))
        return deltas

    def close(self) -> None:
        if not self._done:
            raise ProviderStreamBroken("The provider's stream ended before a finishReason.")

    def _parse_event(self, payload: bytes) -> StreamDelta:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise ProviderStreamBroken("The provider sent an unreadable stream event.") from None
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if not isinstance(data, dict):
            raise ProviderStreamBroken("The provider sent a stream event that is not an object.")
        if "error" in data:
            err = data["error"] if isinstance(data["error"], dict) else {}
            code = err.get("code")
            raise classify_gemini_error(code if isinstance(code, int) else 500, {}, payload)
        blocked = blocked_prompt_error(data)
        if blocked is not None:
            raise blocked
        try:
            return self._delta(data)
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            raise ProviderStreamBroken(f"The provider sent a malformed stream event: {exc}") from None

    def _delta(self, data: dict[str, Any]) -> StreamDelta:
        found = candidate_parts(data, self._calls)
        calls = [
            ToolCallDelta(index=self._calls + i, id=c.id, name=c.name, arguments=c.arguments)
            for i, c in enumerate(found.tool_calls)
        ]
        self._calls += len(calls)
        finish = finish_reason(found.finish, self._calls > 0)
        self._done = self._done or finish is not None
        usage = usage_from_gemini(data["usageMetadata"]) if data.get("usageMetadata") else None
        return StreamDelta(
            content=found.text,
            tool_calls=calls,
            finish_reason=finish,
            usage=usage,
            response_id=data.get("responseId"),
        )
