"""Turnout's Gemini adapter against the simulator's Gemini wire format over real HTTP: the adapter
builds the request, httpx sends it to the running server, the adapter reads the answer."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from ingress.openai_request import parse_chat_request, parse_embeddings_request
from schemas.errors import (
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
from streams.providers.gemini import GeminiAdapter

ADAPTER = GeminiAdapter()
ASK = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "look up the tallest tree"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look a thing up",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "additionalProperties": False},
        },
    }
]


@pytest.fixture()
def endpoint(sim_url: str) -> ProviderEndpoint:
    return ProviderEndpoint(base_url=sim_url, api_key="sim-provider-key")


def spec_for(endpoint: ProviderEndpoint, model: str = "gemini-2.5-flash", **body: Any) -> HttpRequestSpec:
    return ADAPTER.build_request(parse_chat_request({"model": "gemini-chat", **body}), model, endpoint)


def send(spec: HttpRequestSpec, headers: dict[str, str] | None = None) -> ChatResponse:
    reply = httpx.request(spec.method, spec.url, headers={**spec.headers, **(headers or {})}, content=spec.body)
    if reply.status_code >= 400:
        raise ADAPTER.parse_error(reply.status_code, dict(reply.headers), reply.content)
    return ADAPTER.parse_response(reply.content, "gemini-2.5-flash")


def stream(spec: HttpRequestSpec, headers: dict[str, str] | None = None) -> ChatResponse:
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
            pass  # the connection was cut: close() decides whether the stream was whole
    parser.close()
    return whole.response("gemini-2.5-flash")


def test_chat(endpoint: ProviderEndpoint) -> None:
    reply = send(spec_for(endpoint, messages=ASK, max_tokens=200, temperature=0.3, stop=["END"], user="u"))
    assert reply.content == "Simulated reply from gemini-2.5-flash: look up the tallest tree"
    assert reply.finish_reason == "stop" and reply.id
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens == 9
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_max_tokens_and_json_mode(endpoint: ProviderEndpoint) -> None:
    assert send(spec_for(endpoint, messages=ASK, max_tokens=3)).finish_reason == "length"
    reply = send(spec_for(endpoint, messages=ASK, response_format={"type": "json_object"}))
    assert json.loads(reply.content or "") == {
        "reply": "Simulated reply from gemini-2.5-flash: look up the tallest tree"
    }


def test_stream_matches_the_plain_reply(endpoint: ProviderEndpoint) -> None:
    plain = send(spec_for(endpoint, messages=ASK))
    streamed = stream(spec_for(endpoint, messages=ASK, stream=True))
    assert (streamed.content, streamed.finish_reason, streamed.usage) == (plain.content, "stop", plain.usage)


def test_tool_call_round_trip(endpoint: ProviderEndpoint) -> None:
    first = send(spec_for(endpoint, messages=ASK, tools=TOOLS), {"x-sim-tool-arguments": '{"q": "tallest tree"}'})
    assert first.finish_reason == "tool_calls"
    [call] = first.tool_calls
    assert (call.id, call.name, json.loads(call.arguments)) == ("call_0_lookup", "lookup", {"q": "tallest tree"})
    history = [
        *ASK,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "a coast redwood, 116 m"},
    ]
    for model in ("gemini-2.5-flash", "gemini-3-flash-preview"):  # the second replays a signed call
        second = send(spec_for(endpoint, model, messages=history, tools=TOOLS))
        assert second.finish_reason == "stop" and second.content
    streamed = stream(spec_for(endpoint, messages=ASK, tools=TOOLS, stream=True))
    assert streamed.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in streamed.tool_calls] == [("call_0_lookup", "lookup", "{}")]


@pytest.mark.parametrize(
    ("model", "cls", "retry_after"),
    [
        ("sim-error-429", ProviderRateLimited, 1.0),
        ("sim-error-503", ProviderOverloaded, None),
        ("sim-error-403", ProviderAuthError, None),
        ("sim-error-500", ProviderError, None),
    ],
)
def test_errors(endpoint: ProviderEndpoint, model: str, cls: type[TurnoutError], retry_after: float | None) -> None:
    with pytest.raises(TurnoutError) as caught:
        send(spec_for(endpoint, model, messages=ASK))
    assert type(caught.value) is cls and caught.value.retry_after_s == retry_after
    with pytest.raises(cls):
        stream(spec_for(endpoint, model, messages=ASK, stream=True))


def test_a_request_without_the_key_is_an_auth_error(sim_url: str) -> None:
    with pytest.raises(ProviderAuthError):
        send(spec_for(ProviderEndpoint(base_url=sim_url), messages=ASK))


def test_broken_streams(endpoint: ProviderEndpoint) -> None:
    with pytest.raises(ProviderStreamBroken):
        stream(spec_for(endpoint, "sim-broken-stream", messages=ASK, stream=True))
    with pytest.raises(ProviderError) as caught:
        stream(spec_for(endpoint, messages=ASK, stream=True), {"x-sim-error-after-chunks": "1"})
    assert type(caught.value) is ProviderError and "simulated 500" in caught.value.message


def test_embeddings(endpoint: ProviderEndpoint) -> None:
    for inputs in (["tallest tree"], ["tallest tree", "oldest tree", "tallest tree"]):
        request = parse_embeddings_request({"model": "gemini-embed", "input": inputs, "dimensions": 16})
        spec = ADAPTER.build_embeddings_request(request, "gemini-embedding-001", endpoint)
        reply = httpx.request(spec.method, spec.url, headers=spec.headers, content=spec.body)
        assert reply.status_code == 200
        result = ADAPTER.parse_embeddings_response(reply.content, "gemini-embedding-001")
        assert [len(v) for v in result.vectors] == [16] * len(inputs)
        assert result.usage.prompt_tokens == 0
    assert result.vectors[0] == result.vectors[2] != result.vectors[1]
