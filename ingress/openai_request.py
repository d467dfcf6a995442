"""An OpenAI chat-completions request body -> the unified ``ChatRequest``, with clear 400s.

Parameters Turnout does not model are passed through as ``extra_json``; parameters that change
nothing downstream (``stream_options``) are read here.
"""

from __future__ import annotations

from typing import Any

import orjson

from ingress.extensions import context_of
from schemas.errors import InvalidRequest
from schemas.events import ChatMessage, ChatRequest, EmbeddingsRequest, ToolCall

__all__ = ["parse_chat_request", "parse_embeddings_request"]

_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
_MODELED = {
    "model",
    "messages",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "seed",
    "tools",
    "tool_choice",
    "response_format",
    "user",
}
MAX_MESSAGES = 10_000


def _number(body: dict[str, Any], name: str, low: float, high: float, integer: bool = False) -> Any:
    value = body.get(name)
    if value is None:
        return None
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
        what = "an integer" if integer else "a number"
        raise InvalidRequest(f"'{name}' must be {what} between {low:g} and {high:g}.", param=name)
    return value


def _tool_calls(raw: Any, where: str) -> list[ToolCall]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidRequest(f"'{where}.tool_calls' must be an array.", param=f"{where}.tool_calls")
    calls = []
    for i, item in enumerate(raw):
        fn = item.get("function") if isinstance(item, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise InvalidRequest(
                f"'{where}.tool_calls[{i}].function.name' is required.", param=f"{where}.tool_calls[{i}]"
            )
        calls.append(ToolCall(id=str(item.get("id", "")), name=fn["name"], arguments=str(fn.get("arguments", ""))))
    return calls


def _message(raw: Any, i: int) -> ChatMessage:
    where = f"messages[{i}]"
    if not isinstance(raw, dict):
        raise InvalidRequest(f"'{where}' must be an object.", param=where)
    role = raw.get("role")
    if role not in _ROLES:
        raise InvalidRequest(f"'{where}.role' must be one of {sorted(_ROLES)}.", param=f"{where}.role")
    content = raw.get("content")
    text: str | None = None
    parts: str | None = None
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        parts = orjson.dumps(content).decode()
    elif content is not None:
        raise InvalidRequest(f"'{where}.content' must be a string or an array of parts.", param=f"{where}.content")
    name = raw.get("name")
    tool_call_id = raw.get("tool_call_id")
    return ChatMessage(
        role=role,
        content=text,
        parts_json=parts,
        name=name if isinstance(name, str) else None,
        tool_call_id=tool_call_id if isinstance(tool_call_id, str) else None,
        tool_calls=_tool_calls(raw.get("tool_calls"), where),
    )


def _stop(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(s, str) for s in value) and len(value) <= 4:
        return list(value)
    raise InvalidRequest("'stop' must be a string or an array of up to 4 strings.", param="stop")


def _json_field(body: dict[str, Any], name: str, kinds: tuple[type, ...]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, kinds):
        raise InvalidRequest(f"'{name}' has the wrong type.", param=name)
    return orjson.dumps(value).decode()


def parse_chat_request(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a string.", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array.", param="messages")
    if len(messages) > MAX_MESSAGES:
        raise InvalidRequest(f"'messages' may hold at most {MAX_MESSAGES} messages.", param="messages")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean.", param="stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise InvalidRequest("'stream_options' must be an object.", param="stream_options")
    max_tokens = _number(body, "max_completion_tokens", 1, 1_000_000, integer=True)
    if max_tokens is None:
        max_tokens = _number(body, "max_tokens", 1, 1_000_000, integer=True)
    n = _number(body, "n", 1, 1, integer=True)
    del n  # one choice per request; n > 1 is refused above
    tools = body.get("tools")
    if tools is not None and (
        not isinstance(tools, list)
        or not all(isinstance(t, dict) and isinstance((t.get("function") or {}).get("name"), str) for t in tools)
    ):
        raise InvalidRequest("'tools' must be an array of function tools, each with a name.", param="tools")
    extra = {k: v for k, v in body.items() if k not in _MODELED and k not in ("n", "turnout")}
    user = body.get("user")
    return ChatRequest(
        model=model,
        messages=[_message(m, i) for i, m in enumerate(messages)],
        stream=stream,
        include_usage=bool(options.get("include_usage", False)),
        temperature=_number(body, "temperature", 0, 2),
        top_p=_number(body, "top_p", 0, 1),
        max_tokens=max_tokens,
        stop=_stop(body.get("stop")),
        seed=_number(body, "seed", -(2**63), 2**63 - 1, integer=True),
        tools_json=_json_field(body, "tools", (list,)),
        tool_choice_json=_json_field(body, "tool_choice", (str, dict)),
        response_format_json=_json_field(body, "response_format", (dict,)),
        user=user if isinstance(user, str) else None,
        extra_json=orjson.dumps(extra).decode() if extra else None,
        context=context_of(body),
    )


MAX_EMBEDDING_INPUTS = 2048


def parse_embeddings_request(body: Any) -> EmbeddingsRequest:
    """An OpenAI ``/v1/embeddings`` body -> ``EmbeddingsRequest`` (text inputs; token arrays refused)."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a string.", param="model")
    raw = body.get("input")
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) and i for i in inputs):
        raise InvalidRequest("'input' must be a non-empty string or an array of non-empty strings.", param="input")
    if len(inputs) > MAX_EMBEDDING_INPUTS:
        raise InvalidRequest(f"'input' may hold at most {MAX_EMBEDDING_INPUTS} items.", param="input")
    encoding = body.get("encoding_format")
    if encoding not in (None, "float", "base64"):
        raise InvalidRequest("'encoding_format' must be 'float' or 'base64'.", param="encoding_format")
    user = body.get("user")
    return EmbeddingsRequest(
        model=model,
        inputs=inputs,
        dimensions=_number(body, "dimensions", 1, 65536, integer=True),
        encoding_format=encoding,
        user=user if isinstance(user, str) else None,
    )
