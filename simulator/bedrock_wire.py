"""Bedrock Runtime routes: ``POST /model/{modelId}/converse``, ``/converse-stream`` and ``/invoke``
(Titan text embeddings).

Requests must be authenticated as Bedrock wants: a SigV4 ``Authorization`` header
(``AWS4-HMAC-SHA256 Credential=<key id>/<yyyymmdd>/<region>/bedrock/aws4_request,
SignedHeaders=...;host;...;x-amz-date..., Signature=<64 hex>``) with an ``x-amz-date`` in ISO 8601
basic format within five minutes of now, or a Bedrock API key as ``Authorization: Bearer <key>``.
The signature itself is not recomputed (the simulator knows no secrets). Refusals come in AWS's
shape: 403 ``MissingAuthenticationTokenException`` without credentials, 400
``IncompleteSignatureException`` for a malformed header, 403 ``InvalidSignatureException`` for a
wrong service scope or a stale date, and 403 ``UnrecognizedClientException`` for an access key id
starting with ``INVALID`` (a way to ask for an auth error).

Bodies are validated like Converse does (400 ``ValidationException``); fault knobs work as for the
OpenAI routes: errors before the stream in Bedrock's error shape, a ``modelStreamErrorException``
frame mid-stream for ``error_after_chunks``, a frame cut in half for ``break_after_chunks``. Real
Bedrock sends no ``Retry-After``; the simulator sends one only when the ``retry_after_s`` knob asks.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from simulator.bedrock_payloads import (
    converse_dict,
    error_for_status,
    error_headers,
    exception_frame,
    stream_frames,
    titan_embedding_dict,
)
from simulator.faults import SimulatedBreakError, break_index, hang_until_disconnect, seconds, sleep_ms, truncated_body
from simulator.knobs import KnobError, Knobs
from simulator.openai_wire import header_knobs
from simulator.replies import Reply, ReplyRequest, build_reply, new_id
from simulator.state import SimulatorState

EVENTSTREAM = "application/vnd.amazon.eventstream"
SIGNING_SERVICE = "bedrock"
CLOCK_SKEW = timedelta(minutes=5)
DEFAULT_EMBEDDING_DIMENSIONS = 1024
START_WITH_USER = (
    "A conversation must start with a user message. Try again with a conversation that starts with a user message."
)

_SIGV4 = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[A-Za-z0-9]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z0-9-]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?Signature=[0-9a-f]{64}"
)
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")


class BedrockWireError(Exception):
    """A request Bedrock would refuse: status, error type and message in Bedrock's shape."""

    def __init__(self, message: str, error_type: str = "ValidationException", status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.status = status


def error_response(error: BedrockWireError, extra_headers: dict[str, str] | None = None) -> Response:
    headers = {**error_headers(error.error_type), **(extra_headers or {})}
    return Response(orjson.dumps({"message": error.message}), error.status, headers, media_type="application/json")


# ---------------------------------------------------------------- authentication


def check_auth(authorization: str | None, amz_date: str | None, now: datetime) -> None:
    """Raise a :class:`BedrockWireError` unless the request is authenticated as Bedrock wants."""
    if not authorization:
        raise BedrockWireError("Missing Authentication Token", "MissingAuthenticationTokenException", 403)
    if authorization.startswith("Bearer "):
        if not authorization[len("Bearer ") :].strip():
            raise BedrockWireError("The API key is empty.", "UnrecognizedClientException", 403)
        return
    match = _SIGV4.fullmatch(authorization.strip())
    if match is None:
        raise BedrockWireError("The request signature does not conform to AWS standards.", "IncompleteSignature")
    if not amz_date or not _AMZ_DATE.fullmatch(amz_date):
        raise BedrockWireError(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            "IncompleteSignature",
        )
    signed = match.group("signed").split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        raise BedrockWireError("The host and x-amz-date headers must be signed.", "IncompleteSignature")
    if match.group("service") != SIGNING_SERVICE:
        raise BedrockWireError(
            f"Credential should be scoped to correct service: '{SIGNING_SERVICE}'.", "InvalidSignatureException", 403
        )
    if match.group("date") != amz_date[:8]:
        raise BedrockWireError("The credential date does not match x-amz-date.", "InvalidSignatureException", 403)
    signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if abs(now - signed_at) > CLOCK_SKEW:
        raise BedrockWireError(
            f"Signature expired: {amz_date} is out of the 5 minute window.", "InvalidSignatureException", 403
        )
    if match.group("key").startswith("INVALID"):
        raise BedrockWireError(
            "The security token included in the request is invalid.", "UnrecognizedClientException", 403
        )


# ---------------------------------------------------------------- request parsing


@dataclass(frozen=True, slots=True)
class ConverseCall:
    model: str
    stream: bool
    reply: ReplyRequest


def _block_text(block: dict[str, Any]) -> str:
    if isinstance(block.get("text"), str):
        return str(block["text"])
    if isinstance(block.get("toolUse"), dict):
        use = block["toolUse"]
        return f"{use.get('name', '')} {orjson.dumps(use.get('input')).decode()}"
    if isinstance(block.get("toolResult"), dict):
        parts = block["toolResult"].get("content") or []
        return " ".join(
            p["text"] if isinstance(p.get("text"), str) else orjson.dumps(p.get("json")).decode()
            for p in parts
            if isinstance(p, dict)
        )
    return ""


def _check_message(index: int, message: Any, previous_role: str | None) -> str:
    if not isinstance(message, dict):
        raise BedrockWireError(f"messages.{index} must be an object.")
    role = message.get("role")
    if role not in ("user", "assistant"):
        raise BedrockWireError(
            f"1 validation error detected: Value '{role}' at 'messages.{index}.member.role' failed to satisfy "
            "constraint: Member must satisfy enum value set: [user, assistant]"
        )
    if index == 0 and role != "user":
        raise BedrockWireError(START_WITH_USER)
    if role == previous_role:
        raise BedrockWireError(
            "A conversation must alternate between user and assistant roles. "
            "Make sure the conversation alternates between user and assistant roles and try again."
        )
    content = message.get("content")
    if not isinstance(content, list) or not content:
        raise BedrockWireError(f"The content field in the Message object at messages.{index} is empty.")
    for j, block in enumerate(content):
        if not isinstance(block, dict) or len(block) != 1:
            raise BedrockWireError(f"messages.{index}.content.{j} must set exactly one member.")
        if "text" in block and not (isinstance(block["text"], str) and block["text"].strip()):
            raise BedrockWireError(
                f"The text field in the ContentBlock object at messages.{index}.content.{j} is blank. "
                "Add text to the text field, and try again."
            )
    return str(role)


def _check_inference(config: Any) -> int | None:
    if config is None:
        return None
    if not isinstance(config, dict):
        raise BedrockWireError("inferenceConfig must be an object.")
    for name, low, high in (("temperature", 0, 1), ("topP", 0, 1)):
        value = config.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high
        ):
            raise BedrockWireError(
                f"1 validation error detected: Value '{value}' at 'inferenceConfig.{name}' failed to satisfy "
                f"constraint: Member must have value between {low} and {high}"
            )
    max_tokens = config.get("maxTokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise BedrockWireError(
            f"1 validation error detected: Value '{max_tokens}' at 'inferenceConfig.maxTokens' failed to satisfy "
            "constraint: Member must have value greater than or equal to 1"
        )
    return max_tokens if isinstance(max_tokens, int) else None


def _tool_name(body: dict[str, Any], messages: list[dict[str, Any]]) -> str | None:
    config = body.get("toolConfig")
    if config is None:
        return None
    tools = config.get("tools") if isinstance(config, dict) else None
    if not isinstance(tools, list) or not tools:
        raise BedrockWireError("The toolConfig field must contain at least one tool.")
    names = [(t.get("toolSpec") or {}).get("name") for t in tools if isinstance(t, dict)]
    if not all(isinstance(n, str) and n for n in names):
        raise BedrockWireError("Every tool needs a toolSpec with a name.")
    choice = config.get("toolChoice") or {}
    forced = (choice.get("tool") or {}).get("name") if isinstance(choice, dict) else None
    if forced is not None:
        if forced not in names:
            raise BedrockWireError(f"The tool {forced} in toolChoice is not in toolConfig.tools.")
        return str(forced)
    if any("toolResult" in b for b in messages[-1]["content"]):
        return None  # the model answers the tool result with text
    return str(names[0])


def parse_converse(model: str, raw: bytes, stream: bool) -> ConverseCall:
    """Validate a Converse / ConverseStream body; raise :class:`BedrockWireError` like Bedrock's 400s."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BedrockWireError(f"Malformed input request: {exc}, please reformat your input and try again.") from exc
    if not isinstance(body, dict):
        raise BedrockWireError("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BedrockWireError(START_WITH_USER)
    role = None
    for index, message in enumerate(messages):
        role = _check_message(index, message, role)
    uses_tools = any(k in b for m in messages for b in m["content"] for k in ("toolUse", "toolResult"))
    if uses_tools and body.get("toolConfig") is None:
        raise BedrockWireError("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
    system = body.get("system") or []
    if not isinstance(system, list):
        raise BedrockWireError("system must be a list of content blocks.")
    # the last user turn with text (a turn of tool results alone says nothing to echo)
    user_texts = [
        [b["text"] for b in m["content"] if isinstance(b.get("text"), str)] for m in messages if m["role"] == "user"
    ]
    last_user = next((" ".join(texts) for texts in reversed(user_texts) if texts), "")
    texts = [_block_text(b) for b in system if isinstance(b, dict)]
    texts += [" ".join(_block_text(b) for b in m["content"]) for m in messages]
    text_format = (
        (body.get("outputConfig") or {}).get("textFormat") if isinstance(body.get("outputConfig"), dict) else None
    )
    reply = ReplyRequest(
        model=model,
        last_user_text=last_user,
        message_texts=texts,
        max_words=_check_inference(body.get("inferenceConfig")),
        json_mode=isinstance(text_format, dict) and text_format.get("type") == "json_schema",
        tool_name=_tool_name(body, messages),
    )
    return ConverseCall(model, stream, reply)


# ---------------------------------------------------------------- responses


def injected_error(status: int, model: str, knobs: Knobs) -> Response:
    error = error_for_status(status, model)
    extra = {} if knobs.retry_after_s is None else {"retry-after": str(round(knobs.retry_after_s))}
    return error_response(BedrockWireError(error.message, error.type, status), extra)


async def _paced_frames(frames: list[bytes], knobs: Knobs, model: str) -> AsyncIterator[bytes]:
    interval = seconds(knobs.chunk_interval_ms)
    brk, err = break_index(knobs, len(frames))
    await sleep_ms(knobs.latency_ms)
    for index, frame in enumerate(frames):
        if index and interval:
            await asyncio.sleep(interval)
        if index == brk:
            yield frame[: len(frame) // 2]
            raise SimulatedBreakError(f"simulated broken stream after {index} frames")
        if index == err:
            message = f"The model stream failed while streaming the response of {model} (simulated)."
            yield exception_frame("modelStreamErrorException", message)
            return
        yield frame


async def _prologue(request: Request) -> tuple[SimulatorState, str, bytes, Knobs]:
    """Authenticate, read the body and the header knobs; raise :class:`BedrockWireError` on refusal."""
    check_auth(request.headers.get("authorization"), request.headers.get("x-amz-date"), datetime.now(UTC))
    raw = await request.body()
    try:
        knobs = header_knobs(request)
    except KnobError as exc:
        raise BedrockWireError(str(exc)) from exc
    return request.app.state.sim, request.path_params["model_id"], raw, knobs


async def _faults_first(request: Request, sim: SimulatorState, model: str, knobs: Knobs) -> Response | None:
    """The answer when a knob says hang or error, else None."""
    if knobs.hang:
        await hang_until_disconnect(request, sim.config.hang_cap_s)
        return error_response(BedrockWireError("Simulated hang reached its cap.", "ModelTimeoutException", 408))
    if knobs.error_status is not None:
        await sleep_ms(knobs.latency_ms)
        return injected_error(knobs.error_status, model, knobs)
    return None


async def _converse(request: Request, stream: bool) -> Response:
    try:
        sim, model, raw, headers = await _prologue(request)
        call = parse_converse(model, raw, stream)
    except BedrockWireError as exc:
        return error_response(exc)
    knobs = sim.effective_knobs(model, headers)
    sim.count_request(model, stream, knobs)
    early = await _faults_first(request, sim, model, knobs)
    if early is not None:
        return early
    reply = _with_tool_use_id(build_reply(call.reply, knobs, sim.config.word_cap))
    latency = round(knobs.latency_ms or 0)
    request_id = {"x-amzn-RequestId": str(uuid.uuid4())}
    if stream:
        frames = stream_frames(reply, sim.config.words_per_chunk, latency)
        return StreamingResponse(_paced_frames(frames, knobs, model), headers=request_id, media_type=EVENTSTREAM)
    await sleep_ms(knobs.latency_ms)
    payload = orjson.dumps(converse_dict(reply, latency))
    if knobs.break_after_chunks is not None:
        return StreamingResponse(truncated_body(payload), headers=request_id, media_type="application/json")
    return Response(payload, 200, request_id, media_type="application/json")


def _with_tool_use_id(reply: Reply) -> Reply:
    """Bedrock's tool use ids look like ``tooluse_<22 characters>``."""
    if reply.tool_call is None:
        return reply
    return replace(reply, tool_call=replace(reply.tool_call, id=new_id("tooluse_", 11)))


async def converse(request: Request) -> Response:
    return await _converse(request, stream=False)


async def converse_stream(request: Request) -> Response:
    return await _converse(request, stream=True)


def _embedding_input(raw: bytes) -> tuple[str, int]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BedrockWireError(f"Malformed input request: {exc}, please reformat your input and try again.") from exc
    text = body.get("inputText") if isinstance(body, dict) else None
    if not isinstance(text, str) or not text:
        raise BedrockWireError(
            "Malformed input request: #: required key [inputText] not found, please reformat your input and try again."
        )
    dimensions = body.get("dimensions", DEFAULT_EMBEDDING_DIMENSIONS)
    if dimensions not in (256, 512, 1024):
        raise BedrockWireError("Malformed input request: #/dimensions: must be one of 256, 512, 1024.")
    return text, int(dimensions)


async def invoke(request: Request) -> Response:
    """InvokeModel for Titan text embeddings (the only InvokeModel body the simulator speaks)."""
    try:
        sim, model, raw, headers = await _prologue(request)
        text, dimensions = _embedding_input(raw)
    except BedrockWireError as exc:
        return error_response(exc)
    knobs = sim.effective_knobs(model, headers)
    sim.count_request(model, False, knobs)
    early = await _faults_first(request, sim, model, knobs)
    if early is not None:
        return early
    await sleep_ms(knobs.latency_ms)
    payload = titan_embedding_dict(text, dimensions)
    return Response(orjson.dumps(payload), 200, {"x-amzn-RequestId": str(uuid.uuid4())}, media_type="application/json")


def routes() -> list[Route]:
    return [
        Route("/model/{model_id:path}/converse", converse, methods=["POST"]),
        Route("/model/{model_id:path}/converse-stream", converse_stream, methods=["POST"]),
        Route("/model/{model_id:path}/invoke", invoke, methods=["POST"]),
    ]
