"""The official ``anthropic`` SDK through Turnout's ``/v1/messages``, routed to other providers'
formats, and embeddings through the ``openai`` SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from schemas.config import TurnoutConfig
from tests.e2e.stacks import running_stack
from turnout.analytics import run_sql
from turnout.stack import Stack, wait_until

DEMO_KEY = "sk-turnout-demo"


@pytest.fixture(scope="module")
def gateway(make_config: Any) -> Iterator[tuple[Stack, TurnoutConfig]]:
    with running_stack(make_config, workers=1, topology={"layout": "fused"}) as running:
        yield running


@pytest.fixture
def claude(gateway: tuple[Stack, TurnoutConfig]) -> anthropic.Anthropic:
    stack, _ = gateway
    return anthropic.Anthropic(base_url=stack.base_url.removesuffix("/v1"), api_key=DEMO_KEY, max_retries=0, timeout=30)


def test_messages_to_an_openai_format_deployment(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="smart-chat",
        max_tokens=100,
        system="You are terse.",
        messages=[{"role": "user", "content": "hello from claude code"}],
    )
    assert message.type == "message" and message.role == "assistant" and message.model == "smart-chat"
    assert message.content[0].type == "text"
    assert message.content[0].text == "Simulated reply from gpt-4o: hello from claude code"
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 8 and message.usage.input_tokens > 0


def test_messages_to_a_gemini_format_deployment(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="gemini-chat",
        max_tokens=100,
        system="You are terse.",
        messages=[{"role": "user", "content": "hello gemini via claude"}],
    )
    assert message.content[0].type == "text"
    assert message.content[0].text.endswith("hello gemini via claude")
    assert message.stop_reason == "end_turn" and message.usage.output_tokens > 0
    with claude.messages.stream(
        model="gemini-chat", max_tokens=100, messages=[{"role": "user", "content": "stream from gemini"}]
    ) as stream:
        text = "".join(stream.text_stream)
    assert text.endswith("stream from gemini")


def test_messages_stream(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="smart-chat", max_tokens=100, messages=[{"role": "user", "content": "stream these words please"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Simulated reply from gpt-4o: stream these words please"
    assert final.content[0].text == text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == len(text.split())


def test_tool_use_round_trip(claude: anthropic.Anthropic) -> None:
    tools = [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    first = claude.messages.create(
        model="smart-chat",
        max_tokens=100,
        tools=tools,  # type: ignore[arg-type]
        messages=[{"role": "user", "content": "weather in Paris?"}],
    )
    assert first.stop_reason == "tool_use"
    call = next(b for b in first.content if b.type == "tool_use")
    assert call.name == "get_weather" and call.input == {}  # type: ignore[union-attr]
    second = claude.messages.create(
        model="smart-chat",
        max_tokens=100,
        tools=tools,  # type: ignore[arg-type]
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": first.content},  # type: ignore[typeddict-item]
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]},  # type: ignore[union-attr]
        ],
    )
    assert second.stop_reason == "end_turn" and second.content[0].type == "text"

    with claude.messages.stream(
        model="smart-chat",
        max_tokens=100,
        tools=tools,  # type: ignore[arg-type]
        messages=[{"role": "user", "content": "weather?"}],
    ) as stream:
        final = stream.get_final_message()
    streamed_call = next(b for b in final.content if b.type == "tool_use")
    assert streamed_call.name == "get_weather" and final.stop_reason == "tool_use"  # type: ignore[union-attr]


def test_errors_in_anthropics_shape(claude: anthropic.Anthropic, gateway: tuple[Stack, TurnoutConfig]) -> None:
    with pytest.raises(anthropic.NotFoundError) as not_found:
        claude.messages.create(model="claude-nope", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert not_found.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as bad:
        claude.messages.create(model="smart-chat", max_tokens=0, messages=[{"role": "user", "content": "x"}])
    assert bad.value.body["type"] == "error"  # type: ignore[index]
    stack, _ = gateway
    wrong = anthropic.Anthropic(base_url=stack.base_url.removesuffix("/v1"), api_key="sk-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        wrong.messages.create(model="smart-chat", max_tokens=10, messages=[{"role": "user", "content": "x"}])


@pytest.mark.parametrize(
    ("model", "deployment"),
    [("embed-small", "sim-embed-small"), ("gemini-embed", "sim-gemini-embed"), ("bedrock-embed", "sim-bedrock-embed")],
)
def test_embeddings_through_the_openai_sdk(gateway: tuple[Stack, TurnoutConfig], model: str, deployment: str) -> None:
    """Three inputs: one call to OpenAI or Gemini (batchEmbedContents), three in parallel to Titan."""
    stack, config = gateway
    client = openai.OpenAI(base_url=stack.base_url, api_key=DEMO_KEY, max_retries=0, timeout=30)
    raw = client.embeddings.with_raw_response.create(model=model, input=["alpha", "beta", "alpha"])
    result = raw.parse()
    vectors = [d.embedding for d in result.data]
    assert len(vectors) == 3 and vectors[0] == vectors[2] and vectors[0] != vectors[1]
    assert result.model == model
    floats = client.embeddings.create(model=model, input="alpha", encoding_format="float")
    assert floats.data[0].embedding == pytest.approx(vectors[0], rel=1e-6)
    request_id = raw.headers["x-request-id"]
    sql = (
        f"SELECT status, deployment, prompt_tokens, cost_usd FROM {config.clickhouse.database}.requests "
        f"FINAL WHERE request_id = '{request_id}'"
    )
    wait_until(lambda: len(run_sql(config, sql).rows) == 1, 30, "embeddings row")
    status, used, prompt_tokens, cost = run_sql(config, sql).rows[0]
    assert (status, used) == (200, deployment)
    assert prompt_tokens == result.usage.prompt_tokens  # Gemini reports no tokens for embeddings: 0
    price = config.deployments[deployment].input_usd_per_mtok
    assert cost == pytest.approx(prompt_tokens * price / 1e6)
