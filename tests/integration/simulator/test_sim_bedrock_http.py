"""The Bedrock wire format as a plain HTTP client (httpx, requests signed with botocore's SigV4
signer) sees it on the real server; event streams read back with botocore's decoder."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer

from simulator import SimulatorConfig, start_in_thread
from streams.providers.eventstream import EventStreamDecoder

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
TOOLS = {"tools": [{"toolSpec": {"name": "lookup", "inputSchema": {"json": {"type": "object"}}}}]}


def signed(url: str, body: bytes, key_id: str = "AKIDEXAMPLE", **extra: str) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url, data=body, headers={"content-type": "application/json", **extra})
    SigV4Auth(Credentials(key_id, "secret"), "bedrock", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def post(
    client: httpx.Client, model: str, operation: str, body: dict[str, Any], key_id: str = "AKIDEXAMPLE", **extra: str
) -> httpx.Response:
    url = f"{str(client.base_url).rstrip('/')}/model/{quote(model, safe='')}/{operation}"
    raw = orjson.dumps(body)
    return client.post(url, content=raw, headers=signed(url, raw, key_id, **extra))


def converse_body(text: str = "tell me about Lisbon", **more: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"text": text}]}], **more}


def events(raw: bytes) -> list[tuple[dict[str, Any], Any]]:
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    return [(dict(m.headers), orjson.loads(m.payload)) for m in buffer]


def stats_for(client: httpx.Client, model: str) -> dict[str, int]:
    stats: dict[str, int] = client.get("/_sim/stats").json()["models"][model]
    return stats


def test_converse_reply(client: httpx.Client) -> None:
    response = post(client, HAIKU, "converse", converse_body(system=[{"text": "Be brief."}]))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert len(response.headers["x-amzn-requestid"]) == 36
    body = response.json()
    assert body["output"]["message"] == {
        "role": "assistant",
        "content": [{"text": f"Simulated reply from {HAIKU}: tell me about Lisbon"}],
    }
    assert body["stopReason"] == "end_turn"
    usage = body["usage"]
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"] and usage["inputTokens"] > 0
    assert body["metrics"] == {"latencyMs": 0}


def test_an_inference_profile_arn_is_one_path_segment(client: httpx.Client) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0"
    response = post(client, arn, "converse", converse_body("hi"))
    assert response.status_code == 200
    assert arn in response.json()["output"]["message"]["content"][0]["text"]
    assert stats_for(client, arn)["total"] == 1


def test_converse_stream_frames(client: httpx.Client) -> None:
    response = post(client, HAIKU, "converse-stream", converse_body(inferenceConfig={"maxTokens": 5}))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
    frames = events(response.content)
    names = [h[":event-type"] for h, _ in frames]
    assert names[0] == "messageStart" and names[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    text = "".join(p["delta"]["text"] for h, p in frames if h[":event-type"] == "contentBlockDelta")
    assert text == f"Simulated reply from {HAIKU}: tell"
    assert frames[-2][1] == {"stopReason": "max_tokens"}
    assert stats_for(client, HAIKU) == {
        "total": 1,
        "streamed": 1,
        "errors_injected": 0,
        "broken_streams": 0,
        "hangs": 0,
    }


def test_stream_tool_call(client: httpx.Client) -> None:
    body = converse_body(toolConfig={**TOOLS, "toolChoice": {"any": {}}})
    response = post(client, HAIKU, "converse-stream", body, **{"x-sim-tool-arguments": '{"q": "Lisbon"}'})
    frames = events(response.content)
    start = frames[1][1]["start"]["toolUse"]
    assert start["name"] == "lookup" and start["toolUseId"].startswith("tooluse_")
    pieces = "".join(p["delta"]["toolUse"]["input"] for h, p in frames if h[":event-type"] == "contentBlockDelta")
    assert orjson.loads(pieces) == {"q": "Lisbon"}
    assert frames[-2][1] == {"stopReason": "tool_use"}


def test_unauthenticated_and_bearer(client: httpx.Client) -> None:
    url = f"/model/{HAIKU}/converse"
    response = client.post(url, json=converse_body())
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"].startswith("MissingAuthenticationTokenException:")
    assert response.json() == {"message": "Missing Authentication Token"}
    assert client.post(url, json=converse_body(), headers={"authorization": "Bearer ABSKkey"}).status_code == 200
    refused = post(client, HAIKU, "converse", converse_body(), key_id="INVALIDKEY")
    assert refused.status_code == 403
    assert refused.headers["x-amzn-errortype"].startswith("UnrecognizedClientException:")


def test_validation_error_shape(client: httpx.Client) -> None:
    body = {"messages": [{"role": "assistant", "content": [{"text": "hi"}]}]}
    response = post(client, HAIKU, "converse", body)
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == (
        "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"
    )
    assert "must start with a user message" in response.json()["message"]


def test_injected_429_has_no_retry_after_unless_asked(client: httpx.Client) -> None:
    response = post(client, "sim-error-429", "converse", converse_body())
    assert response.status_code == 429
    assert response.headers["x-amzn-errortype"].startswith("ThrottlingException:")
    assert "retry-after" not in response.headers
    asked = post(client, "sim-error-429", "converse-stream", converse_body(), **{"x-sim-retry-after-s": "2"})
    assert asked.status_code == 429 and asked.headers["retry-after"] == "2"
    assert stats_for(client, "sim-error-429")["errors_injected"] == 2


def test_fault_rules_apply_to_model_ids(client: httpx.Client) -> None:
    rule = {"model": HAIKU, "knobs": {"error_status": 503}, "times": 1}
    assert client.post("/_sim/faults", json=rule).status_code == 201
    first = post(client, HAIKU, "converse", converse_body())
    assert first.status_code == 503
    assert first.headers["x-amzn-errortype"].startswith("ServiceUnavailableException:")
    assert post(client, HAIKU, "converse", converse_body()).status_code == 200


def test_error_after_chunks_sends_an_exception_frame(client: httpx.Client) -> None:
    response = post(client, HAIKU, "converse-stream", converse_body(), **{"x-sim-error-after-chunks": "2"})
    frames = events(response.content)
    assert len(frames) == 3
    headers, payload = frames[-1]
    assert headers[":message-type"] == "exception"
    assert headers[":exception-type"] == "modelStreamErrorException"
    assert "simulated" in payload["message"]
    assert stats_for(client, HAIKU)["errors_injected"] == 1


def test_break_after_chunks_cuts_a_frame(client: httpx.Client) -> None:
    url = f"{str(client.base_url).rstrip('/')}/model/{HAIKU}/converse-stream"
    raw = orjson.dumps(converse_body())
    received = b""
    headers = signed(url, raw, **{"x-sim-break-after-chunks": "2"})
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", url, content=raw, headers=headers) as response,
    ):
        for piece in response.iter_raw():
            received += piece
    decoder = EventStreamDecoder()
    assert len(decoder.feed(received)) == 2
    assert decoder.pending > 0  # half a frame
    assert stats_for(client, HAIKU)["broken_streams"] == 1


def test_hang_cap_answers_model_timeout() -> None:
    with start_in_thread(SimulatorConfig(hang_cap_s=0.2)) as running, httpx.Client(base_url=running.base_url) as http:
        response = post(http, "sim-hang", "converse", converse_body())
    assert response.status_code == 408
    assert response.headers["x-amzn-errortype"].startswith("ModelTimeoutException:")


def test_titan_embeddings(client: httpx.Client) -> None:
    response = post(
        client, "amazon.titan-embed-text-v2:0", "invoke", {"inputText": "Hello, Bedrock.", "dimensions": 256}
    )
    assert response.status_code == 200
    body = response.json()
    assert len(body["embedding"]) == 256 and body["embeddingsByType"]["float"] == body["embedding"]
    assert body["inputTextTokenCount"] == 4
    bad = post(client, "amazon.titan-embed-text-v2:0", "invoke", {"texts": ["x"]})
    assert bad.status_code == 400 and "inputText" in bad.json()["message"]
