"""The simulator driven by the official ``openai`` SDK, including faults the SDK must surface."""

from __future__ import annotations

import json
import time

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "summarise the plot of a very long novel in one line"}
]
TOOLS: list[openai.types.chat.ChatCompletionToolParam] = [
    {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}},
]


def test_sdk_non_streaming(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert completion.model == "gpt-4o"
    assert completion.choices[0].message.content == (
        "Simulated reply from gpt-4o: summarise the plot of a very long novel in one line"
    )
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 4 + 11


def test_sdk_streaming_reassembles_with_usage(sdk: openai.OpenAI) -> None:
    plain = sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    stream = sdk.chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert len({c.id for c in chunks}) == 1
    assert chunks[-1].choices == []
    assert chunks[-1].usage == plain.usage


def test_sdk_tool_call_non_streaming_uses_named_tool(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES,
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "search"}},
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    [call] = choice.message.tool_calls
    assert call.id.startswith("call_")
    assert call.type == "function"
    assert call.function.name == "search"
    assert call.function.arguments == "{}"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 10 + 1


def test_sdk_tool_choice_none_and_tool_result_give_text(sdk: openai.OpenAI) -> None:
    none_choice = sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, tools=TOOLS, tool_choice="none")
    assert none_choice.choices[0].message.tool_calls is None
    after_tool: list[ChatCompletionMessageParam] = [
        *MESSAGES,
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
    ]
    answered = sdk.chat.completions.create(model="gpt-4o", messages=after_tool, tools=TOOLS)
    assert answered.choices[0].finish_reason == "stop"
    assert answered.choices[0].message.content


def test_sdk_streamed_tool_call_accumulates(sdk: openai.OpenAI) -> None:
    arguments = json.dumps({"query": "simulators", "limit": 10})
    stream = sdk.chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES,
        tools=TOOLS,
        stream=True,
        extra_headers={"x-sim-tool-arguments": arguments},
    )
    name, args, finish = "", "", None
    for chunk in stream:
        choice = chunk.choices[0]
        for call in choice.delta.tool_calls or []:
            assert call.index == 0 and call.function is not None
            name += call.function.name or ""
            args += call.function.arguments or ""
        finish = choice.finish_reason or finish
    assert name == "lookup"
    assert json.loads(args) == {"query": "simulators", "limit": 10}
    assert finish == "tool_calls"


def test_sdk_json_schema_mode(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "r", "schema": {"type": "object"}},
        },
    )
    content = completion.choices[0].message.content
    assert content is not None
    assert json.loads(content)["reply"].startswith("Simulated reply from gpt-4o:")


def test_sdk_max_completion_tokens_truncates(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_completion_tokens=3)
    assert completion.choices[0].message.content == "Simulated reply from"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 3


def test_sdk_rate_limit_error_with_retry_after(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.chat.completions.create(
            model="gpt-4o",
            messages=MESSAGES,
            extra_headers={"x-sim-error-status": "429", "x-sim-retry-after-s": "7"},
        )
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.type == "rate_limit_error"


@pytest.mark.parametrize("status", [500, 503])
def test_sdk_server_errors(sdk: openai.OpenAI, status: int) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(model=f"sim-error-{status}", messages=MESSAGES)
    assert caught.value.status_code == status
    assert caught.value.type == "server_error"


def test_sdk_client_errors_map_to_sdk_exceptions(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.AuthenticationError):
        sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_headers={"x-sim-error-status": "401"})
    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(model="sim-error-400", messages=MESSAGES)


def test_sdk_hang_is_bounded_by_client_timeout(sdk: openai.OpenAI) -> None:
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        sdk.chat.completions.create(model="sim-hang", messages=MESSAGES, timeout=0.5)
    assert 0.4 < time.monotonic() - started < 3.0


def test_sdk_broken_stream_raises(sdk: openai.OpenAI) -> None:
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError) as caught:
        for chunk in sdk.chat.completions.create(model="sim-broken-stream", messages=MESSAGES, stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert len(received) == 3
    assert "incomplete" in str(caught.value.__cause__)


def test_sdk_error_after_chunks_raises_api_error(sdk: openai.OpenAI) -> None:
    received = 0
    with pytest.raises(openai.APIError) as caught:
        for _chunk in sdk.chat.completions.create(
            model="gpt-4o",
            messages=MESSAGES,
            stream=True,
            extra_headers={"x-sim-error-after-chunks": "2"},
        ):
            received += 1
    assert received == 2
    assert "simulated 500" in caught.value.message
