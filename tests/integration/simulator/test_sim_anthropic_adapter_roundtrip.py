"""Turnout's Anthropic adapter against the simulator's Anthropic wire format over real HTTP: the
adapter builds each request, httpx sends it, the adapter reads the reply, stream or error. The two
were written apart from the same reference, so agreeing here means they agree on the format."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from ingress.openai_request import parse_chat_request
from schemas.errors import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderStreamBroken,
)
from schemas.events import ChatResponse
from streams.providers.accumulate import StreamAccumulator
from streams.providers.anthropic import AnthropicAdapter
from streams.providers.base import HttpRequestSpec, ProviderEndpoint

ADAPTER = AnthropicAdapter()
MODEL = "claude-sim"
ASK = [{"role": "user", "content": "look up the tallest tree"}]
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
REPLY = f"Simulated reply from {MODEL}: look up the tallest tree"


def spec_for(
    sim_url: str, body: dict[str, Any], model: str, knobs: dict[str, str], version: str | None
) -> HttpRequestSpec:
    endpoint = ProviderEndpoint(base_url=sim_url, api_key="sim-provider-key", api_version=version)
    spec = ADAPTER.build_request(parse_chat_request({"model": "smart-chat", **body}), model, endpoint)
    return HttpRequestSpec(spec.method, spec.url, {**spec.headers, **knobs}, spec.body)


def chat(
    sim_url: str,
    body: dict[str, Any],
    model: str = MODEL,
    knobs: dict[str, str] | None = None,
    version: str | None = None,
) -> ChatResponse:
    spec = spec_for(sim_url, body, model, knobs or {}, version)
    response = httpx.request(spec.method, spec.url, headers=spec.headers, content=spec.body, timeout=10.0)
    if response.status_code >= 400:
        raise ADAPTER.parse_error(response.status_code, dict(response.headers), response.content)
    return ADAPTER.parse_response(response.content, model)


def stream(sim_url: str, body: dict[str, Any], model: str = MODEL, knobs: dict[str, str] | None = None) -> ChatResponse:
    spec = spec_for(sim_url, {**body, "stream": True}, model, knobs or {}, None)
    whole = StreamAccumulator()
    parser = ADAPTER.stream_parser()
    with httpx.stream(spec.method, spec.url, headers=spec.headers, content=spec.body, timeout=10.0) as response:
        if response.status_code >= 400:
            raise ADAPTER.parse_error(response.status_code, dict(response.headers), response.read())
        try:
            for piece in response.iter_raw():
                for delta in parser.feed(piece):
                    whole.add(delta)
        except httpx.RemoteProtocolError:
            pass  # the transport's job; what is left to see is whether the parser noticed
    parser.close()
    return whole.response(model, created=0)


def test_chat(sim_url: str) -> None:
    reply = chat(sim_url, {"messages": [{"role": "system", "content": "Be brief."}, *ASK], "max_tokens": 200})
    assert (reply.content, reply.tool_calls, reply.finish_reason) == (REPLY, [], "stop")
    assert reply.id.startswith("msg_") and reply.upstream_model == MODEL
    assert reply.usage.prompt_tokens > 0
    assert reply.usage.completion_tokens == len(REPLY.split())
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_length_and_stop_sequences(sim_url: str) -> None:
    assert chat(sim_url, {"messages": ASK, "max_tokens": 3}).finish_reason == "length"
    stopped = chat(sim_url, {"messages": ASK, "stop": ["tallest"]})
    assert (stopped.content, stopped.finish_reason) == (f"Simulated reply from {MODEL}: look up the ", "stop")


def test_sampling_parameters_under_the_new_api_version(sim_url: str) -> None:
    body = {"messages": ASK, "temperature": 0.3, "top_p": 0.9}
    assert chat(sim_url, body, version="2026-10-21").content == REPLY  # dropped by the adapter, else a 400
    assert chat(sim_url, body, version="2023-06-01").content == REPLY


def test_stream_matches_the_plain_reply(sim_url: str) -> None:
    plain = chat(sim_url, {"messages": ASK})
    streamed = stream(sim_url, {"messages": ASK})
    assert (streamed.content, streamed.finish_reason, streamed.usage) == (plain.content, "stop", plain.usage)
    assert streamed.id.startswith("msg_")


def test_tool_call_round_trip(sim_url: str) -> None:
    knobs = {"x-sim-tool-arguments": '{"q": "tallest tree"}'}
    first = chat(sim_url, {"messages": ASK, "tools": TOOLS}, knobs=knobs)
    assert first.finish_reason == "tool_calls" and first.content is None
    [call] = first.tool_calls
    assert (
        call.id.startswith("toolu_") and call.name == "lookup" and orjson.loads(call.arguments) == {"q": "tallest tree"}
    )
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
    second = chat(sim_url, {"messages": history, "tools": TOOLS})
    assert (second.content, second.finish_reason) == (REPLY, "stop")


def test_streamed_tool_call(sim_url: str) -> None:
    knobs = {"x-sim-tool-arguments": '{"q": "a query long enough to arrive in several pieces"}'}
    reply = stream(sim_url, {"messages": ASK, "tools": TOOLS, "tool_choice": "required"}, knobs=knobs)
    [call] = reply.tool_calls
    assert call.name == "lookup" and call.id.startswith("toolu_")
    assert orjson.loads(call.arguments) == {"q": "a query long enough to arrive in several pieces"}
    assert reply.finish_reason == "tool_calls"


@pytest.mark.parametrize("streamed", [False, True])
def test_json_schema_answer_is_the_content(sim_url: str, streamed: bool) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "born": {"type": "integer"}}}
    body = {"messages": ASK, "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": schema}}}
    knobs = {"x-sim-tool-arguments": '{"name": "Ada Lovelace", "born": 1815}'}
    reply = stream(sim_url, body, knobs=knobs) if streamed else chat(sim_url, body, knobs=knobs)
    assert orjson.loads(reply.content or "") == {"name": "Ada Lovelace", "born": 1815}
    assert (reply.tool_calls, reply.finish_reason) == ([], "stop")


@pytest.mark.parametrize(
    ("model", "error", "upstream"),
    [
        ("sim-error-429", ProviderRateLimited, 429),
        ("sim-error-503", ProviderOverloaded, 529),
        ("sim-error-529", ProviderOverloaded, 529),
        ("sim-error-401", ProviderAuthError, 401),
        ("sim-error-400", ProviderBadRequest, 400),
    ],
)
def test_errors(sim_url: str, model: str, error: type[Exception], upstream: int) -> None:
    with pytest.raises(error) as caught:
        chat(sim_url, {"messages": ASK}, model=model)
    assert getattr(caught.value, "upstream_status", None) == upstream
    if model == "sim-error-429":
        assert getattr(caught.value, "retry_after_s", None) == 1.0


def test_streamed_request_refused_before_any_event(sim_url: str) -> None:
    with pytest.raises(ProviderOverloaded):
        stream(sim_url, {"messages": ASK}, model="sim-error-529")


def test_error_event_mid_stream(sim_url: str) -> None:
    with pytest.raises(ProviderOverloaded) as caught:
        stream(sim_url, {"messages": ASK}, knobs={"x-sim-error-after-chunks": "4"})
    assert caught.value.upstream_status is None


def test_broken_stream(sim_url: str) -> None:
    with pytest.raises(ProviderStreamBroken):
        stream(sim_url, {"messages": ASK}, model="sim-broken-stream")
