"""``POST /v1/embeddings`` on the real server, driven by the official ``openai`` SDK and by httpx."""

from __future__ import annotations

import base64
import math
import struct
import time

import httpx
import openai
import pytest

from simulator.openai_embeddings import embedding_vector

TEXTS = ["The food was delicious and the waiter was friendly.", "The soup was cold."]


def test_sdk_default_request_decodes_base64_vectors(sdk: openai.OpenAI) -> None:
    # without encoding_format the SDK asks for base64 and decodes it itself
    result = sdk.embeddings.create(model="text-embedding-3-small", input=TEXTS)
    assert result.object == "list"
    assert result.model == "text-embedding-3-small"
    assert [d.index for d in result.data] == [0, 1]
    for item, text in zip(result.data, TEXTS, strict=True):
        assert item.object == "embedding"
        assert item.embedding == embedding_vector(text)
    assert result.usage.prompt_tokens == sum(math.ceil(len(t) / 4) for t in TEXTS)
    assert result.usage.total_tokens == result.usage.prompt_tokens


def test_sdk_float_format_and_dimensions(sdk: openai.OpenAI) -> None:
    result = sdk.embeddings.create(
        model="text-embedding-3-large", input="hello world", encoding_format="float", dimensions=32, user="u-1"
    )
    [item] = result.data
    assert len(item.embedding) == 32
    assert item.embedding == embedding_vector("hello world", 32)
    assert math.isclose(sum(v * v for v in item.embedding), 1.0, rel_tol=1e-5)


def test_same_text_same_vector_across_requests_and_models(sdk: openai.OpenAI) -> None:
    first = sdk.embeddings.create(model="a", input=["same", "other"], encoding_format="float")
    second = sdk.embeddings.create(model="b", input="same", encoding_format="float")
    assert first.data[0].embedding == second.data[0].embedding
    assert first.data[0].embedding != first.data[1].embedding


def test_sdk_token_id_input(sdk: openai.OpenAI) -> None:
    result = sdk.embeddings.create(model="m", input=[[15339, 1917], [3]], encoding_format="float")
    assert [len(d.embedding) for d in result.data] == [8, 8]
    assert result.usage.prompt_tokens == 3


def test_raw_base64_is_little_endian_float32(client: httpx.Client) -> None:
    body = client.post(
        "/v1/embeddings", json={"model": "m", "input": "raw", "encoding_format": "base64", "dimensions": 4}
    ).json()
    encoded = body["data"][0]["embedding"]
    assert list(struct.unpack("<4f", base64.b64decode(encoded))) == embedding_vector("raw", 4)


def test_sdk_bad_input_is_a_400_naming_the_param(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.embeddings.create(model="m", input="")
    assert caught.value.status_code == 400
    assert caught.value.param == "input"
    assert caught.value.type == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.embeddings.create(model="m", input="x", dimensions=0)
    assert caught.value.param == "dimensions"


def test_sdk_rate_limit_with_retry_after(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.embeddings.create(model="sim-error-429", input="x", extra_headers={"x-sim-retry-after-s": "3"})
    assert caught.value.response.headers["retry-after"] == "3"
    assert caught.value.response.headers["retry-after-ms"] == "3000"
    assert caught.value.code == "rate_limit_exceeded"


@pytest.mark.parametrize(("status", "error"), [(500, openai.InternalServerError), (401, openai.AuthenticationError)])
def test_sdk_injected_errors(sdk: openai.OpenAI, status: int, error: type[openai.APIStatusError]) -> None:
    with pytest.raises(error) as caught:
        sdk.embeddings.create(model="m", input="x", extra_headers={"x-sim-error-status": str(status)})
    assert caught.value.status_code == status


def test_latency_knob_delays_the_reply(client: httpx.Client) -> None:
    started = time.monotonic()
    response = client.post("/v1/embeddings", json={"model": "sim-slow-300", "input": "x"})
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_hang_is_bounded_by_the_client_timeout(sdk: openai.OpenAI) -> None:
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        sdk.embeddings.create(model="sim-hang", input="x", timeout=0.5)
    assert time.monotonic() - started < 3.0


def test_broken_body_is_a_connection_error(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.APIConnectionError):
        sdk.embeddings.create(model="sim-broken-stream", input="x", encoding_format="float")


def test_fault_rules_and_stats_count_embeddings(client: httpx.Client) -> None:
    rule = {"model": "emb", "knobs": {"error_status": 503, "prompt_tokens": 42}, "times": 1}
    assert client.post("/_sim/faults", json=rule).status_code == 201
    assert client.post("/v1/embeddings", json={"model": "emb", "input": "x"}).status_code == 503
    ok = client.post("/v1/embeddings", json={"model": "emb", "input": "x"}, headers={"x-sim-prompt-tokens": "42"})
    assert ok.json()["usage"] == {"prompt_tokens": 42, "total_tokens": 42}
    stats = client.get("/_sim/stats").json()
    assert stats["models"]["emb"] == {"total": 2, "streamed": 0, "errors_injected": 1, "broken_streams": 0, "hangs": 0}
