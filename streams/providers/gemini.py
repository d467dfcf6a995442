"""Google's Gemini API (``generativelanguage.googleapis.com``; not Vertex AI).

Written from the Gemini API reference: ai.google.dev/api/generate-content (``models.generateContent``,
``models.streamGenerateContent``, ``GenerationConfig``, ``GenerateContentResponse``),
ai.google.dev/api/caching (``Content``, ``Part``, ``Blob``, ``FunctionCall``, ``FunctionResponse``,
``Tool``, ``FunctionDeclaration``, ``ToolConfig``, ``FunctionCallingConfig``, ``Schema``),
ai.google.dev/api/embeddings (``models.embedContent``, ``models.batchEmbedContents``), the
function-calling, structured-output and thought-signatures guides, and the troubleshooting page.

Calls: ``POST {base_url}/{api_version}/models/{model}:generateContent`` (streamed:
``:streamGenerateContent?alt=sse``), ``x-goog-api-key: <key>``; ``api_version`` defaults to ``v1beta``.

Request, OpenAI -> Gemini:

    messages (user / assistant)   -> contents [{role: "user" | "model", parts}] (same-role turns merged)
    messages (system, developer)  -> systemInstruction {parts: [{text}]}
    text / image_url (data: URL) / input_audio / file (data: URL) parts -> text / inlineData parts
    assistant tool_calls          -> functionCall parts {name, args}
    role "tool" (or "function")   -> functionResponse parts {name, response} in a user turn; the name
                                     is the one of the assistant tool call with that id; a result
                                     that is not a JSON object is sent as {"result": <value>}
    tools                         -> tools [{functionDeclarations: [{name, description, parameters}]}]
                                     (parameters via gemini_schema; an object without properties is
                                     left out, Gemini refuses empty OBJECT schemas)
    tool_choice auto/none/required/{function} -> toolConfig.functionCallingConfig
                                     {mode: AUTO | NONE | ANY, allowedFunctionNames}
    temperature, top_p, max_tokens, seed, stop -> generationConfig temperature, topP,
                                     maxOutputTokens, seed, stopSequences (+ candidateCount 1)
    presence_penalty, frequency_penalty, top_k (extra) -> presencePenalty, frequencyPenalty, topK
    response_format json_object   -> responseMimeType "application/json"
    response_format json_schema   -> responseMimeType "application/json" + responseSchema (gemini_schema)

Dropped (no Gemini equivalent): ``user``, ``parallel_tool_calls``, ``logprobs``, ``reasoning_effort``
and any other extra parameter. http(s) image URLs are refused with a 400 (Gemini reads images
inline or from its own Files API).

Thought signatures: Gemini 3 models refuse a replayed ``functionCall`` part without the
``thoughtSignature`` they sent with it, and OpenAI's message shape has nowhere to keep one. For
models named ``gemini-<N>`` with N >= 3, replayed calls carry the placeholder signature the
thought-signatures guide documents for histories that lack the real one.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from schemas.errors import InvalidRequest, ProviderError, TurnoutError
from schemas.events import ChatMessage, ChatRequest, ChatResponse, EmbeddingsRequest, EmbeddingsResponse, Usage
from streams.providers.base import HttpRequestSpec, ProviderEndpoint
from streams.providers.gemini_reply import (
    blocked_prompt_error,
    candidate_parts,
    classify_gemini_error,
    finish_reason,
    usage_from_gemini,
)
from streams.providers.gemini_schema import to_gemini_schema
from streams.providers.gemini_stream import GeminiStreamParser

__all__ = ["DEFAULT_API_VERSION", "SKIP_SIGNATURE", "GeminiAdapter", "contents_from_messages"]

DEFAULT_API_VERSION = "v1beta"
SKIP_SIGNATURE = "skip_thought_signature_validator"

# unified ChatRequest field -> generationConfig field
_GENERATION_PARAMS: tuple[tuple[str, str], ...] = (
    ("temperature", "temperature"),
    ("top_p", "topP"),
    ("max_tokens", "maxOutputTokens"),
    ("seed", "seed"),
)
# OpenAI parameter Turnout keeps in extra_json -> generationConfig field
_EXTRA_PARAMS: tuple[tuple[str, str], ...] = (
    ("presence_penalty", "presencePenalty"),
    ("frequency_penalty", "frequencyPenalty"),
    ("top_k", "topK"),
)
_TOOL_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
_AUDIO_TYPES = {"wav": "audio/wav", "mp3": "audio/mp3"}
_DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)(?:;[\w=.+-]+)*;base64,(?P<data>.*)", re.DOTALL)
_SYNTHETIC_ID = re.compile(r"call_\d+_(?P<name>.+)")
_MODEL_VERSION = re.compile(r"gemini-(\d+)")


def _model_path(upstream_model: str) -> str:
    return upstream_model if upstream_model.startswith(("models/", "tunedModels/")) else f"models/{upstream_model}"


def _url(endpoint: ProviderEndpoint, upstream_model: str, method: str) -> str:
    version = endpoint.api_version or DEFAULT_API_VERSION
    return f"{endpoint.base_url.rstrip('/')}/{version}/{_model_path(upstream_model)}:{method}"


def _headers(endpoint: ProviderEndpoint, stream: bool = False) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept": "text/event-stream" if stream else "application/json"}
    if endpoint.api_key:
        headers["x-goog-api-key"] = endpoint.api_key
    return headers


def _inline(data_url: str, where: str) -> dict[str, Any]:
    match = _DATA_URL.fullmatch(data_url)
    if match is None:
        raise InvalidRequest(f"'{where}' must be a base64 data: URL for Gemini.", param=where)
    return {"inlineData": {"mimeType": match["mime"], "data": match["data"]}}


def _content_part(part: Any, where: str) -> dict[str, Any] | None:
    """One OpenAI content part -> one Gemini part (None for empty text)."""
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        return {"text": part["text"]} if isinstance(part.get("text"), str) and part["text"] else None
    if kind == "image_url":
        image = part.get("image_url")
        url = image if isinstance(image, str) else (image or {}).get("url", "")
        return _inline(url, f"{where}.image_url.url")
    if kind == "input_audio":
        audio = part.get("input_audio") or {}
        mime = _AUDIO_TYPES.get(audio.get("format", ""), "audio/wav")
        return {"inlineData": {"mimeType": mime, "data": audio.get("data", "")}}
    if kind == "file":
        return _inline((part.get("file") or {}).get("file_data", ""), f"{where}.file.file_data")
    raise InvalidRequest(f"'{where}' has a content part type Gemini cannot take: {kind!r}.", param=where)


def _parts(message: ChatMessage, where: str) -> list[dict[str, Any]]:
    if message.parts_json is None:
        return [{"text": message.content}] if message.content else []
    raw = orjson.loads(message.parts_json)
    parts = (_content_part(p, f"{where}.content[{i}]") for i, p in enumerate(raw))
    return [p for p in parts if p is not None]


def _text(message: ChatMessage) -> str:
    if message.parts_json is None:
        return message.content or ""
    raw = orjson.loads(message.parts_json)
    return "".join(p.get("text", "") for p in raw if isinstance(p, dict) and p.get("type") == "text")


def _call_part(arguments: str, name: str, where: str, signed: bool) -> dict[str, Any]:
    try:
        args = orjson.loads(arguments) if arguments.strip() else {}
    except orjson.JSONDecodeError:
        args = None
    if not isinstance(args, dict):
        raise InvalidRequest(f"'{where}.function.arguments' must be a JSON object for Gemini.", param=where)
    part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
    if signed:
        part["thoughtSignature"] = SKIP_SIGNATURE
    return part


def _tool_name(message: ChatMessage, names: dict[str, str], where: str) -> str:
    call_id = message.tool_call_id or ""
    if call_id in names:
        return names[call_id]
    synthetic = _SYNTHETIC_ID.fullmatch(call_id)
    if synthetic:
        return synthetic["name"]
    if message.name:
        return message.name
    raise InvalidRequest(f"'{where}.tool_call_id' names no earlier assistant tool call.", param=f"{where}.tool_call_id")


def _result_part(message: ChatMessage, name: str) -> dict[str, Any]:
    text = _text(message)
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = text
    response = value if isinstance(value, dict) else {"result": value}
    return {"functionResponse": {"name": name, "response": response}}


def contents_from_messages(
    messages: list[ChatMessage], upstream_model: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI messages -> (systemInstruction parts, contents with same-role turns merged)."""
    version = _MODEL_VERSION.search(upstream_model)
    signed = version is not None and int(version.group(1)) >= 3
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if message.role in ("system", "developer"):
            text = _text(message)
            system.extend([{"text": text}] if text else [])
            continue
        if message.role in ("tool", "function"):
            role, parts = "user", [_result_part(message, _tool_name(message, names, where))]
        elif message.role == "assistant":
            role, parts = "model", [{"text": t} for t in [_text(message)] if t]
            for j, call in enumerate(message.tool_calls):
                names[call.id] = call.name
                parts.append(_call_part(call.arguments, call.name, f"{where}.tool_calls[{j}]", signed))
        else:
            role, parts = "user", _parts(message, where)
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return system, contents


def _function_declaration(tool: dict[str, Any]) -> dict[str, Any]:
    fn = tool.get("function") or {}
    declaration: dict[str, Any] = {"name": fn["name"]}
    if fn.get("description"):
        declaration["description"] = fn["description"]
    parameters = to_gemini_schema(fn.get("parameters"))
    if parameters.get("properties"):
        declaration["parameters"] = parameters
    return declaration


def _tools(tools_json: str) -> list[dict[str, Any]]:
    tools = [t for t in orjson.loads(tools_json) if isinstance(t, dict) and t.get("type", "function") == "function"]
    return [{"functionDeclarations": [_function_declaration(t) for t in tools]}] if tools else []


def _tool_config(tool_choice_json: str) -> dict[str, Any] | None:
    choice = orjson.loads(tool_choice_json)
    if isinstance(choice, str):
        mode = _TOOL_MODES.get(choice)
        return {"functionCallingConfig": {"mode": mode}} if mode else None
    name = ((choice or {}).get("function") or {}).get("name") if isinstance(choice, dict) else None
    if not isinstance(name, str):
        return None
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}


def _generation_config(request: ChatRequest) -> dict[str, Any]:
    config: dict[str, Any] = {"candidateCount": 1}
    for ours, theirs in _GENERATION_PARAMS:
        value = getattr(request, ours)
        if value is not None:
            config[theirs] = value
    extra = orjson.loads(request.extra_json) if request.extra_json else {}
    for ours, theirs in _EXTRA_PARAMS:
        if extra.get(ours) is not None:
            config[theirs] = extra[ours]
    if request.stop:
        config["stopSequences"] = list(request.stop)
    response_format = orjson.loads(request.response_format_json) if request.response_format_json else {}
    if response_format.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if response_format.get("type") == "json_schema" and isinstance(schema, dict):
        config["responseSchema"] = to_gemini_schema(schema)
    return config


class GeminiAdapter:
    kind = "gemini"
    capabilities = frozenset({"chat", "stream", "tools", "json_mode", "embeddings"})
    max_embedding_inputs = 100  # batchEmbedContents takes up to 100 requests

    def build_request(self, request: ChatRequest, upstream_model: str, endpoint: ProviderEndpoint) -> HttpRequestSpec:
        system, contents = contents_from_messages(request.messages, upstream_model)
        if not contents and system:  # Gemini needs contents; a system-only prompt goes as the user turn
            system, contents = [], [{"role": "user", "parts": system}]
        body: dict[str, Any] = {"contents": contents}
        if system:
            body["systemInstruction"] = {"parts": system}
        tools = _tools(request.tools_json) if request.tools_json else []
        if tools:
            body["tools"] = tools
            config = _tool_config(request.tool_choice_json) if request.tool_choice_json else None
            if config:
                body["toolConfig"] = config
        body["generationConfig"] = _generation_config(request)
        method = "streamGenerateContent?alt=sse" if request.stream else "generateContent"
        url = _url(endpoint, upstream_model, method)
        return HttpRequestSpec("POST", url, _headers(endpoint, request.stream), orjson.dumps(body))

    def parse_response(self, body: bytes, upstream_model: str) -> ChatResponse:
        try:
            data = orjson.loads(body)
            blocked = blocked_prompt_error(data)
            if blocked is not None:
                raise blocked
            if not data.get("candidates"):
                raise ProviderError("The provider sent a response without candidates.")
            found = candidate_parts(data)
            return ChatResponse(
                id=str(data.get("responseId") or ""),
                content=found.text if found.text or not found.tool_calls else None,
                tool_calls=found.tool_calls,
                finish_reason=finish_reason(found.finish, bool(found.tool_calls)) or "stop",
                usage=usage_from_gemini(data.get("usageMetadata")),
                upstream_model=str(data.get("modelVersion") or upstream_model),
                created=0,
            )
        except TurnoutError:
            raise
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            raise ProviderError(f"The provider sent a response Turnout cannot read: {exc}") from None

    def parse_error(self, status: int, headers: dict[str, str], body: bytes) -> TurnoutError:
        return classify_gemini_error(status, headers, body)

    def stream_parser(self) -> GeminiStreamParser:
        return GeminiStreamParser()

    def build_embeddings_request(
        self, request: EmbeddingsRequest, upstream_model: str, endpoint: ProviderEndpoint
    ) -> HttpRequestSpec:
        def one(text: str) -> dict[str, Any]:
            item: dict[str, Any] = {"model": _model_path(upstream_model), "content": {"parts": [{"text": text}]}}
            if request.dimensions is not None:
                item["outputDimensionality"] = request.dimensions
            return item

        if len(request.inputs) == 1:
            body: dict[str, Any] = one(request.inputs[0])
            url = _url(endpoint, upstream_model, "embedContent")
        else:
            body = {"requests": [one(text) for text in request.inputs]}
            url = _url(endpoint, upstream_model, "batchEmbedContents")
        return HttpRequestSpec("POST", url, _headers(endpoint), orjson.dumps(body))

    def parse_embeddings_response(self, body: bytes, upstream_model: str) -> EmbeddingsResponse:
        """Vectors in input order. Gemini reports no token usage for embeddings: prompt_tokens is 0
        (not an estimate) unless the response carries ``usageMetadata``."""
        try:
            data = orjson.loads(body)
            items = data["embeddings"] if "embeddings" in data else [data["embedding"]]
            usage = usage_from_gemini(data.get("usageMetadata")) if data.get("usageMetadata") else Usage()
            return EmbeddingsResponse(
                vectors=[[float(x) for x in item["values"]] for item in items],
                usage=usage,
                upstream_model=upstream_model,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ProviderError(f"The provider sent embeddings Turnout cannot read: {exc}") from None
