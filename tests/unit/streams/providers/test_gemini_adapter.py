"""``GeminiAdapter``: request and response translation beyond what the golden fixtures show."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ingress.openai_request import parse_chat_request, parse_embeddings_request
from schemas.errors import InvalidRequest, ProviderContentPolicy, ProviderError
from schemas.events import Usage
from streams.providers.base import ProviderEndpoint
from streams.providers.gemini import SKIP_SIGNATURE, GeminiAdapter

ADAPTER = GeminiAdapter()
ENDPOINT = ProviderEndpoint(base_url="https://g.test/", api_key="k")
USER = {"role": "user", "content": "hi"}
CALL = {"id": "call_0_lookup", "type": "function", "function": {"name": "lookup", "arguments": '{"q":"x"}'}}


def body(model: str = "gemini-2.5-flash", endpoint: ProviderEndpoint = ENDPOINT, **request: Any) -> dict[str, Any]:
    spec = ADAPTER.build_request(parse_chat_request({"model": "m", **request}), model, endpoint)
    result: dict[str, Any] = json.loads(spec.body)
    return result


def test_urls_and_headers() -> None:
    plain = ADAPTER.build_request(parse_chat_request({"model": "m", "messages": [USER]}), "tunedModels/t1", ENDPOINT)
    assert plain.url == "https://g.test/v1beta/tunedModels/t1:generateContent"
    assert plain.headers["x-goog-api-key"] == "k"
    keyless = ProviderEndpoint(base_url="http://local", api_version="v1alpha")
    streamed = ADAPTER.build_request(
        parse_chat_request({"model": "m", "messages": [USER], "stream": True}), "g", keyless
    )
    assert streamed.url == "http://local/v1alpha/models/g:streamGenerateContent?alt=sse"
    assert "x-goog-api-key" not in streamed.headers and streamed.headers["accept"] == "text/event-stream"


def test_a_system_only_prompt_becomes_the_user_turn() -> None:
    sent = body(messages=[{"role": "system", "content": "Summarise the rules."}])
    assert sent["contents"] == [{"role": "user", "parts": [{"text": "Summarise the rules."}]}]
    assert "systemInstruction" not in sent


def test_empty_messages_and_parts_are_left_out() -> None:
    sent = body(
        messages=[
            {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "a"}]},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "b"},
        ]
    )
    assert sent["contents"] == [{"role": "user", "parts": [{"text": "a"}, {"text": "b"}]}]


def test_audio_and_file_parts_go_inline() -> None:
    parts = [
        {"type": "image_url", "image_url": "data:image/webp;base64,UklGR=="},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "mp3"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}},
    ]
    sent = body(messages=[{"role": "user", "content": parts}])
    assert sent["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "image/webp", "data": "UklGR=="}},
        {"inlineData": {"mimeType": "audio/mp3", "data": "UklGRg=="}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
    ]


@pytest.mark.parametrize(
    ("part", "param"),
    [
        ({"type": "image_url", "image_url": {"url": "https://x.test/cat.png"}}, "messages[0].content[0].image_url.url"),
        ({"type": "file", "file": {"file_id": "file-1"}}, "messages[0].content[0].file.file_data"),
        ({"type": "video", "video": {}}, "messages[0].content[0]"),
    ],
)
def test_parts_gemini_cannot_take_are_refused(part: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        body(messages=[{"role": "user", "content": [part]}])
    assert caught.value.param == param


def test_tool_result_names_come_from_the_call_then_the_id_then_the_message_name() -> None:
    sent = body(
        messages=[
            USER,
            {"role": "assistant", "content": None, "tool_calls": [{**CALL, "id": "opaque-1"}]},
            {"role": "tool", "tool_call_id": "opaque-1", "content": "[1, 2]"},
            {"role": "tool", "tool_call_id": "call_3_other_tool", "content": "null"},
            {"role": "function", "name": "legacy", "content": "ok"},
        ]
    )
    responses = [p["functionResponse"] for p in sent["contents"][-1]["parts"]]
    assert responses == [
        {"name": "lookup", "response": {"result": [1, 2]}},
        {"name": "other_tool", "response": {"result": None}},
        {"name": "legacy", "response": {"result": "ok"}},
    ]


def test_a_tool_result_for_no_known_call_is_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        body(messages=[USER, {"role": "tool", "tool_call_id": "who", "content": "x"}])
    assert caught.value.param == "messages[1].tool_call_id"


@pytest.mark.parametrize(("arguments", "args"), [("", {}), ("  ", {}), ('{"a": [1]}', {"a": [1]})])
def test_call_arguments(arguments: str, args: dict[str, Any]) -> None:
    call = {**CALL, "function": {"name": "lookup", "arguments": arguments}}
    sent = body(messages=[USER, {"role": "assistant", "tool_calls": [call]}])
    assert sent["contents"][1]["parts"] == [{"functionCall": {"name": "lookup", "args": args}}]


@pytest.mark.parametrize("arguments", ["[1]", "{bad", '"text"'])
def test_call_arguments_that_are_not_an_object_are_refused(arguments: str) -> None:
    call = {**CALL, "function": {"name": "lookup", "arguments": arguments}}
    with pytest.raises(InvalidRequest):
        body(messages=[USER, {"role": "assistant", "tool_calls": [call]}])


@pytest.mark.parametrize(
    ("model", "signed"),
    [
        ("gemini-2.5-pro", False),
        ("gemini-3-pro-preview", True),
        ("gemini-3.1-flash", True),
        ("models/gemini-10-x", True),
    ],
)
def test_replayed_calls_are_signed_for_gemini_3_and_later(model: str, signed: bool) -> None:
    sent = body(model=model, messages=[USER, {"role": "assistant", "tool_calls": [CALL]}])
    part = sent["contents"][1]["parts"][0]
    assert (part.get("thoughtSignature") == SKIP_SIGNATURE) is signed


TOOL = {"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}}


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("none", {"functionCallingConfig": {"mode": "NONE"}}),
        ("required", {"functionCallingConfig": {"mode": "ANY"}}),
        (
            {"type": "function", "function": {"name": "ping"}},
            {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["ping"]}},
        ),
        ({"type": "allowed_tools"}, None),
    ],
)
def test_tool_choice(choice: Any, config: dict[str, Any] | None) -> None:
    sent = body(messages=[USER], tools=[TOOL], tool_choice=choice)
    assert sent.get("toolConfig") == config
    assert sent["tools"] == [{"functionDeclarations": [{"name": "ping"}]}]  # no properties: no parameters


def test_tool_choice_without_tools_sends_no_tool_config() -> None:
    assert "toolConfig" not in body(messages=[USER], tool_choice="required")


def test_json_schema_without_a_schema_asks_only_for_json() -> None:
    sent = body(messages=[USER], response_format={"type": "json_schema", "json_schema": {"name": "x"}}, top_k=5)
    assert sent["generationConfig"] == {"candidateCount": 1, "responseMimeType": "application/json", "topK": 5}


def reply(**data: Any) -> bytes:
    return json.dumps(data).encode()


def test_response_leaves_out_thoughts_and_keeps_ids_gemini_sends() -> None:
    parts = [
        {"text": "Let me think about the weather.", "thought": True},
        {"text": "Checking."},
        {"functionCall": {"id": "fc-7", "name": "lookup", "args": {"q": "x"}}, "thoughtSignature": "c2ln"},
        {"functionCall": {"name": "lookup"}},
    ]
    response = ADAPTER.parse_response(
        reply(candidates=[{"content": {"parts": parts, "role": "model"}, "finishReason": "STOP"}]), "gemini-x"
    )
    assert response.content == "Checking."
    assert [(c.id, c.arguments) for c in response.tool_calls] == [("fc-7", '{"q":"x"}'), ("call_1_lookup", "{}")]
    assert (response.finish_reason, response.upstream_model, response.usage) == ("tool_calls", "gemini-x", Usage())


@pytest.mark.parametrize("finish", ["OTHER", "MALFORMED_FUNCTION_CALL", "FINISH_REASON_UNSPECIFIED", None])
def test_other_finish_reasons_read_as_stop(finish: str | None) -> None:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": "x"}]}}
    if finish:
        candidate["finishReason"] = finish
    assert ADAPTER.parse_response(reply(candidates=[candidate]), "g").finish_reason == "stop"


def test_a_blocked_prompt_is_a_content_policy_error() -> None:
    with pytest.raises(ProviderContentPolicy, match="OTHER"):
        ADAPTER.parse_response(reply(promptFeedback={"blockReason": "OTHER"}), "g")


@pytest.mark.parametrize(
    "raw",
    [b"not json", reply(candidates=[]), reply(candidates=[{"content": {"parts": [{"functionCall": {}}]}}]), b"[1]"],
)
def test_unreadable_responses_are_provider_errors(raw: bytes) -> None:
    with pytest.raises(ProviderError) as caught:
        ADAPTER.parse_response(raw, "g")
    assert type(caught.value) is ProviderError


def test_embeddings_request_without_dimensions_and_usage_when_present() -> None:
    request = parse_embeddings_request({"model": "e", "input": ["a", "b"]})
    spec = ADAPTER.build_embeddings_request(request, "models/text-embedding-004", ENDPOINT)
    assert spec.url == "https://g.test/v1beta/models/text-embedding-004:batchEmbedContents"
    assert json.loads(spec.body)["requests"][1] == {
        "model": "models/text-embedding-004",
        "content": {"parts": [{"text": "b"}]},
    }
    parsed = ADAPTER.parse_embeddings_response(
        reply(embeddings=[{"values": [1, 2]}], usageMetadata={"promptTokenCount": 3, "totalTokenCount": 3}), "e"
    )
    assert parsed.vectors == [[1.0, 2.0]] and parsed.usage.prompt_tokens == 3


@pytest.mark.parametrize("raw", [b"{}", b"nope", reply(embedding={"values": ["x"]})])
def test_unreadable_embeddings_are_provider_errors(raw: bytes) -> None:
    with pytest.raises(ProviderError):
        ADAPTER.parse_embeddings_response(raw, "e")
