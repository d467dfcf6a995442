"""The official ``openai`` SDK through the gateway to each provider wire format on the simulator:
chat, streaming, a tool-call round trip, and a broken upstream stream that ends in a clear error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from schemas.config import TurnoutConfig
from tests.e2e.stacks import running_stack
from turnout.analytics import run_sql
from turnout.stack import Stack, wait_until

MODELS = ["smart-chat", "anthropic-chat", "gemini-chat", "bedrock-chat"]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look a thing up",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
]


@pytest.fixture(scope="module")
def gateway(make_config: Any) -> Iterator[tuple[Stack, TurnoutConfig]]:
    with running_stack(make_config, workers=1, topology={"layout": "fused"}) as running:
        yield running


@pytest.fixture
def sdk(gateway: tuple[Stack, TurnoutConfig]) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway[0].base_url, api_key="sk-turnout-demo", max_retries=0, timeout=30)


@pytest.mark.parametrize("model", MODELS)
def test_chat(sdk: openai.OpenAI, gateway: tuple[Stack, TurnoutConfig], model: str) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model=model,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "name three rivers"}],
        max_tokens=200,
    )
    reply = raw.parse()
    assert reply.choices[0].message.content.endswith("name three rivers")  # type: ignore[union-attr]
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    _, config = gateway
    sql = (
        f"SELECT deployment, cost_usd > 0, prompt_tokens FROM {config.clickhouse.database}.requests FINAL "
        f"WHERE request_id = '{raw.headers['x-request-id']}'"
    )
    wait_until(lambda: len(run_sql(config, sql).rows) == 1, 30, "row")
    deployment, costed, prompt_tokens = run_sql(config, sql).rows[0]
    assert deployment == f"sim-{model.removesuffix('-chat')}-chat" or model == "smart-chat"
    assert costed and prompt_tokens == reply.usage.prompt_tokens


@pytest.mark.parametrize("model", MODELS)
def test_stream(sdk: openai.OpenAI, model: str) -> None:
    chunks = list(
        sdk.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "stream a few words back"}],
            max_tokens=200,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.endswith("stream a few words back")
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens > 0 and usage.prompt_tokens > 0


@pytest.mark.parametrize("model", MODELS)
def test_tool_call_round_trip(sdk: openai.OpenAI, model: str) -> None:
    ask = [{"role": "user", "content": "look up the tallest tree"}]
    first = sdk.chat.completions.create(model=model, messages=ask, tools=TOOLS, max_tokens=200)  # type: ignore[arg-type]
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "lookup" and isinstance(json.loads(call.function.arguments), dict)  # type: ignore[union-attr]
    second = sdk.chat.completions.create(
        model=model,
        max_tokens=200,
        tools=TOOLS,
        messages=[  # type: ignore[arg-type]
            *ask,
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "a coast redwood, 116 m"},
        ],
    )
    assert second.choices[0].finish_reason == "stop" and second.choices[0].message.content

    streamed = list(
        sdk.chat.completions.create(
            model=model,
            messages=ask,
            tools=TOOLS,
            stream=True,  # type: ignore[arg-type]
            max_tokens=200,
        )
    )
    deltas = [tc for c in streamed if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas and deltas[0].function.name == "lookup" and deltas[0].id  # type: ignore[union-attr]
    assert isinstance(json.loads("".join(d.function.arguments or "" for d in deltas)), dict)  # type: ignore[union-attr]


def test_a_broken_upstream_gives_a_clear_error_not_a_hang(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as whole:
        sdk.chat.completions.create(model="broken-chat", messages=[{"role": "user", "content": "one two three"}])
    assert whole.value.status_code == 502 and whole.value.body["type"] == "upstream_error"  # type: ignore[index]
    received: list[str] = []
    with pytest.raises(openai.APIError) as streamed:
        for chunk in sdk.chat.completions.create(
            model="broken-chat", messages=[{"role": "user", "content": "one two three four five six"}], stream=True
        ):
            received.extend(c.delta.content or "" for c in chunk.choices)
    assert "broke off" in streamed.value.message or "stream" in streamed.value.message
