"""Bedrock Runtime payloads: Converse replies, ConverseStream event-stream frames, Titan
embeddings, and errors in Bedrock's shape.

Shapes follow the Bedrock Runtime API reference: ``ConverseResponse`` (``output.message``,
``stopReason``, ``usage``, ``metrics``); ``ConverseStreamOutput`` events, each an event-stream
message with headers ``:event-type``, ``:content-type`` and ``:message-type`` ``event`` and a JSON
payload; stream exceptions as messages with ``:message-type`` ``exception`` and
``:exception-type``; HTTP errors with ``x-amzn-ErrorType`` and ``{"message": ...}``; Titan Text
Embeddings' ``{"embedding", "inputTextTokenCount", "embeddingsByType"}``.
"""

from __future__ import annotations

import hashlib
import math
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import orjson

from simulator.eventstream_encoder import encode_message
from simulator.replies import Reply, split_even, split_text

ARGUMENT_PIECES = 3
BEDROCK_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"
COMMON_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.coral.service/"  # AWS-wide errors: auth
COMMON_ERRORS = frozenset(
    {
        "IncompleteSignature",
        "InvalidSignatureException",
        "MissingAuthenticationTokenException",
        "UnrecognizedClientException",
    }
)
STOP_REASONS: Mapping[str, str] = MappingProxyType(
    {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
)


@dataclass(frozen=True, slots=True)
class BedrockError:
    type: str
    message: str


_ERRORS: Mapping[int, BedrockError] = MappingProxyType(
    {
        400: BedrockError("ValidationException", "Simulated invalid request."),
        403: BedrockError("AccessDeniedException", "You don't have access to the model with the specified model ID."),
        404: BedrockError("ResourceNotFoundException", "Could not resolve the foundation model {model}."),
        408: BedrockError("ModelTimeoutException", "Model has timed out in processing the request."),
        424: BedrockError("ModelErrorException", "The model returned an error."),
        429: BedrockError("ThrottlingException", "Too many requests, please wait before trying again."),
        500: BedrockError("InternalServerException", "The server encountered an internal error."),
        503: BedrockError("ServiceUnavailableException", "Bedrock is unable to process your request."),
    }
)


def error_for_status(status: int, model: str) -> BedrockError:
    """The Bedrock error type and message an injected status answers with."""
    known = _ERRORS.get(status)
    if known is None:
        known = (
            BedrockError("InternalServerException", f"Simulated upstream error {status}.")
            if status >= 500
            else BedrockError("ValidationException", f"Simulated client error {status}.")
        )
    return BedrockError(known.type, f"{known.message.format(model=model)} (simulated {status})")


def error_headers(error_type: str) -> dict[str, str]:
    namespace = COMMON_NAMESPACE if error_type in COMMON_ERRORS else BEDROCK_NAMESPACE
    return {"x-amzn-ErrorType": f"{error_type}:{namespace}", "x-amzn-RequestId": str(uuid.uuid4())}


def usage_dict(reply: Reply) -> dict[str, int]:
    return {
        "inputTokens": reply.prompt_tokens,
        "outputTokens": reply.completion_tokens,
        "totalTokens": reply.total_tokens,
    }


def tool_input(arguments: str) -> Any:
    """The tool call's input as a JSON value (the knob carries JSON text)."""
    try:
        return orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {}


def converse_dict(reply: Reply, latency_ms: int) -> dict[str, Any]:
    """A ``ConverseResponse``."""
    if reply.tool_call is not None:
        call = reply.tool_call
        block: dict[str, Any] = {
            "toolUse": {"toolUseId": call.id, "name": call.name, "input": tool_input(call.arguments)}
        }
    else:
        block = {"text": reply.content or ""}
    return {
        "output": {"message": {"role": "assistant", "content": [block]}},
        "stopReason": STOP_REASONS[reply.finish_reason],
        "usage": usage_dict(reply),
        "metrics": {"latencyMs": latency_ms},
    }


def event_frame(event_type: str, payload: dict[str, Any]) -> bytes:
    headers = [(":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")]
    return encode_message(headers, orjson.dumps(payload))


def exception_frame(exception_type: str, message: str) -> bytes:
    """A stream exception; ``exception_type`` is the member name (``modelStreamErrorException``)."""
    headers = [
        (":exception-type", exception_type),
        (":content-type", "application/json"),
        (":message-type", "exception"),
    ]
    return encode_message(headers, orjson.dumps({"message": message}))


def stream_frames(reply: Reply, words_per_chunk: int, latency_ms: int) -> list[bytes]:
    """The frames of a streamed reply, in order: messageStart ... metadata."""
    frames = [event_frame("messageStart", {"role": "assistant"})]
    if reply.tool_call is not None:
        call = reply.tool_call
        start = {"toolUse": {"toolUseId": call.id, "name": call.name}}
        frames.append(event_frame("contentBlockStart", {"contentBlockIndex": 0, "start": start}))
        arguments = orjson.dumps(tool_input(call.arguments)).decode()
        pieces = split_even(arguments, max(ARGUMENT_PIECES, math.ceil(len(arguments) / 32)))
        deltas: list[dict[str, Any]] = [{"toolUse": {"input": piece}} for piece in pieces]
    else:
        deltas = [{"text": piece} for piece in split_text(reply.content or "", words_per_chunk)]
    frames.extend(event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": d}) for d in deltas)
    frames.append(event_frame("contentBlockStop", {"contentBlockIndex": 0}))
    frames.append(event_frame("messageStop", {"stopReason": STOP_REASONS[reply.finish_reason]}))
    metadata: dict[str, Any] = {"usage": usage_dict(reply), "metrics": {"latencyMs": latency_ms}}
    frames.append(event_frame("metadata", metadata))
    return frames


def embedding_vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for ``text`` (the same text, the same vector)."""
    raw = b""
    counter = 0
    while len(raw) < dimensions * 4:
        raw += hashlib.sha256(f"{counter}:{text}".encode()).digest()
        counter += 1
    values = [v / 2**31 for v in struct.unpack(f">{dimensions}i", raw[: dimensions * 4])]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


def titan_embedding_dict(text: str, dimensions: int) -> dict[str, Any]:
    vector = embedding_vector(text, dimensions)
    tokens = max(1, math.ceil(len(text) / 4))
    return {"embedding": vector, "inputTextTokenCount": tokens, "embeddingsByType": {"float": vector}}
