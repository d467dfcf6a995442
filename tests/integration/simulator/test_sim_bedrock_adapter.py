"""Turnout's Bedrock adapter against the simulator's Bedrock wire format over real HTTP: the adapter
builds (and SigV4-signs) the request, httpx sends it to the running server, the adapter reads the
reply, the event stream or the error."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from ingress.openai_request import parse_chat_request, parse_embeddings_request
from schemas.errors import (
    ContextWindowExceeded,
    ProviderAuthError,
    ProviderError,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderStreamBroken,
    TurnoutError,
)
from schemas.events import ChatResponse
from streams.providers.accumulate import StreamAccumulator
from streams.providers.base import HttpRequestSpec, ProviderEndpoint
from streams.providers.bedrock import BedrockAdapter

ADAPTER = BedrockAdapter()
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
ASK = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "look up the tallest tree"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look a thing up",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
]


@pytest.fixture()
def endpoint(sim_url: str) -> ProviderEndpoint:
    return ProviderEndpoint(
        base_url=sim_url,
        region="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        aws_session_token="session-token",
    )


def spec_for(endpoint: ProviderEndpoint, model: str = MODEL, **body: Any) -> HttpRequestSpec:
    return ADAPTER.build_request(parse_chat_request({"model": "bedrock-chat", **body}), model, endpoint)


def send(spec: HttpRequestSpec, headers: dict[str, str] | None = None) -> ChatResponse:
    reply = httpx.request(spec.method, spec.url, headers={**spec.headers, **(headers or {})}, content=spec.body)
    if reply.status_code >= 400:
        raise ADAPTER.parse_error(reply.status_code, dict(reply.headers), reply.content)
    return ADAPTER.parse_response(reply.content, MODEL)


def stream(spec: HttpRequestSpec, headers: dict[str, str] | None = None) -> ChatResponse:
    """Feed the stream to the parser as it arrives; a cut connection leaves the parser to judge."""
    whole = StreamAccumulator()
    parser = ADAPTER.stream_parser()
    with httpx.stream(spec.method, spec.url, headers={**spec.headers, **(headers or {})}, content=spec.body) as reply:
        if reply.status_code >= 400:
            raise ADAPTER.parse_error(reply.status_code, dict(reply.headers), reply.read())
        try:
            for piece in reply.iter_raw():
                for delta in parser.feed(piece):
                    whole.add(delta)
        except httpx.RemoteProtocolError:
            pass  # the transport calls this a broken stream too; close() must say so on its own
    parser.close()
    return whole.response(MODEL)


def test_chat(endpoint: ProviderEndpoint) -> None:
    reply = send(spec_for(endpoint, messages=ASK, max_tokens=50, temperature=0.3))
    assert reply.content == f"Simulated reply from {MODEL}: look up the tallest tree"
    assert reply.finish_reason == "stop"
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens == 9
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_chat_to_an_inference_profile_arn(endpoint: ProviderEndpoint) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0"
    assert (
        send(spec_for(endpoint, arn, messages=ASK)).content == f"Simulated reply from {arn}: look up the tallest tree"
    )


def test_max_tokens_stop_is_length(endpoint: ProviderEndpoint) -> None:
    reply = send(spec_for(endpoint, messages=ASK, max_tokens=3))
    assert reply.content == "Simulated reply from" and reply.finish_reason == "length"


def test_stream(endpoint: ProviderEndpoint) -> None:
    reply = stream(spec_for(endpoint, messages=ASK, stream=True))
    assert reply.content == f"Simulated reply from {MODEL}: look up the tallest tree"
    assert reply.finish_reason == "stop"
    assert reply.usage.completion_tokens == 9


def test_tool_round_trip(endpoint: ProviderEndpoint) -> None:
    args = {"x-sim-tool-arguments": json.dumps({"q": "tallest tree"})}
    first = send(spec_for(endpoint, messages=ASK, tools=TOOLS, tool_choice="required"), args)
    [call] = first.tool_calls
    assert (call.name, json.loads(call.arguments), first.finish_reason) == (
        "lookup",
        {"q": "tallest tree"},
        "tool_calls",
    )
    assert call.id.startswith("tooluse_")
    history = [
        *ASK,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call.id, "type": "function", "function": {"name": "lookup", "arguments": call.arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": '{"answer": "Hyperion"}'},
    ]
    second = send(spec_for(endpoint, messages=history, tools=TOOLS))
    assert second.tool_calls == [] and second.finish_reason == "stop"
    assert second.content == f"Simulated reply from {MODEL}: look up the tallest tree"


def test_streamed_tool_call(endpoint: ProviderEndpoint) -> None:
    args = {"x-sim-tool-arguments": json.dumps({"q": "a rather long query to be split in pieces" * 2})}
    reply = stream(spec_for(endpoint, messages=ASK, tools=TOOLS, stream=True), args)
    [call] = reply.tool_calls
    assert call.name == "lookup" and json.loads(call.arguments)["q"].startswith("a rather long")
    assert reply.finish_reason == "tool_calls" and reply.content is None


def test_json_schema_through_the_forced_tool(endpoint: ProviderEndpoint) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    response_format = {"type": "json_schema", "json_schema": {"name": "person", "schema": schema}}
    args = {"x-sim-tool-arguments": '{"name": "Ana"}'}
    plain = send(spec_for(endpoint, messages=ASK, response_format=response_format), args)
    streamed = stream(spec_for(endpoint, messages=ASK, response_format=response_format, stream=True), args)
    for reply in (plain, streamed):
        assert json.loads(reply.content or "") == {"name": "Ana"}
        assert reply.tool_calls == [] and reply.finish_reason == "stop"


def test_embeddings(endpoint: ProviderEndpoint) -> None:
    request = parse_embeddings_request({"model": "bedrock-embed", "input": "Hello, Bedrock.", "dimensions": 256})
    spec = ADAPTER.build_embeddings_request(request, "amazon.titan-embed-text-v2:0", endpoint)
    reply = httpx.request(spec.method, spec.url, headers=spec.headers, content=spec.body)
    result = ADAPTER.parse_embeddings_response(reply.content, "amazon.titan-embed-text-v2:0")
    assert len(result.vectors) == 1 and len(result.vectors[0]) == 256
    assert result.usage.prompt_tokens == 4


@pytest.mark.parametrize(
    ("model", "cls", "streamed"),
    [
        ("sim-error-429", ProviderRateLimited, False),
        ("sim-error-503", ProviderOverloaded, True),
        ("sim-error-500", ProviderError, False),
    ],
)
def test_http_errors(endpoint: ProviderEndpoint, model: str, cls: type[TurnoutError], streamed: bool) -> None:
    spec = spec_for(endpoint, model, messages=ASK, stream=streamed)
    with pytest.raises(TurnoutError) as caught:
        stream(spec) if streamed else send(spec)
    assert type(caught.value) is cls
    assert caught.value.upstream_status == int(model[-3:])


def test_a_refused_key_is_an_auth_error(sim_url: str) -> None:
    bad = ProviderEndpoint(
        base_url=sim_url, region="us-east-1", aws_access_key_id="INVALIDKEY", aws_secret_access_key="x"
    )
    with pytest.raises(ProviderAuthError):
        send(spec_for(bad, messages=ASK))


def test_unsigned_requests_are_refused_but_api_keys_work(sim_url: str) -> None:
    with pytest.raises(ProviderAuthError):
        send(spec_for(ProviderEndpoint(base_url=sim_url), messages=ASK))
    keyed = ProviderEndpoint(base_url=sim_url, api_key="ABSKexampleBedrockApiKey")
    assert send(spec_for(keyed, messages=ASK)).finish_reason == "stop"


def test_validation_error(endpoint: ProviderEndpoint) -> None:
    # Converse wants the conversation to start with the user
    with pytest.raises(TurnoutError) as caught:
        send(spec_for(endpoint, messages=[{"role": "assistant", "content": "I speak first."}]))
    assert type(caught.value).__name__ == "ProviderBadRequest"
    assert not isinstance(caught.value, ContextWindowExceeded)


def test_error_mid_stream(endpoint: ProviderEndpoint) -> None:
    with pytest.raises(TurnoutError) as caught:
        stream(spec_for(endpoint, messages=ASK, stream=True), {"x-sim-error-after-chunks": "2"})
    assert type(caught.value) is ProviderError


def test_broken_stream(endpoint: ProviderEndpoint) -> None:
    with pytest.raises(ProviderStreamBroken):
        stream(spec_for(endpoint, messages=ASK, stream=True), {"x-sim-break-after-chunks": "3"})


def test_broken_plain_reply(endpoint: ProviderEndpoint) -> None:
    with pytest.raises((ProviderError, httpx.RemoteProtocolError)):
        send(spec_for(endpoint, "sim-broken-stream", messages=ASK))
