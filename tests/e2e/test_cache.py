"""The response cache through the whole stack, two workers, the official SDKs: exact and semantic hits
with their headers and rows, near misses, tenants, parameters, temperature, caller controls, and
cached replies streamed as SSE (OpenAI and Anthropic)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from schemas.config import TurnoutConfig
from tests.e2e.stacks import running_stack
from turnout.analytics import run_sql
from turnout.stack import Stack, wait_until

RUN = uuid.uuid4().hex[:6]
MODEL = "best-cheap-chat"  # the one model both example keys (two tenants) may use
NO_STORE = {"cache-control": "no-store"}


@pytest.fixture(scope="module")
def gateway(make_config: Any) -> Iterator[tuple[Stack, TurnoutConfig]]:
    models = {MODEL: {"deployments": ["sim-gpt-4o-mini"], "cache": {"mode": "semantic", "ttl_s": 600}}}
    with running_stack(make_config, workers=2, models=models) as run:
        yield run


def _sdk(stack: Stack, key: str = "sk-turnout-demo") -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.base_url, api_key=key, max_retries=0, timeout=30)


def _ask(sdk: openai.OpenAI, text: str, headers: dict[str, str] | None = None, **params: Any) -> tuple[str, Any]:
    raw = sdk.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=[{"role": "user", "content": text}],
        temperature=params.pop("temperature", 0.0),
        extra_headers=headers or {},
        **params,
    )
    return raw.parse().choices[0].message.content or "", raw.headers


def _until_hit(sdk: openai.OpenAI, text: str, **params: Any) -> tuple[str, Any]:
    """Ask (without storing) until the cache answers: the writer stores off the request path."""
    found: list[tuple[str, Any]] = []

    def probe() -> bool:
        found[:] = [_ask(sdk, text, NO_STORE, **params)]
        return bool(found[0][1]["x-turnout-cache"] == "hit")

    wait_until(probe, 30, f"a cache hit for {text!r}")
    return found[0]


def _row(config: TurnoutConfig, request_id: str) -> list[Any]:
    sql = (
        "SELECT cache_status, cache_kind, cache_similarity, cache_entry, cache_saved_usd, cost_usd, "
        f"length(attempts) FROM {config.clickhouse.database}.requests FINAL WHERE request_id = '{request_id}'"
    )
    wait_until(lambda: len(run_sql(config, sql).rows) == 1, 30, f"the row of {request_id}")
    return list(run_sql(config, sql).rows[0])


def test_an_exact_repeat_is_answered_from_the_cache(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, config = gateway
    sdk = _sdk(stack)
    question = f"Which river flows through Vienna? ({RUN})"
    first, headers = _ask(sdk, question)
    assert headers["x-turnout-cache"] == "miss"
    assert first == f"Simulated reply from gpt-4o-mini: {question}"
    again, hit = _until_hit(sdk, question)
    assert again == first
    assert (hit["x-turnout-cache-kind"], hit["x-turnout-cache-similarity"]) == ("exact", "1.0000")
    assert int(hit["age"]) >= 0 and hit["x-turnout-cache-entry"]
    status, kind, similarity, entry, saved, cost, attempts = _row(config, hit["x-request-id"])
    assert (status, kind, similarity, entry) == ("hit", "exact", 1.0, hit["x-turnout-cache-entry"])
    assert cost == 0 and saved > 0 and attempts == 0  # nothing was paid and no provider was called
    assert _row(config, headers["x-request-id"])[:2] == ["miss", ""]


def test_a_paraphrase_is_answered_from_the_semantic_cache_and_a_near_miss_is_not(
    gateway: tuple[Stack, TurnoutConfig],
) -> None:
    stack, config = gateway
    sdk = _sdk(stack)
    original = f"What is the capital of France? ref {RUN}"
    answer, _ = _ask(sdk, original)
    paraphrase = f"Tell me the capital of France. ref {RUN}"
    cached, hit = _until_hit(sdk, paraphrase)
    assert cached == answer  # the answer to the stored question, not a new one
    assert hit["x-turnout-cache-kind"] == "semantic"
    assert 0.8 <= float(hit["x-turnout-cache-similarity"]) < 1.0
    row = _row(config, hit["x-request-id"])
    assert row[:2] == ["hit", "semantic"] and row[3] == hit["x-turnout-cache-entry"]
    # both workers know the entry now (each of these lands on either): a near miss is refused by a guard
    for _ in range(4):
        assert _ask(sdk, paraphrase, NO_STORE)[1]["x-turnout-cache"] == "hit"
        near, headers = _ask(sdk, f"What is the capital of Germany? ref {RUN}", NO_STORE)
        assert headers["x-turnout-cache"] == "miss" and "Germany" in near


def test_tenants_parameters_and_temperature_are_respected(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, _ = gateway
    sdk = _sdk(stack)
    question = f"How many legs does a spider have? ({RUN})"
    _ask(sdk, question)
    _until_hit(sdk, question)
    other_tenant, headers = _ask(_sdk(stack, "sk-turnout-team-b"), question, NO_STORE)
    assert headers["x-turnout-cache"] == "miss" and "x-turnout-cache-similarity" not in headers
    assert other_tenant == f"Simulated reply from gpt-4o-mini: {question}"
    assert _ask(sdk, question, NO_STORE, max_tokens=7)[1]["x-turnout-cache"] == "miss"
    assert _ask(sdk, question, NO_STORE, seed=11)[1]["x-turnout-cache"] == "miss"
    hot = _ask(sdk, f"Tell me how many legs a spider has. ({RUN})", NO_STORE, temperature=0.9)[1]
    assert (hot["x-turnout-cache"], hot["x-turnout-cache-reason"]) == ("miss", "semantic: temperature")


def test_caller_controls_in_headers(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, _ = gateway
    sdk = _sdk(stack)
    question = f"Who wrote the Odyssey? ({RUN})"
    _ask(sdk, question)
    _until_hit(sdk, question)
    assert _ask(sdk, question, {"cache-control": "no-cache"})[1]["x-turnout-cache"] == "bypass"
    assert _ask(sdk, question, {"x-turnout-cache": "off"})[1]["x-turnout-cache"] == "skip"
    assert _ask(sdk, question, {"x-turnout-cache-namespace": f"other-{RUN}"})[1]["x-turnout-cache"] == "miss"
    strict = _ask(sdk, f"Tell me who wrote the Odyssey. ({RUN})", {"x-turnout-cache-threshold": "0.9999"})[1]
    assert strict["x-turnout-cache"] == "miss"
    response = httpx.post(
        f"{stack.base_url}/chat/completions",
        headers={"authorization": "Bearer sk-turnout-demo", "x-turnout-cache-threshold": "2"},
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "x-turnout-cache-threshold"


def test_a_cached_reply_streams_as_sse(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, _ = gateway
    sdk = _sdk(stack)
    question = f"Name the largest planet. ({RUN})"
    answer, _ = _ask(sdk, question)
    _until_hit(sdk, question)
    with sdk.chat.completions.with_streaming_response.create(
        model=MODEL, messages=[{"role": "user", "content": question}], temperature=0.0, stream=True
    ) as raw:
        assert raw.headers["content-type"].startswith("text/event-stream")
        assert raw.headers["x-turnout-cache"] == "hit"
        chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == answer
    assert chunks[-1].choices[0].finish_reason == "stop"

    claude = anthropic.Anthropic(
        base_url=stack.base_url.removesuffix("/v1"), api_key="sk-turnout-demo", max_retries=0, timeout=30
    )
    asked = {"model": MODEL, "max_tokens": 64}  # temperature unset: the exact cache answers
    prompt = [{"role": "user", "content": f"Name the smallest planet. ({RUN})"}]
    first = claude.messages.create(messages=prompt, **asked)  # type: ignore[arg-type]
    wait_until(
        lambda: (
            claude.messages.with_raw_response.create(
                messages=prompt,
                extra_headers=NO_STORE,
                **asked,  # type: ignore[arg-type]
            ).headers["x-turnout-cache"]
            == "hit"
        ),
        30,
        "an Anthropic-shaped hit",
    )
    with claude.messages.stream(messages=prompt, **asked) as stream:  # type: ignore[arg-type]
        text = "".join(stream.text_stream)
    assert text == first.content[0].text  # type: ignore[union-attr]
