"""The OpenAI wire format as seen by a plain HTTP client (httpx) against the real server."""

from __future__ import annotations

import math
from typing import Any

import httpx
import orjson

USER_TEXT = "please tell me about the weather in Lisbon today"
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": USER_TEXT},
]


def expected_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    return sum(4 + math.ceil(len(m["content"]) / 4) for m in messages)


def read_sse(response: httpx.Response) -> list[str]:
    return [line[len("data: ") :] for line in response.iter_lines() if line.startswith("data: ")]


def stream_payloads(client: httpx.Client, body: dict[str, Any]) -> tuple[httpx.Response, list[str]]:
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        return response, read_sse(response)


def test_healthz(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_non_streaming_completion_object(client: httpx.Client) -> None:
    response = client.post(
        "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": MESSAGES},
        headers={"Authorization": "Bearer anything"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    assert body["model"] == "gpt-4o-mini"
    [choice] = body["choices"]
    assert choice["index"] == 0
    assert choice["logprobs"] is None
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    content = choice["message"]["content"]
    assert content == f"Simulated reply from gpt-4o-mini: {USER_TEXT}"
    usage = body["usage"]
    assert usage["prompt_tokens"] == expected_prompt_tokens(MESSAGES)
    assert usage["completion_tokens"] == len(content.split())
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_missing_auth_is_accepted_and_text_parts_are_joined(client: httpx.Client) -> None:
    parts = [{"type": "text", "text": "first part"}, {"type": "text", "text": "second part"}]
    response = client.post(
        "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": parts}]},
    )
    assert response.status_code == 200
    content = response.json()["choices"][0]["message"]["content"]
    assert content == "Simulated reply from m: first part second part"


def test_streaming_with_include_usage(client: httpx.Client) -> None:
    plain = client.post("/v1/chat/completions", json={"model": "m1", "messages": MESSAGES}).json()
    body = {
        "model": "m1",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response, payloads = stream_payloads(client, body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert payloads[-1] == "[DONE]"
    chunks = [orjson.loads(p) for p in payloads[:-1]]
    assert {(c["id"], c["created"], c["model"], c["object"]) for c in chunks} == {
        (chunks[0]["id"], chunks[0]["created"], "m1", "chat.completion.chunk")
    }
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content_chunks = chunks[1:-2]
    assert len(content_chunks) >= 3
    text = "".join(c["choices"][0]["delta"]["content"] for c in content_chunks)
    assert text == plain["choices"][0]["message"]["content"]
    finish = chunks[-2]["choices"][0]
    assert finish["delta"] == {} and finish["finish_reason"] == "stop"
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] == plain["usage"]["total_tokens"]


def test_streaming_without_include_usage_has_no_usage_chunk(client: httpx.Client) -> None:
    _, payloads = stream_payloads(client, {"model": "m", "messages": MESSAGES, "stream": True})
    chunks = [orjson.loads(p) for p in payloads[:-1]]
    assert all(c["choices"] for c in chunks)
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_streamed_tool_call_deltas_reassemble(client: httpx.Client) -> None:
    body = {
        "model": "m",
        "messages": MESSAGES,
        "stream": True,
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
    }
    arguments = '{"city": "Lisbon", "unit": "celsius", "days": 3}'
    with client.stream(
        "POST", "/v1/chat/completions", json=body, headers={"x-sim-tool-arguments": arguments}
    ) as response:
        chunks = [orjson.loads(p) for p in read_sse(response)[:-1]]
    deltas = [c["choices"][0]["delta"].get("tool_calls") for c in chunks]
    calls = [d[0] for d in deltas if d]
    assert calls[0]["id"].startswith("call_") and calls[0]["type"] == "function"
    assert calls[0]["function"]["name"] == "get_weather"
    assert all(call["index"] == 0 for call in calls)
    assert len(calls) > 2
    assert "".join(call["function"]["arguments"] for call in calls) == arguments
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_json_mode_and_truncation(client: httpx.Client) -> None:
    body = {
        "model": "m",
        "messages": MESSAGES,
        "response_format": {"type": "json_object"},
        "max_tokens": 5,
    }
    choice = client.post("/v1/chat/completions", json=body).json()["choices"][0]
    assert orjson.loads(choice["message"]["content"]) == {"reply": "Simulated reply from m: please"}
    assert choice["finish_reason"] == "length"


def test_models_lists_configured_and_requested(client: httpx.Client) -> None:
    client.post("/v1/chat/completions", json={"model": "listed-model", "messages": MESSAGES})
    listing = client.get("/v1/models").json()
    assert listing["object"] == "list"
    ids = [model["id"] for model in listing["data"]]
    assert "sim-default" in ids and "listed-model" in ids
    assert all(model["object"] == "model" for model in listing["data"])


def test_malformed_json_is_400_with_openai_error_shape(client: httpx.Client) -> None:
    response = client.post(
        "/v1/chat/completions",
        content=b'{"model": "m", "messages": [',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"


def test_missing_model_and_messages_are_400(client: httpx.Client) -> None:
    no_model = client.post("/v1/chat/completions", json={"messages": MESSAGES})
    no_messages = client.post("/v1/chat/completions", json={"model": "m"})
    assert no_model.status_code == no_messages.status_code == 400
    assert no_model.json()["error"]["param"] == "model"
    assert no_messages.json()["error"]["param"] == "messages"


def test_n_greater_than_one_is_refused(client: httpx.Client) -> None:
    response = client.post("/v1/chat/completions", json={"model": "m", "messages": MESSAGES, "n": 2})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "n"


def test_bad_knob_header_is_400_naming_the_header(client: httpx.Client) -> None:
    response = client.post(
        "/v1/chat/completions",
        json={"model": "m", "messages": MESSAGES},
        headers={"x-sim-latency-ms": "soon"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "x-sim-latency-ms"


def test_unknown_route_is_openai_shaped_404(client: httpx.Client) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"
