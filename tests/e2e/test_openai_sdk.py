"""The official ``openai`` SDK against a running gateway: replies, streams, errors, and the rows
that landed in ClickHouse. Both layouts of the stages are run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from schemas.config import TurnoutConfig
from tests.e2e.stacks import running_stack
from turnout.analytics import run_sql
from turnout.stack import Stack, wait_until

DEMO_KEY = "sk-turnout-demo"
TEAM_B_KEY = "sk-turnout-team-b"


@pytest.fixture(scope="module", params=["split", "fused"])
def gateway(request: pytest.FixtureRequest, make_config: Any) -> Iterator[tuple[Stack, TurnoutConfig]]:
    with running_stack(
        make_config, topology={"layout": request.param}, gateway={"max_body_bytes": 65536, "request_timeout_s": 6}
    ) as running:
        yield running


@pytest.fixture
def sdk(gateway: tuple[Stack, TurnoutConfig]) -> openai.OpenAI:
    stack, _ = gateway
    return openai.OpenAI(base_url=stack.base_url, api_key=DEMO_KEY, max_retries=0, timeout=30)


def row_of(config: TurnoutConfig, request_id: str, columns: str) -> list[Any]:
    sql = f"SELECT {columns} FROM {config.clickhouse.database}.requests FINAL WHERE request_id = '{request_id}'"
    wait_until(lambda: len(run_sql(config, sql).rows) == 1, 30, f"row for {request_id}", 0.1)
    return run_sql(config, sql).rows[0]


def test_completion_reply_usage_and_row(sdk: openai.OpenAI, gateway: tuple[Stack, TurnoutConfig]) -> None:
    _, config = gateway
    raw = sdk.chat.completions.with_raw_response.create(
        model="smart-chat",
        messages=[{"role": "user", "content": "what is a topic"}],
        extra_headers={"x-turnout-feature": "docs-search"},
    )
    reply = raw.parse()
    assert reply.choices[0].message.content == "Simulated reply from gpt-4o: what is a topic"
    assert reply.choices[0].message.role == "assistant" and reply.choices[0].finish_reason == "stop"
    assert reply.model == "smart-chat"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (8, 8)
    request_id = raw.headers["x-request-id"]
    assert float(raw.headers["x-turnout-gateway-ms"]) >= 0
    row = row_of(
        config,
        request_id,
        "tenant, team, user, feature, logical_model, deployment, upstream_model, "
        "prompt_tokens, completion_tokens, cost_usd, status, stream, source, "
        "length(attempts), total_us >= upstream_us, upstream_us > 0",
    )
    # 8 prompt tokens at $2.50/M + 8 completion tokens at $10/M
    assert row == [
        "acme",
        "platform",
        "demo-user",
        "docs-search",
        "smart-chat",
        "sim-gpt-4o",
        "gpt-4o",
        8,
        8,
        pytest.approx(8 * 2.5e-6 + 8 * 10e-6),
        200,
        False,
        "http",
        1,
        True,
        True,
    ]


def test_stream_content_usage_and_row(sdk: openai.OpenAI, gateway: tuple[Stack, TurnoutConfig]) -> None:
    _, config = gateway
    stream = sdk.chat.completions.create(
        model="best-cheap-chat",
        messages=[{"role": "user", "content": "stream me a reply of several words"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Simulated reply from gpt-4o-mini: stream me a reply of several words"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len(text.split())
    assert len({c.id for c in chunks}) == 1
    request_id = chunks[0].id.removeprefix("chatcmpl-")
    row = row_of(config, request_id, "stream, status, completion_tokens, ttft_us > 0, cost_usd > 0")
    assert row == [True, 200, len(text.split()), True, True]


def test_stream_without_usage_option_has_no_usage_chunk(sdk: openai.OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(model="smart-chat", messages=[{"role": "user", "content": "hi"}], stream=True)
    )
    assert all(c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_tool_calls_round_trip(sdk: openai.OpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    reply = sdk.chat.completions.create(
        model="smart-chat", messages=[{"role": "user", "content": "weather?"}], tools=tools
    )  # type: ignore[arg-type]
    call = reply.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert reply.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and call.function.arguments == "{}"  # type: ignore[union-attr]
    stream = sdk.chat.completions.create(
        model="smart-chat", messages=[{"role": "user", "content": "weather?"}], tools=tools, stream=True
    )  # type: ignore[arg-type]
    deltas = [tc for c in stream if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].function.name == "get_weather" and deltas[0].id  # type: ignore[union-attr]
    assert "".join(d.function.arguments or "" for d in deltas) == "{}"  # type: ignore[union-attr]


def test_models_lists_the_keys_logical_models(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, _ = gateway
    ours = openai.OpenAI(base_url=stack.base_url, api_key=DEMO_KEY, max_retries=0)
    theirs = openai.OpenAI(base_url=stack.base_url, api_key=TEAM_B_KEY, max_retries=0)
    assert {m.id for m in ours.models.list()} >= {"smart-chat", "best-cheap-chat"}
    assert [m.id for m in theirs.models.list()] == ["best-cheap-chat"]


def _error(resp: httpx.Response) -> dict[str, Any]:
    body = resp.json()
    assert set(body) == {"error"} and {"message", "type", "param", "code"} <= set(body["error"])
    return body["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("headers", "content", "status", "err_type", "code"),
    [
        (
            {},
            b'{"model":"smart-chat","messages":[{"role":"user","content":"x"}]}',
            401,
            "authentication_error",
            "invalid_api_key",
        ),
        (
            {"authorization": "Bearer sk-wrong"},
            b'{"model":"smart-chat","messages":[]}',
            401,
            "authentication_error",
            "invalid_api_key",
        ),
        (
            {"authorization": f"Bearer {DEMO_KEY}"},
            b'{"model": "smart-chat", "messages": [',
            400,
            "invalid_request_error",
            None,
        ),
        (
            {"authorization": f"Bearer {DEMO_KEY}"},
            b'{"model":"gpt-17","messages":[{"role":"user","content":"x"}]}',
            404,
            "invalid_request_error",
            "model_not_found",
        ),
        (
            {"authorization": f"Bearer {TEAM_B_KEY}"},
            b'{"model":"smart-chat","messages":[{"role":"user","content":"x"}]}',
            403,
            "permission_error",
            None,
        ),
        (
            {"authorization": f"Bearer {DEMO_KEY}"},
            b'{"model":"smart-chat","messages":[{"role":"user","content":"x"}],"temperature":7}',
            400,
            "invalid_request_error",
            None,
        ),
        (
            {"authorization": f"Bearer {DEMO_KEY}"},
            b'{"model":"smart-chat","messages":[{"role":"user","content":"' + b"x" * 70000 + b'"}]}',
            413,
            "invalid_request_error",
            "payload_too_large",
        ),
        (
            {"authorization": f"Bearer {DEMO_KEY}"},
            b'{"model":"smart-chat","messages":[{"role":"user","content":"x"}],"extra":'
            + b"[" * 5000
            + b"]" * 5000
            + b"}",
            400,
            "invalid_request_error",
            None,
        ),
        (
            {"authorization": f"Bearer {DEMO_KEY}"},
            b'{"model":"smart-chat","messages":[{"role":"user","content":"caf\xe9 \xff"}]}',
            400,
            "invalid_request_error",
            None,
        ),
        (
            {"authorization": f"Bearer {DEMO_KEY}"},
            b'{"model":"smart-chat","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]}',
            400,
            "invalid_request_error",
            None,
        ),
        (
            {"authorization": f"Bearer {DEMO_KEY}"},
            b'{"model":"smart-chat","messages":[{"role":"user","content":"x"}],"max_tokens":-5}',
            400,
            "invalid_request_error",
            None,
        ),
        (
            {"authorization": f"Bearer {DEMO_KEY}"},
            b'{"model":"smart-chat","messages":[{"role":"user","content":"x"}],"n":1000000}',
            400,
            "invalid_request_error",
            None,
        ),
        (
            {"authorization": f"Bearer {DEMO_KEY}"},
            b'{"model":"smart-chat","messages":"hello"}',
            400,
            "invalid_request_error",
            None,
        ),
    ],
    ids=[
        "no-key",
        "bad-key",
        "malformed-json",
        "unknown-model",
        "model-not-allowed",
        "bad-param",
        "too-large",
        "deep-nesting",
        "invalid-utf8",
        "bad-tool-schema",
        "negative-max-tokens",
        "absurd-n",
        "messages-not-a-list",
    ],
)
def test_bad_input_gets_an_openai_shaped_error(
    gateway: tuple[Stack, TurnoutConfig],
    headers: dict[str, str],
    content: bytes,
    status: int,
    err_type: str,
    code: str | None,
) -> None:
    stack, _ = gateway
    resp = httpx.post(
        f"{stack.base_url}/chat/completions",
        content=content,
        headers={"content-type": "application/json", **headers},
        timeout=30,
    )
    assert resp.status_code == status
    error = _error(resp)
    assert error["type"] == err_type and error["code"] == code and error["message"]


def test_bad_input_through_the_sdk_raises_its_typed_errors(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as not_found:
        sdk.chat.completions.create(model="gpt-17", messages=[{"role": "user", "content": "x"}])
    assert not_found.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.chat.completions.create(model="smart-chat", messages=[{"role": "wizard", "content": "x"}])  # type: ignore[misc,list-item]
    assert bad.value.param == "messages[0].role"


def test_a_request_past_its_deadline_gets_504_not_a_hang(
    sdk: openai.OpenAI, gateway: tuple[Stack, TurnoutConfig]
) -> None:
    _, config = gateway
    with pytest.raises(openai.APIStatusError) as timeout:
        sdk.chat.completions.create(model="hang-chat", messages=[{"role": "user", "content": "hang"}])
    assert timeout.value.status_code == 504
    assert timeout.value.body["type"] == "timeout"  # type: ignore[index]
    request_id = timeout.value.response.headers["x-request-id"]
    row = row_of(config, request_id, "status, error_class")
    assert row == [504, "GatewayTimeout"]
