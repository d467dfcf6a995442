"""The simulator's Messages API driven by the official ``anthropic`` SDK: create, stream, a tool-use
round trip, and faults surfacing as the SDK's typed exceptions."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest
from anthropic.types import MessageParam, ToolParam

MODEL = "claude-sim"
ASK: list[MessageParam] = [{"role": "user", "content": "summarise the plot of a very long novel in one line"}]
TOOLS: list[ToolParam] = [
    {
        "name": "lookup",
        "description": "Look a thing up",
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
    }
]


@pytest.fixture()
def claude(sim_url: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=sim_url, api_key="x", max_retries=0, timeout=10.0) as client:
        yield client


def test_create(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(model=MODEL, max_tokens=200, system="Be brief.", messages=ASK)
    assert message.type == "message" and message.role == "assistant" and message.model == MODEL
    [block] = message.content
    assert block.type == "text"
    assert block.text == "Simulated reply from claude-sim: summarise the plot of a very long novel in one line"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens == len(block.text.split())
    assert message._request_id is not None and message._request_id.startswith("req_")


def test_stream_helper_reassembles_the_message(claude: anthropic.Anthropic) -> None:
    plain = claude.messages.create(model=MODEL, max_tokens=200, messages=ASK)
    with claude.messages.stream(model=MODEL, max_tokens=200, messages=ASK) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == final.content[0].text == plain.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (
        plain.usage.input_tokens,
        plain.usage.output_tokens,
    )


def test_raw_stream_events(claude: anthropic.Anthropic) -> None:
    events = list(claude.messages.create(model=MODEL, max_tokens=50, messages=ASK, stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "message_delta" in kinds  # the SDK drops ping itself


def test_tool_use_round_trip(claude: anthropic.Anthropic) -> None:
    first = claude.messages.create(
        model=MODEL, max_tokens=200, messages=ASK, tools=TOOLS, extra_headers={"x-sim-tool-arguments": '{"q": "plot"}'}
    )
    assert first.stop_reason == "tool_use"
    [call] = [b for b in first.content if b.type == "tool_use"]
    assert (call.name, call.input) == ("lookup", {"q": "plot"})
    assert call.id.startswith("toolu_")
    second = claude.messages.create(
        model=MODEL,
        max_tokens=200,
        tools=TOOLS,
        messages=[
            *ASK,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "a whale"}]},
        ],
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].type == "text" and second.content[0].text.endswith("in one line")


def test_streamed_tool_use(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model=MODEL,
        max_tokens=200,
        messages=ASK,
        tools=TOOLS,
        tool_choice={"type": "tool", "name": "lookup"},
        extra_headers={"x-sim-tool-arguments": '{"q": "a rather long query string to split"}'},
    ) as stream:
        final = stream.get_final_message()
    [call] = final.content
    assert call.type == "tool_use" and call.input == {"q": "a rather long query string to split"}


@pytest.mark.parametrize(
    ("model", "error"),
    [
        ("sim-error-429", anthropic.RateLimitError),
        ("sim-error-529", anthropic.OverloadedError),
        ("sim-error-503", anthropic.OverloadedError),
        ("sim-error-400", anthropic.BadRequestError),
        ("sim-error-401", anthropic.AuthenticationError),
        ("sim-error-500", anthropic.InternalServerError),
    ],
)
def test_errors_raise_typed_exceptions(claude: anthropic.Anthropic, model: str, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        claude.messages.create(model=model, max_tokens=10, messages=ASK)
    assert isinstance(caught.value, anthropic.APIStatusError)
    assert caught.value.body["type"] == "error"  # type: ignore[index]
    assert caught.value.request_id is not None


def test_error_event_mid_stream_raises(claude: anthropic.Anthropic) -> None:
    received: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        claude.messages.stream(
            model=MODEL, max_tokens=200, messages=ASK, extra_headers={"x-sim-error-after-chunks": "4"}
        ) as stream,
    ):
        received.extend(stream.text_stream)
    assert received  # text arrived before the error event
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


def test_missing_max_tokens_is_a_bad_request(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.post("/v1/messages", cast_to=object, body={"model": MODEL, "messages": ASK})
    assert caught.value.body["error"]["message"] == "max_tokens: Field required"  # type: ignore[index]
