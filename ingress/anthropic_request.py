"""Anthropic's Messages API, inbound: a ``POST /v1/messages`` body -> the unified ``ChatRequest``.

So the official ``anthropic`` SDK and tools built on it (coding agents) can use Turnout and be
routed to any provider. Written from Anthropic's Messages API reference: ``system`` is a top-level
string or list of text blocks; message content is a string or a list of blocks (``text``,
``image``, ``tool_use``, ``tool_result``); ``max_tokens`` is required; ``tool_choice`` is
``{"type": "auto" | "any" | "tool" | "none"}``. Tool results become OpenAI ``tool`` messages, in
the order they appear, before the rest of the user turn. Parameters no other provider shares
(``top_k``, ``thinking``) are not carried over.
"""

from __future__ import annotations

from typing import Any

import orjson

from ingress.extensions import context_of
from schemas.errors import InvalidRequest
from schemas.events import ChatMessage, ChatRequest, ToolCall

__all__ = ["parse_messages_request"]


def _text_of(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for i, block in enumerate(content):
            if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
                raise InvalidRequest(f"{where}.{i}: only text blocks are allowed here.", param=f"{where}.{i}")
            texts.append(block["text"])
        return "\n".join(texts)
    raise InvalidRequest(f"{where}: must be a string or a list of text blocks.", param=where)


def _image_part(block: dict[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise InvalidRequest(f"{where}.source: required.", param=f"{where}.source")
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    elif source.get("type") == "url":
        url = str(source.get("url", ""))
    else:
        raise InvalidRequest(f"{where}.source.type: must be 'base64' or 'url'.", param=f"{where}.source.type")
    return {"type": "image_url", "image_url": {"url": url}}


def _user_turn(content: list[Any], where: str) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    parts: list[dict[str, Any]] = []
    for i, block in enumerate(content):
        at = f"{where}.{i}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text", ""))})
        elif kind == "image":
            parts.append(_image_part(block, at))
        elif kind == "tool_result":
            result = block.get("content", "")
            text = result if isinstance(result, str) else _text_of(result, f"{at}.content") if result else ""
            if block.get("is_error"):
                text = f"Error: {text}"
            out.append(ChatMessage(role="tool", content=text, tool_call_id=str(block.get("tool_use_id", ""))))
        else:
            raise InvalidRequest(f"{at}.type: unsupported block type {kind!r} in a user message.", param=f"{at}.type")
    if parts:
        if all(p["type"] == "text" for p in parts):
            out.append(ChatMessage(role="user", content="\n".join(p["text"] for p in parts)))
        else:
            out.append(ChatMessage(role="user", parts_json=orjson.dumps(parts).decode()))
    return out


def _assistant_turn(content: list[Any], where: str) -> ChatMessage:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for i, block in enumerate(content):
        at = f"{where}.{i}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            calls.append(
                ToolCall(
                    id=str(block.get("id", "")),
                    name=str(block.get("name", "")),
                    arguments=orjson.dumps(block.get("input") or {}).decode(),
                )
            )
        elif kind in ("thinking", "redacted_thinking"):
            continue  # reasoning from an earlier turn is not sent on to other providers
        else:
            raise InvalidRequest(
                f"{at}.type: unsupported block type {kind!r} in an assistant message.", param=f"{at}.type"
            )
    return ChatMessage(role="assistant", content="".join(texts) or None, tool_calls=calls)


def _messages(raw: Any) -> list[ChatMessage]:
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest("messages: must be a non-empty list.", param="messages")
    out: list[ChatMessage] = []
    for i, message in enumerate(raw):
        where = f"messages.{i}"
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise InvalidRequest(f"{where}.role: must be 'user' or 'assistant'.", param=f"{where}.role")
        content = message.get("content")
        if isinstance(content, str):
            out.append(ChatMessage(role=message["role"], content=content))
        elif isinstance(content, list):
            if message["role"] == "user":
                out.extend(_user_turn(content, f"{where}.content"))
            else:
                out.append(_assistant_turn(content, f"{where}.content"))
        else:
            raise InvalidRequest(f"{where}.content: must be a string or a list of blocks.", param=f"{where}.content")
    return out


def _tools(raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise InvalidRequest("tools: must be a list.", param="tools")
    tools = []
    for i, tool in enumerate(raw):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise InvalidRequest(f"tools.{i}.name: required.", param=f"tools.{i}.name")
        function: dict[str, Any] = {"name": tool["name"], "parameters": tool.get("input_schema") or {"type": "object"}}
        if tool.get("description"):
            function["description"] = tool["description"]
        tools.append({"type": "function", "function": function})
    return orjson.dumps(tools).decode()


def _tool_choice(raw: Any) -> str | None:
    if raw is None:
        return None
    kind = raw.get("type") if isinstance(raw, dict) else None
    choice: Any
    if kind == "auto":
        choice = "auto"
    elif kind == "any":
        choice = "required"
    elif kind == "none":
        choice = "none"
    elif kind == "tool" and isinstance(raw.get("name"), str):
        choice = {"type": "function", "function": {"name": raw["name"]}}
    else:
        raise InvalidRequest("tool_choice: must be auto, any, none or tool with a name.", param="tool_choice")
    return orjson.dumps(choice).decode()


def _number(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidRequest(f"{name}: must be a number between {low:g} and {high:g}.", param=name)
    return float(value)


def parse_messages_request(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: Field required", param="model")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise InvalidRequest("max_tokens: Field required (a positive integer)", param="max_tokens")
    messages = _messages(body.get("messages"))
    if body.get("system") is not None:
        messages.insert(0, ChatMessage(role="system", content=_text_of(body["system"], "system")))
    stop = body.get("stop_sequences") or []
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise InvalidRequest("stop_sequences: must be a list of strings.", param="stop_sequences")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidRequest("stream: must be a boolean.", param="stream")
    metadata = body.get("metadata") or {}
    user = metadata.get("user_id") if isinstance(metadata, dict) else None
    return ChatRequest(
        model=model,
        messages=messages,
        stream=stream,
        include_usage=True,
        temperature=_number(body, "temperature", 0, 1),
        top_p=_number(body, "top_p", 0, 1),
        max_tokens=max_tokens,
        stop=list(stop),
        tools_json=_tools(body.get("tools")),
        tool_choice_json=_tool_choice(body.get("tool_choice")),
        user=user if isinstance(user, str) else None,
        context=context_of(body),
    )
