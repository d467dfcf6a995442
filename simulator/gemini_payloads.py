"""Gemini API payloads: request validation, ``GenerateContentResponse`` objects and their
``alt=sse`` events, Google-shaped errors, deterministic embeddings.

Shapes follow the Gemini API reference (ai.google.dev/api/generate-content, /api/caching,
/api/embeddings) and Google's error model (``{"error": {"code", "message", "status",
"details"}}``; the ``status`` names of google.rpc.Code as mapped to HTTP).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any

import orjson

from simulator.replies import Reply, ReplyRequest, split_text

SSE_END = b"\r\n\r\n"
EMBEDDING_DIMENSIONS = 768
MAX_EMBEDDING_DIMENSIONS = 3072
FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP"}

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_INJECTED_MESSAGES = {
    400: "Request contains an invalid argument.",
    401: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential.",
    403: "The caller does not have permission",
    404: "models/{model} is not found for API version v1beta, or is not supported for generateContent. "
    "Call ListModels to see the list of available models and their supported methods.",
    429: "You exceeded your current quota, please check your plan and billing details.",
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}
UNREGISTERED_CALLER = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)

_REQUEST_FIELDS = frozenset(
    {"contents", "tools", "toolConfig", "safetySettings", "systemInstruction", "generationConfig", "cachedContent"}
)
_GENERATION_FIELDS = frozenset(
    {
        "stopSequences",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "responseModalities",
        "candidateCount",
        "maxOutputTokens",
        "temperature",
        "topP",
        "topK",
        "seed",
        "presencePenalty",
        "frequencyPenalty",
        "responseLogprobs",
        "logprobs",
        "enableEnhancedCivicAnswers",
        "speechConfig",
        "thinkingConfig",
        "mediaResolution",
    }
)
_PART_DATA = frozenset(
    {"text", "inlineData", "functionCall", "functionResponse", "fileData", "executableCode", "codeExecutionResult"}
)
_MODES = frozenset({"MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"})
_SNAKE = re.compile(r"_([a-z])")


class GoogleError(Exception):
    """A request the Gemini API refuses, with its HTTP status."""

    def __init__(self, message: str, status: int = 400, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = details


def status_name(status: int) -> str:
    return STATUS_NAMES.get(status) or ("INTERNAL" if status >= 500 else "FAILED_PRECONDITION")


def error_body(status: int, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": status, "message": message, "status": status_name(status)}
    if details:
        error["details"] = details
    return {"error": error}


def injected_error(status: int, model: str, retry_after_s: float | None) -> GoogleError:
    message = _INJECTED_MESSAGES.get(status, f"Simulated error {status}.").format(model=model)
    details = None
    if retry_after_s is not None:
        details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_after_s:g}s"}]
    return GoogleError(f"{message} (simulated {status})", status, details)


def _camel(name: str) -> str:
    """Proto JSON accepts both spellings; ``system_instruction`` -> ``systemInstruction``."""
    return _SNAKE.sub(lambda m: m.group(1).upper(), name)


def _object(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise GoogleError("Invalid JSON payload received. Unexpected token.") from None
    if not isinstance(body, dict):
        raise GoogleError('Invalid JSON payload received. Unknown name "": Root element must be a message.')
    return {_camel(k): v for k, v in body.items()}


def _known(body: dict[str, Any], fields: frozenset[str], where: str = "") -> None:
    for name in body:
        if _camel(name) not in fields:
            at = f" at '{where}'" if where else ""
            raise GoogleError(f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.')


def part_text(part: dict[str, Any]) -> str:
    """What a part says, for the echo reply and the token count."""
    if isinstance(part.get("text"), str):
        return str(part["text"])
    for key in ("functionCall", "functionResponse"):
        value = part.get(key)
        if isinstance(value, dict):
            payload = value.get("args") if key == "functionCall" else value.get("response")
            return f"{value.get('name', '')} {orjson.dumps(payload or {}).decode()}"
    return ""


def _contents(body: dict[str, Any]) -> list[dict[str, Any]]:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise GoogleError("* GenerateContentRequest.contents: contents is not specified\n")
    for i, content in enumerate(contents):
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list) or not parts:
            raise GoogleError(f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n")
        if content.get("role") not in (None, "user", "model"):
            raise GoogleError("Please use a valid role: user, model.")
        for j, part in enumerate(parts):
            if not isinstance(part, dict) or not _PART_DATA & {_camel(k) for k in part}:
                raise GoogleError(
                    f"* GenerateContentRequest.contents[{i}].parts[{j}].data: required oneof field 'data' must "
                    "have one initialized field\n"
                )
    return contents


def _generation(body: dict[str, Any]) -> dict[str, Any]:
    config = body.get("generationConfig") or {}
    if not isinstance(config, dict):
        raise GoogleError("Invalid JSON payload received. 'generation_config' must be an object.")
    _known(config, _GENERATION_FIELDS, "generation_config")
    config = {_camel(k): v for k, v in config.items()}
    tokens = config.get("maxOutputTokens")
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1):
        raise GoogleError("* GenerateContentRequest.generation_config.max_output_tokens: must be positive.\n")
    if config.get("candidateCount") not in (None, 1):
        raise GoogleError("The simulator only supports candidateCount 1.")
    return config


def _tool_name(body: dict[str, Any], contents: list[dict[str, Any]]) -> str | None:
    names: list[str] = []
    for tool in body.get("tools") or []:
        for declaration in (tool.get("functionDeclarations") or []) if isinstance(tool, dict) else []:
            if not isinstance(declaration, dict) or not isinstance(declaration.get("name"), str):
                raise GoogleError("* GenerateContentRequest.tools[0].function_declarations[0].name: Name is empty.\n")
            names.append(declaration["name"])
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    mode = calling.get("mode", "AUTO")
    if mode not in _MODES:
        raise GoogleError(f"Invalid value at 'tool_config.function_calling_config.mode', \"{mode}\"")
    answered = any("functionResponse" in p for p in contents[-1]["parts"])
    if not names or mode == "NONE" or answered:
        return None
    allowed = calling.get("allowedFunctionNames") or []
    return str(allowed[0]) if allowed else names[0]


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    model: str
    stream: bool
    reply: ReplyRequest


def parse_generate_request(raw: bytes, model: str, stream: bool) -> GenerateRequest:
    """Validate a generateContent body; raise GoogleError like the API's 400s."""
    body = _object(raw)
    _known(body, _REQUEST_FIELDS)
    contents = _contents(body)
    config = _generation(body)
    texts = [" ".join(part_text(p) for p in c["parts"]) for c in contents]
    system = body.get("systemInstruction")
    if isinstance(system, dict):
        texts.insert(0, " ".join(part_text(p) for p in system.get("parts") or [] if isinstance(p, dict)))
    users = [c for c in contents if c.get("role", "user") == "user" and any("text" in p for p in c["parts"])]
    last_user = " ".join(str(p["text"]) for p in users[-1]["parts"] if "text" in p) if users else ""
    reply = ReplyRequest(
        model=model,
        last_user_text=last_user,
        message_texts=texts,
        max_words=config.get("maxOutputTokens"),
        json_mode=config.get("responseMimeType") == "application/json",
        tool_name=_tool_name(body, contents),
    )
    return GenerateRequest(model, stream, reply)


# ---------------------------------------------------------------- replies


def usage_metadata(reply: Reply, final: bool = True) -> dict[str, Any]:
    """``usageMetadata``; fragments before the last carry only the prompt's count."""
    details = [{"modality": "TEXT", "tokenCount": reply.prompt_tokens}]
    if not final:
        return {
            "promptTokenCount": reply.prompt_tokens,
            "totalTokenCount": reply.prompt_tokens,
            "promptTokensDetails": details,
        }
    return {
        "promptTokenCount": reply.prompt_tokens,
        "candidatesTokenCount": reply.completion_tokens,
        "totalTokenCount": reply.total_tokens,
        "promptTokensDetails": details,
    }


def _call_part(reply: Reply) -> dict[str, Any]:
    assert reply.tool_call is not None
    try:
        args = orjson.loads(reply.tool_call.arguments)
    except orjson.JSONDecodeError:
        args = {"arguments": reply.tool_call.arguments}
    return {"functionCall": {"name": reply.tool_call.name, "args": args if isinstance(args, dict) else {"value": args}}}


def _fragment(parts: list[dict[str, Any]], finish: str | None, usage: dict[str, Any], model: str, rid: str) -> dict:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
    if finish is not None:
        candidate["finishReason"] = finish
    candidate["index"] = 0
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model, "responseId": rid}


def response_dict(reply: Reply, model: str, response_id: str) -> dict[str, Any]:
    """A non-streamed ``GenerateContentResponse``."""
    parts = [_call_part(reply)] if reply.tool_call is not None else [{"text": reply.content or ""}]
    return _fragment(parts, FINISH[reply.finish_reason], usage_metadata(reply), model, response_id)


def sse_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + SSE_END


def stream_fragments(reply: Reply, model: str, response_id: str, words_per_chunk: int) -> list[dict[str, Any]]:
    """The fragments of a streamed reply: text pieces, the last with finishReason and full usage."""
    if reply.tool_call is not None:
        pieces: list[list[dict[str, Any]]] = [[_call_part(reply)]]
    else:
        pieces = [[{"text": piece}] for piece in split_text(reply.content or "", words_per_chunk)] or [[{"text": ""}]]
    last = len(pieces) - 1
    return [
        _fragment(
            parts,
            FINISH[reply.finish_reason] if i == last else None,
            usage_metadata(reply, final=i == last),
            model,
            response_id,
        )
        for i, parts in enumerate(pieces)
    ]


def stream_events(reply: Reply, model: str, response_id: str, words_per_chunk: int) -> list[bytes]:
    """The ``alt=sse`` events of a streamed reply (no terminator: the finishReason ends it)."""
    return [sse_event(f) for f in stream_fragments(reply, model, response_id, words_per_chunk)]


def json_array(fragments: list[dict[str, Any]]) -> bytes:
    """``streamGenerateContent`` without ``alt=sse``: one JSON array of the fragments."""
    return b"[" + b",\r\n".join(orjson.dumps(f) for f in fragments) + b"]"


# ---------------------------------------------------------------- embeddings


@dataclass(frozen=True, slots=True)
class EmbedItem:
    text: str
    dimensions: int


def _embed_item(item: Any, where: str, model: str, batch: bool) -> EmbedItem:
    if not isinstance(item, dict):
        raise GoogleError(f"* {where}: must be an object.\n")
    item = {_camel(k): v for k, v in item.items()}
    if batch and item.get("model") != f"models/{model}":
        raise GoogleError(f"* {where}.model: the model of every request must be models/{model}.\n")
    parts = (item.get("content") or {}).get("parts") if isinstance(item.get("content"), dict) else None
    if not isinstance(parts, list) or not parts:
        raise GoogleError(f"* {where}.content: content is not specified\n")
    dims = item.get("outputDimensionality", EMBEDDING_DIMENSIONS)
    if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= MAX_EMBEDDING_DIMENSIONS:
        raise GoogleError(f"* {where}.output_dimensionality: must be between 1 and {MAX_EMBEDDING_DIMENSIONS}.\n")
    text = " ".join(part_text(p) for p in parts if isinstance(p, dict))
    return EmbedItem(text, dims)


def parse_embed_request(raw: bytes, model: str, batch: bool) -> list[EmbedItem]:
    body = _object(raw)
    if not batch:
        return [_embed_item(body, "EmbedContentRequest", model, False)]
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise GoogleError("* BatchEmbedContentsRequest.requests: requests is not specified\n")
    return [_embed_item(r, f"BatchEmbedContentsRequest.requests[{i}]", model, True) for i, r in enumerate(requests)]


def embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector derived from SHA-256 of the text."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend(b / 127.5 - 1.0 for b in digest)
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 8) for v in values]
