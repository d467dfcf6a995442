"""The Gemini wire format as seen by a plain HTTP client (httpx) against the real server
(there is no Gemini SDK in the project's environment)."""

from __future__ import annotations

import math
import time
from typing import Any

import httpx
import orjson
import pytest

KEY = {"x-goog-api-key": "sim-provider-key"}
USER_TEXT = "please tell me about the weather in Lisbon today"
BODY = {
    "systemInstruction": {"parts": [{"text": "You are terse."}]},
    "contents": [{"role": "user", "parts": [{"text": USER_TEXT}]}],
}
TOOLS = [
    {
        "functionDeclarations": [
            {"name": "lookup", "parameters": {"type": "OBJECT", "properties": {"q": {"type": "STRING"}}}}
        ]
    }
]


def generate(client: httpx.Client, model: str, body: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
    headers = {**KEY, **kw.pop("headers", {})}
    return client.post(f"/v1beta/models/{model}:generateContent", json=body or BODY, headers=headers, **kw)


def stream(
    client: httpx.Client, model: str, body: dict[str, Any] | None = None, **headers: str
) -> tuple[httpx.Response, bytes]:
    url = f"/v1beta/models/{model}:streamGenerateContent?alt=sse"
    with client.stream("POST", url, json=body or BODY, headers={**KEY, **headers}) as response:
        return response, response.read()


def events(raw: bytes) -> list[dict[str, Any]]:
    assert raw.endswith(b"\r\n\r\n")
    return [orjson.loads(chunk.removeprefix(b"data: ")) for chunk in raw.split(b"\r\n\r\n") if chunk]


def stats_for(client: httpx.Client, model: str) -> dict[str, int]:
    models: dict[str, dict[str, int]] = client.get("/_sim/stats").json()["models"]
    return models[model]


def test_generate_content(client: httpx.Client) -> None:
    response = generate(client, "gemini-2.5-flash")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    body = response.json()
    [candidate] = body["candidates"]
    text = f"Simulated reply from gemini-2.5-flash: {USER_TEXT}"
    assert candidate == {"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP", "index": 0}
    usage = body["usageMetadata"]
    assert usage["promptTokenCount"] == sum(4 + math.ceil(len(t) / 4) for t in ["You are terse.", USER_TEXT])
    assert usage["candidatesTokenCount"] == len(text.split())
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert body["modelVersion"] == "gemini-2.5-flash" and body["responseId"]


def test_the_key_may_come_as_a_query_parameter_and_v1_works(client: httpx.Client) -> None:
    response = client.post("/v1/models/g:generateContent?key=sim-provider-key", json=BODY)
    assert response.status_code == 200


def test_a_missing_key_is_refused_in_googles_shape(client: httpx.Client) -> None:
    response = client.post("/v1beta/models/g:generateContent", json=BODY)
    assert response.status_code == 403
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (403, "PERMISSION_DENIED")
    assert "unregistered callers" in error["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"contents": []}, "contents is not specified"),
        ({"contents": [{"role": "user", "parts": []}]}, "contents.parts must not be empty"),
        ({**BODY, "messages": []}, 'Unknown name "messages"'),
    ],
)
def test_invalid_requests_are_400_invalid_argument(client: httpx.Client, body: dict[str, Any], fragment: str) -> None:
    response = generate(client, "g", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT") and fragment in error["message"]


def test_an_unknown_api_version_is_404(client: httpx.Client) -> None:
    response = client.post("/v9/models/g:generateContent", json=BODY, headers=KEY)
    assert response.status_code == 404 and response.json()["error"]["status"] == "NOT_FOUND"


def test_sse_stream_matches_the_plain_reply(client: httpx.Client) -> None:
    plain = generate(client, "g").json()
    response, raw = stream(client, "g")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    fragments = events(raw)
    assert len(fragments) > 2
    text = "".join(f["candidates"][0]["content"]["parts"][0]["text"] for f in fragments)
    assert text == plain["candidates"][0]["content"]["parts"][0]["text"]
    assert [f["candidates"][0].get("finishReason") for f in fragments][-2:] == [None, "STOP"]
    assert fragments[-1]["usageMetadata"] == plain["usageMetadata"]
    assert len({f["responseId"] for f in fragments}) == 1
    assert stats_for(client, "g") == {"total": 2, "streamed": 1, "errors_injected": 0, "broken_streams": 0, "hangs": 0}


def test_stream_without_alt_sse_is_one_json_array(client: httpx.Client) -> None:
    response = client.post("/v1beta/models/g:streamGenerateContent", json=BODY, headers=KEY)
    fragments = response.json()
    assert isinstance(fragments, list) and fragments[-1]["candidates"][0]["finishReason"] == "STOP"


def test_function_call_then_text_after_the_response(client: httpx.Client) -> None:
    body = {**BODY, "tools": TOOLS}
    called = generate(client, "g", body, headers={"x-sim-tool-arguments": '{"q": "Lisbon"}'}).json()
    part = called["candidates"][0]["content"]["parts"][0]
    assert part == {"functionCall": {"name": "lookup", "args": {"q": "Lisbon"}}}
    follow = {
        **body,
        "contents": [
            *BODY["contents"],
            {"role": "model", "parts": [part]},
            {"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": {"result": "sunny"}}}]},
        ],
    }
    answered = generate(client, "g", follow).json()
    assert answered["candidates"][0]["content"]["parts"][0]["text"].endswith(USER_TEXT)
    _, raw = stream(client, "g", body)
    [fragment] = events(raw)
    assert fragment["candidates"][0]["content"]["parts"][0]["functionCall"]["name"] == "lookup"


def test_429_carries_retry_info(client: httpx.Client) -> None:
    response = generate(client, "sim-error-429")
    assert response.status_code == 429 and "retry-after" not in response.headers
    error = response.json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert error["details"] == [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]
    later = generate(client, "g", headers={"x-sim-error-status": "429", "x-sim-retry-after-s": "7"})
    assert later.json()["error"]["details"][0]["retryDelay"] == "7s"


@pytest.mark.parametrize(
    ("status", "name"), [(500, "INTERNAL"), (503, "UNAVAILABLE"), (504, "DEADLINE_EXCEEDED"), (401, "UNAUTHENTICATED")]
)
def test_injected_errors_use_googles_status_names(client: httpx.Client, status: int, name: str) -> None:
    response = generate(client, f"sim-error-{status}")
    assert response.status_code == status
    assert response.json()["error"]["status"] == name
    assert stats_for(client, f"sim-error-{status}")["errors_injected"] == 1


def test_fault_rules_apply_to_gemini_paths(client: httpx.Client) -> None:
    assert (
        client.post("/_sim/faults", json={"model": "flaky", "knobs": {"error_status": 503}, "times": 1}).status_code
        == 201
    )
    assert [generate(client, "flaky").status_code for _ in range(2)] == [503, 200]


def test_latency_knob(client: httpx.Client) -> None:
    started = time.monotonic()
    assert generate(client, "g", headers={"x-sim-latency-ms": "200"}).status_code == 200
    assert 0.19 <= time.monotonic() - started < 2.0


def test_broken_stream_never_sends_the_finish(client: httpx.Client) -> None:
    received: list[bytes] = []
    url = "/v1beta/models/sim-broken-stream:streamGenerateContent?alt=sse"
    long_body = {"contents": [{"role": "user", "parts": [{"text": "one two three four five six seven eight nine"}]}]}
    with pytest.raises(httpx.RemoteProtocolError), client.stream("POST", url, json=long_body, headers=KEY) as response:
        received.extend(response.iter_raw())
    assert b"finishReason" not in b"".join(received)
    assert stats_for(client, "sim-broken-stream")["broken_streams"] == 1
    with pytest.raises(httpx.RemoteProtocolError):
        generate(client, "sim-broken-stream")


def test_error_after_chunks_ends_with_an_error_event(client: httpx.Client) -> None:
    _, raw = stream(client, "g", **{"x-sim-error-after-chunks": "1"})
    fragments = events(raw)
    assert len(fragments) == 2 and "candidates" in fragments[0]
    assert fragments[-1]["error"]["status"] == "INTERNAL"


def test_hang_ends_when_the_client_leaves(sim_url: str) -> None:
    started = time.monotonic()
    with httpx.Client(base_url=sim_url, timeout=0.4) as impatient, pytest.raises(httpx.ReadTimeout):
        generate(impatient, "sim-hang")
    assert time.monotonic() - started < 3.0


def test_embeddings(client: httpx.Client) -> None:
    one = client.post(
        "/v1beta/models/gemini-embedding-001:embedContent",
        json={"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 8},
        headers=KEY,
    ).json()
    batch = client.post(
        "/v1beta/models/gemini-embedding-001:batchEmbedContents",
        json={
            "requests": [
                {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": t}]}, "outputDimensionality": 8}
                for t in ("hello", "world")
            ]
        },
        headers=KEY,
    ).json()
    assert len(one["embedding"]["values"]) == 8
    assert batch["embeddings"][0] == one["embedding"] and batch["embeddings"][1] != one["embedding"]
    assert (
        len(
            client.post(
                "/v1beta/models/e:embedContent", json={"content": {"parts": [{"text": "x"}]}}, headers=KEY
            ).json()["embedding"]["values"]
        )
        == 768
    )
    bad = client.post("/v1beta/models/e:batchEmbedContents", json={"requests": []}, headers=KEY)
    assert bad.status_code == 400 and bad.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert stats_for(client, "gemini-embedding-001")["total"] == 2
