"""Fault knobs, fault rules, model-name conventions and statistics on the real server."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
import pytest

from simulator import SimulatorConfig, start_in_thread

MESSAGES = [{"role": "user", "content": "one two three four five six seven eight"}]


def chat(client: httpx.Client, model: str, **extra: Any) -> httpx.Response:
    headers = extra.pop("headers", None)
    return client.post(
        "/v1/chat/completions",
        json={"model": model, "messages": MESSAGES, **extra},
        headers=headers,
    )


def stats_for(client: httpx.Client, model: str) -> dict[str, int]:
    models: dict[str, dict[str, int]] = client.get("/_sim/stats").json()["models"]
    return models[model]


def install(client: httpx.Client, model: str, knobs: dict[str, Any], times: int | None) -> None:
    response = client.post("/_sim/faults", json={"model": model, "knobs": knobs, "times": times})
    assert response.status_code == 201
    assert response.json()["times"] == times


def test_rule_with_times_fails_first_requests_then_recovers(client: httpx.Client) -> None:
    install(client, "flaky", {"error_status": 503}, times=2)
    statuses = [chat(client, "flaky").status_code for _ in range(4)]
    assert statuses == [503, 503, 200, 200]
    assert stats_for(client, "flaky") == {
        "total": 4,
        "streamed": 0,
        "errors_injected": 2,
        "broken_streams": 0,
        "hangs": 0,
    }
    assert client.get("/_sim/faults").json() == {"rules": []}


def test_wildcard_rule_until_cleared_and_header_precedence(client: httpx.Client) -> None:
    install(client, "*", {"error_status": 500}, times=None)
    assert chat(client, "a").status_code == 500
    assert chat(client, "b").status_code == 500
    overridden = chat(client, "a", headers={"x-sim-error-status": "429"})
    assert overridden.status_code == 429
    assert client.delete("/_sim/faults").status_code == 200
    assert chat(client, "a").status_code == 200


def test_rule_knobs_shape_the_reply(client: httpx.Client) -> None:
    install(client, "fixed", {"reply": "canned answer here", "prompt_tokens": 99}, times=1)
    first = chat(client, "fixed").json()
    second = chat(client, "fixed").json()
    assert first["choices"][0]["message"]["content"] == "canned answer here"
    assert first["usage"]["prompt_tokens"] == 99
    assert first["usage"]["completion_tokens"] == 3
    assert second["choices"][0]["message"]["content"].startswith("Simulated reply from fixed:")


def test_invalid_rule_is_rejected(client: httpx.Client) -> None:
    bad_knob = client.post("/_sim/faults", json={"model": "m", "knobs": {"nope": 1}})
    bad_status = client.post("/_sim/faults", json={"model": "m", "knobs": {"error_status": 200}})
    bad_times = client.post("/_sim/faults", json={"model": "m", "knobs": {}, "times": 0})
    assert [r.status_code for r in (bad_knob, bad_status, bad_times)] == [400, 400, 400]
    assert bad_knob.json()["error"]["param"] == "knobs.nope"


def test_429_has_retry_after_and_openai_error_body(client: httpx.Client) -> None:
    response = chat(client, "sim-error-429")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    error = response.json()["error"]
    assert error["type"] == "rate_limit_error"
    assert error["code"] == "rate_limit_exceeded"
    assert error["param"] is None
    assert "sim-error-429" in error["message"]


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_models(client: httpx.Client, status: int) -> None:
    response = chat(client, f"sim-error-{status}")
    assert response.status_code == status
    assert response.json()["error"]["type"] == "server_error"


def test_slow_model_and_latency_header_delay_the_answer(client: httpx.Client) -> None:
    started = time.monotonic()
    assert chat(client, "sim-slow-300").status_code == 200
    slow = time.monotonic() - started
    started = time.monotonic()
    assert chat(client, "m", headers={"x-sim-latency-ms": "250"}).status_code == 200
    header_slow = time.monotonic() - started
    assert 0.29 <= slow < 2.0
    assert 0.24 <= header_slow < 2.0


def test_chunk_interval_paces_the_stream(client: httpx.Client) -> None:
    arrivals: list[float] = []
    started = time.monotonic()
    with client.stream(
        "POST",
        "/v1/chat/completions",
        json={"model": "m", "messages": MESSAGES, "stream": True},
        headers={"x-sim-chunk-interval-ms": "50"},
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.monotonic() - started)
    assert len(arrivals) >= 6
    assert arrivals[-1] - arrivals[0] >= 0.05 * (len(arrivals) - 1) * 0.9


def test_break_after_chunks_cuts_the_connection(client: httpx.Client) -> None:
    payloads: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream(
            "POST",
            "/v1/chat/completions",
            json={"model": "m", "messages": MESSAGES, "stream": True},
            headers={"x-sim-break-after-chunks": "2"},
        ) as response,
    ):
        payloads.extend(line for line in response.iter_lines() if line.startswith("data: "))
    assert len(payloads) == 2
    assert "[DONE]" not in "".join(payloads)
    assert stats_for(client, "m")["broken_streams"] == 1
    assert chat(client, "m").status_code == 200


def test_broken_non_streamed_body(client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        chat(client, "sim-broken-stream")


def test_error_after_chunks_sends_error_event_and_ends(client: httpx.Client) -> None:
    with client.stream(
        "POST",
        "/v1/chat/completions",
        json={"model": "m", "messages": MESSAGES, "stream": True},
        headers={"x-sim-error-after-chunks": "3"},
    ) as response:
        payloads = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert len(payloads) == 4
    assert "[DONE]" not in payloads
    error = orjson.loads(payloads[-1])["error"]
    assert error["type"] == "server_error"
    assert stats_for(client, "m")["errors_injected"] == 1


def test_hang_ends_when_client_leaves(sim_url: str, sim_server: Any) -> None:
    started = time.monotonic()
    with (
        httpx.Client(base_url=sim_url, timeout=0.4) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        chat(impatient, "m", headers={"x-sim-hang": "true"})
    assert time.monotonic() - started < 3.0
    deadline = time.monotonic() + 5.0
    while sim_server.server.server_state.tasks and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not sim_server.server.server_state.tasks, "hanging handler outlived its client"
    with httpx.Client(base_url=sim_url) as http:
        assert stats_for(http, "m")["hangs"] == 1


def test_hang_cap_answers_504() -> None:
    with start_in_thread(SimulatorConfig(hang_cap_s=0.2)) as running:
        response = httpx.post(
            f"{running.base_url}/v1/chat/completions",
            json={"model": "sim-hang", "messages": MESSAGES},
            timeout=5.0,
        )
    assert response.status_code == 504
    assert response.json()["error"]["type"] == "server_error"


def test_stats_count_and_reset(client: httpx.Client) -> None:
    chat(client, "counted")
    chat(client, "counted", stream=True).read()
    chat(client, "sim-error-503")
    stats = client.get("/_sim/stats").json()
    assert stats["total"] == 3
    assert stats["models"]["counted"]["total"] == 2
    assert stats["models"]["counted"]["streamed"] == 1
    assert stats["models"]["sim-error-503"]["errors_injected"] == 1
    install(client, "counted", {"error_status": 500}, times=None)
    assert client.post("/_sim/reset").status_code == 200
    assert client.get("/_sim/stats").json() == {"total": 0, "models": {}}
    assert client.get("/_sim/faults").json() == {"rules": []}
