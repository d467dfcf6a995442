"""Turnout's OpenAI adapter against the simulator's OpenAI wire format over real HTTP: the adapter
builds the request, httpx sends it to the running server, the adapter reads the answer."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest

from ingress.openai_request import parse_chat_request, parse_embeddings_request
from schemas.errors import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderStreamBroken,
    TurnoutError,
)
from schemas.events import ChatResponse, EmbeddingsResponse
from simulator.openai_embeddings import embedding_vector
from streams.providers.accumulate import StreamAccumulator
from streams.providers.base import HttpRequestSpec, ProviderEndpoint
from streams.providers.openai import OpenAIAdapter

ADAPTER = OpenAIAdapter()
MODEL = "gpt-4o-mini"
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
    return ProviderEndpoint(base_url=f"{sim_url}/v1", api_key="sim-provider-key")


def spec_for(endpoint: ProviderEndpoint, model: str = MODEL, **body: Any) -> HttpRequestSpec:
    return ADAPTER.build_request(parse_chat_request({"model": "smart-chat", **body}), model, endpoint)


def send(spec: HttpRequestSpec, headers: dict[str, str] | None = None) -> ChatResponse:
    reply = httpx.request(spec.method, spec.url, headers={**spec.headers, **(headers or {})}, content=spec.body)
    if reply.status_code >= 400:
        raise ADAPTER.parse_error(reply.status_code, dict(reply.headers), reply.content)
    return ADAPTER.parse_response(reply.content, MODEL)


def stream(spec: HttpRequestSpec, headers: dict[str, str] | None = None) -> tuple[ChatResponse, int]:
    """The folded reply and how many deltas the parser produced."""
    whole, parser, deltas = StreamAccumulator(), ADAPTER.stream_parser(), 0
    with httpx.stream(spec.method, spec.url, headers={**spec.headers, **(headers or {})}, content=spec.body) as reply:
        if reply.status_code >= 400:
            raise ADAPTER.parse_error(reply.status_code, dict(reply.headers), reply.read())
        assert reply.headers["content-type"].startswith("text/event-stream")
        try:
            for piece in reply.iter_raw():
                for delta in parser.feed(piece):
                    whole.add(delta)
                    deltas += 1
        except httpx.RemoteProtocolError:
            pass  # the connection was cut: close() decides whether the stream was whole
    parser.close()
    return whole.response(MODEL), deltas


def embed(
    endpoint: ProviderEndpoint, body: dict[str, Any], headers: dict[str, str] | None = None
) -> EmbeddingsResponse:
    spec = ADAPTER.build_embeddings_request(parse_embeddings_request(body), "text-embedding-3-small", endpoint)
    reply = httpx.request(spec.method, spec.url, headers={**spec.headers, **(headers or {})}, content=spec.body)
    if reply.status_code >= 400:
        raise ADAPTER.parse_error(reply.status_code, dict(reply.headers), reply.content)
    return ADAPTER.parse_embeddings_response(reply.content, "text-embedding-3-small")


def test_chat(endpoint: ProviderEndpoint) -> None:
    reply = send(spec_for(endpoint, messages=ASK, temperature=0.3, top_p=0.9, seed=7, stop=["END"], user="u"))
    assert reply.content == f"Simulated reply from {MODEL}: look up the tallest tree"
    assert reply.finish_reason == "stop"
    assert reply.id.startswith("chatcmpl-") and reply.upstream_model == MODEL and reply.created > 0
    assert reply.usage.prompt_tokens == sum(4 + math.ceil(len(m["content"]) / 4) for m in ASK)
    assert reply.usage.completion_tokens == 9
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_max_tokens_and_json_mode(endpoint: ProviderEndpoint) -> None:
    cut = send(spec_for(endpoint, messages=ASK, max_completion_tokens=3))
    assert (cut.content, cut.finish_reason) == ("Simulated reply from", "length")
    schema = {"type": "json_schema", "json_schema": {"name": "r", "strict": True, "schema": {"type": "object"}}}
    for response_format in ({"type": "json_object"}, schema):
        reply = send(spec_for(endpoint, messages=ASK, response_format=response_format))
        assert reply.content is not None
        assert json.loads(reply.content)["reply"].startswith("Simulated reply from")


def test_stream_matches_the_plain_reply(endpoint: ProviderEndpoint) -> None:
    plain = send(spec_for(endpoint, messages=ASK))
    streamed, deltas = stream(spec_for(endpoint, messages=ASK, stream=True))
    assert streamed.content == plain.content
    assert streamed.finish_reason == "stop"
    assert streamed.usage == plain.usage  # the adapter always asks for the usage chunk
    assert streamed.id.startswith("chatcmpl-")
    assert deltas > 3


def test_tool_call_and_tool_result(endpoint: ProviderEndpoint) -> None:
    arguments = json.dumps({"q": "tallest tree"})
    called = send(spec_for(endpoint, messages=ASK, tools=TOOLS), {"x-sim-tool-arguments": arguments})
    assert called.content is None and called.finish_reason == "tool_calls"
    [call] = called.tool_calls
    assert (call.name, json.loads(call.arguments)) == ("lookup", {"q": "tallest tree"})
    assert call.id.startswith("call_")
    history = [
        *ASK,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": call.id, "type": "function", "function": {"name": "lookup", "arguments": arguments}}],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "Hyperion, 116 m"},
    ]
    answered = send(spec_for(endpoint, messages=history, tools=TOOLS))
    assert answered.finish_reason == "stop" and answered.content and not answered.tool_calls


def test_streamed_tool_call_arguments_in_fragments(endpoint: ProviderEndpoint) -> None:
    arguments = json.dumps({"q": "a fairly long query so the arguments arrive in several fragments"})
    forced = {"type": "function", "function": {"name": "lookup"}}
    reply, deltas = stream(
        spec_for(endpoint, messages=ASK, tools=TOOLS, tool_choice=forced, stream=True),
        {"x-sim-tool-arguments": arguments},
    )
    [call] = reply.tool_calls
    assert call.name == "lookup" and call.arguments == arguments and call.id.startswith("call_")
    assert reply.finish_reason == "tool_calls" and reply.content is None
    assert reply.usage.completion_tokens == 10 + math.ceil(len(arguments) / 4)
    assert deltas >= 6  # role, head, at least three fragments, finish, usage


def test_embeddings(endpoint: ProviderEndpoint) -> None:
    texts = ["first text to embed", "second"]
    result = embed(endpoint, {"model": "embed-small", "input": texts, "dimensions": 16, "user": "u"})
    assert result.vectors == [embedding_vector(t, 16) for t in texts]
    assert result.usage.prompt_tokens == sum(math.ceil(len(t) / 4) for t in texts)
    assert result.usage.total_tokens == result.usage.prompt_tokens
    assert result.upstream_model == "text-embedding-3-small"


@pytest.mark.parametrize(
    ("status", "cls", "retry_after"),
    [(429, ProviderRateLimited, 1.0), (503, ProviderOverloaded, None), (401, ProviderAuthError, None)],
)
def test_injected_errors_are_classified(
    endpoint: ProviderEndpoint, status: int, cls: type[TurnoutError], retry_after: float | None
) -> None:
    with pytest.raises(cls) as caught:
        send(spec_for(endpoint, f"sim-error-{status}", messages=ASK))
    assert caught.value.upstream_status == status
    assert caught.value.retry_after_s == retry_after


def test_retry_after_ms_is_read(endpoint: ProviderEndpoint) -> None:
    with pytest.raises(ProviderRateLimited) as caught:
        send(spec_for(endpoint, messages=ASK), {"x-sim-error-status": "429", "x-sim-retry-after-s": "2.5"})
    assert caught.value.retry_after_s == 2.5  # retry-after says 3 (whole seconds), retry-after-ms 2500


def test_streamed_request_refused_before_the_stream(endpoint: ProviderEndpoint) -> None:
    with pytest.raises(ProviderRateLimited):
        stream(spec_for(endpoint, "sim-error-429", messages=ASK, stream=True))


def test_embeddings_error_is_classified(endpoint: ProviderEndpoint) -> None:
    with pytest.raises(ProviderOverloaded):
        embed(endpoint, {"model": "embed-small", "input": "x"}, {"x-sim-error-status": "503"})


def test_the_simulators_400_is_a_bad_request(endpoint: ProviderEndpoint) -> None:
    spec = spec_for(endpoint, messages=ASK, max_tokens=5)
    body = json.loads(spec.body)
    body["stream_options"] = {"include_usage": True}  # only allowed with stream: true
    with pytest.raises(ProviderBadRequest) as caught:
        send(HttpRequestSpec(spec.method, spec.url, spec.headers, json.dumps(body).encode()))
    assert caught.value.param == "stream_options"


def test_error_event_mid_stream(endpoint: ProviderEndpoint) -> None:
    with pytest.raises(ProviderError) as caught:
        stream(spec_for(endpoint, messages=ASK, stream=True), {"x-sim-error-after-chunks": "2"})
    assert type(caught.value) is ProviderError
    assert "simulated 500" in caught.value.message


def test_broken_stream(endpoint: ProviderEndpoint) -> None:
    with pytest.raises(ProviderStreamBroken):
        stream(spec_for(endpoint, "sim-broken-stream", messages=ASK, stream=True))
