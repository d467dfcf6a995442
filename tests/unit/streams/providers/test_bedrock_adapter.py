"""``BedrockAdapter``: what the golden fixtures do not show — request variants, the SigV4 signature
checked by an independent computation, and malformed replies."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import pytest

from ingress.openai_request import parse_chat_request, parse_embeddings_request
from schemas.errors import InvalidRequest, ProviderError
from schemas.events import ChatMessage, ChatRequest
from streams.providers.base import ProviderEndpoint
from streams.providers.bedrock import JSON_OBJECT_INSTRUCTION, BedrockAdapter, converse_body
from streams.providers.bedrock_response import JSON_TOOL_NAME

ADAPTER = BedrockAdapter()
SIGNED = ProviderEndpoint(
    base_url="https://bedrock-runtime.eu-west-1.amazonaws.com",
    region="eu-west-1",
    aws_access_key_id="AKIDEXAMPLE",
    aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
)
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
LOOKUP_SPEC = {"toolSpec": {"name": "lookup", "inputSchema": {"json": {"type": "object"}}}}
HISTORY: list[dict[str, Any]] = [
    {"role": "user", "content": "find x"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "lookup", "arguments": ""}}],
    },
    {"role": "tool", "tool_call_id": "t1", "content": "[1, 2]"},
]


def body(**request: Any) -> dict[str, Any]:
    request.setdefault("model", "m")
    request.setdefault("messages", [{"role": "user", "content": "hi"}])
    return converse_body(parse_chat_request(request))


@pytest.mark.parametrize(
    ("tool_choice", "converse_choice"),
    [("auto", {"auto": {}}), ("required", {"any": {}}), ({"type": "function", "function": {"name": "lookup"}}, None)],
)
def test_tool_choices(tool_choice: Any, converse_choice: dict[str, Any] | None) -> None:
    config = body(tools=[TOOL], tool_choice=tool_choice)["toolConfig"]
    assert config["tools"] == [LOOKUP_SPEC]
    assert config["toolChoice"] == (converse_choice or {"tool": {"name": "lookup"}})


def test_no_tool_choice_leaves_it_to_the_model() -> None:
    assert body(tools=[TOOL])["toolConfig"] == {"tools": [LOOKUP_SPEC]}


def test_tool_choice_none_leaves_the_tools_out() -> None:
    assert "toolConfig" not in body(tools=[TOOL], tool_choice="none")


def test_tool_choice_none_keeps_tools_a_tool_history_needs() -> None:
    sent = body(messages=HISTORY, tools=[TOOL], tool_choice="none")
    assert sent["toolConfig"] == {"tools": [LOOKUP_SPEC]}
    assistant, result = sent["messages"][1], sent["messages"][2]
    assert assistant == {
        "role": "assistant",
        "content": [{"toolUse": {"toolUseId": "t1", "name": "lookup", "input": {}}}],
    }
    # a JSON array is not an object: it goes back as text
    assert result["content"] == [{"toolResult": {"toolUseId": "t1", "content": [{"text": "[1, 2]"}]}}]


def test_json_schema_next_to_the_callers_tools_requires_some_tool() -> None:
    response_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    config = body(tools=[TOOL], response_format=response_format)["toolConfig"]
    assert [t["toolSpec"]["name"] for t in config["tools"]] == ["lookup", JSON_TOOL_NAME]
    assert config["toolChoice"] == {"any": {}}


def test_json_object_without_a_system_message() -> None:
    assert body(response_format={"type": "json_object"})["system"] == [{"text": JSON_OBJECT_INSTRUCTION}]


def test_extra_parameters_pass_only_if_converse_has_them() -> None:
    sent = body(
        user="ana@example.com",
        guardrailConfig={"guardrailIdentifier": "gr-1", "guardrailVersion": "1"},
        requestMetadata={"team": "search"},
        frequency_penalty=0.5,
        model_extra={"x": 1},
    )
    assert sent["guardrailConfig"] == {"guardrailIdentifier": "gr-1", "guardrailVersion": "1"}
    assert sent["requestMetadata"] == {"team": "search", "user": "ana@example.com"}
    assert "frequency_penalty" not in sent and "model_extra" not in sent


def test_a_user_outside_request_metadatas_characters_is_dropped() -> None:
    assert "requestMetadata" not in body(user="ana|admin")


def test_empty_texts_and_empty_stop_sequences_are_not_sent() -> None:
    sent = body(messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}], stop=["", "END"])
    assert sent["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]
    assert sent["inferenceConfig"] == {"stopSequences": ["END"]}


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@not-base64@@"}},
        {"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAAA"}},
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
    ],
)
def test_content_bedrock_cannot_take_is_refused(part: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest) as caught:
        body(messages=[{"role": "user", "content": [part]}])
    assert caught.value.param == "messages[0].content[0]"


def test_jpg_is_jpeg() -> None:
    part = {"type": "image_url", "image_url": {"url": "data:image/jpg;base64,AAAA"}}
    [message] = body(messages=[{"role": "user", "content": [part]}])["messages"]
    assert message["content"] == [{"image": {"format": "jpeg", "source": {"bytes": "AAAA"}}}]


def test_tool_call_arguments_must_be_json() -> None:
    call = {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{"}}
    with pytest.raises(InvalidRequest):
        body(messages=[HISTORY[0], {"role": "assistant", "content": None, "tool_calls": [call]}])


def test_without_credentials_the_request_is_unsigned() -> None:
    spec = ADAPTER.build_request(
        parse_chat_request({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
        "amazon.nova-micro-v1:0",
        ProviderEndpoint(base_url="http://127.0.0.1:9/"),
    )
    assert spec.url == "http://127.0.0.1:9/model/amazon.nova-micro-v1%3A0/converse"
    assert spec.headers == {"content-type": "application/json", "accept": "application/json"}


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def independent_sigv4(method: str, url: str, headers: dict[str, str], body: bytes, secret: str) -> str:
    """SigV4 as AWS's "Create a signed AWS API request" page describes it, for a non-S3 service:
    the canonical URI encodes each path segment again."""
    parts = urlsplit(url)
    auth = headers["authorization"]
    credential = auth.split("Credential=")[1].split(",")[0]
    _key_id, date, region, service, _ = credential.split("/")
    signed_names = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    values = {**headers, "host": parts.netloc}
    canonical_uri = "/".join(quote(segment, safe="-_.~") for segment in parts.path.split("/"))
    canonical = "\n".join(
        [
            method,
            canonical_uri,
            parts.query,
            "".join(f"{name}:{values[name].strip()}\n" for name in signed_names),
            ";".join(signed_names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", headers["x-amz-date"], scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), region), service), "aws4_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "model",
    [
        "anthropic.claude-3-haiku-20240307-v1:0",
        "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0",
    ],
)
def test_sigv4_signature_is_what_aws_documents(model: str) -> None:
    request = parse_chat_request({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True})
    spec = ADAPTER.build_request(request, model, SIGNED)
    auth = spec.headers["authorization"]
    assert auth.startswith(
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{spec.headers['x-amz-date'][:8]}/eu-west-1/bedrock/"
    )
    assert "SignedHeaders=accept;content-type;host;x-amz-date," in auth
    signature = auth.rsplit("Signature=", 1)[1]
    assert signature == independent_sigv4(
        "POST", spec.url, spec.headers, spec.body, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    )
    assert "/model/" + quote(model, safe="") + "/converse-stream" in spec.url


def test_region_comes_from_the_host_when_not_configured() -> None:
    endpoint = ProviderEndpoint(
        base_url="https://bedrock-runtime.ap-south-1.amazonaws.com", aws_access_key_id="AKID", aws_secret_access_key="s"
    )
    spec = ADAPTER.build_request(
        parse_chat_request({"model": "m", "messages": [{"role": "user", "content": "x"}]}), "m", endpoint
    )
    assert "/ap-south-1/bedrock/aws4_request" in spec.headers["authorization"]


def test_embeddings_take_one_input() -> None:
    request = parse_embeddings_request({"model": "e", "input": ["a", "b"]})
    with pytest.raises(InvalidRequest):
        ADAPTER.build_embeddings_request(request, "amazon.titan-embed-text-v2:0", SIGNED)


def test_embeddings_without_dimensions() -> None:
    spec = ADAPTER.build_embeddings_request(parse_embeddings_request({"model": "e", "input": "a"}), "t", SIGNED)
    assert orjson.loads(spec.body) == {"inputText": "a"}


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"{}", b'{"output": {"message": {"content": "text"}}}', b'{"output": {"message": {"content": [7]}}}'],
)
def test_unreadable_replies_are_provider_errors(raw: bytes) -> None:
    with pytest.raises(ProviderError):
        ADAPTER.parse_response(raw, "m")


@pytest.mark.parametrize("raw", [b"[]", b'{"embedding": "x"}', b'{"inputTextTokenCount": 3}'])
def test_unreadable_embeddings_are_provider_errors(raw: bytes) -> None:
    with pytest.raises(ProviderError):
        ADAPTER.parse_embeddings_response(raw, "m")


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("malformed_model_output", "stop"),
        ("something_new", "stop"),
    ],
)
def test_stop_reasons(stop_reason: str, finish: str) -> None:
    reply = {"output": {"message": {"role": "assistant", "content": [{"text": "x"}]}}, "stopReason": stop_reason}
    assert ADAPTER.parse_response(orjson.dumps(reply), "m").finish_reason == finish


@pytest.mark.parametrize(
    "fields",
    [
        {"tools_json": '[{"type": "function"}]'},  # no function name
        {"tool_choice_json": '{"type": "function", "function": "lookup"}', "tools_json": orjson.dumps([TOOL]).decode()},
        {"response_format_json": '{"type": "json_schema", "json_schema": "person"}'},
        {"extra_json": '{"requestMetadata": "not an object"}', "user": "u-1"},
    ],
)
def test_malformed_requests_from_kafka_clients_are_refused_or_tolerated(fields: dict[str, Any]) -> None:
    """A ``RequestEvent`` produced straight to Kafka skips the ingress's checks: never a crash."""
    request = ChatRequest(model="m", messages=[ChatMessage(role="user", content="hi")], **fields)
    try:
        spec = ADAPTER.build_request(request, "m", SIGNED)
    except InvalidRequest:
        return
    assert orjson.loads(spec.body)["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]
