"""The Anthropic Messages wire format as a plain HTTP client (httpx) sees it on the real server:
validation, JSON and SSE replies, and the fault knobs in Anthropic's error shape."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from simulator import SimulatorConfig, start_in_thread

HEADERS = {"x-api-key": "sim-key", "anthropic-version": "2023-06-01"}
USER_TEXT = "please tell me about the weather in Lisbon today"
MESSAGES = [{"role": "user", "content": USER_TEXT}]


def post(client: httpx.Client, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return client.post("/v1/messages", json=body, headers={**HEADERS, **(headers or {})})


def body(model: str = "claude-sim", **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 256, "messages": MESSAGES, **extra}


def sse(client: httpx.Client, payload: dict[str, Any], headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The stream's events as ``{"event": name, **data}``."""
    out: list[dict[str, Any]] = []
    with client.stream("POST", "/v1/messages", json=payload, headers={**HEADERS, **(headers or {})}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                out.append({"event": name, **orjson.loads(line[6:])})
    return out


def stats_for(client: httpx.Client, model: str) -> dict[str, int]:
    models: dict[str, dict[str, int]] = client.get("/_sim/stats").json()["models"]
    return models[model]


def assert_anthropic_error(response: httpx.Response, status: int, err_type: str) -> dict[str, Any]:
    assert response.status_code == status
    data: dict[str, Any] = response.json()
    assert data["type"] == "error"
    assert data["error"]["type"] == err_type
    assert isinstance(data["error"]["message"], str) and data["error"]["message"]
    assert data["request_id"] == response.headers["request-id"]
    return data


@pytest.mark.parametrize(
    ("headers", "status", "err_type"),
    [
        ({"x-api-key": ""}, 401, "authentication_error"),
        ({"anthropic-version": ""}, 400, "invalid_request_error"),
    ],
)
def test_headers_are_required(client: httpx.Client, headers: dict[str, str], status: int, err_type: str) -> None:
    assert_anthropic_error(post(client, body(), headers), status, err_type)


def test_bearer_credentials_are_accepted(client: httpx.Client) -> None:
    response = client.post(
        "/v1/messages", json=body(), headers={"authorization": "Bearer sim-key", "anthropic-version": "2026-10-21"}
    )
    assert response.status_code == 200


def test_max_tokens_is_required(client: httpx.Client) -> None:
    data = assert_anthropic_error(
        post(client, {"model": "claude-sim", "messages": MESSAGES}), 400, "invalid_request_error"
    )
    assert data["error"]["message"] == "max_tokens: Field required"


def test_non_streaming_message(client: httpx.Client) -> None:
    response = post(client, body(system="You are terse."))
    assert response.status_code == 200
    assert response.headers["request-id"].startswith("req_")
    data = response.json()
    assert data["id"].startswith("msg_")
    assert (data["type"], data["role"], data["model"]) == ("message", "assistant", "claude-sim")
    assert data["content"] == [{"type": "text", "text": f"Simulated reply from claude-sim: {USER_TEXT}"}]
    assert (data["stop_reason"], data["stop_sequence"]) == ("end_turn", None)
    usage = data["usage"]
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] == len(data["content"][0]["text"].split())


def test_max_tokens_and_stop_sequences(client: httpx.Client) -> None:
    cut = post(client, body(max_tokens=3)).json()
    assert (cut["content"][0]["text"], cut["stop_reason"]) == ("Simulated reply from", "max_tokens")
    stopped = post(client, body(stop_sequences=["weather"])).json()
    assert stopped["content"][0]["text"] == "Simulated reply from claude-sim: please tell me about the "
    assert (stopped["stop_reason"], stopped["stop_sequence"]) == ("stop_sequence", "weather")


def test_streaming_event_sequence(client: httpx.Client) -> None:
    plain = post(client, body()).json()
    events = sse(client, body(stream=True))
    assert [e["event"] for e in events[:3]] == ["message_start", "ping", "content_block_start"]
    assert [e["event"] for e in events[-3:]] == ["content_block_stop", "message_delta", "message_stop"]
    assert all(e["event"] == e["type"] for e in events)
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == plain["content"][0]["text"]
    assert events[0]["message"]["usage"]["input_tokens"] == plain["usage"]["input_tokens"]
    assert events[-2]["delta"]["stop_reason"] == "end_turn"
    assert events[-2]["usage"]["output_tokens"] == plain["usage"]["output_tokens"]


def test_streamed_tool_use_with_input_json_deltas(client: httpx.Client) -> None:
    tools = [{"name": "lookup", "input_schema": {"type": "object"}}]
    events = sse(client, body(stream=True, tools=tools), {"x-sim-tool-arguments": '{"city": "Lisbon", "days": 3}'})
    start = next(e for e in events if e["type"] == "content_block_start")["content_block"]
    assert (start["type"], start["name"], start["input"]) == ("tool_use", "lookup", {})
    assert start["id"].startswith("toolu_")
    pieces = [e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta"]
    assert len(pieces) > 2
    assert orjson.loads("".join(pieces)) == {"city": "Lisbon", "days": 3}
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    ("model", "status", "err_type"),
    [
        ("sim-error-400", 400, "invalid_request_error"),
        ("sim-error-401", 401, "authentication_error"),
        ("sim-error-500", 500, "api_error"),
        ("sim-error-529", 529, "overloaded_error"),
        ("sim-error-503", 529, "overloaded_error"),
    ],
)
def test_error_models_answer_in_anthropics_shape(client: httpx.Client, model: str, status: int, err_type: str) -> None:
    assert_anthropic_error(post(client, body(model)), status, err_type)
    assert stats_for(client, model)["errors_injected"] == 1


def test_429_has_retry_after(client: httpx.Client) -> None:
    response = post(client, body("sim-error-429"))
    assert_anthropic_error(response, 429, "rate_limit_error")
    assert response.headers["retry-after"] == "1"
    slower = post(client, body(), {"x-sim-error-status": "429", "x-sim-retry-after-s": "7"})
    assert slower.headers["retry-after"] == "7"


def test_error_mid_stream_is_an_error_event(client: httpx.Client) -> None:
    events = sse(client, body(stream=True), {"x-sim-error-after-chunks": "4"})
    assert len(events) == 5
    assert events[-1]["event"] == "error"
    assert events[-1]["error"]["type"] == "overloaded_error"
    assert "message_stop" not in [e["type"] for e in events]
    assert stats_for(client, "claude-sim")["errors_injected"] == 1


def test_broken_stream_and_body(client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        sse(client, body("sim-broken-stream", stream=True))
    with pytest.raises(httpx.RemoteProtocolError):
        post(client, body("sim-broken-stream"))
    assert stats_for(client, "sim-broken-stream")["broken_streams"] == 2


def test_bad_knob_header_is_an_anthropic_400(client: httpx.Client) -> None:
    assert_anthropic_error(post(client, body(), {"x-sim-latency-ms": "soon"}), 400, "invalid_request_error")


def test_requests_are_counted(client: httpx.Client) -> None:
    post(client, body("counted"))
    sse(client, body("counted", stream=True))
    assert stats_for(client, "counted") == {
        "total": 2,
        "streamed": 1,
        "errors_injected": 0,
        "broken_streams": 0,
        "hangs": 0,
    }


def test_hang_cap_answers_504_timeout_error() -> None:
    with start_in_thread(SimulatorConfig(hang_cap_s=0.2)) as running:
        response = httpx.post(f"{running.base_url}/v1/messages", json=body("sim-hang"), headers=HEADERS, timeout=5.0)
    assert_anthropic_error(response, 504, "timeout_error")
