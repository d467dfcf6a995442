"""``Invoker`` against two local HTTP servers whose answers the tests write as httpx responses (a
handler may also raise httpx's errors: the server then drops the connection): attempts, usage,
fallbacks and streamed chunks, through the real provider transport."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiohttp import web

from schemas.config import TurnoutConfig, parse_config
from schemas.errors import ProviderStreamBroken
from schemas.events import AttemptEvent, ChunkEvent, StageEvent, ToolCall, Usage, UsageEvent
from streams.invoker import InvokeOutcome, Invoker
from streams.providers.transport import ProviderTransport
from streams.stages.cost import cost_usd
from streams.stages.route import decide_route
from streams.topics import TopicNames

TOPICS = TopicNames("tt")
REPLY_TO = "turnout.replies.gw-1"
Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def _config(**topology: Any) -> TurnoutConfig:
    return parse_config(
        {
            "topology": topology,
            "providers": {"primary": {"base_url": "http://primary/v1"}, "backup": {"base_url": "http://backup/v1"}},
            "deployments": {
                "main": {
                    "provider": "primary",
                    "model": "gpt-4o",
                    "input_usd_per_mtok": 2.5,
                    "output_usd_per_mtok": 10.0,
                    "cached_input_usd_per_mtok": 1.25,
                },
                "spare": {
                    "provider": "backup",
                    "model": "gpt-4o-mini",
                    "input_usd_per_mtok": 0.15,
                    "output_usd_per_mtok": 0.6,
                },
            },
            "models": {"chat": {"deployments": ["main", "spare"], "retry": {"max_tries": 1}}},
            "keys": [{"id": "k", "key_sha256": "0" * 64, "tenant": "t", "team": "x", "user": "u"}],
        }
    )


class RecordingEmitter:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Any]] = []
        self.later: list[tuple[str, str, Any]] = []  # what was given to send_later (it is in sent too)
        self.flushed_after: list[int] = []  # len(sent) at each flush

    async def send(self, topic: str, key: str, event: Any, trace: str | None = None) -> Awaitable[Any]:
        self.sent.append((topic, key, event))
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack

    async def send_later(self, topic: str, key: str, event: Any) -> None:
        self.later.append((topic, key, event))
        await self.send(topic, key, event)

    def flush(self) -> None:
        self.flushed_after.append(len(self.sent))

    def on(self, topic: str) -> list[Any]:
        return [event for t, _, event in self.sent if t == topic]


class Upstream:
    """Both providers behind one MockTransport; records each request it is sent."""

    def __init__(self, **handlers: Handler) -> None:
        self.handlers = handlers
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.handlers[request.url.host](request)

    def bodies(self) -> list[tuple[str, dict[str, Any]]]:
        return [(r.url.host, json.loads(r.content)) for r in self.requests]


def _completion(content: str, model: str, usage: dict[str, Any]) -> Handler:
    async def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-up",
                "object": "chat.completion",
                "created": 1,
                "model": model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": usage,
            },
        )

    return handle


def _failure(status: int, code: str | None = None, headers: dict[str, str] | None = None) -> Handler:
    async def handle(request: httpx.Request) -> httpx.Response:
        body = {"error": {"message": f"upstream {status}", "type": "x", "param": None, "code": code}}
        return httpx.Response(status, json=body, headers=headers)

    return handle


async def _unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _sse(*events: dict[str, Any], done: bool = True, then_raise: bool = False) -> Handler:
    pieces = [b"data: " + json.dumps(e).encode() + b"\n\n" for e in events] + ([b"data: [DONE]\n\n"] if done else [])

    async def body() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece
        if then_raise:
            raise httpx.ReadError("connection reset")

    async def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    return handle


def _delta(**delta: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-s", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}


USAGE_EVENT = {
    "id": "chatcmpl-s",
    "choices": [],
    "usage": {
        "prompt_tokens": 20,
        "completion_tokens": 4,
        "total_tokens": 24,
        "prompt_tokens_details": {"cached_tokens": 8},
    },
}


async def _serve(name: str, upstream: Upstream) -> web.AppRunner:
    """A server on a free loopback port that answers with what ``upstream`` makes of each request."""

    async def handle(request: web.Request) -> web.StreamResponse:
        asked = httpx.Request(
            request.method,
            f"http://{name}{request.path_qs}",
            headers=[(k, v) for k, v in request.headers.items() if k.lower() != "host"],
            content=await request.read(),
        )
        try:
            answer = await upstream(asked)
        except httpx.HTTPError:
            assert request.transport is not None
            request.transport.close()  # as a refused or reset connection looks to the client
            return web.Response()
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in ("content-length", "transfer-encoding")}
        reply = web.StreamResponse(status=answer.status_code, headers=headers)
        reply.enable_chunked_encoding()
        await reply.prepare(request)
        try:
            async for piece in answer.stream:  # type: ignore[union-attr]
                await reply.write(piece)
                await asyncio.sleep(0.002)  # a provider's pace: each piece is its own read, as over a network
        except httpx.HTTPError:
            assert request.transport is not None
            request.transport.close()  # broken off mid-stream
            return reply
        await reply.write_eof()
        return reply

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


def _port(runner: web.AppRunner) -> int:
    (address,) = runner.addresses
    return int(address[1])


async def _invoke(
    config: TurnoutConfig, upstream: Upstream, event: StageEvent
) -> tuple[InvokeOutcome, RecordingEmitter]:
    """Route ``event`` and invoke it, with both providers answered by ``upstream``."""
    runners = {name: await _serve(name, upstream) for name in config.providers}
    providers = {
        name: p.model_copy(update={"base_url": f"http://127.0.0.1:{_port(runners[name])}/v1"})
        for name, p in config.providers.items()
    }
    config = config.model_copy(update={"providers": providers})
    transport = ProviderTransport(config.providers)
    ticks = itertools.count(1_700_000_000_000_000, 1_000)
    invoker = Invoker(config, transport, TOPICS, clock=lambda: next(ticks))
    emitter = RecordingEmitter()
    routed = StageEvent(stage="route", envelope=event.envelope, route=decide_route(config, event))
    try:
        return await invoker.invoke(routed, emitter), emitter
    finally:
        await transport.aclose()
        for runner in runners.values():
            await runner.cleanup()


async def test_a_call_records_one_ok_attempt_and_its_usage(stage_event: Callable[..., StageEvent]) -> None:
    config = _config()
    usage = {
        "prompt_tokens": 1_000,
        "completion_tokens": 100,
        "total_tokens": 1_100,
        "prompt_tokens_details": {"cached_tokens": 200},
    }
    upstream = Upstream(primary=_completion("Hi!", "gpt-4o-2024-08-06", usage))
    outcome, emitter = await _invoke(config, upstream, stage_event(model="chat"))

    assert outcome.error is None
    response = outcome.event.response
    assert response is not None
    assert (response.content, response.upstream_model) == ("Hi!", "gpt-4o-2024-08-06")
    assert response.usage == Usage(prompt_tokens=1_000, completion_tokens=100, cached_tokens=200, total_tokens=1_100)
    assert outcome.event.route is not None and outcome.event.route.reason == "primary"
    assert outcome.event.streamed_chunks is None
    (attempt,) = outcome.event.attempts
    assert (attempt.deployment, attempt.provider, attempt.ok, attempt.error_class, attempt.http_status) == (
        "main",
        "primary",
        True,
        None,
        None,
    )
    assert attempt.latency_us > 0
    assert upstream.bodies() == [("primary", {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]})]
    assert str(upstream.requests[0].url) == "http://primary/v1/chat/completions"
    assert "authorization" not in upstream.requests[0].headers

    (attempt_event,) = emitter.on(TOPICS.attempts)
    assert attempt_event == AttemptEvent(
        request_id="req-1", caller=outcome.event.envelope.caller, logical_model="chat", attempt_no=1, attempt=attempt
    )
    (usage_event,) = emitter.on(TOPICS.usage)
    assert isinstance(usage_event, UsageEvent)
    assert (usage_event.deployment, usage_event.upstream_model, usage_event.usage) == (
        "main",
        "gpt-4o-2024-08-06",
        response.usage,
    )
    assert usage_event.cost_usd == pytest.approx((800 * 2.5 + 200 * 1.25 + 100 * 10.0) / 1e6)
    # attempts are keyed by deployment (the breaker agent's partitioning), usage by request
    assert [key for _, key, _ in emitter.sent] == ["main", "req-1"]


@pytest.mark.parametrize(
    ("primary", "error_class", "http_status"),
    [
        (_failure(503), "ProviderOverloaded", 503),
        (_failure(429, headers={"retry-after": "1"}), "ProviderRateLimited", 429),
        (_failure(500), "ProviderError", None),  # http_status: unsettled (502 now, 500 upstream)
        (_unreachable, "ProviderConnectionError", None),
    ],
)
async def test_a_retriable_failure_falls_back_to_the_next_deployment(
    stage_event: Callable[..., StageEvent], primary: Handler, error_class: str, http_status: int | None
) -> None:
    config = _config()
    upstream = Upstream(primary=primary, backup=_completion("from spare", "gpt-4o-mini", {"prompt_tokens": 10}))
    outcome, emitter = await _invoke(config, upstream, stage_event(model="chat"))

    assert outcome.error is None
    assert outcome.event.response is not None and outcome.event.response.content == "from spare"
    route = outcome.event.route
    assert route is not None
    assert (route.deployment, route.provider, route.upstream_model, route.reason) == (
        "spare",
        "backup",
        "gpt-4o-mini",
        "fallback",
    )
    assert [(a.deployment, a.ok, a.error_class) for a in outcome.event.attempts] == [
        ("main", False, error_class),
        ("spare", True, None),
    ]
    if http_status is not None:
        assert [a.http_status for a in outcome.event.attempts] == [http_status, None]
    assert [h for h, _ in upstream.bodies()] == ["primary", "backup"]
    assert upstream.bodies()[1][1]["model"] == "gpt-4o-mini"
    assert [e.attempt_no for e in emitter.on(TOPICS.attempts)] == [1, 2]
    (usage_event,) = emitter.on(TOPICS.usage)
    assert usage_event.deployment == "spare"
    # the failure went out at once (the breaker counts it); the success and its usage after the reply
    assert [(topic, key) for topic, key, _ in emitter.later] == [(TOPICS.attempts, "spare"), (TOPICS.usage, "req-1")]
    assert usage_event.cost_usd == pytest.approx(
        cost_usd(Usage(prompt_tokens=10, total_tokens=10), config.deployments["spare"])
    )


@pytest.mark.parametrize(
    ("primary", "error_class", "status"),
    [
        (_failure(400), "ProviderBadRequest", 400),
        (_failure(400, code="context_length_exceeded"), "ContextWindowExceeded", 400),
        (_failure(404), "ProviderBadRequest", 400),
    ],
)
async def test_a_non_retriable_failure_does_not_fall_back(
    stage_event: Callable[..., StageEvent], primary: Handler, error_class: str, status: int
) -> None:
    upstream = Upstream(primary=primary, backup=_completion("never", "gpt-4o-mini", {}))
    outcome, emitter = await _invoke(_config(), upstream, stage_event(model="chat"))

    assert outcome.error is not None
    assert (type(outcome.error).__name__, outcome.error.status) == (error_class, status)
    assert outcome.event.response is None
    assert [(a.deployment, a.ok) for a in outcome.event.attempts] == [("main", False)]
    assert [h for h, _ in upstream.bodies()] == ["primary"]
    assert emitter.on(TOPICS.usage) == []


async def test_when_every_deployment_fails_the_answer_is_a_503_naming_each(
    stage_event: Callable[..., StageEvent],
) -> None:
    upstream = Upstream(primary=_failure(503), backup=_failure(429))
    outcome, emitter = await _invoke(_config(), upstream, stage_event(model="chat"))
    assert outcome.error is not None and type(outcome.error).__name__ == "AllDeploymentsFailed"
    assert outcome.error.status == 503
    assert "main: ProviderOverloaded" in outcome.error.message and "spare: ProviderRateLimited" in outcome.error.message
    assert [a.error_class for a in outcome.event.attempts] == ["ProviderOverloaded", "ProviderRateLimited"]
    assert len(emitter.on(TOPICS.attempts)) == 2


TEXT_STREAM = [
    _delta(role="assistant", content=""),
    _delta(content="Hel"),
    _delta(content="lo, "),
    _delta(content="wörld"),
    {**_delta(), "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    USAGE_EVENT,
]


async def test_a_stream_sends_numbered_chunks_and_ends_with_the_streams_usage(
    stage_event: Callable[..., StageEvent],
) -> None:
    upstream = Upstream(primary=_sse(*TEXT_STREAM))
    outcome, emitter = await _invoke(
        _config(chunk_flush_ms=0), upstream, stage_event(model="chat", request={"stream": True})
    )
    assert outcome.error is None
    chunks = emitter.on(REPLY_TO)
    assert all(isinstance(c, ChunkEvent) and c.deployment == "main" for c in chunks)
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert len(chunks) >= 2
    assert "".join(c.content for c in chunks) == "Hello, wörld"
    chunk_positions = [i + 1 for i, (topic, _, _) in enumerate(emitter.sent) if topic == REPLY_TO]
    assert set(chunk_positions) <= set(emitter.flushed_after)  # each chunk goes out at once: a caller waits on it
    response = outcome.event.response
    assert response is not None
    assert (response.content, response.finish_reason, response.id) == ("Hello, wörld", "stop", "chatcmpl-s")
    assert response.usage == Usage(prompt_tokens=20, completion_tokens=4, cached_tokens=8, total_tokens=24)
    assert outcome.event.streamed_chunks == len(chunks)
    (attempt,) = outcome.event.attempts
    assert attempt.ok and attempt.ttft_us is not None and attempt.ttft_us > 0
    body = upstream.bodies()[0][1]
    assert (body["stream"], body["stream_options"]) == (True, {"include_usage": True})
    (usage_event,) = emitter.on(TOPICS.usage)
    assert usage_event.usage == response.usage


async def test_streamed_tool_calls_are_sent_and_assembled(stage_event: Callable[..., StageEvent]) -> None:
    events = [
        _delta(
            role="assistant",
            content=None,
            tool_calls=[
                {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
            ],
        ),
        _delta(tool_calls=[{"index": 0, "function": {"arguments": '{"city":'}}]),
        _delta(tool_calls=[{"index": 0, "function": {"arguments": '"Oslo"}'}}]),
        {**_delta(), "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        USAGE_EVENT,
    ]
    outcome, emitter = await _invoke(
        _config(), Upstream(primary=_sse(*events)), stage_event(model="chat", request={"stream": True})
    )
    response = outcome.event.response
    assert response is not None
    assert response.content is None
    assert response.tool_calls == [ToolCall("call_1", "get_weather", '{"city":"Oslo"}')]
    sent = [entry for chunk in emitter.on(REPLY_TO) for entry in json.loads(chunk.tool_calls_json or "[]")]
    assert sent[0] == {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    assert "".join(e["function"]["arguments"] for e in sent) == '{"city":"Oslo"}'


async def test_a_stream_failing_before_any_chunk_falls_back(stage_event: Callable[..., StageEvent]) -> None:
    upstream = Upstream(primary=_failure(503), backup=_sse(*TEXT_STREAM))
    outcome, emitter = await _invoke(_config(), upstream, stage_event(model="chat", request={"stream": True}))
    assert outcome.error is None
    assert outcome.event.route is not None and outcome.event.route.deployment == "spare"
    chunks = emitter.on(REPLY_TO)
    assert {c.deployment for c in chunks} == {"spare"}
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert "".join(c.content for c in chunks) == "Hello, wörld"


@pytest.mark.parametrize(("done", "then_raise"), [(False, False), (False, True)], ids=["no-done", "read-error"])
async def test_a_stream_broken_after_chunks_does_not_fall_back(
    stage_event: Callable[..., StageEvent], done: bool, then_raise: bool
) -> None:
    upstream = Upstream(primary=_sse(*TEXT_STREAM[:3], done=done, then_raise=then_raise), backup=_sse(*TEXT_STREAM))
    config = _config(chunk_flush_ms=0)  # every piece is sent on at once
    outcome, emitter = await _invoke(config, upstream, stage_event(model="chat", request={"stream": True}))

    assert isinstance(outcome.error, ProviderStreamBroken)
    assert [h for h, _ in upstream.bodies()] == ["primary"]
    chunks = emitter.on(REPLY_TO)
    assert "".join(c.content for c in chunks) == "Hello, "
    assert outcome.event.streamed_chunks == len(chunks) >= 1
    (attempt,) = outcome.event.attempts
    assert (attempt.ok, attempt.error_class, attempt.ttft_us is not None) == (False, "ProviderStreamBroken", True)
    assert outcome.event.response is None
    assert emitter.on(TOPICS.usage) == []


async def _hang(request: httpx.Request) -> httpx.Response:
    await asyncio.Event().wait()  # a provider that never answers
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("deadline_after_us", "requests"),
    [(-1, 0), (50_000, 1)],
    ids=["passed-before-the-call", "passes-during-the-call"],
)
async def test_the_deadline_ends_the_call_without_falling_back(
    stage_event: Callable[..., StageEvent], deadline_after_us: int, requests: int
) -> None:
    # the invoker's clock starts at 1_700_000_000_000_000 (RECEIVED_US in the conftest)
    upstream = Upstream(primary=_hang, backup=_completion("too late", "gpt-4o-mini", {}))
    event = stage_event(model="chat", deadline_at_us=1_700_000_000_000_000 + deadline_after_us)
    outcome, emitter = await _invoke(_config(), upstream, event)

    assert outcome.error is not None
    assert (type(outcome.error).__name__, outcome.error.status) == ("GatewayTimeout", 504)
    assert len(upstream.requests) == requests
    assert [(a.deployment, a.ok, a.error_class) for a in outcome.event.attempts] == [("main", False, "GatewayTimeout")]
    assert emitter.on(TOPICS.usage) == []
