"""Anthropic's Messages API: ``POST {base_url}/v1/messages`` (base_url like ``https://api.anthropic.com``).

Written from Anthropic's reference pages: "Messages" (platform.claude.com/docs/en/api/messages, and
the same text in the ``anthropic`` SDK's ``messages.create`` docstrings), "Streaming messages",
"Claude API errors", "Versions" and "Migrating to API version 2026-10-21", "Prompt caching",
"Handle streaming refusals" and "Structured outputs". Headers: ``x-api-key``, ``anthropic-version``
(the endpoint's ``api_version``, else ``2023-06-01``) and ``content-type``.

The translation, OpenAI -> Anthropic:

- ``system`` and ``developer`` messages, wherever they are, -> the top-level ``system`` string
  (joined by blank lines, in order). Only Claude Opus 4.8 and later take ``role: "system"``
  inside ``messages`` (other models answer 400), so a mid-conversation one is hoisted too.
- content parts -> content blocks: ``text``; ``image_url`` with a ``data:`` URL -> an ``image``
  with a ``base64`` source, with an http(s) URL -> a ``url`` source; ``file`` with a PDF
  ``data:`` URL -> a ``document``. Other parts are refused (400) rather than dropped.
- assistant ``tool_calls`` -> ``tool_use`` blocks (``input`` = the parsed arguments object);
  ``tool`` messages -> ``tool_result`` blocks in a user turn. Consecutive messages of one role are
  merged into one turn (the API would merge them too; sending them merged keeps tool results
  together). A turn of one text block is sent as a plain string; an empty message is left out
  (the API refuses empty content). ``name`` is dropped.
- ``tools`` -> ``{name, description, input_schema}``; ``tool_choice`` ``auto`` / ``required`` /
  ``none`` / named -> ``{"type": "auto" | "any" | "none" | "tool"}``; ``parallel_tool_calls:
  false`` -> ``disable_parallel_tool_use``.
- ``max_tokens`` is required by Anthropic: the request's, else ``DEFAULT_MAX_TOKENS`` (4096).
  ``stop`` -> ``stop_sequences``, ``user`` -> ``metadata.user_id``. ``temperature`` (OpenAI
  0-2, Anthropic 0-1, so capped at 1) and ``top_p`` go as they are, except under API version
  2026-10-21 or later, which removed the sampling parameters (any value is a 400): there they are
  dropped. ``seed`` has no equivalent and is dropped. Of the other parameters only ``top_k`` and
  ``thinking`` (Anthropic's own) pass through.
- JSON mode (Anthropic has no ``response_format``): ``json_object`` adds ``JSON_OBJECT_INSTRUCTION``
  to ``system``; ``json_schema`` adds a tool ``JSON_TOOL_NAME`` whose ``input_schema`` is the
  schema and forces it (``{"type": "tool"}``; ``{"type": "any"}`` when the caller's own tools
  may be called too), and the tool's input comes back as the reply's content. Forced tool use
  works on every tool-capable Claude model; the native ``output_config.format`` only on Claude
  4.5 and later, so it is not used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from schemas.errors import InvalidRequest, TurnoutError
from schemas.events import ChatMessage, ChatRequest, ChatResponse, EmbeddingsRequest, EmbeddingsResponse
from streams.providers.anthropic_errors import classify_anthropic_error
from streams.providers.anthropic_response import JSON_TOOL_NAME, parse_message
from streams.providers.anthropic_stream import AnthropicStreamParser
from streams.providers.base import HttpRequestSpec, ProviderEndpoint

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_MAX_TOKENS",
    "JSON_OBJECT_INSTRUCTION",
    "JSON_TOOL_NAME",
    "AnthropicAdapter",
    "AnthropicStreamParser",
]

DEFAULT_API_VERSION = "2023-06-01"
SAMPLING_REMOVED_IN = "2026-10-21"  # API versions from this one refuse temperature, top_p and top_k
DEFAULT_MAX_TOKENS = 4096
JSON_OBJECT_INSTRUCTION = "Respond with a single valid JSON object and nothing else: no text before or after it."

# unified ChatRequest field -> Anthropic parameter, and how the value changes on the way
_SAMPLING_PARAMS: tuple[tuple[str, str, Callable[[Any], Any]], ...] = (
    ("temperature", "temperature", lambda t: min(float(t), 1.0)),
    ("top_p", "top_p", float),
)
_OTHER_PARAMS: tuple[tuple[str, str, Callable[[Any], Any]], ...] = (
    ("stop", "stop_sequences", list),
    ("user", "metadata", lambda user: {"user_id": user}),
)
# Anthropic's own parameters, taken from the request's extra_json
_PASSED_THROUGH = ("thinking",)
_PASSED_THROUGH_SAMPLING = ("top_k",)
_SYSTEM_ROLES = frozenset({"system", "developer"})
_DATA_URL = re.compile(r"data:(?P<media>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)", re.DOTALL)


def _json_text(value: str | None) -> Any:
    return orjson.loads(value) if value is not None else None


# ------------------------------------------------------------------ messages


def _text_parts(message: ChatMessage) -> list[dict[str, Any]]:
    """The message's text as OpenAI text parts (its ``content``, or the text parts of ``parts_json``)."""
    if message.parts_json is None:
        return [{"type": "text", "text": message.content}] if message.content else []
    return [p for p in orjson.loads(message.parts_json) if isinstance(p, dict) and p.get("type") == "text"]


def _image_block(url: str, where: str) -> dict[str, Any]:
    match = _DATA_URL.fullmatch(url)
    if match:
        return {"type": "image", "source": {"type": "base64", "media_type": match["media"], "data": match["data"]}}
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise InvalidRequest(f"'{where}.image_url.url' must be a data: URL or an http(s) URL.", param=where)


def _document_block(file: Any, where: str) -> dict[str, Any]:
    match = _DATA_URL.fullmatch(str((file or {}).get("file_data") or ""))
    if not match or match["media"] != "application/pdf":
        raise InvalidRequest(f"'{where}.file.file_data' must be a PDF data: URL for Anthropic.", param=where)
    return {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": match["data"]}}


def _part_block(part: Any, where: str) -> dict[str, Any] | None:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        text = str(part.get("text") or "")
        return {"type": "text", "text": text} if text else None
    if kind == "image_url":
        return _image_block(str((part.get("image_url") or {}).get("url") or ""), where)
    if kind == "file":
        return _document_block(part.get("file"), where)
    raise InvalidRequest(f"'{where}': content parts of type {kind!r} cannot be sent to Anthropic.", param=where)


def _user_blocks(message: ChatMessage, where: str) -> list[dict[str, Any]]:
    if message.parts_json is None:
        return [{"type": "text", "text": message.content}] if message.content else []
    parts = orjson.loads(message.parts_json)
    blocks = [_part_block(part, f"{where}.content[{i}]") for i, part in enumerate(parts)]
    return [b for b in blocks if b is not None]


def _tool_input(arguments: str, where: str) -> Any:
    try:
        value = orjson.loads(arguments) if arguments.strip() else {}
    except orjson.JSONDecodeError:
        raise InvalidRequest(f"'{where}.function.arguments' is not valid JSON.", param=where) from None
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{where}.function.arguments' must be a JSON object.", param=where)
    return value


def _assistant_blocks(message: ChatMessage, where: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "text", "text": p["text"]} for p in _text_parts(message) if p.get("text")]
    for j, call in enumerate(message.tool_calls):
        tool_input = _tool_input(call.arguments, f"{where}.tool_calls[{j}]")
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": tool_input})
    return blocks


def _tool_result_block(message: ChatMessage, where: str) -> dict[str, Any]:
    if not message.tool_call_id:
        raise InvalidRequest(f"'{where}.tool_call_id' is required.", param=f"{where}.tool_call_id")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
    if message.parts_json is None:
        if message.content:
            block["content"] = message.content
    elif blocks := _user_blocks(message, where):
        block["content"] = blocks
    return block


def _turn(message: ChatMessage, i: int) -> tuple[str, list[dict[str, Any]]]:
    where = f"messages[{i}]"
    if message.role == "user":
        return "user", _user_blocks(message, where)
    if message.role == "assistant":
        return "assistant", _assistant_blocks(message, where)
    if message.role == "tool":
        return "user", [_tool_result_block(message, where)]
    raise InvalidRequest(f"'{where}.role' {message.role!r} cannot be sent to Anthropic.", param=f"{where}.role")


def _compact(role: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """A turn of one text block is written as a plain string, like the reference's examples."""
    if len(blocks) == 1 and blocks[0]["type"] == "text":
        return {"role": role, "content": blocks[0]["text"]}
    return {"role": role, "content": blocks}


def _messages(request: ChatRequest) -> tuple[list[str], list[dict[str, Any]]]:
    """The system texts and the merged user/assistant turns of the conversation."""
    system: list[str] = []
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    for i, message in enumerate(request.messages):
        if message.role in _SYSTEM_ROLES:
            system.extend(str(p.get("text") or "") for p in _text_parts(message))
            continue
        role, blocks = _turn(message, i)
        if not blocks:
            continue  # the API refuses empty turns; an empty message says nothing
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))
    return [s for s in system if s], [_compact(role, blocks) for role, blocks in turns]


# ------------------------------------------------------------------ tools and JSON mode


@dataclass(slots=True)
class _ToolPlan:
    tools: list[dict[str, Any]] = field(default_factory=list)
    choice: dict[str, Any] | None = None


def _tools(raw: Any) -> list[dict[str, Any]]:
    tools = []
    for i, tool in enumerate(raw or []):
        is_function = isinstance(tool, dict) and tool.get("type", "function") == "function"
        function = tool.get("function") if is_function else None
        if not isinstance(function, dict):
            raise InvalidRequest(f"'tools[{i}]': only function tools can be sent to Anthropic.", param=f"tools[{i}]")
        out: dict[str, Any] = {"name": function["name"]}
        if function.get("description"):
            out["description"] = function["description"]
        out["input_schema"] = function.get("parameters") or {"type": "object", "properties": {}}
        tools.append(out)
    return tools


def _tool_choice(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if raw in ("auto", "required", "none"):
        return {"type": {"auto": "auto", "required": "any", "none": "none"}[raw]}
    name = (raw.get("function") or {}).get("name") if isinstance(raw, dict) else None
    if isinstance(name, str):
        return {"type": "tool", "name": name}
    raise InvalidRequest("'tool_choice' must be 'auto', 'required', 'none' or a named function.", param="tool_choice")


def _json_schema_tool(response_format: dict[str, Any]) -> dict[str, Any]:
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict):
        raise InvalidRequest("'response_format.json_schema.schema' is required.", param="response_format")
    name = str(spec.get("name") or "answer") if isinstance(spec, dict) else "answer"
    description = f"Give your final answer by calling this tool: its input is the answer (the '{name}' JSON)."
    return {"name": JSON_TOOL_NAME, "description": description, "input_schema": schema}


def _plan_tools(request: ChatRequest, response_format: Any, extra: dict[str, Any]) -> _ToolPlan:
    plan = _ToolPlan(_tools(_json_text(request.tools_json)), _tool_choice(_json_text(request.tool_choice_json)))
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema_tool = _json_schema_tool(response_format)
        if not plan.tools or (plan.choice or {}).get("type") == "none":
            plan.tools, plan.choice = [schema_tool], {"type": "tool", "name": JSON_TOOL_NAME}
        else:
            plan.tools.append(schema_tool)
            if (plan.choice or {}).get("type") != "tool":
                plan.choice = {"type": "any"}  # the caller's tools, or the answer
    if extra.get("parallel_tool_calls") is False and plan.tools and (plan.choice or {}).get("type") != "none":
        plan.choice = {**(plan.choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    return plan


# ------------------------------------------------------------------ the request


def _sampling_allowed(version: str) -> bool:
    return version < SAMPLING_REMOVED_IN  # versions are ISO dates, so they sort as strings


def _body(request: ChatRequest, upstream_model: str, version: str) -> dict[str, Any]:
    extra = _json_text(request.extra_json) or {}
    response_format = _json_text(request.response_format_json)
    system, messages = _messages(request)
    if isinstance(response_format, dict) and response_format.get("type") == "json_object":
        system.append(JSON_OBJECT_INSTRUCTION)
    sampling = _sampling_allowed(version)
    passed = _PASSED_THROUGH + (_PASSED_THROUGH_SAMPLING if sampling else ())
    body: dict[str, Any] = {k: extra[k] for k in passed if k in extra}
    body["model"] = upstream_model
    body["max_tokens"] = request.max_tokens or DEFAULT_MAX_TOKENS
    if system:
        body["system"] = "\n\n".join(system)
    body["messages"] = messages
    plan = _plan_tools(request, response_format, extra)
    if plan.tools:
        body["tools"] = plan.tools
    if plan.tools and plan.choice is not None:
        body["tool_choice"] = plan.choice
    for ours, theirs, convert in _OTHER_PARAMS + (_SAMPLING_PARAMS if sampling else ()):
        value = getattr(request, ours)
        if value is not None and value != []:
            body[theirs] = convert(value)
    if request.stream:
        body["stream"] = True
    return body


class AnthropicAdapter:
    kind = "anthropic"
    capabilities = frozenset({"chat", "stream", "tools", "json_mode"})
    max_embedding_inputs = 0  # no embeddings API

    def build_request(self, request: ChatRequest, upstream_model: str, endpoint: ProviderEndpoint) -> HttpRequestSpec:
        version = endpoint.api_version or DEFAULT_API_VERSION
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if request.stream else "application/json",
            "anthropic-version": version,
        }
        if endpoint.api_key:
            headers["x-api-key"] = endpoint.api_key
        url = endpoint.base_url.rstrip("/") + "/v1/messages"
        return HttpRequestSpec("POST", url, headers, orjson.dumps(_body(request, upstream_model, version)))

    def parse_response(self, body: bytes, upstream_model: str) -> ChatResponse:
        return parse_message(body, upstream_model)

    def parse_error(self, status: int, headers: dict[str, str], body: bytes) -> TurnoutError:
        return classify_anthropic_error(status, headers, body)

    def stream_parser(self) -> AnthropicStreamParser:
        return AnthropicStreamParser()

    def build_embeddings_request(
        self, request: EmbeddingsRequest, upstream_model: str, endpoint: ProviderEndpoint
    ) -> HttpRequestSpec:
        raise InvalidRequest("Anthropic has no embeddings API.")

    def parse_embeddings_response(self, body: bytes, upstream_model: str) -> EmbeddingsResponse:
        raise InvalidRequest("Anthropic has no embeddings API.")
