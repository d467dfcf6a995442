"""The simulator's Gemini payloads: request validation, reply decisions, fragments, errors, embeddings."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest

from simulator.gemini_payloads import (
    GoogleError,
    embedding,
    error_body,
    injected_error,
    json_array,
    parse_embed_request,
    parse_generate_request,
    response_dict,
    status_name,
    stream_events,
    stream_fragments,
)
from simulator.knobs import Knobs
from simulator.replies import build_reply

USER = {"role": "user", "parts": [{"text": "hello world"}]}


def parse(**body: Any) -> Any:
    return parse_generate_request(orjson.dumps({"contents": [USER], **body}), "m", False)


def test_minimal_request_and_snake_case_fields() -> None:
    call = parse(system_instruction={"parts": [{"text": "Be brief."}]}, generation_config={"max_output_tokens": 2})
    assert call.reply.last_user_text == "hello world"
    assert call.reply.message_texts == ["Be brief.", "hello world"]
    assert (call.reply.max_words, call.reply.json_mode, call.reply.tool_name) == (2, False, None)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{nope", "Invalid JSON payload"),
        (b"[]", "Root element must be a message"),
        (orjson.dumps({"contents": [USER], "model": "m"}), 'Unknown name "model"'),
        (orjson.dumps({}), "contents is not specified"),
        (orjson.dumps({"contents": []}), "contents is not specified"),
        (orjson.dumps({"contents": [{"role": "user", "parts": []}]}), "contents[0].parts"),
        (orjson.dumps({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}), "valid role: user, model"),
        (orjson.dumps({"contents": [{"parts": [{"thought": True}]}]}), "required oneof field 'data'"),
        (orjson.dumps({"contents": [USER], "generationConfig": {"temperatureX": 1}}), "at 'generation_config'"),
        (orjson.dumps({"contents": [USER], "generationConfig": {"maxOutputTokens": 0}}), "max_output_tokens"),
        (orjson.dumps({"contents": [USER], "generationConfig": {"candidateCount": 2}}), "candidateCount 1"),
        (orjson.dumps({"contents": [USER], "tools": [{"functionDeclarations": [{}]}]}), "Name is empty"),
        (orjson.dumps({"contents": [USER], "toolConfig": {"functionCallingConfig": {"mode": "auto"}}}), "mode"),
    ],
)
def test_invalid_requests(raw: bytes, message: str) -> None:
    with pytest.raises(GoogleError, match=message.replace("(", r"\(").replace("[", r"\[")) as caught:
        parse_generate_request(raw, "m", False)
    assert caught.value.status == 400


TOOLS = [{"functionDeclarations": [{"name": "first"}, {"name": "second"}]}]


@pytest.mark.parametrize(
    ("extra", "tool"),
    [
        ({"tools": TOOLS}, "first"),
        ({"tools": TOOLS, "toolConfig": {"functionCallingConfig": {"mode": "NONE"}}}, None),
        (
            {
                "tools": TOOLS,
                "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["second"]}},
            },
            "second",
        ),
        ({"tools": [{"codeExecution": {}}]}, None),
    ],
)
def test_which_tool_the_reply_calls(extra: dict[str, Any], tool: str | None) -> None:
    assert parse(**extra).reply.tool_name == tool


def test_after_a_function_response_the_reply_is_text() -> None:
    contents = [
        USER,
        {"role": "model", "parts": [{"functionCall": {"name": "first", "args": {"q": 1}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "first", "response": {"result": "done"}}}]},
    ]
    call = parse_generate_request(orjson.dumps({"contents": contents, "tools": TOOLS}), "m", False)
    assert call.reply.tool_name is None
    assert call.reply.last_user_text == "hello world"
    assert call.reply.message_texts[1:] == ['first {"q":1}', 'first {"result":"done"}']


def test_json_mode() -> None:
    assert parse(generationConfig={"responseMimeType": "application/json"}).reply.json_mode


def test_response_and_fragments() -> None:
    reply = build_reply(parse().reply, Knobs())
    whole = response_dict(reply, "m", "rid")
    [candidate] = whole["candidates"]
    assert candidate["content"] == {"parts": [{"text": "Simulated reply from m: hello world"}], "role": "model"}
    assert candidate["finishReason"] == "STOP"
    assert whole["usageMetadata"]["totalTokenCount"] == reply.prompt_tokens + reply.completion_tokens
    fragments = stream_fragments(reply, "m", "rid", 2)
    assert "".join(f["candidates"][0]["content"]["parts"][0]["text"] for f in fragments) == reply.content
    assert [("finishReason" in f["candidates"][0]) for f in fragments] == [False, False, True]
    assert "candidatesTokenCount" not in fragments[0]["usageMetadata"]
    assert fragments[-1]["usageMetadata"] == whole["usageMetadata"]
    events = stream_events(reply, "m", "rid", 2)
    assert all(e.startswith(b"data: {") and e.endswith(b"}\r\n\r\n") for e in events)
    assert orjson.loads(json_array(fragments)) == fragments


def test_cut_reply_and_tool_call() -> None:
    short = build_reply(parse(generationConfig={"maxOutputTokens": 2}).reply, Knobs())
    assert response_dict(short, "m", "r")["candidates"][0]["finishReason"] == "MAX_TOKENS"
    called = build_reply(parse(tools=TOOLS).reply, Knobs(tool_arguments='{"city": "Oslo"}'))
    [fragment] = stream_fragments(called, "m", "r", 3)
    assert fragment["candidates"][0]["content"]["parts"] == [
        {"functionCall": {"name": "first", "args": {"city": "Oslo"}}}
    ]
    assert fragment["candidates"][0]["finishReason"] == "STOP"
    odd = build_reply(parse(tools=TOOLS).reply, Knobs(tool_arguments="[1]"))
    assert response_dict(odd, "m", "r")["candidates"][0]["content"]["parts"][0]["functionCall"]["args"] == {
        "value": [1]
    }


@pytest.mark.parametrize(
    ("status", "name"),
    [(400, "INVALID_ARGUMENT"), (429, "RESOURCE_EXHAUSTED"), (418, "FAILED_PRECONDITION"), (599, "INTERNAL")],
)
def test_status_names(status: int, name: str) -> None:
    assert status_name(status) == name
    assert error_body(status, "x") == {"error": {"code": status, "message": "x", "status": name}}


def test_injected_errors_carry_retry_info() -> None:
    error = injected_error(429, "m", 2.5)
    assert error.status == 429 and error.message.endswith("(simulated 429)")
    assert error.details == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"}]
    assert "models/mx is not found" in injected_error(404, "mx", None).message


def test_embeddings_are_deterministic_unit_vectors() -> None:
    first, again, other = embedding("a", 16), embedding("a", 16), embedding("b", 16)
    assert first == again and first != other and len(embedding("a", 100)) == 100
    assert math.isclose(sum(v * v for v in first), 1.0, rel_tol=1e-6)


def test_embed_requests() -> None:
    one = parse_embed_request(orjson.dumps({"content": {"parts": [{"text": "a"}, {"text": "b"}]}}), "e", False)
    assert [(i.text, i.dimensions) for i in one] == [("a b", 768)]
    item = {"model": "models/e", "content": {"parts": [{"text": "c"}]}, "output_dimensionality": 8}
    assert parse_embed_request(orjson.dumps({"requests": [item]}), "e", True)[0].dimensions == 8
    for bad, batch in [
        ({"requests": []}, True),
        ({"requests": [{**item, "model": "models/other"}]}, True),
        ({"content": {}}, False),
        ({"content": {"parts": [{"text": "a"}]}, "outputDimensionality": 0}, False),
    ]:
        with pytest.raises(GoogleError):
            parse_embed_request(orjson.dumps(bad), "e", batch)
