"""AWS Bedrock Runtime: chat through the Converse API, embeddings through InvokeModel (Titan).

Written from the Bedrock Runtime API reference (API_runtime_Converse, API_runtime_ConverseStream,
API_runtime_InvokeModel and the shapes they use: Message, ContentBlock, ToolUseBlock,
ToolResultBlock, SystemContentBlock, InferenceConfiguration, ToolConfiguration, ToolChoice,
RequestMetadata; the same model ships in botocore as ``bedrock-runtime/2023-09-30``), the User
Guide pages "Carry out a conversation with the Converse API operations", "Call a tool with the
Converse API" and "Amazon Titan Embeddings Text", and AWS's Signature Version 4 documentation.

- ``POST {base_url}/model/{modelId}/converse`` (``/converse-stream`` for streams); the model id
  is one URL path segment, percent-encoded (an ARN's ``:`` and ``/`` too).
- Signed with SigV4 by botocore's signer (service ``bedrock``, the endpoint's region) when AWS
  credentials are configured; with only ``api_key`` the request carries
  ``Authorization: Bearer <key>`` (Bedrock API keys); with neither it goes unsigned (for local
  servers such as the simulator). The signature dates the request, so it is built per attempt.
- Messages: ``system``/``developer`` -> ``system`` blocks; ``tool`` results -> ``toolResult``
  blocks in a user message; assistant ``tool_calls`` -> ``toolUse`` blocks; consecutive messages
  of one role are merged, as Converse wants user and assistant turns to alternate; images must be
  ``data:`` URLs (Converse takes image bytes, and an adapter fetches nothing).
- Parameters: the mapping table :data:`INFERENCE_PARAMS`; ``temperature`` is clamped to Converse's
  0..1; ``seed`` has no Converse equivalent and is dropped; ``user`` -> ``requestMetadata.user``
  (metadata for filtering invocation logs) when it fits that field's character set; extra
  parameters pass through only if they are Converse request fields (:data:`PASSTHROUGH`).
- Tools: ``tool_choice`` ``auto`` -> ``{"auto": {}}``, ``required`` -> ``{"any": {}}``, a named
  function -> ``{"tool": {"name"}}``; ``none`` (Converse has no such choice) leaves the tools out,
  unless the conversation holds tool calls, which Converse refuses without a ``toolConfig``: then
  the tools stay, the choice left to the model.
- JSON mode (Converse has no ``response_format``): ``json_object`` adds a system instruction;
  ``json_schema`` adds a tool named ``turnout_json_response`` whose input schema is the schema and
  forces it (or, next to the caller's own tools, requires some tool); its input becomes the
  reply's content. (Converse's newer ``outputConfig.textFormat`` constrains output natively, but
  only on a few models; a caller may send it as an extra parameter.)
- Embeddings: Titan Text Embeddings take one ``inputText`` per call, ``dimensions`` optional;
  several inputs would need the invoker to fan out, so they are refused here.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from schemas.errors import InvalidRequest, ProviderError, TurnoutError
from schemas.events import ChatMessage, ChatRequest, ChatResponse, EmbeddingsRequest, EmbeddingsResponse, Usage
from streams.providers.base import HttpRequestSpec, ProviderEndpoint
from streams.providers.bedrock_errors import classify_bedrock_error
from streams.providers.bedrock_response import JSON_TOOL_NAME, BedrockStreamParser, parse_converse_response

__all__ = ["INFERENCE_PARAMS", "PASSTHROUGH", "BedrockAdapter", "converse_messages", "sign_headers"]

SERVICE = "bedrock"
DEFAULT_REGION = "us-east-1"
# unified ChatRequest field -> InferenceConfiguration member
INFERENCE_PARAMS: tuple[tuple[str, str], ...] = (
    ("max_tokens", "maxTokens"),
    ("temperature", "temperature"),
    ("top_p", "topP"),
)
# Converse request members an extra parameter may set
PASSTHROUGH = frozenset(
    {
        "additionalModelRequestFields",
        "additionalModelResponseFieldPaths",
        "guardrailConfig",
        "outputConfig",
        "performanceConfig",
        "promptVariables",
        "requestMetadata",
        "serviceTier",
    }
)
JSON_OBJECT_INSTRUCTION = "Respond with a single valid JSON object and nothing else."
_METADATA_VALUE = re.compile(r"[a-zA-Z0-9\s:_@$#=/+,\-.]{0,256}")  # RequestMetadataValueString
_DATA_URL = re.compile(r"data:image/(png|jpeg|jpg|gif|webp);base64,(.*)", re.DOTALL)
_REGION_IN_HOST = re.compile(r"bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com")


def _object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (a malformed field reads as absent)."""
    return value if isinstance(value, dict) else {}


def _text_of_parts(parts: list[Any]) -> str:
    return "".join(p.get("text", "") for p in parts if isinstance(p, dict) and p.get("type") == "text")


def _image_block(part: dict[str, Any], where: str) -> dict[str, Any]:
    url = _object(part.get("image_url")).get("url")
    match = _DATA_URL.fullmatch(url if isinstance(url, str) else "")
    if match is None:
        raise InvalidRequest(
            "Bedrock takes images as base64 data: URLs (png, jpeg, gif or webp), not links.", param=where
        )
    image_format = "jpeg" if match.group(1) == "jpg" else match.group(1)
    try:
        base64.b64decode(match.group(2), validate=True)
    except ValueError:
        raise InvalidRequest("The image data: URL is not valid base64.", param=where) from None
    return {"image": {"format": image_format, "source": {"bytes": match.group(2)}}}


def _content_blocks(message: ChatMessage, where: str) -> list[dict[str, Any]]:
    if message.parts_json is None:
        return [{"text": message.content}] if message.content else []
    blocks: list[dict[str, Any]] = []
    for i, part in enumerate(orjson.loads(message.parts_json)):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and part.get("text"):
            blocks.append({"text": part["text"]})
        elif kind == "image_url":
            blocks.append(_image_block(part, f"{where}.content[{i}]"))
        elif kind != "text":
            raise InvalidRequest(f"Bedrock cannot take a content part of type {kind!r}.", param=f"{where}.content[{i}]")
    return blocks


def _tool_use(call_id: str, name: str, arguments: str, where: str) -> dict[str, Any]:
    try:
        tool_input = orjson.loads(arguments) if arguments.strip() else {}
    except orjson.JSONDecodeError:
        raise InvalidRequest("Tool call arguments must be JSON.", param=f"{where}.tool_calls") from None
    return {"toolUse": {"toolUseId": call_id, "name": name, "input": tool_input}}


def _tool_result(message: ChatMessage, where: str) -> dict[str, Any]:
    parts = orjson.loads(message.parts_json) if message.parts_json is not None else None
    text = _text_of_parts(parts) if parts is not None else message.content or ""
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        parsed = None
    content = [{"json": parsed}] if isinstance(parsed, dict) else [{"text": text}]
    if not message.tool_call_id:
        raise InvalidRequest("A tool message needs its tool_call_id.", param=f"{where}.tool_call_id")
    return {"toolResult": {"toolUseId": message.tool_call_id, "content": content}}


def converse_messages(messages: list[ChatMessage]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Unified messages -> (Converse ``system`` blocks, Converse ``messages``)."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if message.role in ("system", "developer"):
            blocks = _content_blocks(message, where)
            system.extend(b for b in blocks if "text" in b)
            continue
        if message.role == "tool":
            role, blocks = "user", [_tool_result(message, where)]
        elif message.role == "assistant":
            role = "assistant"
            blocks = _content_blocks(message, where)
            blocks += [_tool_use(c.id, c.name, c.arguments, where) for c in message.tool_calls]
        else:
            role, blocks = "user", _content_blocks(message, where)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def _tool_spec(tool: dict[str, Any]) -> dict[str, Any]:
    function = _object(tool.get("function"))
    spec: dict[str, Any] = {"name": function["name"]}
    if function.get("description"):
        spec["description"] = function["description"]
    spec["inputSchema"] = {"json": function.get("parameters") or {"type": "object", "properties": {}}}
    return {"toolSpec": spec}


def _json_tool(response_format: dict[str, Any]) -> dict[str, Any]:
    schema_info = _object(response_format.get("json_schema"))
    description = "Give the reply as this tool's input."
    if schema_info.get("description"):
        description += f" {schema_info['description']}"
    schema = schema_info.get("schema") or {"type": "object"}
    return {"toolSpec": {"name": JSON_TOOL_NAME, "description": description, "inputSchema": {"json": schema}}}


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice == "auto":
        return {"auto": {}}
    if choice == "required":
        return {"any": {}}
    if isinstance(choice, dict):
        name = _object(choice.get("function")).get("name")
        if isinstance(name, str):
            return {"tool": {"name": name}}
    return None


def _tool_config(request: ChatRequest, response_format: dict[str, Any], has_tool_turns: bool) -> dict[str, Any] | None:
    tools = [_tool_spec(t) for t in orjson.loads(request.tools_json)] if request.tools_json else []
    choice = orjson.loads(request.tool_choice_json) if request.tool_choice_json else None
    if choice == "none":
        tools, choice = (tools if has_tool_turns else []), None
    if response_format.get("type") == "json_schema":
        converse_choice: dict[str, Any] | None = {"any": {}} if tools else {"tool": {"name": JSON_TOOL_NAME}}
        tools.append(_json_tool(response_format))
    else:
        converse_choice = _tool_choice(choice)
    if not tools:
        return None
    config: dict[str, Any] = {"tools": tools}
    if converse_choice is not None:
        config["toolChoice"] = converse_choice
    return config


def _inference_config(request: ChatRequest) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for ours, theirs in INFERENCE_PARAMS:
        value = getattr(request, ours)
        if value is not None:
            config[theirs] = min(value, 1.0) if ours == "temperature" else value
    stops = [s for s in request.stop if s]
    if stops:
        config["stopSequences"] = stops
    return config


def converse_body(request: ChatRequest) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if request.extra_json:
        body.update({k: v for k, v in orjson.loads(request.extra_json).items() if k in PASSTHROUGH})
    system, turns = converse_messages(request.messages)
    response_format = _object(orjson.loads(request.response_format_json)) if request.response_format_json else {}
    if response_format.get("type") == "json_object":
        system.append({"text": JSON_OBJECT_INSTRUCTION})
    body["messages"] = turns
    if system:
        body["system"] = system
    inference = _inference_config(request)
    if inference:
        body["inferenceConfig"] = inference
    has_tool_turns = any("toolUse" in b or "toolResult" in b for t in turns for b in t["content"])
    tool_config = _tool_config(request, response_format, has_tool_turns)
    if tool_config is not None:
        body["toolConfig"] = tool_config
    if request.user and _METADATA_VALUE.fullmatch(request.user):
        body["requestMetadata"] = {**_object(body.get("requestMetadata")), "user": request.user}
    return body


def _region(endpoint: ProviderEndpoint) -> str:
    if endpoint.region:
        return endpoint.region
    match = _REGION_IN_HOST.search(urlsplit(endpoint.base_url).netloc)
    return match.group(1) if match else DEFAULT_REGION


def sign_headers(url: str, headers: dict[str, str], body: bytes, endpoint: ProviderEndpoint) -> dict[str, str]:
    """``headers`` plus authentication: SigV4 with AWS credentials, else a Bedrock API key as a bearer token."""
    if endpoint.aws_access_key_id and endpoint.aws_secret_access_key:
        credentials = Credentials(
            endpoint.aws_access_key_id, endpoint.aws_secret_access_key, endpoint.aws_session_token
        )
        aws_request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
        SigV4Auth(credentials, SERVICE, _region(endpoint)).add_auth(aws_request)
        return {name.lower(): str(value) for name, value in aws_request.headers.items()}
    if endpoint.api_key:
        return {**headers, "authorization": f"Bearer {endpoint.api_key}"}
    return dict(headers)


def _model_url(endpoint: ProviderEndpoint, model_id: str, operation: str) -> str:
    return f"{endpoint.base_url.rstrip('/')}/model/{quote(model_id, safe='')}/{operation}"


class BedrockAdapter:
    kind = "bedrock"
    capabilities = frozenset({"chat", "stream", "tools", "json_mode", "embeddings"})
    max_embedding_inputs = 1  # Titan embeds one input per call

    def build_request(self, request: ChatRequest, upstream_model: str, endpoint: ProviderEndpoint) -> HttpRequestSpec:
        try:
            body = orjson.dumps(converse_body(request))
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
            # requests from Kafka clients skip the ingress's checks; a malformed one is refused, not crashed on
            raise InvalidRequest(f"The request cannot be put in Bedrock's Converse format: {exc!r}") from None
        operation = "converse-stream" if request.stream else "converse"
        url = _model_url(endpoint, upstream_model, operation)
        accept = "application/vnd.amazon.eventstream" if request.stream else "application/json"
        headers = sign_headers(url, {"content-type": "application/json", "accept": accept}, body, endpoint)
        return HttpRequestSpec("POST", url, headers, body)

    def parse_response(self, body: bytes, upstream_model: str) -> ChatResponse:
        return parse_converse_response(body, upstream_model)

    def parse_error(self, status: int, headers: dict[str, str], body: bytes) -> TurnoutError:
        return classify_bedrock_error(status, headers, body)

    def stream_parser(self) -> BedrockStreamParser:
        return BedrockStreamParser()

    def build_embeddings_request(
        self, request: EmbeddingsRequest, upstream_model: str, endpoint: ProviderEndpoint
    ) -> HttpRequestSpec:
        if len(request.inputs) != 1:
            raise InvalidRequest(
                "Bedrock's Titan embeddings take one input per call; send inputs one at a time.", param="input"
            )
        payload: dict[str, Any] = {"inputText": request.inputs[0]}
        if request.dimensions is not None:
            payload["dimensions"] = request.dimensions
        body = orjson.dumps(payload)
        url = _model_url(endpoint, upstream_model, "invoke")
        headers = sign_headers(url, {"content-type": "application/json", "accept": "application/json"}, body, endpoint)
        return HttpRequestSpec("POST", url, headers, body)

    def parse_embeddings_response(self, body: bytes, upstream_model: str) -> EmbeddingsResponse:
        try:
            data = orjson.loads(body)
            vector = [float(x) for x in data["embedding"]]
            tokens = int(data.get("inputTextTokenCount") or 0)
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ProviderError(f"The provider sent embeddings Turnout cannot read: {exc!r}") from None
        usage = Usage(prompt_tokens=tokens, total_tokens=tokens)
        return EmbeddingsResponse(vectors=[vector], usage=usage, upstream_model=upstream_model)
