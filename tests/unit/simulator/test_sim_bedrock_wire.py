"""The simulator's Bedrock wire format, without a server: authentication checks, request validation,
payloads and event-stream frames (read back with AWS's own decoder, botocore)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from botocore.eventstream import EventStreamBuffer

from simulator.bedrock_payloads import (
    converse_dict,
    embedding_vector,
    error_for_status,
    error_headers,
    exception_frame,
    stream_frames,
)
from simulator.bedrock_wire import BedrockWireError, check_auth, parse_converse
from simulator.eventstream_encoder import encode_message
from simulator.replies import Reply, ToolCall

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
DATE = "20250301T120000Z"
SIG = "a" * 64


def authorization(key: str = "AKIDEXAMPLE", date: str = "20250301", service: str = "bedrock", signed: str = "") -> str:
    signed = signed or "content-type;host;x-amz-date"
    return (
        f"AWS4-HMAC-SHA256 Credential={key}/{date}/us-east-1/{service}/aws4_request, "
        f"SignedHeaders={signed}, Signature={SIG}"
    )


def test_well_formed_credentials_pass() -> None:
    check_auth(authorization(), DATE, NOW)
    check_auth(authorization(), "20250301T115600Z", NOW)  # four minutes of skew
    check_auth("Bearer ABSKexample", None, NOW)


@pytest.mark.parametrize(
    ("header", "amz_date", "error_type", "status"),
    [
        (None, DATE, "MissingAuthenticationTokenException", 403),
        ("Bearer  ", None, "UnrecognizedClientException", 403),
        ("AWS4-HMAC-SHA256 Credential=AKID/20250301/us-east-1/bedrock/aws4_request", DATE, "IncompleteSignature", 400),
        (authorization().replace(SIG, "xyz"), DATE, "IncompleteSignature", 400),
        (authorization(), None, "IncompleteSignature", 400),
        (authorization(), "2025-03-01T12:00:00Z", "IncompleteSignature", 400),
        (authorization(signed="content-type;x-amz-date"), DATE, "IncompleteSignature", 400),
        (authorization(service="s3"), DATE, "InvalidSignatureException", 403),
        (authorization(date="20250228"), DATE, "InvalidSignatureException", 403),
        (authorization(), "20250301T113000Z", "InvalidSignatureException", 403),
        (authorization(key="INVALIDKEY"), DATE, "UnrecognizedClientException", 403),
    ],
)
def test_refusals(header: str | None, amz_date: str | None, error_type: str, status: int) -> None:
    with pytest.raises(BedrockWireError) as caught:
        check_auth(header, amz_date, NOW)
    assert (caught.value.error_type, caught.value.status) == (error_type, status)


def test_auth_errors_carry_the_aws_wide_namespace() -> None:
    assert error_headers("UnrecognizedClientException")["x-amzn-ErrorType"].endswith("com.amazon.coral.service/")
    assert error_headers("ThrottlingException")["x-amzn-ErrorType"] == (
        "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"
    )


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"text": text}]}


def parse(**body: Any) -> Any:
    return parse_converse("sim-model", orjson.dumps(body), stream=False)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "must start with a user message"),
        ({"messages": [assistant("hi")]}, "must start with a user message"),
        ({"messages": [user("a"), user("b")]}, "must alternate"),
        ({"messages": [{"role": "system", "content": [{"text": "x"}]}]}, "enum value set"),
        ({"messages": [user(" ")]}, "is blank"),
        ({"messages": [{"role": "user", "content": []}]}, "is empty"),
        ({"messages": [user("a")], "inferenceConfig": {"maxTokens": 0}}, "greater than or equal to 1"),
        ({"messages": [user("a")], "inferenceConfig": {"temperature": 1.5}}, "between 0 and 1"),
        (
            {
                "messages": [
                    user("a"),
                    {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "f", "input": {}}}]},
                ]
            },
            "toolConfig field must be defined",
        ),
        ({"messages": [user("a")], "toolConfig": {"tools": []}}, "at least one tool"),
        (
            {
                "messages": [user("a")],
                "toolConfig": {"tools": [{"toolSpec": {"name": "f"}}], "toolChoice": {"tool": {"name": "g"}}},
            },
            "not in toolConfig.tools",
        ),
    ],
)
def test_validation_errors(body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(BedrockWireError) as caught:
        parse(**body)
    assert caught.value.error_type == "ValidationException" and caught.value.status == 400
    assert fragment in caught.value.message


def test_malformed_json() -> None:
    with pytest.raises(BedrockWireError):
        parse_converse("m", b"{", stream=True)


def test_reply_request_from_a_converse_body() -> None:
    call = parse(
        system=[{"text": "Be brief."}],
        messages=[user("first"), assistant("ok"), user("second question")],
        inferenceConfig={"maxTokens": 5},
        toolConfig={"tools": [{"toolSpec": {"name": "lookup", "inputSchema": {"json": {}}}}]},
    )
    assert call.reply.last_user_text == "second question"
    assert call.reply.message_texts == ["Be brief.", "first", "ok", "second question"]
    assert call.reply.max_words == 5
    assert call.reply.tool_name == "lookup"


def test_a_tool_result_is_answered_with_text() -> None:
    call = parse(
        messages=[
            user("find"),
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "lookup", "input": {"q": 1}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "t", "content": [{"json": {"a": 1}}]}}]},
        ],
        toolConfig={"tools": [{"toolSpec": {"name": "lookup", "inputSchema": {"json": {}}}}]},
    )
    assert call.reply.tool_name is None
    assert call.reply.last_user_text == "find"  # the turn of tool results alone has no text
    assert call.reply.message_texts[1:] == ['lookup {"q":1}', '{"a":1}']


def test_native_structured_output_is_json_mode() -> None:
    output = {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"schema": "{}"}}}}
    assert parse(messages=[user("a")], outputConfig=output).reply.json_mode


def decode(frames: list[bytes]) -> list[tuple[dict[str, Any], Any]]:
    buffer = EventStreamBuffer()
    buffer.add_data(b"".join(frames))
    return [(dict(m.headers), orjson.loads(m.payload)) for m in buffer]


def test_text_stream_frames_read_by_botocore() -> None:
    reply = Reply("one two three four", None, "length", 9, 4)
    events = decode(stream_frames(reply, words_per_chunk=2, latency_ms=3))
    assert [h[":event-type"] for h, _ in events] == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert all(h[":message-type"] == "event" and h[":content-type"] == "application/json" for h, _ in events)
    assert "".join(p["delta"]["text"] for h, p in events if h[":event-type"] == "contentBlockDelta") == reply.content
    assert events[4][1] == {"stopReason": "max_tokens"}
    assert events[5][1] == {
        "usage": {"inputTokens": 9, "outputTokens": 4, "totalTokens": 13},
        "metrics": {"latencyMs": 3},
    }


def test_tool_stream_frames() -> None:
    reply = Reply(None, ToolCall("tooluse_1", "lookup", '{"q": "x"}'), "tool_calls", 9, 12)
    events = decode(stream_frames(reply, words_per_chunk=2, latency_ms=0))
    assert events[1][1] == {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "tooluse_1", "name": "lookup"}}}
    pieces = [p["delta"]["toolUse"]["input"] for h, p in events if h[":event-type"] == "contentBlockDelta"]
    assert len(pieces) >= 3 and orjson.loads("".join(pieces)) == {"q": "x"}
    assert events[-2][1] == {"stopReason": "tool_use"}


def test_exception_frame() -> None:
    [(headers, payload)] = decode([exception_frame("modelStreamErrorException", "boom")])
    assert headers == {
        ":exception-type": "modelStreamErrorException",
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    assert payload == {"message": "boom"}


def test_converse_dict() -> None:
    reply = Reply(None, ToolCall("tooluse_1", "lookup", "not json"), "tool_calls", 1, 2)
    body = converse_dict(reply, 10)
    assert body["output"]["message"]["content"] == [
        {"toolUse": {"toolUseId": "tooluse_1", "name": "lookup", "input": {}}}
    ]
    assert body["stopReason"] == "tool_use" and body["metrics"] == {"latencyMs": 10}


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "ValidationException"),
        (403, "AccessDeniedException"),
        (408, "ModelTimeoutException"),
        (424, "ModelErrorException"),
        (429, "ThrottlingException"),
        (500, "InternalServerException"),
        (503, "ServiceUnavailableException"),
        (418, "ValidationException"),
        (599, "InternalServerException"),
    ],
)
def test_injected_error_types(status: int, error_type: str) -> None:
    error = error_for_status(status, "m")
    assert error.type == error_type and f"(simulated {status})" in error.message


def test_embedding_vectors_are_deterministic_unit_vectors() -> None:
    vector = embedding_vector("hello", 256)
    assert vector == embedding_vector("hello", 256) != embedding_vector("hellO", 256)
    assert len(vector) == 256 and abs(sum(v * v for v in vector) - 1) < 1e-3


def test_encoder_writes_what_botocore_reads() -> None:
    frame = encode_message([("a", "b"), ("flag", True)], b"payload")
    buffer = EventStreamBuffer()
    buffer.add_data(frame)
    [message] = list(buffer)
    assert dict(message.headers) == {"a": "b", "flag": True} and message.payload == b"payload"
