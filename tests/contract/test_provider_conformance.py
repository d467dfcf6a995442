"""Every provider adapter against its golden fixtures (tests/fixtures/providers/README.md).

One suite, parametrized over providers and cases: the request the adapter builds, the response it
reads, the stream it parses (fed in arbitrary pieces), the error it classifies. An adapter's
``capabilities`` say what it supports; every claimed capability needs fixtures, and no fixture
may exercise a capability the adapter does not claim.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest

from ingress.openai_request import parse_chat_request, parse_embeddings_request
from schemas.errors import ProviderError, TurnoutError
from streams.providers.accumulate import StreamAccumulator
from streams.providers.base import ProviderEndpoint
from streams.providers.registry import ADAPTERS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
PROVIDERS = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
CASES = [
    (provider, case.name) for provider in PROVIDERS for case in sorted((FIXTURES / provider).iterdir()) if case.is_dir()
]
# the error classes every provider's fixtures must show being classified
REQUIRED_ERRORS = {
    "ProviderRateLimited",
    "ProviderOverloaded",
    "ContextWindowExceeded",
    "ProviderContentPolicy",
    "ProviderAuthError",
    "ProviderBadRequest",
    "ProviderError",
}


def load(provider: str, case: str, name: str) -> Any:
    return json.loads((FIXTURES / provider / case / name).read_text())


def endpoint(meta: dict[str, Any]) -> ProviderEndpoint:
    return ProviderEndpoint(**meta.get("endpoint", {"base_url": "http://provider.test"}))


def unified_request(provider: str, case: str, meta: dict[str, Any]) -> Any:
    body = load(provider, case, "unified_request.json")
    if meta["kind"] == "embeddings":
        return parse_embeddings_request(body)
    return parse_chat_request(body)


def response_dict(response: Any) -> dict[str, Any]:
    return {
        "content": response.content,
        "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in response.tool_calls],
        "finish_reason": response.finish_reason,
        "usage": {
            "prompt_tokens": response.usage.prompt_tokens,
            "completion_tokens": response.usage.completion_tokens,
            "cached_tokens": response.usage.cached_tokens,
            "total_tokens": response.usage.total_tokens,
        },
    }


def stream_bytes(provider: str, case: str) -> bytes:
    for name in ("provider_response.sse", "provider_response.bin"):
        path = FIXTURES / provider / case / name
        if path.exists():
            return path.read_bytes()
    raise AssertionError(f"{provider}/{case} has no stream bytes")


def pieces(data: bytes, seed: int) -> list[bytes]:
    """``data`` cut at random points, as a network would deliver it."""
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, 12))) if len(data) > 1 else []
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def json_or_text(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode()


@pytest.mark.parametrize(("provider", "case"), CASES, ids=[f"{p}/{c}" for p, c in CASES])
def test_request_translation(provider: str, case: str) -> None:
    meta = load(provider, case, "case.json")
    adapter = ADAPTERS[provider]
    request = unified_request(provider, case, meta)
    if meta["kind"] == "embeddings":
        spec = adapter.build_embeddings_request(request, meta["upstream_model"], endpoint(meta))
    else:
        spec = adapter.build_request(request, meta["upstream_model"], endpoint(meta))
    expected = load(provider, case, "provider_request.json")
    assert spec.method == expected["method"]
    got_url, want_url = urlsplit(spec.url), urlsplit(expected["url"])
    assert (got_url.scheme, got_url.netloc, got_url.path) == (want_url.scheme, want_url.netloc, want_url.path)
    assert sorted(parse_qsl(got_url.query)) == sorted(parse_qsl(want_url.query))
    headers = {k.lower(): v for k, v in spec.headers.items()}
    for name, value in expected.get("headers", {}).items():
        assert headers.get(name.lower()) == value, f"header {name}"
    for name in expected.get("headers_present", []):
        assert headers.get(name.lower()), f"header {name} missing"
    assert json_or_text(spec.body) == expected["body"]


@pytest.mark.parametrize(("provider", "case"), CASES, ids=[f"{p}/{c}" for p, c in CASES])
def test_response_translation(provider: str, case: str) -> None:
    meta = load(provider, case, "case.json")
    adapter = ADAPTERS[provider]
    expected = load(provider, case, "unified_response.json")
    model = meta["upstream_model"]
    if meta["kind"] == "stream":
        for seed in range(3):
            parser = adapter.stream_parser()
            whole = StreamAccumulator()
            if "error_class" in expected:
                with pytest.raises(TurnoutError) as caught:
                    for piece in pieces(stream_bytes(provider, case), seed):
                        for delta in parser.feed(piece):
                            whole.add(delta)
                    parser.close()
                assert type(caught.value).__name__ == expected["error_class"]
                continue
            for piece in pieces(stream_bytes(provider, case), seed):
                for delta in parser.feed(piece):
                    whole.add(delta)
            parser.close()
            assert response_dict(whole.response(model)) == expected
        return
    raw = load(provider, case, "provider_response.json")
    body = raw["body"] if isinstance(raw["body"], str) else json.dumps(raw["body"])
    if meta["kind"] == "error":
        error = adapter.parse_error(
            raw["status"], {k.lower(): v for k, v in raw.get("headers", {}).items()}, body.encode()
        )
        assert type(error).__name__ == expected["error_class"]
        assert error.status == expected["status"]
        if "retry_after_s" in expected:
            assert error.retry_after_s == expected["retry_after_s"]
        return
    if meta["kind"] == "embeddings":
        result = adapter.parse_embeddings_response(body.encode(), model)
        assert len(result.vectors) == len(expected["vectors"])
        for got, want in zip(result.vectors, expected["vectors"], strict=True):
            assert got == pytest.approx(want)
        assert result.usage.prompt_tokens == expected["usage"]["prompt_tokens"]
        return
    assert response_dict(adapter.parse_response(body.encode(), model)) == expected


@pytest.mark.parametrize("provider", PROVIDERS)
def test_fixtures_cover_exactly_the_claimed_capabilities(provider: str) -> None:
    adapter = ADAPTERS[provider]
    used = {load(provider, c, "case.json")["capability"] for p, c in CASES if p == provider}
    assert used == set(adapter.capabilities), f"{provider}: fixtures for {used}, claims {adapter.capabilities}"
    errors = {
        load(provider, c, "unified_response.json").get("error_class")
        for p, c in CASES
        if p == provider and load(provider, c, "case.json")["kind"] == "error"
    }
    assert errors >= REQUIRED_ERRORS, f"{provider} lacks error fixtures for {REQUIRED_ERRORS - errors}"


def test_every_adapter_has_fixtures() -> None:
    assert set(PROVIDERS) == set(ADAPTERS)


def test_error_classes_are_provider_errors_or_request_errors() -> None:
    assert issubclass(type(ADAPTERS["openai"].parse_error(500, {}, b"")), ProviderError)
